//! How a framework runs one migration file: which parts of it are the migration being checked
//! (goose and dbmate keep both directions in one file), whether each part runs inside a
//! transaction the framework opens, and whether it is sent to the server as one query (in which
//! case PostgreSQL runs all its statements as one implicit transaction). Also finds the
//! markers meant to turn the transaction off that the framework does not recognise.

use std::ops::Range;

use crate::layout::{Direction, Framework};

/// `Framework` is `#[non_exhaustive]` for users, and defined in `migration-safety-core`, which
/// is released with this crate at the same version: every variant is matched here, and
/// `every_framework_has_a_plan_and_advice` proves it.
const UNKNOWN_FRAMEWORK: &str = "a framework of migration-safety-core unknown to migration-safety";

/// A part of a file that the framework runs as one unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Byte range in the decoded text.
    pub(crate) range: Range<usize>,
    /// Whether the framework wraps the unit in a transaction.
    pub(crate) transaction: bool,
    /// Whether the unit is sent as one query.
    pub(crate) single_query: bool,
}

/// A transaction-control marker the framework does not recognise, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) range: Range<usize>,
    pub(crate) message: String,
    pub(crate) help: String,
}

/// How one file runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) framework: Framework,
    /// The parts that are checked, in order; text outside them is not linted.
    pub(crate) units: Vec<Unit>,
    pub(crate) markers: Vec<Marker>,
}

/// Files next to a migration that change how it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Sidecar {
    /// Diesel's `metadata.toml` (`Some("")` when it exists and is empty).
    pub(crate) diesel_metadata: Option<String>,
    /// Flyway's `<script>.conf`.
    pub(crate) flyway_conf: Option<String>,
}

impl Plan {
    /// Blank out the text outside the units, keeping line breaks, so that byte offsets,
    /// lines and columns stay those of the file: each character outside becomes as many spaces
    /// as it has UTF-8 bytes.
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut kept = 0;
        let blank = |out: &mut String, gap: &str| {
            for c in gap.chars() {
                match c {
                    '\n' | '\r' => out.push(c),
                    _ => out.extend(std::iter::repeat_n(' ', c.len_utf8())),
                }
            }
        };
        for unit in &self.units {
            let start = unit.range.start.clamp(kept, text.len());
            let end = unit.range.end.clamp(start, text.len());
            blank(&mut out, &text[kept..start]);
            out.push_str(&text[start..end]);
            kept = end;
        }
        blank(&mut out, &text[kept..]);
        out
    }
}

/// Work out how `framework` runs `direction` of a file. `bom` says whether the raw file started
/// with a byte-order mark (already removed from `text`).
pub(crate) fn plan(
    framework: Framework,
    direction: Direction,
    text: &str,
    bom: bool,
    sidecar: &Sidecar,
) -> Plan {
    let whole = |transaction, single_query| {
        vec![Unit {
            range: 0..text.len(),
            transaction,
            single_query,
        }]
    };
    let mut markers = Vec::new();
    let units = match framework {
        Framework::Plain => whole(false, false),
        Framework::Sqlx => {
            let opted_out = !bom && text.starts_with("-- no-transaction");
            if !opted_out {
                markers.extend(sqlx_near_miss(text, bom));
            }
            whole(!opted_out, true)
        }
        Framework::Diesel => {
            let transaction = match &sidecar.diesel_metadata {
                None => true,
                Some(toml) => diesel_run_in_transaction(toml, text, &mut markers),
            };
            whole(transaction, true)
        }
        Framework::Refinery => whole(true, true),
        Framework::GolangMigrate | Framework::Prisma => whole(false, true),
        // The generated `.js` reads the whole `-up.sql` file and passes it to `db.runSql`.
        Framework::DbMigrate => whole(true, true),
        Framework::Goose | Framework::Dbmate => {
            let sections = if framework == Framework::Goose {
                goose(text, direction)
            } else {
                dbmate(text, direction, &mut markers)
            };
            let marked = lines(text).any(|(_, l)| {
                let l = l.to_ascii_lowercase();
                l.starts_with("-- +goose up") || l.starts_with("-- migrate:up")
            });
            // A file without an up marker is refused by the tool; check all of it rather than
            // nothing.
            if !marked && direction == Direction::Up {
                whole(true, framework == Framework::Dbmate)
            } else {
                sections
            }
        }
        Framework::Flyway => {
            let conf_off = sidecar.flyway_conf.as_deref().is_some_and(|conf| {
                conf.lines().any(|l| {
                    let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
                    l.eq_ignore_ascii_case("executeInTransaction=false")
                })
            });
            whole(!conf_off && !flyway_non_transactional(text), false)
        }
        Framework::Atlas => whole(atlas_transaction(text, &mut markers), false),
        _ => unreachable!("{}", UNKNOWN_FRAMEWORK),
    };
    Plan {
        framework,
        units,
        markers,
    }
}

/// The lines of `text` with their byte ranges (without the line break).
fn lines(text: &str) -> impl Iterator<Item = (Range<usize>, &str)> {
    let mut start = 0;
    text.split_inclusive('\n').map(move |line| {
        let range = start..start + line.trim_end_matches(['\n', '\r']).len();
        start += line.len();
        (range.clone(), &text[range])
    })
}

fn compact(line: &str) -> String {
    line.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn sqlx_near_miss(text: &str, bom: bool) -> Option<Marker> {
    let (range, line) = lines(text).find(|(_, l)| compact(l) == "--no-transaction")?;
    let why = if bom && range.start == 0 && line == "-- no-transaction" {
        "the file starts with a byte-order mark, so `-- no-transaction` is not its very first bytes"
    } else if line.trim() != "-- no-transaction" {
        "sqlx only recognises the exact text `-- no-transaction`"
    } else {
        "sqlx only recognises `-- no-transaction` as the very first bytes of the file, and something comes before it"
    };
    Some(Marker {
        range,
        message: format!("{why}: sqlx ignores this marker and runs the migration inside a transaction"),
        help: "make `-- no-transaction` the first line, with nothing before it (no blank line, comment or byte-order mark); save the file as UTF-8 without BOM".to_owned(),
    })
}

/// Diesel reads `run_in_transaction` with a default of `false` when `metadata.toml` exists.
fn diesel_run_in_transaction(toml: &str, text: &str, markers: &mut Vec<Marker>) -> bool {
    for line in toml.lines() {
        let line = line.split('#').next().unwrap_or_default();
        if let Some((key, value)) = line.split_once('=')
            && key.trim() == "run_in_transaction"
        {
            return value.trim() != "false";
        }
    }
    let first_line = lines(text).next().map_or(0..0, |(r, _)| r);
    markers.push(Marker {
        range: first_line,
        message: "`metadata.toml` next to this migration does not set `run_in_transaction`, so diesel runs the migration outside a transaction".to_owned(),
        help: "write `run_in_transaction = false` (or `true`) in `metadata.toml` to say which you mean, or delete the file to keep the transaction".to_owned(),
    });
    false
}

/// Goose: `-- +goose Up` and `-- +goose Down` sections, `-- +goose NO TRANSACTION` for the file;
/// statements are sent one by one.
fn goose(text: &str, direction: Direction) -> Vec<Unit> {
    let annotation = |line: &str| {
        let rest = line.strip_prefix("-- +goose ")?;
        Some(rest.trim().to_ascii_lowercase())
    };
    let transaction = !lines(text).any(|(_, l)| annotation(l).as_deref() == Some("no transaction"));
    let mut units = Vec::new();
    let mut current: Option<(Direction, usize)> = None;
    for (range, line) in lines(text) {
        let section = match annotation(line).as_deref() {
            Some("up") => Some(Direction::Up),
            Some("down") => Some(Direction::Down),
            _ => None,
        };
        if let Some(section) = section {
            if let Some((d, start)) = current.take()
                && d == direction
            {
                units.push(start..range.start);
            }
            current = Some((section, range.start));
        }
    }
    if let Some((d, start)) = current
        && d == direction
    {
        units.push(start..text.len());
    }
    units
        .into_iter()
        .map(|range| Unit {
            range,
            transaction,
            single_query: false,
        })
        .collect()
}

/// dbmate: `-- migrate:up [transaction:false]` / `-- migrate:down` blocks, each sent as one query.
fn dbmate(text: &str, direction: Direction, markers: &mut Vec<Marker>) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut current: Option<(Direction, usize, bool)> = None;
    let mut close = |current: Option<(Direction, usize, bool)>, end: usize| {
        if let Some((d, start, transaction)) = current
            && d == direction
        {
            units.push(Unit {
                range: start..end,
                transaction,
                single_query: true,
            });
        }
    };
    for (range, line) in lines(text) {
        let Some(rest) = line.strip_prefix("-- migrate:") else {
            continue;
        };
        let (word, options) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let section = match word {
            "up" => Direction::Up,
            "down" => Direction::Down,
            _ => continue,
        };
        let transaction = !options.split_whitespace().any(|o| o == "transaction:false");
        if transaction && section == direction && compact(options).contains("transaction:false") {
            markers.push(Marker {
                range: range.clone(),
                message: "dbmate reads options as `key:value` with no space, so it does not see `transaction:false` here and runs the block inside a transaction".to_owned(),
                help: format!("write `-- migrate:{word} transaction:false`"),
            });
        }
        close(current.take(), range.start);
        current = Some((section, range.start, transaction));
    }
    close(current, text.len());
    units
}

/// Flyway runs a script outside a transaction when it holds a statement it knows cannot run in
/// one (for indexes: `CREATE [UNIQUE] INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`).
fn flyway_non_transactional(text: &str) -> bool {
    let words: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    words.windows(3).any(|w| {
        matches!(
            (w[0].as_str(), w[1].as_str(), w[2].as_str()),
            ("CREATE" | "DROP" | "UNIQUE", "INDEX", "CONCURRENTLY")
        )
    })
}

/// Atlas: `-- atlas:txmode none` in the header, which a blank line must separate from the body.
fn atlas_transaction(text: &str, markers: &mut Vec<Marker>) -> bool {
    let mut header =
        lines(text).take_while(|(_, l)| l.starts_with("-- atlas:") || l.starts_with("--"));
    let Some((range, _)) = header.find(|(_, l)| compact(l) == "--atlas:txmodenone") else {
        return true;
    };
    let header_end = lines(text)
        .find(|(_, l)| !l.starts_with("--"))
        .map(|(_, l)| l.trim().is_empty());
    if header_end == Some(false) {
        markers.push(Marker {
            range,
            message: "Atlas only reads directives from a header separated from the statements by a blank line, so it ignores `atlas:txmode none` and runs the file inside a transaction".to_owned(),
            help: "put a blank line between the `-- atlas:` directives and the first statement".to_owned(),
        });
        return true;
    }
    false
}

/// How to run a statement outside any transaction with this framework (for `CONCURRENTLY`).
pub(crate) fn outside_transaction_advice(framework: Framework) -> &'static str {
    match framework {
        Framework::Plain => {
            "run it outside `BEGIN … COMMIT`: move it after the `COMMIT`, or into a migration of its own without a transaction block"
        }
        Framework::Sqlx => {
            "put it alone in a migration file whose very first line is `-- no-transaction` (sqlx sends the file as one query, so any other statement in it makes an implicit transaction)"
        }
        Framework::Diesel => {
            "put it alone in a migration whose `metadata.toml` says `run_in_transaction = false` (diesel sends the file as one batch, so any other statement in it makes an implicit transaction)"
        }
        Framework::Refinery => {
            "refinery runs every migration inside a transaction and has no way to opt out: run this statement outside refinery (for example with psql in a deploy step), or build the index before the table is in use"
        }
        Framework::GolangMigrate => {
            "put it alone in a migration file of its own (golang-migrate sends the file as one query, so any other statement in it makes an implicit transaction; `x-multi-statement=true` in the database URL splits it instead)"
        }
        Framework::Goose => {
            "add `-- +goose NO TRANSACTION` at the top of the migration file (and leave out `BEGIN`/`COMMIT`)"
        }
        Framework::Dbmate => {
            "put it alone in a block that starts with `-- migrate:up transaction:false` (dbmate sends a block as one query, so any other statement in it makes an implicit transaction)"
        }
        Framework::Flyway => {
            "put it in a script of its own, or add `<script>.sql.conf` with `executeInTransaction=false` (Flyway refuses scripts that mix transactional and non-transactional statements unless `mixed=true`)"
        }
        Framework::Prisma => {
            "put it alone in a migration of its own (Prisma sends `migration.sql` as one query, so any other statement in it makes an implicit transaction)"
        }
        Framework::DbMigrate => {
            "db-migrate runs every migration inside a transaction unless it is started with the global `--non-transactional` flag: put the statement alone in a migration of its own (the file is sent as one query) and run that migration with the flag"
        }
        Framework::Atlas => {
            "start the file with the header `-- atlas:txmode none` followed by a blank line"
        }
        _ => unreachable!("{}", UNKNOWN_FRAMEWORK),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(framework: Framework, direction: Direction, text: &str) -> Vec<(String, bool, bool)> {
        plan(framework, direction, text, false, &Sidecar::default())
            .units
            .into_iter()
            .map(|u| (text[u.range].to_owned(), u.transaction, u.single_query))
            .collect()
    }

    /// `text` with all but its goose `Up` section blanked out.
    fn goose_up_masked(text: &str) -> String {
        plan(
            Framework::Goose,
            Direction::Up,
            text,
            false,
            &Sidecar::default(),
        )
        .mask(text)
    }

    #[test]
    fn sqlx_marker_must_be_the_first_bytes() {
        let on = plan(
            Framework::Sqlx,
            Direction::Up,
            "-- no-transaction\nSELECT 1;",
            false,
            &Sidecar::default(),
        );
        assert!(!on.units[0].transaction && on.markers.is_empty());
        let bom = plan(
            Framework::Sqlx,
            Direction::Up,
            "-- no-transaction\nSELECT 1;",
            true,
            &Sidecar::default(),
        );
        assert!(bom.units[0].transaction);
        assert!(bom.markers[0].message.contains("byte-order mark"));
        let blank = plan(
            Framework::Sqlx,
            Direction::Up,
            "\n-- no-transaction\nSELECT 1;",
            false,
            &Sidecar::default(),
        );
        assert!(blank.units[0].transaction);
        assert_eq!(blank.markers[0].range, 1..18);
    }

    #[test]
    fn goose_sections_and_no_transaction() {
        let text = "-- +goose NO TRANSACTION\n-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n";
        assert_eq!(
            units(Framework::Goose, Direction::Up, text),
            [("-- +goose Up\nSELECT 1;\n".to_owned(), false, false)]
        );
        assert_eq!(
            units(Framework::Goose, Direction::Down, text),
            [("-- +goose Down\nSELECT 2;\n".to_owned(), false, false)]
        );
    }

    #[test]
    fn dbmate_blocks_and_near_miss() {
        let text = "-- migrate:up transaction: false\nSELECT 1;\n-- migrate:down\nSELECT 2;\n";
        let plan = plan(
            Framework::Dbmate,
            Direction::Up,
            text,
            false,
            &Sidecar::default(),
        );
        assert_eq!(plan.units.len(), 1);
        assert!(plan.units[0].transaction && plan.units[0].single_query);
        assert_eq!(plan.markers.len(), 1);
        assert_eq!(
            units(
                Framework::Dbmate,
                Direction::Up,
                "-- migrate:up transaction:false\nSELECT 1;\n"
            ),
            [(
                "-- migrate:up transaction:false\nSELECT 1;\n".to_owned(),
                false,
                true
            )]
        );
    }

    #[test]
    fn diesel_metadata_defaults_to_no_transaction() {
        let run = |toml: Option<&str>| {
            let sidecar = Sidecar {
                diesel_metadata: toml.map(str::to_owned),
                flyway_conf: None,
            };
            let plan = plan(
                Framework::Diesel,
                Direction::Up,
                "SELECT 1;",
                false,
                &sidecar,
            );
            (plan.units[0].transaction, plan.markers.len())
        };
        assert_eq!(run(None), (true, 0));
        assert_eq!(run(Some("run_in_transaction = false\n")), (false, 0));
        assert_eq!(run(Some("run_in_transaction = true\n")), (true, 0));
        assert_eq!(run(Some("")), (false, 1));
    }

    #[test]
    fn atlas_header_needs_a_blank_line() {
        let off = units(
            Framework::Atlas,
            Direction::Up,
            "-- atlas:txmode none\n\nSELECT 1;",
        );
        assert!(!off[0].1);
        let ignored = plan(
            Framework::Atlas,
            Direction::Up,
            "-- atlas:txmode none\nSELECT 1;",
            false,
            &Sidecar::default(),
        );
        assert!(ignored.units[0].transaction);
        assert_eq!(ignored.markers.len(), 1);
    }

    #[test]
    fn flyway_detects_concurrent_index_scripts() {
        assert!(
            !units(
                Framework::Flyway,
                Direction::Up,
                "CREATE INDEX CONCURRENTLY i ON t (c);"
            )[0]
            .1
        );
        assert!(units(Framework::Flyway, Direction::Up, "CREATE INDEX i ON t (c);")[0].1);
    }

    #[test]
    fn a_file_without_sections_is_checked_whole() {
        let text = "ALTER TABLE users DROP COLUMN email;";
        assert_eq!(
            units(Framework::Goose, Direction::Up, text),
            [(text.to_owned(), true, false)]
        );
        assert_eq!(
            units(Framework::Dbmate, Direction::Up, text),
            [(text.to_owned(), true, true)]
        );
        assert!(units(Framework::Goose, Direction::Down, text).is_empty());
    }

    #[test]
    fn masking_keeps_positions() {
        let text = "-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n";
        let masked = goose_up_masked(text);
        assert_eq!(masked.len(), text.len());
        assert!(masked.contains("SELECT 1;") && !masked.contains("SELECT 2;"));
    }

    #[test]
    fn masking_keeps_byte_offsets_after_non_ascii_text() {
        // Each character outside the section becomes as many spaces as it has bytes: a
        // one-byte blank for `é` or `🦀` used to shift every later offset.
        let text = "-- +goose Down\r\nSELECT 'é🦀';\n-- +goose Up\nDROP TABLE t;\n";
        let masked = goose_up_masked(text);
        assert_eq!(masked.len(), text.len());
        let at = text.find("DROP TABLE t;").unwrap();
        assert_eq!(&masked[at..at + 13], "DROP TABLE t;");
        assert_eq!(masked.matches(['\n', '\r']).count(), 5);
    }

    #[test]
    fn every_framework_has_a_plan_and_advice() {
        for framework in Framework::ALL.iter().copied() {
            for direction in [Direction::Up, Direction::Down] {
                let text = "SELECT 1;\n";
                plan(framework, direction, text, false, &Sidecar::default()).mask(text);
            }
            assert!(!outside_transaction_advice(framework).is_empty());
        }
    }
}

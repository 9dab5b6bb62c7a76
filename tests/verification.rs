//! migration-safety's claims, proven on real PostgreSQL servers, one per major.
//!
//! Every rule's bad and good fixtures (`migration-safety/tests/fixtures/<rule>/`) run, statement
//! by statement, on a copy of a database that holds the tables they assume
//! (`verification/world.sql`, plus `verification/setup/<rule>.sql`), observed by
//! [`migration_safety::trace::Observer`]. The suite asserts:
//!
//! - each statement a rule flags does what one of the rule's [`Claim`]s for that major and
//!   that statement's form says (the claims its finding selects, `Diagnostic::claims`, as
//!   `trace` and the table statistics use them): the same strongest lock on the table it
//!   names, on the other tables it touches and on an index, the same rewrites and scans, or
//!   the error the rule predicts;
//! - the statements of good fixtures, and the safe alternatives the help prints, take no lock
//!   that blocks reads or writes of a pre-existing table beyond a brief catalog update (no
//!   such lock while scanning it), and rewrite nothing;
//! - a safe alternative leaves the same schema as the statement it replaces, compared from
//!   the catalog (columns with types, nullability and defaults, constraints with their
//!   validation state, indexes).
//!
//! What it saw is written to `docs/postgres-verification.md`; the test fails when the
//! checked-in file differs (`MIGRATION_SAFETY_UPDATE_VERIFICATION=1` rewrites it).
//!
//! The other tests check, on every major, what a fixture cannot show: the version boundaries
//! the rules rely on, what several sessions at once show (waits for older snapshots, queued
//! lock requests), and who may create an extension. The servers and the helpers to apply,
//! observe and compare are [`migration_safety_e2e::server`].
//!
//! The servers come from `MIGRATION_SAFETY_TEST_PG_<major>` (12 to 18), which
//! `.ci/postgres.sh` exports: `.ci/postgres.sh all -- cargo test -p migration-safety-e2e --test
//! verification`. Without a server the test is ignored, with the reason.

#[path = "../migration-safety/tests/common/fixture_settings.rs"]
mod fixture_settings;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use migration_safety::trace::{Changes, Observation, Observer, Relation, RelationKind, postgres};
use migration_safety::{Claim, Effect, Framework, LockMode, Outcome, lint_paths};
use migration_safety_e2e::server::{
    MAJORS, Server, Statement, apply, assert_provisioned_under_ci, blocking, error, is_index,
    is_table, required_servers, schema, schema_difference, statements, text_rows,
};

const WORLD: &str = include_str!("verification/world.sql");
const TEMPLATE: &str = "migration_safety_world";
const SCRATCH: &str = "migration_safety_fixture";
const BOUNDARY: &str = "migration_safety_boundary";
const UPDATE: &str = "MIGRATION_SAFETY_UPDATE_VERIFICATION";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures_dir() -> PathBuf {
    root().join("migration-safety/tests/fixtures")
}

/// Build the template database the fixtures copy: the world, then a rule's own setup.
fn build_template(server: &Server, setup: Option<&str>) {
    server.drop_database(SCRATCH);
    server.create_database(TEMPLATE, None);
    // A second tablespace for `SET TABLESPACE`, inside the data directory (no path needed).
    let mut admin = server.admin();
    let tablespace: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_tablespace WHERE spcname = 'fast_ssd'",
            &[],
        )
        .unwrap()
        .get(0);
    if tablespace == 0 {
        admin
            .batch_execute("SET allow_in_place_tablespaces = on")
            .unwrap();
        admin
            .batch_execute("CREATE TABLESPACE fast_ssd LOCATION ''")
            .unwrap();
    }
    let mut world = server.session(TEMPLATE, "migration_safety_world");
    world
        .batch_execute(WORLD)
        .unwrap_or_else(|e| panic!("world.sql on PostgreSQL {}: {e:?}", server.major));
    // One statement at a time, so that a setup can create a database (outside a transaction).
    for range in migration_safety::split_statements(setup.unwrap_or_default()) {
        let statement = &setup.unwrap_or_default()[range];
        world
            .batch_execute(statement)
            .unwrap_or_else(|e| panic!("setup on PostgreSQL {}: {statement}: {e:?}", server.major));
    }
    world
        .batch_execute("ANALYZE; SELECT pg_stat_clear_snapshot()")
        .unwrap();
}

/// A fresh copy of the template, observed, with the session settings a fixture assumes.
fn fresh(server: &Server, assumed: &[(String, String)]) -> Observer {
    server.create_database(SCRATCH, Some(TEMPLATE));
    // The rules assume nothing about the session time zone unless a migration sets it:
    // the fixtures run in one that is not UTC.
    let mut admin = server.admin();
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {SCRATCH} SET search_path = public, world;
             ALTER DATABASE {SCRATCH} SET timezone = 'America/New_York'"
        ))
        .unwrap();
    for (name, value) in assumed {
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {SCRATCH} SET {name} = '{}'",
                value.replace('\'', "''")
            ))
            .unwrap();
    }
    Observer::connect(&server.url_of(SCRATCH), Changes::Kept)
        .expect("connect to the fixture database")
}

/// What a statement did, by the roles a [`Claim`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Takes {
        table: Option<Effect>,
        referenced: Option<Effect>,
        index: Option<Effect>,
        /// Whether scans could be observed (not for statements that run outside a
        /// transaction, which are sampled from another session).
        scans_observed: bool,
    },
    Fails(String),
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seen::Fails(message) => write!(f, "fails: {message}"),
            Seen::Takes {
                table,
                referenced,
                index,
                scans_observed,
            } => {
                let outcome = Outcome::Takes {
                    table: *table,
                    referenced: *referenced,
                    index: *index,
                };
                write!(f, "{outcome}")?;
                if !scans_observed {
                    f.write_str(" (scans not observable)")?;
                }
                Ok(())
            }
        }
    }
}

/// The identifiers of a statement, lower-cased, in order (quoted ones as written).
fn identifiers(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '"'))
        .filter(|w| !w.is_empty())
        .map(|w| {
            if w.starts_with('"') {
                w.trim_matches('"').to_owned()
            } else {
                w.to_lowercase()
            }
        })
        .collect()
}

/// Group an observation by claim roles. "The table" is the first pre-existing table the
/// statement names (or view, sequence or foreign table, which count only where the statement
/// names them: `DROP VIEW`, `ALTER SEQUENCE`); "referenced" are the other pre-existing tables
/// (and the other views, sequences and foreign tables it names); "index" the indexes the
/// statement names, or, when it names none, the indexes it rebuilt without rewriting their
/// table (`REINDEX TABLE`). The indexes of a table follow the table (a rewrite rebuilds them),
/// so they are not counted apart. Locks the transaction held before the statement count only on
/// the relations it names. The strongest lock per role counts; a role is rewritten or scanned if
/// any of its relations is.
fn classify(statement: &str, observation: &Observation) -> Seen {
    if let Some(message) = error(observation) {
        return Seen::Fails(message);
    }
    let names = identifiers(statement);
    let named = |name: &str| names.iter().any(|n| n == name);
    let locks: Vec<_> = observation
        .locks
        .iter()
        .filter(|l| !l.held_before || named(&l.relation.name))
        .collect();
    // Views, sequences and foreign tables: in a role only where the statement names them.
    let table_like = |relation: &Relation| {
        is_table(relation.kind)
            || (matches!(
                relation.kind,
                RelationKind::View | RelationKind::Sequence | RelationKind::ForeignTable
            ) && named(&relation.name))
    };
    let table_name = names.iter().find(|name| {
        locks
            .iter()
            .any(|l| table_like(&l.relation) && &l.relation.name == *name)
    });
    let named_index = locks
        .iter()
        .any(|l| is_index(l.relation.kind) && named(&l.relation.name));
    let table_rewritten = observation.rewrites.iter().any(|r| is_table(r.kind));
    let mut roles: [Option<Effect>; 3] = [None; 3];
    let scans = observation.scans.clone().unwrap_or_default();
    for lock in locks {
        let rewrite = observation.rewrites.contains(&lock.relation);
        let role = match lock.relation.kind {
            kind if is_index(kind) => {
                let counts = if named_index {
                    named(&lock.relation.name)
                } else {
                    rewrite && !table_rewritten
                };
                if !counts {
                    continue;
                }
                2
            }
            _ if table_like(&lock.relation) => usize::from(Some(&lock.relation.name) != table_name),
            _ => continue,
        };
        let scan = scans.contains(&lock.relation);
        let slot = &mut roles[role];
        *slot = Some(match *slot {
            None => Effect {
                lock: lock.mode,
                rewrite,
                scan,
            },
            Some(e) => Effect {
                lock: e.lock.max(lock.mode),
                rewrite: e.rewrite || rewrite,
                scan: e.scan || scan,
            },
        });
    }
    Seen::Takes {
        table: roles[0],
        referenced: roles[1],
        index: roles[2],
        scans_observed: observation.scans.is_some(),
    }
}

fn matches(claim: &Claim, seen: &Seen) -> bool {
    match (&claim.outcome, seen) {
        (Outcome::Fails(expected), Seen::Fails(message)) => message.contains(expected),
        (
            Outcome::Takes {
                table,
                referenced,
                index,
            },
            Seen::Takes {
                table: t,
                referenced: r,
                index: i,
                scans_observed,
            },
        ) => {
            let same = |claimed: Option<Effect>, seen: &Option<Effect>| match (claimed, seen) {
                (None, None) => true,
                (Some(c), Some(s)) => {
                    c.lock == s.lock
                        && c.rewrite == s.rewrite
                        && (c.scan == s.scan || !scans_observed)
                }
                _ => false,
            };
            same(*table, t) && same(*referenced, r) && same(*index, i)
        }
        _ => false,
    }
}

/// The SQL of a help text, when every step of it is SQL. Steps are the numbered lines (`  2.
/// ALTER TABLE t …;  -- why`), or, in a help without numbers, its SQL lines; each must be SQL
/// ending in `;` (an explanation may follow as a `--` comment). Other lines introduce the steps
/// or add notes.
fn runnable_alternative(help: &str) -> Option<Vec<String>> {
    let numbered: Vec<&str> = help.lines().filter_map(step_text).collect();
    let steps: Vec<&str> = if numbered.is_empty() {
        help.lines().filter(|l| sql_line(l).is_some()).collect()
    } else {
        numbered
    };
    if steps.is_empty() {
        return None;
    }
    let mut statements = Vec::new();
    for step in steps {
        statements.extend(sql_line(step)?);
    }
    Some(statements)
}

/// The text of a numbered step line such as `  2. ALTER TABLE …`.
fn step_text(line: &str) -> Option<&str> {
    let (number, rest) = line.trim_start().split_once(". ")?;
    (!number.is_empty() && number.chars().all(|c| c.is_ascii_digit())).then_some(rest)
}

const SQL_STARTS: &[&str] = &[
    "ALTER", "CREATE", "DROP", "UPDATE", "DELETE", "INSERT", "REFRESH", "REINDEX", "SET", "LOCK",
    "BEGIN", "COMMIT", "VACUUM", "COMMENT", "CLUSTER", "ANALYZE",
];

/// The statements of one help line such as `  2. ALTER TABLE t …;  -- why`.
fn sql_line(line: &str) -> Option<Vec<String>> {
    let line = step_text(line).unwrap_or(line.trim_start());
    let code = line.split("  --").next()?.trim();
    let first = code.split_whitespace().next()?;
    if !SQL_STARTS.contains(&first)
        || !code.ends_with(';')
        || code.contains('<')
        || code.contains('…')
    {
        return None;
    }
    Some(
        migration_safety::split_statements(code)
            .into_iter()
            .map(|r| code[r].trim_end_matches(';').to_owned())
            .collect(),
    )
}

/// Rules whose help adds statements to the flagged one instead of replacing it (an index for
/// a foreign key): the suite runs the help after the statement.
const COMPLEMENTS: &[&str] = &["foreign-key-without-index"];

/// What the suite saw for one rule on one major.
#[derive(Default)]
struct Cell {
    seen: BTreeSet<String>,
    alternatives_held: usize,
    alternatives_failed: usize,
    alternatives_manual: usize,
    good_fixtures: usize,
}

impl Cell {
    fn render(&self) -> String {
        let mut out = if self.seen.is_empty() {
            "—".to_owned()
        } else {
            // A server message may hold a line break or a `|`, which would end the cell.
            self.seen
                .iter()
                .map(|seen| seen.replace('\n', "\\n").replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let alternatives = self.alternatives_held + self.alternatives_failed;
        if alternatives > 0 {
            let _ = write!(
                out,
                "<br>safe alternative: {} of {alternatives} held",
                self.alternatives_held
            );
        }
        if self.alternatives_manual > 0 {
            let _ = write!(out, "<br>{} with manual steps", self.alternatives_manual);
        }
        out
    }
}

/// Short lock names for the table.
fn short(text: &str) -> String {
    [
        ("SHARE UPDATE EXCLUSIVE", "SUE"),
        ("SHARE ROW EXCLUSIVE", "SRE"),
        ("ACCESS EXCLUSIVE", "AEL"),
        ("ROW EXCLUSIVE", "RE"),
        ("ACCESS SHARE", "AS"),
        ("ROW SHARE", "RS"),
        ("EXCLUSIVE", "EXCL"),
        ("SHARE", "SHR"),
    ]
    .iter()
    .fold(text.to_owned(), |text, (long, short)| {
        text.replace(long, short)
    })
}

/// A fixture that can run on a server of `major`: plain SQL (framework layouts wrap files in
/// transactions of their own) linted for that major, or pinned to it.
fn applicable(fixture: &Path, major: u32) -> Option<fixture_settings::FixtureSettings> {
    let mut fixture_settings = fixture_settings::settings_for(fixture);
    let framework = fixture_settings.framework.unwrap_or(if fixture.is_dir() {
        Framework::detect(fixture)
    } else {
        Framework::Plain
    });
    if framework != Framework::Plain {
        return None;
    }
    match fixture_settings.pinned {
        Some(version) if version != major => None,
        Some(_) => Some(fixture_settings),
        None => {
            fixture_settings.settings = fixture_settings.settings.pg_version(major).unwrap();
            Some(fixture_settings)
        }
    }
}

/// Replay statements without observing them (the history before a flagged statement).
fn replay(observer: &mut Observer, statements: &[Statement]) {
    for statement in statements {
        apply(observer, &statement.text);
    }
    if observer.in_transaction() {
        observer.commit().unwrap();
    }
}

struct Verifier<'a> {
    server: &'a Server,
    failures: Vec<String>,
    cells: BTreeMap<String, Cell>,
}

impl Verifier<'_> {
    fn fail(&mut self, what: String) {
        self.failures
            .push(format!("PostgreSQL {}: {what}", self.server.major));
    }

    fn fixture(&mut self, rule: &migration_safety::RuleMeta, fixture: &Path) {
        let Some(fixture_settings) = applicable(fixture, self.server.major) else {
            return;
        };
        let (settings, assumed) = (&fixture_settings.settings, &fixture_settings.assumed);
        let name = format!(
            "{}/{}",
            rule.name,
            fixture.file_name().unwrap().to_string_lossy()
        );
        let bad = name.contains("/bad");
        let mut report = lint_paths(&[fixture.to_path_buf()], settings).unwrap();
        // The application's code a fixture crate holds (`schema-drift`'s) runs nowhere.
        report.files.retain(|f| !f.application_code);
        let statements = statements(&report);
        let mut observer = fresh(self.server, assumed);
        let mut current_file = None;
        let mut observed = Vec::new();
        for statement in &statements {
            if current_file != Some(statement.file) {
                current_file = Some(statement.file);
                // Tables created by earlier files existed before this one: those are the
                // ones running code uses.
                observer.mark_existing().unwrap();
            }
            observed.push(apply(&mut observer, &statement.text));
        }
        drop(observer);
        // A rule about design or files says nothing about the locks of its good fixtures.
        let claims_locks = rule
            .claims
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Takes { .. }));
        let cell = self.cells.entry(rule.name.to_owned()).or_default();
        if !bad {
            cell.good_fixtures += 1;
        }
        let mut failures = Vec::new();
        let mut alternatives = Vec::new();
        for (index, (statement, observation)) in statements.iter().zip(&observed).enumerate() {
            let Some(observation) = observation else {
                continue;
            };
            let findings: Vec<_> = report.files[statement.file]
                .diagnostics
                .iter()
                .filter(|d| d.rule == rule.name && statement.range.contains(&d.range.start))
                .collect();
            if findings.is_empty() {
                if error(observation).is_some_and(|e| e.contains("parameters but got 0")) {
                    // A statement with `$1` placeholders, as an application sends it: nothing
                    // to run without its values.
                    continue;
                }
                if let Some(message) = error(observation) {
                    // A later statement may be where the flagged one makes the migration fail
                    // (a new enum value used in its transaction).
                    let predicted = bad
                        && rule.claims.iter().any(|c| {
                            c.majors.contains(&self.server.major)
                                && matches!(c.outcome, Outcome::Fails(e) if message.contains(e))
                        });
                    if predicted {
                        cell.seen
                            .insert(short(&format!("later statement fails: {message}")));
                    } else {
                        failures.push(format!("{name}: `{}` failed: {message}", statement.text));
                    }
                } else if !bad && claims_locks {
                    for problem in blocking(observation) {
                        failures.push(format!(
                            "{name}: good statement `{}` {problem}",
                            statement.text
                        ));
                    }
                }
                continue;
            }
            if !bad {
                failures.push(format!("{name}: `{}` is flagged", statement.text));
                continue;
            }
            let seen = classify(&statement.text, observation);
            // The claims for this statement's form, as the findings select them (from the lock
            // the statement model says it holds): the ones trace and the statistics use.
            let mut claims: Vec<&Claim> = Vec::new();
            for claim in findings.iter().flat_map(|f| f.claims(self.server.major)) {
                if !claims.contains(&claim) {
                    claims.push(claim);
                }
            }
            if !rule.claims.is_empty() {
                cell.seen.insert(short(&seen.to_string()));
                if !claims.iter().any(|c| matches(c, &seen)) {
                    failures.push(format!(
                        "{name}: `{}` {seen}; the rule claims {}",
                        statement.text,
                        if claims.is_empty() {
                            "nothing for this major".to_owned()
                        } else {
                            claims
                                .iter()
                                .map(|c| c.outcome.to_string())
                                .collect::<Vec<_>>()
                                .join(" or ")
                        }
                    ));
                }
            }
            for finding in findings {
                if let Some(help) = &finding.help {
                    match runnable_alternative(help) {
                        Some(sql) => alternatives.push((index, sql, seen.clone())),
                        None => cell.alternatives_manual += 1,
                    }
                }
            }
        }
        for (index, sql, seen) in alternatives {
            let complement = COMPLEMENTS.contains(&rule.name);
            match self.alternative(&statements, index, &sql, &seen, assumed, complement) {
                Ok(()) => cell_of(&mut self.cells, rule.name).alternatives_held += 1,
                Err(problem) => {
                    cell_of(&mut self.cells, rule.name).alternatives_failed += 1;
                    failures.push(format!(
                        "{name}: the safe alternative of `{}` ({}) {problem}",
                        statements[index].text,
                        sql.join("; ")
                    ));
                }
            }
        }
        for failure in failures {
            self.fail(failure);
        }
    }

    /// Run the statement and, on another copy, its safe alternative after the same history;
    /// the alternative must not block traffic and must reach the same schema. A `complement`
    /// runs after the statement instead (tables the statement's file created are new), and
    /// may only add to the schema.
    fn alternative(
        &self,
        statements: &[Statement],
        index: usize,
        sql: &[String],
        seen: &Seen,
        assumed: &[(String, String)],
        complement: bool,
    ) -> Result<(), String> {
        let original_fails = matches!(seen, Seen::Fails(_));
        let mut original = fresh(self.server, assumed);
        replay(&mut original, &statements[..index]);
        if !original_fails {
            apply(&mut original, &statements[index].text);
        }
        let expected = schema(original.client());
        drop(original);

        // An alternative made only of settings (`SET lock_timeout …`) is run before the statement.
        // Such an alternative bounds the wait for the lock; what the statement itself blocks is
        // the business of the other rules.
        let mut sql = sql.to_vec();
        let settings_only = sql
            .iter()
            .all(|s| s.to_ascii_uppercase().starts_with("SET "));
        if settings_only {
            sql.push(statements[index].text.clone());
        }
        let mut observer = fresh(self.server, assumed);
        if complement {
            let file = statements[index].file;
            let file_start = statements
                .iter()
                .position(|s| s.file == file)
                .unwrap_or(index);
            replay(&mut observer, &statements[..file_start]);
            observer.mark_existing().unwrap();
            replay(&mut observer, &statements[file_start..=index]);
        } else {
            replay(&mut observer, &statements[..index]);
            observer.mark_existing().unwrap();
        }
        for statement in &sql {
            let Some(observation) = apply(&mut observer, statement) else {
                continue;
            };
            if let Some(message) = error(&observation) {
                return Err(format!("failed at `{statement}`: {message}"));
            }
            if let Some(problem) = blocking(&observation)
                .into_iter()
                .next()
                .filter(|_| !settings_only)
            {
                return Err(format!("blocks traffic: `{statement}` {problem}"));
            }
        }
        if observer.in_transaction() {
            observer.commit().unwrap();
        }
        let actual = schema(observer.client());
        if original_fails {
            return Ok(());
        }
        let (missing, extra) = schema_difference(&expected, &actual);
        if missing.is_empty() && (extra.is_empty() || complement) {
            return Ok(());
        }
        Err(format!(
            "leaves another schema: missing {missing:?}, extra {extra:?}"
        ))
    }
}

fn cell_of<'a>(cells: &'a mut BTreeMap<String, Cell>, rule: &str) -> &'a mut Cell {
    cells.entry(rule.to_owned()).or_default()
}

fn fixtures(rule: &str) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(rule))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

/// Verify every rule on one server; the table cells per rule.
fn verify(server: &Server) -> (BTreeMap<String, Cell>, Vec<String>) {
    let mut verifier = Verifier {
        server,
        failures: Vec::new(),
        cells: BTreeMap::new(),
    };
    let mut template_setup = None;
    for rule in migration_safety::rules() {
        let setup_path = root().join(format!("tests/verification/setup/{}.sql", rule.name));
        let setup = std::fs::read_to_string(&setup_path).ok();
        if template_setup.as_ref() != Some(&setup) {
            build_template(server, setup.as_deref());
            template_setup = Some(setup);
        }
        verifier.cells.entry(rule.name.to_owned()).or_default();
        for fixture in fixtures(rule.name) {
            verifier.fixture(rule, &fixture);
        }
    }
    for database in [SCRATCH, TEMPLATE] {
        server.drop_database(database);
    }
    (verifier.cells, verifier.failures)
}

const DOC: &str = "docs/postgres-verification.md";
const README_START: &str = "<!-- verification:start -->";
const README_END: &str = "<!-- verification:end -->";
const DOC_HEAD: &str = "# migration-safety's claims on PostgreSQL 12–18

Generated by `tests/verification.rs` from real servers, one per major (see the README to run it).
Each cell: what the statements the rule flags did, by relation (the table the statement names,
the other tables it touches, an index): the strongest lock (`AEL` ACCESS EXCLUSIVE, `EXCL`
EXCLUSIVE, `SRE` SHARE ROW EXCLUSIVE, `SHR` SHARE, `SUE` SHARE UPDATE EXCLUSIVE, `RE` ROW
EXCLUSIVE, `RS` ROW SHARE, `AS` ACCESS SHARE), whether it rewrote or scanned it, or the error;
then how many of the safe alternatives printed in the help held (ran without blocking reads or
writes beyond a brief catalog update, rewrote nothing, and left the same schema) and how many
include steps that are not SQL (deploys, triggers, values only the author knows). Every cell
matched the rule's declared claims for that major, or the suite failed. `—`: the rule makes no
claim about locks (design and file rules) or flags nothing on that major.
";

/// Parse the checked-in table: rule → major → cell.
fn parse_doc(text: &str) -> BTreeMap<String, BTreeMap<u32, String>> {
    let mut rows = BTreeMap::new();
    let mut majors = Vec::new();
    for line in text.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        if cells[0] == "rule" {
            majors = cells[1..]
                .iter()
                .filter_map(|c| c.trim_start_matches("PG ").parse().ok())
                .collect();
        } else if let Some(rule) = cells[0].strip_prefix('`').and_then(|c| c.strip_suffix('`')) {
            let row: BTreeMap<u32, String> = majors
                .iter()
                .zip(&cells[1..])
                .map(|(m, c)| (*m, (*c).to_owned()))
                .collect();
            rows.insert(rule.to_owned(), row);
        }
    }
    rows
}

fn render_doc(rows: &BTreeMap<String, BTreeMap<u32, String>>) -> String {
    let mut out = DOC_HEAD.to_owned();
    out.push_str("\n| rule |");
    for major in MAJORS {
        let _ = write!(out, " PG {major} |");
    }
    out.push_str("\n|---|");
    for _ in MAJORS {
        out.push_str("---|");
    }
    for (rule, row) in rows {
        let _ = write!(out, "\n| `{rule}` |");
        for major in MAJORS {
            let _ = write!(
                out,
                " {} |",
                row.get(&major).map_or("not run", String::as_str)
            );
        }
    }
    out.push('\n');
    out
}

/// Under CI the suite must run on 12, 15 and 18 at least: a missing server is a provisioning bug.
#[test]
fn ci_provisions_the_verification_servers() {
    assert_provisioned_under_ci();
}

#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn every_claim_and_safe_alternative_holds_on_each_major() {
    let servers = required_servers();
    let mut failures = Vec::new();
    let mut seen = Vec::new();
    for server in &servers {
        let (cells, server_failures) = verify(server);
        failures.extend(server_failures);
        seen.push((server.major, cells));
    }
    // Read the checked-in table only now: runs for other majors, in other processes, may
    // have updated it meanwhile.
    let doc_path = root().join(DOC);
    let checked_in = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let mut rows = parse_doc(&checked_in);
    for (major, cells) in seen {
        for (rule, cell) in cells {
            rows.entry(rule).or_default().insert(major, cell.render());
        }
    }
    let rules: BTreeSet<String> = migration_safety::rules()
        .map(|r| r.name.to_owned())
        .collect();
    rows.retain(|rule, _| rules.contains(rule));
    let rendered = render_doc(&rows);
    // The README shows the same table.
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let table = &rendered[rendered.find("\n| rule |").unwrap() + 1..];
    let (head, rest) = readme
        .split_once(README_START)
        .expect("the README's table markers");
    let (_, tail) = rest
        .split_once(README_END)
        .expect("the README's table markers");
    let readme_rendered = format!("{head}{README_START}\n{table}{README_END}{tail}");
    if std::env::var_os(UPDATE).is_some() {
        std::fs::write(&doc_path, &rendered).unwrap();
        std::fs::write(&readme_path, &readme_rendered).unwrap();
    } else if rendered != checked_in || readme_rendered != readme {
        failures.push(format!(
            "{DOC} or the README's table is stale: rerun with {UPDATE}=1 to regenerate them"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A statement run on a fresh copy of one table, observed.
fn boundary(server: &Server, setup: &str, statement: &str) -> Observation {
    server.create_database(BOUNDARY, None);
    let mut observer = Observer::connect(&server.url_of(BOUNDARY), Changes::Kept).unwrap();
    observer
        .execute(&format!(
            "CREATE TABLE t (id int PRIMARY KEY, a int, d date) PARTITION BY RANGE (id);
             CREATE TABLE t_1 PARTITION OF t FOR VALUES FROM (0) TO (1000);
             CREATE TABLE u (id int PRIMARY KEY, a int, v text);
             INSERT INTO u SELECT g, g, 'v' FROM generate_series(1, 100) g;
             {setup}"
        ))
        .unwrap();
    observer.mark_existing().unwrap();
    observer.observe(statement)
}

/// The version boundaries the rules rely on, each on every provisioned major.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn version_boundaries_hold_on_each_major() {
    let servers = required_servers();
    let mut failures = Vec::new();
    for server in &servers {
        let major = server.major;
        let rewrote = |o: &Observation| o.rewrites.iter().any(|r| r.name == "u");
        let scanned = |o: &Observation| {
            o.scans
                .as_ref()
                .is_some_and(|s| s.iter().any(|r| r.name == "u"))
        };
        let mut check = |what: &str, holds: bool| {
            if !holds {
                failures.push(format!("PostgreSQL {major}: {what}"));
            }
        };
        // A constant default is stored once (PostgreSQL 11+: every supported major).
        let o = boundary(
            server,
            "",
            "ALTER TABLE u ADD COLUMN c int NOT NULL DEFAULT 42",
        );
        check(
            "a constant default rewrites nothing",
            error(&o).is_none() && !rewrote(&o),
        );
        let o = boundary(
            server,
            "",
            "ALTER TABLE u ADD COLUMN c float8 DEFAULT random()",
        );
        check("a volatile default rewrites the table", rewrote(&o));
        // SET NOT NULL skips its scan behind a validated CHECK (12+).
        let o = boundary(server, "", "ALTER TABLE u ALTER COLUMN a SET NOT NULL");
        check("SET NOT NULL scans", scanned(&o));
        let o = boundary(
            server,
            "ALTER TABLE u ADD CONSTRAINT u_a_nn CHECK (a IS NOT NULL);",
            "ALTER TABLE u ALTER COLUMN a SET NOT NULL",
        );
        check(
            "SET NOT NULL behind a validated CHECK does not scan",
            !scanned(&o),
        );
        // REINDEX CONCURRENTLY exists from 12.
        let o = boundary(server, "", "REINDEX TABLE CONCURRENTLY u");
        check("REINDEX CONCURRENTLY runs", error(&o).is_none());
        // DETACH PARTITION … CONCURRENTLY exists from 14.
        let o = boundary(
            server,
            "",
            "ALTER TABLE t DETACH PARTITION t_1 CONCURRENTLY",
        );
        check(
            "DETACH … CONCURRENTLY runs from 14 and is a syntax error before",
            match error(&o) {
                None => major >= 14,
                Some(e) => major < 14 && e.contains("syntax error"),
            },
        );
        // NOT NULL … NOT VALID and virtual generated columns exist from 18.
        let o = boundary(
            server,
            "",
            "ALTER TABLE u ADD CONSTRAINT u_a_nn NOT NULL a NOT VALID",
        );
        check(
            "NOT NULL … NOT VALID runs without a scan from 18 and is a syntax error before",
            match error(&o) {
                None => major >= 18 && !scanned(&o),
                Some(e) => major < 18 && e.contains("syntax error"),
            },
        );
        let o = boundary(
            server,
            "",
            "ALTER TABLE u ADD COLUMN a2 int GENERATED ALWAYS AS (a * 2) VIRTUAL",
        );
        check(
            "a virtual generated column rewrites nothing from 18 and is a syntax error before",
            match error(&o) {
                None => major >= 18 && !rewrote(&o),
                Some(e) => major < 18 && e.contains("syntax error"),
            },
        );
        let o = boundary(
            server,
            "",
            "ALTER TABLE u ADD COLUMN a2 int GENERATED ALWAYS AS (a * 2) STORED",
        );
        check("a stored generated column rewrites the table", rewrote(&o));
        // NULLS NOT DISTINCT exists from 15; for an older target the linter reports it.
        let statement = "CREATE UNIQUE INDEX u_a_key ON u (a) NULLS NOT DISTINCT";
        let o = boundary(server, "", statement);
        let flagged = migration_safety::lint_sql(
            statement,
            &migration_safety::Settings::default()
                .pg_version(major)
                .unwrap(),
        )
        .diagnostics()
        .any(|(_, d)| d.rule == "syntax-error");
        check(
            "NULLS NOT DISTINCT runs from 15 and is a syntax error before, as syntax-error reports",
            match error(&o) {
                None => major >= 15 && !flagged,
                Some(e) => major < 15 && e.contains("syntax error") && flagged,
            },
        );
        server.drop_database(BOUNDARY);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Frameworks that send a whole file as one query: PostgreSQL runs the statements of one query
/// in an implicit transaction, so `CREATE INDEX CONCURRENTLY` fails unless it is alone, and the
/// linter says so for a sqlx file that opted out of sqlx's own transaction.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn one_query_with_several_statements_is_one_transaction() {
    let servers = required_servers();
    for server in &servers {
        let mut admin = server.admin();
        admin
            .batch_execute(
                "DROP SCHEMA IF EXISTS lab_query CASCADE; CREATE SCHEMA lab_query;
                 CREATE TABLE lab_query.users (id bigint, email text);",
            )
            .unwrap();
        // One simple-protocol query, as sqlx sends a file.
        let together = admin.batch_execute(
            "SET lock_timeout = '5s'; CREATE INDEX CONCURRENTLY users_email_idx ON lab_query.users (email)",
        );
        let message = together
            .as_ref()
            .err()
            .and_then(|e| e.as_db_error())
            .map(|e| e.message().to_owned());
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains("cannot run inside a transaction block")),
            "PostgreSQL {}: {together:?}",
            server.major
        );
        admin
            .batch_execute("CREATE INDEX CONCURRENTLY users_email_idx ON lab_query.users (email)")
            .unwrap();
        admin
            .batch_execute("DROP SCHEMA lab_query CASCADE")
            .unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_create.sql"),
        "CREATE TABLE users (id bigint, email text);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_index.sql"),
        "-- no-transaction\nSET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    )
    .unwrap();
    let settings = migration_safety::Settings::default().framework(Framework::Sqlx);
    let report = lint_paths(&[dir.path().to_path_buf()], &settings).unwrap();
    assert!(
        report
            .diagnostics()
            .any(|(_, d)| d.rule == "concurrently-in-transaction"),
        "{}",
        report.to_human(false)
    );
}

/// A database of its own for a test with several sessions, holding `setup`.
fn lab(server: &Server, name: &str, setup: &str) -> String {
    let database = format!("migration_safety_lab_{name}");
    server.create_database(&database, None);
    server
        .session(&database, "migration_safety_setup")
        .batch_execute(setup)
        .unwrap_or_else(|e| panic!("PostgreSQL {}: {setup}: {e:?}", server.major));
    database
}

/// Whether a statement ended because its `lock_timeout` ran out.
fn timed_out(result: &Result<(), postgres::Error>) -> bool {
    result
        .as_ref()
        .is_err_and(|e| e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE))
}

/// Concurrent index operations wait for every older snapshot, read-only ones too, and a plain
/// `REINDEX` blocks every newly planned read of the table, not only reads using the index.
/// Each wait shows as a short `lock_timeout` running out while another session holds the
/// snapshot or the lock.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn concurrent_index_operations_wait_for_older_snapshots() {
    for server in required_servers() {
        let major = server.major;
        let database = lab(
            &server,
            "wait",
            "CREATE TABLE t (id bigint PRIMARY KEY, a int);
             INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
             CREATE INDEX t_a_idx ON t (a);",
        );
        {
            // A read-only transaction with a snapshot.
            let mut reader = server.session(&database, "ms_reader");
            reader
                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM t")
                .unwrap();
            for statement in [
                "CREATE INDEX CONCURRENTLY t_a2_idx ON t (a)",
                "REINDEX INDEX CONCURRENTLY t_a_idx",
                "DROP INDEX CONCURRENTLY t_a_idx",
            ] {
                let mut session = server.session(&database, "ms_concurrent");
                session.batch_execute("SET lock_timeout = '500ms'").unwrap();
                let result = session.batch_execute(statement);
                assert!(
                    timed_out(&result),
                    "PostgreSQL {major}: {statement}: {result:?}"
                );
            }
        }
        // The failed concurrent builds left invalid indexes behind.
        server
            .session(&database, "ms_cleanup")
            .batch_execute("DROP INDEX IF EXISTS t_a2_idx, t_a_idx_ccnew")
            .unwrap();
        {
            // A plain REINDEX INDEX held open: a count that uses no index cannot even be planned.
            let mut reindex = server.session(&database, "ms_reindex");
            reindex
                .batch_execute("BEGIN; REINDEX INDEX t_a_idx")
                .unwrap();
            let read = server.session(&database, "ms_reader").batch_execute(
                "SET lock_timeout = '500ms'; SET enable_indexscan = off; SET enable_indexonlyscan = off;
                 SET enable_bitmapscan = off; SELECT count(*) FROM t",
            );
            assert!(timed_out(&read), "PostgreSQL {major}: {read:?}");
        }
        server.drop_database(&database);
    }
}

/// `DROP INDEX CONCURRENTLY` and `REINDEX INDEX CONCURRENTLY` end by taking an ACCESS EXCLUSIVE
/// lock on the old index, to remove it. To catch that final step, another session holds a row
/// lock on the old index's `pg_attribute` rows, which the final step deletes: the statement
/// stops there, waiting for that transaction, and `pg_locks` shows it holding ACCESS EXCLUSIVE
/// on the old index.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn concurrent_index_drops_end_with_access_exclusive_on_the_old_index() {
    for server in required_servers() {
        let major = server.major;
        let database = lab(
            &server,
            "final",
            "CREATE TABLE t (id bigint PRIMARY KEY, a int);
             INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;",
        );
        let mut setup = server.session(&database, "ms_setup");
        for (step, statement) in [
            "DROP INDEX CONCURRENTLY t_a_idx",
            "REINDEX INDEX CONCURRENTLY t_a_idx",
        ]
        .into_iter()
        .enumerate()
        {
            setup
                .batch_execute("DROP INDEX IF EXISTS t_a_idx; CREATE INDEX t_a_idx ON t (a)")
                .unwrap();
            let old_index = text_rows(&mut setup, "SELECT 't_a_idx'::regclass::oid").remove(0);
            let mut row_lock = server.session(&database, &format!("ms_catalog_rows_{step}"));
            row_lock
                .batch_execute(&format!(
                    "BEGIN; SELECT attnum FROM pg_attribute WHERE attrelid = {old_index} FOR KEY SHARE"
                ))
                .unwrap();
            let name = format!("ms_index_final_{step}");
            let running = server.spawn(
                &database,
                &name,
                &format!("SET lock_timeout = '60s'; {statement}"),
            );
            // Stopped in its final step: waiting for the row lock's transaction.
            let observed = server.poll(
                &database,
                &format!(
                    "SELECT l.locktype || ' ' || l.mode || ' ' || l.granted FROM pg_locks l
                       JOIN pg_stat_activity a ON a.pid = l.pid
                     WHERE a.application_name = '{name}'
                       AND (l.relation = {old_index} OR l.locktype = 'transactionid')
                     ORDER BY 1"
                ),
                |rows| rows.iter().any(|r| r == "transactionid ShareLock false"),
            );
            assert!(
                observed
                    .iter()
                    .any(|r| r == "transactionid ShareLock false")
                    && observed
                        .iter()
                        .any(|r| r == "relation AccessExclusiveLock true"),
                "PostgreSQL {major}: {statement}: {observed:?}"
            );
            drop(row_lock);
            let result = running.join().unwrap();
            assert!(
                result.is_ok(),
                "PostgreSQL {major}: {statement}: {result:?}"
            );
            let remaining = text_rows(
                &mut setup,
                &format!("SELECT count(*) FROM pg_class WHERE oid = {old_index}"),
            );
            assert_eq!(remaining, ["0"], "PostgreSQL {major}: {statement}");
        }
        drop(setup);
        server.drop_database(&database);
    }
}

/// `DETACH PARTITION … CONCURRENTLY` (PostgreSQL 14+) still requests an ACCESS EXCLUSIVE lock
/// on the partition in its second transaction, so it queues behind a running reader of the
/// partition: while the reader's transaction is open, `pg_locks` shows the detaching session's
/// ACCESS EXCLUSIVE request on the partition, not granted. Before 14 the form is a syntax error.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn detach_concurrently_queues_behind_readers_of_the_partition() {
    for server in required_servers() {
        let major = server.major;
        let database = lab(
            &server,
            "detach",
            "CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
        );
        let detach = "ALTER TABLE events DETACH PARTITION events_2024 CONCURRENTLY";
        if major < 14 {
            let result = server
                .session(&database, "ms_detacher")
                .batch_execute(detach);
            assert!(
                result
                    .as_ref()
                    .is_err_and(|e| e.code() == Some(&postgres::error::SqlState::SYNTAX_ERROR)),
                "PostgreSQL {major}: {result:?}"
            );
            server.drop_database(&database);
            continue;
        }
        let mut reader = server.session(&database, "ms_partition_reader");
        reader
            .batch_execute("BEGIN; SELECT count(*) FROM events_2024")
            .unwrap();
        let detacher = server.spawn(
            &database,
            "ms_detacher",
            &format!("SET lock_timeout = '60s'; {detach}"),
        );
        let locks = |who: &str, granted: bool| {
            format!(
                "SELECT l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE a.application_name = '{who}' AND l.granted = {granted}
                   AND l.relation = 'events_2024'::regclass"
            )
        };
        let waiting = server.poll(&database, &locks("ms_detacher", false), |rows| {
            !rows.is_empty()
        });
        assert_eq!(waiting, ["AccessExclusiveLock"], "PostgreSQL {major}");
        // The reader still holds its ACCESS SHARE lock on the partition.
        let held = server.poll(&database, &locks("ms_partition_reader", true), |_| true);
        assert_eq!(held, ["AccessShareLock"], "PostgreSQL {major}");
        // Once the reader ends, the detach completes.
        drop(reader);
        let result = detacher.join().unwrap();
        assert!(result.is_ok(), "PostgreSQL {major}: {result:?}");
        let parents = server.poll(
            &database,
            "SELECT count(*) FROM pg_inherits WHERE inhrelid = 'events_2024'::regclass",
            |_| true,
        );
        assert_eq!(parents, ["0"], "PostgreSQL {major}");
        server.drop_database(&database);
    }
}

/// The last step of the partitioned-index recipe, `ALTER INDEX … ATTACH PARTITION`, takes
/// ACCESS EXCLUSIVE on the child index.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn attaching_a_partition_index_locks_it_access_exclusive() {
    for server in required_servers() {
        let database = lab(
            &server,
            "attach",
            "CREATE TABLE events (id bigint, at date) PARTITION BY RANGE (at);
             CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE INDEX events_at_idx ON ONLY events (at);
             CREATE INDEX events_2024_at_idx ON events_2024 (at);",
        );
        let mut observer = Observer::connect(&server.url_of(&database), Changes::Kept).unwrap();
        let observation =
            observer.observe("ALTER INDEX events_at_idx ATTACH PARTITION events_2024_at_idx");
        assert_eq!(error(&observation), None, "PostgreSQL {}", server.major);
        assert_eq!(
            observation.lock_on("events_2024_at_idx"),
            Some(LockMode::AccessExclusive),
            "PostgreSQL {}: {:?}",
            server.major,
            observation.locks
        );
        drop(observer);
        server.drop_database(&database);
    }
}

/// A failed unique build leaves an INVALID index, which `IF NOT EXISTS` then keeps.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn concurrently_if_not_exists_keeps_an_invalid_index() {
    for server in required_servers() {
        let major = server.major;
        let database = lab(
            &server,
            "invalid",
            "CREATE TABLE t (id bigint, code int); INSERT INTO t VALUES (1, 1), (2, 1);",
        );
        let mut session = server.session(&database, "ms_invalid");
        let first =
            session.batch_execute("CREATE UNIQUE INDEX CONCURRENTLY t_code_key ON t (code)");
        assert!(first.is_err(), "PostgreSQL {major}: {first:?}");
        let retry = session
            .batch_execute("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_code_key ON t (code)");
        assert!(retry.is_ok(), "PostgreSQL {major}: {retry:?}");
        let valid = text_rows(
            &mut session,
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_code_key'::regclass",
        );
        assert_eq!(valid, ["f"], "PostgreSQL {major}");
        drop(session);
        server.drop_database(&database);
    }
    let report = migration_safety::lint_sql(
        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_code_key ON t (code);",
        &migration_safety::Settings::default(),
    );
    assert!(
        report
            .diagnostics()
            .any(|(_, d)| d.rule == "concurrently-if-not-exists"),
        "{}",
        report.to_human(false)
    );
}

/// PostgreSQL does not nest transactions: it only warns about a second `BEGIN` and about a
/// `COMMIT` with no transaction open.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn unbalanced_transaction_statements_only_warn() {
    for server in required_servers() {
        let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut config = server.config("postgres", "ms_unbalanced");
        let sink = std::sync::Arc::clone(&notices);
        config.notice_callback(move |notice| {
            sink.lock().unwrap().push(notice.message().to_owned());
        });
        let mut session = config.connect(postgres::NoTls).unwrap();
        for statement in ["BEGIN", "BEGIN", "COMMIT", "COMMIT"] {
            session.batch_execute(statement).unwrap();
        }
        drop(session);
        assert_eq!(
            *notices.lock().unwrap(),
            [
                "there is already a transaction in progress",
                "there is no transaction in progress"
            ],
            "PostgreSQL {}",
            server.major
        );
    }
}

/// Who may run `CREATE EXTENSION`, as `extension-in-migration` says: a role that is no
/// superuser but owns the database (or has the `CREATE` privilege on it) can create an
/// extension marked trusted from PostgreSQL 13 on, never on 12; an untrusted extension needs a
/// superuser on every major; a role without the privilege can create neither.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn creating_an_extension_needs_the_rights_the_rule_names() {
    const DATABASE: &str = "migration_safety_lab_extension";
    for server in required_servers() {
        let major = server.major;
        let mut admin = server.admin();
        server.drop_database(DATABASE);
        admin
            .batch_execute(
                "DROP ROLE IF EXISTS ms_migrator; DROP ROLE IF EXISTS ms_app;
                 CREATE ROLE ms_migrator LOGIN; CREATE ROLE ms_app LOGIN;",
            )
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {DATABASE} OWNER ms_migrator"))
            .unwrap();
        let create = |role: &str, extension: &str| {
            let mut config = server.config(DATABASE, "ms_extension");
            config.user(role);
            let mut session = config.connect(postgres::NoTls).unwrap();
            let result = session.batch_execute(&format!("CREATE EXTENSION {extension}"));
            result.map_err(|e| {
                e.as_db_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_owned())
            })
        };
        let denied = |result: &Result<(), String>, extension: &str| {
            result.as_ref().is_err_and(|e| {
                e == &format!("permission denied to create extension \"{extension}\"")
            })
        };
        // The role without the CREATE privilege first: the owner then creates citext.
        let app = create("ms_app", "citext");
        assert!(denied(&app, "citext"), "PostgreSQL {major}: {app:?}");
        let owner = create("ms_migrator", "citext");
        if major >= 13 {
            assert_eq!(owner, Ok(()), "PostgreSQL {major}");
        } else {
            assert!(denied(&owner, "citext"), "PostgreSQL {major}: {owner:?}");
        }
        let untrusted = create("ms_migrator", "pg_stat_statements");
        assert!(
            denied(&untrusted, "pg_stat_statements"),
            "PostgreSQL {major}: {untrusted:?}"
        );
        server.drop_database(DATABASE);
        admin
            .batch_execute("DROP ROLE ms_migrator; DROP ROLE ms_app")
            .unwrap();
        // The linter names the rights of the target version.
        let report = migration_safety::lint_sql(
            "CREATE EXTENSION citext;",
            &migration_safety::Settings::default()
                .pg_version(major)
                .unwrap(),
        );
        let message = report
            .diagnostics()
            .find(|(_, d)| d.rule == "extension-in-migration")
            .map(|(_, d)| d.message.clone())
            .unwrap_or_default();
        assert_eq!(
            message.contains("no trusted extensions"),
            major < 13,
            "PostgreSQL {major}: {message}"
        );
    }
}

/// On a partitioned table PostgreSQL rejects `ADD CONSTRAINT … USING INDEX`; the plan the help
/// gives instead (a constraint on each partition from a concurrently built index, then the
/// constraint on the parent) works, and the parent's constraint adopts the partitions' indexes
/// instead of building new ones.
#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn unique_constraints_on_partitioned_tables_adopt_the_partitions_constraints() {
    const SETUP: &str = "CREATE TABLE events (id bigint, at date NOT NULL, code text) PARTITION BY RANGE (at);
        CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        INSERT INTO events SELECT g, '2024-03-01', 'c' || g FROM generate_series(1, 100) g;";
    for server in required_servers() {
        let major = server.major;
        let database = lab(&server, "partitioned_unique", SETUP);
        let using_index = server
            .session(&database, "ms_partitioned_unique")
            .batch_execute(
                "CREATE UNIQUE INDEX events_code_at_key ON ONLY events (code, at);
                 CREATE UNIQUE INDEX events_2024_idx ON events_2024 (code, at);
                 ALTER INDEX events_code_at_key ATTACH PARTITION events_2024_idx;
                 ALTER TABLE events ADD CONSTRAINT events_code_at_key UNIQUE USING INDEX events_code_at_key;",
            );
        assert!(
            using_index.as_ref().is_err_and(|e| e
                .as_db_error()
                .is_some_and(|d| d.message().contains("not supported on partitioned tables"))),
            "PostgreSQL {major}: {using_index:?}"
        );
        let database = lab(&server, "partitioned_unique", SETUP);
        let mut session = server.session(&database, "ms_partitioned_unique");
        session
            .batch_execute(
                "CREATE UNIQUE INDEX CONCURRENTLY events_2024_key ON events_2024 (code, at)",
            )
            .unwrap();
        let indexes =
            "SELECT string_agg(relname || ':' || pg_relation_filenode(oid), ',' ORDER BY relname)
                       FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'i'";
        let before = text_rows(&mut session, indexes);
        session
            .batch_execute(
                "ALTER TABLE events_2024 ADD CONSTRAINT events_2024_key UNIQUE USING INDEX events_2024_key;
                 ALTER TABLE events ADD CONSTRAINT events_code_at_key UNIQUE (code, at);",
            )
            .unwrap();
        assert_eq!(
            text_rows(&mut session, indexes),
            before,
            "PostgreSQL {major}: no index was built on the partition"
        );
        drop(session);
        server.drop_database(&database);
    }
}

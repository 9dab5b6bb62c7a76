//! migration-safety's claims, proven on real PostgreSQL servers, one per major.
//!
//! Every rule's bad and good fixtures (`migration-safety/tests/fixtures/<rule>/`) run, statement
//! by statement, on a copy of a database that holds the tables they assume
//! (`verification/world.sql`, plus `verification/setup/<rule>.sql`), observed by
//! [`migration_safety::trace::Observer`]. The suite asserts:
//!
//! - each statement a rule flags does what one of the rule's [`Claim`]s for that major says:
//!   the same strongest lock on the table it names, on the other tables it touches and on an
//!   index, the same rewrites and scans, or the error the rule predicts;
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
//! The servers come from `MIGRATION_SAFETY_TEST_PG_<major>` (12 to 18), which
//! `.ci/postgres.sh` exports: `.ci/postgres.sh all -- cargo test -p migration-safety-e2e --test
//! verification`. Without a server the test is ignored, with the reason.

#[path = "../migration-safety/tests/common/fixture_settings.rs"]
mod fixture_settings;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::path::{Path, PathBuf};

use migration_safety::trace::{
    Changes, Method, Observation, Observer, RelationKind, Status, postgres,
};
use migration_safety::{Claim, Effect, Framework, Outcome, Report, lint_paths};

const WORLD: &str = include_str!("verification/world.sql");
const TEMPLATE: &str = "migration_safety_world";
const SCRATCH: &str = "migration_safety_fixture";
const BOUNDARY: &str = "migration_safety_boundary";
const UPDATE: &str = "MIGRATION_SAFETY_UPDATE_VERIFICATION";
const MAJORS: std::ops::RangeInclusive<u32> = 12..=18;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn fixtures_dir() -> PathBuf {
    root().join("migration-safety/tests/fixtures")
}

/// A server to verify on.
struct Server {
    major: u32,
    url: String,
}

fn servers() -> Vec<Server> {
    MAJORS
        .filter_map(|major| {
            std::env::var(format!("MIGRATION_SAFETY_TEST_PG_{major}"))
                .ok()
                .map(|url| Server { major, url })
        })
        .collect()
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let mut config: postgres::Config = url.parse().expect("a libpq URL");
    config.dbname(database);
    // `postgres::Config` has no Display: rebuild the URL from the parts the suite uses.
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(host) => host.clone(),
        postgres::config::Host::Unix(path) => path.display().to_string(),
    };
    format!(
        "postgresql://{}@{}:{}/{database}",
        config.get_user().unwrap_or("postgres"),
        host,
        config.get_ports().first().copied().unwrap_or(5432)
    )
}

impl Server {
    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the server")
    }

    /// Drop a database, waiting for the sessions of the previous fixture to go away.
    fn drop_database(&self, admin: &mut postgres::Client, database: &str) {
        for _ in 0..200 {
            match admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database}")) {
                Err(e) if e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE) => {
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                result => return result.unwrap(),
            }
        }
        panic!("database {database} stays in use");
    }

    /// Build the template database the fixtures copy: the world, then a rule's own setup.
    fn build_template(&self, setup: Option<&str>) {
        let mut admin = self.admin();
        for db in [SCRATCH, TEMPLATE] {
            self.drop_database(&mut admin, db);
        }
        admin
            .batch_execute(&format!("CREATE DATABASE {TEMPLATE}"))
            .unwrap();
        // A second tablespace for `SET TABLESPACE`, inside the data directory (no path needed).
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
        let mut world =
            postgres::Client::connect(&with_database(&self.url, TEMPLATE), postgres::NoTls)
                .unwrap();
        world
            .batch_execute(WORLD)
            .unwrap_or_else(|e| panic!("world.sql on PostgreSQL {}: {e:?}", self.major));
        if let Some(setup) = setup {
            world
                .batch_execute(setup)
                .unwrap_or_else(|e| panic!("setup on PostgreSQL {}: {e:?}", self.major));
        }
        world
            .batch_execute("ANALYZE; SELECT pg_stat_clear_snapshot()")
            .unwrap();
    }

    /// A fresh copy of the template, observed, with the session settings a fixture assumes.
    fn fresh(&self, assumed: &[(String, String)]) -> Observer {
        let mut admin = self.admin();
        self.drop_database(&mut admin, SCRATCH);
        admin
            .batch_execute(&format!("CREATE DATABASE {SCRATCH} TEMPLATE {TEMPLATE}"))
            .unwrap();
        // The rules assume nothing about the session time zone unless a migration sets it:
        // the fixtures run in one that is not UTC.
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
        Observer::connect(&with_database(&self.url, SCRATCH), Changes::Kept)
            .expect("connect to the fixture database")
    }
}

/// One top-level statement of a migration file.
struct Statement {
    file: usize,
    range: Range<usize>,
    text: String,
}

/// The statements of every file of a lint report, in migration order.
fn statements(report: &Report) -> Vec<Statement> {
    report
        .files
        .iter()
        .enumerate()
        .flat_map(|(file, f)| {
            migration_safety::split_statements(&f.source)
                .into_iter()
                .map(move |range| Statement {
                    file,
                    text: f.source[range.clone()].trim_end_matches(';').to_owned(),
                    range,
                })
        })
        .collect()
}

fn first_word(text: &str) -> String {
    text.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase()
}

fn transaction_control(text: &str) -> Option<&'static str> {
    let words: Vec<String> = text
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    match words.first().map(String::as_str) {
        Some("BEGIN") => Some("BEGIN"),
        Some("START") if words.get(1).is_some_and(|w| w == "TRANSACTION") => Some("BEGIN"),
        Some("COMMIT" | "END") => Some("COMMIT"),
        Some("ROLLBACK" | "ABORT") => Some("ROLLBACK"),
        _ => None,
    }
}

/// Run one statement the way a migration tool sends it: transaction control drives the
/// observer's transaction, anything else is observed (in the open transaction, or alone).
fn run(observer: &mut Observer, statement: &str) -> Option<Observation> {
    let result = match transaction_control(statement) {
        Some("BEGIN") => observer.begin(),
        Some("COMMIT") => observer.commit(),
        Some(_) => observer.rollback(),
        None if !observer.in_transaction() && first_word(statement) == "LOCK" => {
            // The observer runs a statement sent alone inside a transaction block of its own,
            // where LOCK works; sent alone by a migration tool it is refused: send it as is.
            let status = match observer.client().batch_execute(statement) {
                Ok(()) => Status::Succeeded,
                Err(e) => Status::Failed {
                    code: e.code().map(|c| c.code().to_owned()).unwrap_or_default(),
                    message: e
                        .as_db_error()
                        .map_or_else(|| e.to_string(), |db| db.message().to_owned()),
                },
            };
            return Some(Observation {
                status,
                method: Method::NotObserved,
                locks: Vec::new(),
                rewrites: Vec::new(),
                scans: None,
                duration: std::time::Duration::ZERO,
            });
        }
        None => {
            let observation = observer.observe(statement);
            if observer.in_transaction() && matches!(observation.status, Status::Failed { .. }) {
                // A failed statement aborts its transaction; the next statements of the block
                // are judged on their own, still inside a transaction block.
                observer.rollback().unwrap();
                observer.begin().unwrap();
            }
            return Some(observation);
        }
    };
    result.unwrap();
    None
}

/// The error of a failed observation.
fn error(observation: &Observation) -> Option<String> {
    match &observation.status {
        Status::Failed { message, .. } => Some(message.clone()),
        Status::NotRun(reason) => Some(format!("not run: {reason}")),
        Status::Succeeded => None,
    }
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

fn is_table(kind: RelationKind) -> bool {
    matches!(
        kind,
        RelationKind::Table | RelationKind::PartitionedTable | RelationKind::MaterializedView
    )
}

fn is_index(kind: RelationKind) -> bool {
    matches!(kind, RelationKind::Index | RelationKind::PartitionedIndex)
}

/// Group an observation by claim roles. "The table" is the first pre-existing table the
/// statement names; "referenced" are the other pre-existing tables; "index" the indexes the
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
    let table_name = names.iter().find(|name| {
        locks
            .iter()
            .any(|l| is_table(l.relation.kind) && &l.relation.name == *name)
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
            kind if is_table(kind) => usize::from(Some(&lock.relation.name) != table_name),
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

/// Whether an observation blocks reads or writes of a pre-existing table beyond a brief
/// catalog update: a rewrite of a table or materialized view (which rebuilds its indexes too;
/// an index rebuilt alone, as `REINDEX CONCURRENTLY` does, is not a rewrite of its table), or a
/// lock that blocks its traffic held while scanning it (for a materialized view, which takes no
/// writes, only a lock that blocks reads counts).
fn blocking(observation: &Observation) -> Vec<String> {
    let scans = observation.scans.clone().unwrap_or_default();
    let mut found: Vec<String> = observation
        .rewrites
        .iter()
        .filter(|r| is_table(r.kind))
        .map(|r| format!("rewrites {r}"))
        .collect();
    for lock in &observation.locks {
        let blocks = if lock.relation.kind == RelationKind::MaterializedView {
            lock.blocks_reads()
        } else {
            lock.blocks_writes()
        };
        if !lock.held_before && blocks && scans.contains(&lock.relation) {
            found.push(format!("scans {} under {}", lock.relation, lock.mode.sql()));
        }
    }
    found
}

/// The schema as the catalog sees it, one line per column, constraint, index and relation.
fn schema(client: &mut postgres::Client) -> Vec<String> {
    const USER: &str = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";
    let queries = [
        format!(
            "SELECT format('relation %s.%s %s', n.nspname, c.relname, c.relkind)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE {USER} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
        ),
        format!(
            "SELECT format('column %s.%s.%s %s%s%s%s%s', n.nspname, c.relname, a.attname,
                    format_type(a.atttypid, a.atttypmod),
                    CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                    CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END,
                    CASE WHEN a.attgenerated <> '' THEN ' GENERATED ' || a.attgenerated::text ELSE '' END,
                    coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), ''))
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE {USER} AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        format!(
            "SELECT format('constraint %s %s %s%s', coalesce(co.conrelid::regclass::text, co.contypid::regtype::text),
                    co.conname, pg_get_constraintdef(co.oid),
                    CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END)
             FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace WHERE {USER}"
        ),
        format!(
            "SELECT format('index %s%s', pg_get_indexdef(i.indexrelid),
                    CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER}"
        ),
        format!(
            "SELECT format('domain %s.%s %s%s', n.nspname, t.typname, format_type(t.typbasetype, t.typtypmod),
                    CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END)
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {USER} AND t.typtype = 'd'"
        ),
        format!(
            "SELECT format('enum %s.%s %s', n.nspname, t.typname, string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder))
             FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             JOIN pg_enum e ON e.enumtypid = t.oid WHERE {USER} GROUP BY n.nspname, t.typname"
        ),
    ];
    let mut lines: Vec<String> = queries
        .iter()
        .flat_map(|q| {
            client
                .query(q.as_str(), &[])
                .unwrap()
                .into_iter()
                .map(|row| row.get::<_, String>(0))
        })
        .collect();
    lines.sort();
    lines
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

/// What the alternative's schema lacks and adds, compared with the original's. Two
/// differences are the point of some alternatives and count as the same schema: a view that
/// keeps an old name working for the code still running (renames), and a constraint the
/// alternative validated where the original left it `NOT VALID`.
fn schema_difference<'a>(
    expected: &'a [String],
    actual: &'a [String],
) -> (Vec<&'a String>, Vec<&'a String>) {
    const UNVALIDATED: &str = " NOT VALID (not validated)";
    let views: Vec<String> = actual
        .iter()
        .filter_map(|l| l.strip_prefix("relation ")?.strip_suffix(" v"))
        .map(|name| format!("column {name}."))
        .collect();
    let missing = expected
        .iter()
        .filter(|l| {
            !actual.contains(l)
                && !l
                    .strip_suffix(UNVALIDATED)
                    .is_some_and(|validated| actual.iter().any(|a| a == validated))
        })
        .collect();
    let extra = actual
        .iter()
        .filter(|l| {
            let view = l.starts_with("relation ") && l.ends_with(" v");
            let view_column = views.iter().any(|v| l.starts_with(v.as_str()));
            let validated = expected
                .iter()
                .any(|e| e.strip_suffix(UNVALIDATED) == Some(l.as_str()));
            !(expected.contains(l) || view || view_column || validated)
        })
        .collect();
    (missing, extra)
}

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
            self.seen.iter().cloned().collect::<Vec<_>>().join("<br>")
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
        run(observer, &statement.text);
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
        let report = lint_paths(&[fixture.to_path_buf()], settings).unwrap();
        let statements = statements(&report);
        let mut observer = self.server.fresh(assumed);
        let mut current_file = None;
        let mut observed = Vec::new();
        for statement in &statements {
            if current_file != Some(statement.file) {
                current_file = Some(statement.file);
                // Tables created by earlier files existed before this one: those are the
                // ones running code uses.
                observer.mark_existing().unwrap();
            }
            observed.push(run(&mut observer, &statement.text));
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
            let claims: Vec<&Claim> = rule
                .claims
                .iter()
                .filter(|c| c.majors.contains(&self.server.major))
                .collect();
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
            match self.alternative(&statements, index, &sql, &seen, assumed) {
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
    /// the alternative must not block traffic and must reach the same schema.
    fn alternative(
        &self,
        statements: &[Statement],
        index: usize,
        sql: &[String],
        seen: &Seen,
        assumed: &[(String, String)],
    ) -> Result<(), String> {
        let original_fails = matches!(seen, Seen::Fails(_));
        let mut original = self.server.fresh(assumed);
        replay(&mut original, &statements[..index]);
        if !original_fails {
            run(&mut original, &statements[index].text);
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
        let mut observer = self.server.fresh(assumed);
        replay(&mut observer, &statements[..index]);
        observer.mark_existing().unwrap();
        for statement in &sql {
            let Some(observation) = run(&mut observer, statement) else {
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
        if missing.is_empty() && extra.is_empty() {
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
            server.build_template(setup.as_deref());
            template_setup = Some(setup);
        }
        verifier.cells.entry(rule.name.to_owned()).or_default();
        for fixture in fixtures(rule.name) {
            verifier.fixture(rule, &fixture);
        }
    }
    let mut admin = server.admin();
    for database in [SCRATCH, TEMPLATE] {
        server.drop_database(&mut admin, database);
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
    if std::env::var_os("CI").is_some() {
        for major in [12, 15, 18] {
            assert!(
                std::env::var_os(format!("MIGRATION_SAFETY_TEST_PG_{major}")).is_some(),
                "CI must provision PostgreSQL {major} (.ci/run sources .ci/postgres.sh)"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh all -- cargo test -p migration-safety-e2e --test verification"
)]
fn every_claim_and_safe_alternative_holds_on_each_major() {
    let servers = servers();
    assert!(
        !servers.is_empty(),
        "no MIGRATION_SAFETY_TEST_PG_<major> is set: start the servers with .ci/postgres.sh"
    );
    let doc_path = root().join(DOC);
    let checked_in = std::fs::read_to_string(&doc_path).unwrap_or_default();
    let mut rows = parse_doc(&checked_in);
    let mut failures = Vec::new();
    for server in &servers {
        let (cells, server_failures) = verify(server);
        failures.extend(server_failures);
        for (rule, cell) in cells {
            rows.entry(rule)
                .or_default()
                .insert(server.major, cell.render());
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
    let mut admin = server.admin();
    server.drop_database(&mut admin, BOUNDARY);
    admin
        .batch_execute(&format!("CREATE DATABASE {BOUNDARY}"))
        .unwrap();
    let mut observer =
        Observer::connect(&with_database(&server.url, BOUNDARY), Changes::Kept).unwrap();
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
    let servers = servers();
    assert!(
        !servers.is_empty(),
        "no MIGRATION_SAFETY_TEST_PG_<major> is set"
    );
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
        let mut admin = server.admin();
        server.drop_database(&mut admin, BOUNDARY);
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
    let servers = servers();
    assert!(
        !servers.is_empty(),
        "no MIGRATION_SAFETY_TEST_PG_<major> is set"
    );
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

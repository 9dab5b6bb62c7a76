//! Real PostgreSQL servers for the tests, one per major, and what the tests do on them.
//!
//! The servers come from `MIGRATION_SAFETY_TEST_PG_<major>` (12 to 18), libpq URLs that
//! `.ci/postgres.sh` exports (`.ci/postgres.sh 16 -- cargo test …`, or `all`). A test that
//! needs them is `#[ignore]`d without them (the build script sets the `postgres_servers` cfg
//! when one is set), and asserts under `CI` that they are there.
//!
//! What this module gives a test:
//! - databases: [`Server::create_database`] (empty, or a copy of a template) and
//!   [`Server::drop_database`];
//! - statements applied the way a migration tool sends them, observed by
//!   [`migration_safety::trace::Observer`]: [`apply`] (transaction control opens and closes
//!   the observer's transaction), [`statements`] (the statements of a lint report, in migration
//!   order), and [`blocking`] (what in an observation blocks reads or writes of an existing
//!   table beyond a brief catalog update);
//! - the schema read from the catalog, [`schema`], and two schemas compared,
//!   [`schema_difference`];
//! - the single server of the `trace` and `stats` suites ([`server`], [`connect`],
//!   [`drop_schema`]), throwaway clusters ([`cluster_options`]) and the command line run
//!   in-process ([`cli`]);
//! - several sessions at once: [`Server::session`] (named by `application_name`, so that
//!   `pg_locks` joined with `pg_stat_activity` finds it), [`Server::spawn`] (a statement in a
//!   thread of its own, for one that waits) and [`Server::poll`] (until another session is seen
//!   waiting).
//!
//! ```no_run
//! use migration_safety::trace::{Changes, Observer};
//! use migration_safety_e2e::server::{apply, blocking, schema, servers};
//!
//! for server in servers() {
//!     server.create_database("my_lab", None);
//!     let mut observer = Observer::connect(&server.url_of("my_lab"), Changes::Kept).unwrap();
//!     observer.execute("CREATE TABLE users (id bigint PRIMARY KEY, email text)").unwrap();
//!     observer.mark_existing().unwrap();
//!     let observation = apply(&mut observer, "ALTER TABLE users ADD COLUMN name text").unwrap();
//!     assert!(blocking(&observation).is_empty()); // a brief catalog update
//!     assert!(schema(observer.client()).contains(&"column public.users.name text".to_owned()));
//!     drop(observer);
//!     server.drop_database("my_lab");
//! }
//! ```

use std::ops::Range;
use std::time::Duration;

use migration_safety::Report;
use migration_safety::trace::postgres::{self, Client, NoTls};
use migration_safety::trace::{
    Changes, ClusterOptions, Observation, Observer, RelationKind, Status,
};

/// The server of the single-server suites (`trace`, `stats`): the libpq URL in
/// `MIGRATION_SAFETY_TEST_PG`, which `.ci/run` sets (the build script sets the
/// `postgres_server` cfg when it is set, for their `#[ignore]`).
pub fn server() -> String {
    std::env::var("MIGRATION_SAFETY_TEST_PG").expect("MIGRATION_SAFETY_TEST_PG is set")
}

/// A session on [`server`].
pub fn connect() -> Client {
    Client::connect(&server(), NoTls).unwrap()
}

/// Drop `schema` of [`server`] and everything in it (tests running in parallel each use a
/// schema of their own).
pub fn drop_schema(schema: &str) {
    connect()
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// Run the command line with `args` (after `migration-safety`), without colour; returns the
/// exit code, standard output and standard error.
pub fn cli(args: &[&str]) -> (u8, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let argv = std::iter::once("migration-safety").chain(args.iter().copied());
    let code = migration_safety::cli::run(argv, &mut out, &mut err, false);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Whether the tests run as root (then throwaway clusters run as an unprivileged user).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Options for a throwaway cluster: the binaries of `MIGRATION_SAFETY_TEST_PG_BIN` (the build
/// script sets the `postgres_bin` cfg when it is set), run as the user
/// `MIGRATION_SAFETY_TEST_PG_USER` (default `mstest`) when the tests run as root.
pub fn cluster_options() -> ClusterOptions {
    let options = ClusterOptions::new().bin_dir(
        std::env::var("MIGRATION_SAFETY_TEST_PG_BIN").expect("MIGRATION_SAFETY_TEST_PG_BIN is set"),
    );
    if is_root() {
        options.run_as(
            std::env::var("MIGRATION_SAFETY_TEST_PG_USER").unwrap_or_else(|_| "mstest".to_owned()),
        )
    } else {
        options
    }
}

/// The majors a server can be provisioned for.
pub const MAJORS: std::ops::RangeInclusive<u32> = 12..=18;

/// A server to run on.
pub struct Server {
    /// Its major version.
    pub major: u32,
    /// A libpq URL of its `postgres` database, as a superuser.
    pub url: String,
}

/// The servers `MIGRATION_SAFETY_TEST_PG_<major>` names, by major.
pub fn servers() -> Vec<Server> {
    MAJORS
        .filter_map(|major| {
            std::env::var(format!("MIGRATION_SAFETY_TEST_PG_{major}"))
                .ok()
                .filter(|url| !url.is_empty())
                .map(|url| Server { major, url })
        })
        .collect()
}

/// Under `CI`, fail unless 12, 15 and 18 at least have a server: the tests that need them are
/// `#[ignore]`d without them, so a suite calls this from a test that always runs, and a
/// provisioning bug fails instead of passing unchecked.
pub fn assert_provisioned_under_ci() {
    if std::env::var_os("CI").is_some() {
        for major in [12, 15, 18] {
            assert!(
                std::env::var_os(format!("MIGRATION_SAFETY_TEST_PG_{major}")).is_some(),
                "CI must provision PostgreSQL {major} (.ci/run sources .ci/postgres.sh)"
            );
        }
    }
}

/// The servers, for a test that runs only with them (`#[cfg_attr(not(postgres_servers),
/// ignore = …)]`): it fails when none is set.
pub fn required_servers() -> Vec<Server> {
    let servers = servers();
    assert!(
        !servers.is_empty(),
        "no MIGRATION_SAFETY_TEST_PG_<major> is set: start the servers with .ci/postgres.sh"
    );
    servers
}

impl Server {
    /// The connection settings of `database`, for a session named `application_name`.
    pub fn config(&self, database: &str, application_name: &str) -> postgres::Config {
        let mut config: postgres::Config = self.url.parse().expect("a libpq URL");
        config.dbname(database).application_name(application_name);
        config
    }

    /// A libpq URL of `database` (for APIs that take one, such as [`Observer::connect`]).
    pub fn url_of(&self, database: &str) -> String {
        let config = self.config(database, "");
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

    /// A session on the `postgres` database.
    pub fn admin(&self) -> Client {
        self.session("postgres", "migration_safety_admin")
    }

    /// A session on `database` named `application_name`.
    pub fn session(&self, database: &str, application_name: &str) -> Client {
        self.config(database, application_name)
            .connect(NoTls)
            .unwrap_or_else(|e| panic!("connect to PostgreSQL {} ({database}): {e}", self.major))
    }

    /// Drop `database` if it exists, waiting for the sessions still closing on it.
    pub fn drop_database(&self, database: &str) {
        let mut admin = self.admin();
        for _ in 0..400 {
            match admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database}")) {
                Err(e) if e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE) => {
                    std::thread::sleep(Duration::from_millis(25));
                }
                result => return result.unwrap(),
            }
        }
        panic!(
            "PostgreSQL {}: database {database} stays in use",
            self.major
        );
    }

    /// Create `database` again: empty, or a copy of `template`.
    pub fn create_database(&self, database: &str, template: Option<&str>) {
        self.drop_database(database);
        let template = template.map_or_else(String::new, |t| format!(" TEMPLATE {t}"));
        self.admin()
            .batch_execute(&format!("CREATE DATABASE {database}{template}"))
            .unwrap();
    }

    /// A fresh `database` (see [`Server::create_database`]) holding `setup`, observed with its
    /// changes kept; the relations `setup` made are the pre-existing ones.
    pub fn observer(&self, database: &str, setup: &str) -> Observer {
        self.create_database(database, None);
        let mut observer = Observer::connect(&self.url_of(database), Changes::Kept)
            .unwrap_or_else(|e| panic!("PostgreSQL {}: observe {database}: {e}", self.major));
        observer.execute(setup).unwrap();
        observer.mark_existing().unwrap();
        observer
    }

    /// Start `sql` in a session of its own on `database`, named `application_name`, outside
    /// any transaction block (each statement of `sql` alone), for a statement that waits for
    /// another session; join the thread for its result.
    pub fn spawn(
        &self,
        database: &str,
        application_name: &str,
        sql: &str,
    ) -> std::thread::JoinHandle<Result<(), postgres::Error>> {
        let mut session = self.session(database, application_name);
        let sql = sql.to_owned();
        std::thread::spawn(move || {
            migration_safety::split_statements(&sql)
                .into_iter()
                .try_for_each(|range| session.batch_execute(&sql[range]))
        })
    }

    /// Run `query` on `database` until `done` accepts its rows (each row's columns as text,
    /// joined by spaces), for up to 30 seconds; the last rows.
    pub fn poll(
        &self,
        database: &str,
        query: &str,
        done: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let mut session = self.session(database, "migration_safety_poll");
        let mut rows = Vec::new();
        for _ in 0..600 {
            rows = text_rows(&mut session, query);
            if done(&rows) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        rows
    }
}

/// The rows of `query` (simple protocol: every value as text), each row's values joined by
/// spaces (NULL as `NULL`).
pub fn text_rows(client: &mut Client, query: &str) -> Vec<String> {
    client
        .simple_query(query)
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .into_iter()
        .filter_map(|message| match message {
            postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL"))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        })
        .collect()
}

/// One top-level statement of a migration file.
pub struct Statement {
    /// The index of its file in the report.
    pub file: usize,
    /// Its bytes in the file.
    pub range: Range<usize>,
    /// Its text, without the final `;`.
    pub text: String,
}

/// The statements of every file of a lint report, in migration order.
pub fn statements(report: &Report) -> Vec<Statement> {
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

/// `BEGIN`, `COMMIT` or `ROLLBACK` when the statement is one of those (or a synonym).
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

/// Apply one statement the way a migration tool sends it: transaction control opens and ends
/// the observer's transaction (`None`); anything else is observed, in the open transaction or
/// alone. After a statement fails inside a transaction, the transaction is rolled back and a
/// new one begun, so that the next statements of the block are judged on their own.
pub fn apply(observer: &mut Observer, statement: &str) -> Option<Observation> {
    let result = match transaction_control(statement) {
        Some("BEGIN") => observer.begin(),
        Some("COMMIT") => observer.commit(),
        Some(_) => observer.rollback(),
        None => {
            let observation = observer.observe(statement);
            if observer.in_transaction() && matches!(observation.status, Status::Failed { .. }) {
                observer.rollback().unwrap();
                observer.begin().unwrap();
            }
            return Some(observation);
        }
    };
    result.unwrap();
    None
}

/// The error of a failed observation (or why it did not run).
pub fn error(observation: &Observation) -> Option<String> {
    match &observation.status {
        Status::Failed { message, .. } => Some(message.clone()),
        Status::NotRun(reason) => Some(format!("not run: {reason}")),
        Status::Succeeded => None,
    }
}

/// Tables in the claims' sense: tables, partitioned tables and materialized views.
pub fn is_table(kind: RelationKind) -> bool {
    matches!(
        kind,
        RelationKind::Table | RelationKind::PartitionedTable | RelationKind::MaterializedView
    )
}

/// Indexes, of a table or of a partitioned table.
pub fn is_index(kind: RelationKind) -> bool {
    matches!(kind, RelationKind::Index | RelationKind::PartitionedIndex)
}

/// What in an observation blocks reads or writes of a pre-existing table beyond a brief
/// catalog update: a rewrite of a table or materialized view (which rebuilds its indexes too;
/// an index rebuilt alone, as `REINDEX CONCURRENTLY` does, is not a rewrite of its table), or a
/// lock that blocks its traffic held while scanning it (for a materialized view, which takes no
/// writes, only a lock that blocks reads counts). Empty when nothing does.
pub fn blocking(observation: &Observation) -> Vec<String> {
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

/// Whether a statement took a lock that blocks reads or writes of a pre-existing table (for a
/// materialized view, reads) and scanned or rewrote a table meanwhile: more than a brief
/// catalog update. Stricter than [`blocking`], which counts a lock only on the relation
/// scanned: here a lock on one table held while another is scanned counts too, and where scans
/// were not observed (a statement run outside a transaction, its locks sampled) any such lock
/// counts.
pub fn blocks_traffic_for_long(observation: &Observation) -> bool {
    let scanned = observation.scans.as_ref().is_none_or(|s| !s.is_empty());
    // A materialized view takes no writes: only a lock that blocks its reads counts.
    let blocks = observation.locks.iter().any(|l| {
        !l.held_before
            && if l.relation.kind == RelationKind::MaterializedView {
                l.blocks_reads()
            } else {
                l.blocks_writes()
            }
    });
    blocks && (scanned || !observation.rewrites.is_empty())
}

/// Apply a migration's statements in order with [`apply`] (its transaction control included),
/// asserting that each succeeds; the observed statements with their observations. `file` names
/// the migration in a failure. (A batched backfill whose `DO` block commits between its batches
/// is observed too: it runs alone, its locks sampled.)
pub fn apply_migration(
    observer: &mut Observer,
    file: &str,
    sql: &str,
) -> Vec<(String, Observation)> {
    migration_safety::split_statements(sql)
        .into_iter()
        .filter_map(|range| {
            let statement = sql[range].trim_end_matches(';').to_owned();
            let observation = apply(observer, &statement)?;
            assert_eq!(
                observation.status,
                Status::Succeeded,
                "{file}: `{statement}` failed: {observation:?}"
            );
            Some((statement, observation))
        })
        .collect()
}

/// The schema as the catalog sees it, sorted, one line per relation, column (type,
/// nullability, identity, generation, default), constraint (with its validation state), index
/// (with its validity), domain, enum, trigger and function, in every schema but the system
/// ones. A `NOT NULL` constraint (recorded in `pg_constraint` from PostgreSQL 18) is listed
/// without its name, which PostgreSQL makes up and keeps through a column rename: what it
/// states is the column's nullability and its validation state.
pub fn schema(client: &mut Client) -> Vec<String> {
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
            "SELECT format('constraint %s %s%s%s', coalesce(co.conrelid::regclass::text, co.contypid::regtype::text),
                    CASE WHEN co.contype = 'n' THEN '' ELSE co.conname || ' ' END, pg_get_constraintdef(co.oid),
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
        format!(
            "SELECT format('trigger %s on %s', t.tgname, t.tgrelid::regclass)
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {USER} AND NOT t.tgisinternal"
        ),
        format!(
            "SELECT format('function %s.%s(%s)', n.nspname, p.proname,
                    pg_get_function_identity_arguments(p.oid))
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {USER}"
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

/// What the `actual` schema lacks and adds, compared with the `expected` one (lines of
/// [`schema`]). Two differences are the point of some safe alternatives and count as the same
/// schema: a view that keeps an old name working for the code still running (renames), and a
/// constraint validated where the expected one is `NOT VALID`.
pub fn schema_difference<'a>(
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

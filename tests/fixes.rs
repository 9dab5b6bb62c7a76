//! What `migration-safety fix` writes, proven on a real PostgreSQL: each hazardous migration and
//! its fixed version run on fresh databases holding the same rows. The original takes a lock
//! that blocks traffic while it scans (so the scenario is real); no fixed statement does, and
//! none rewrites a table: its blocking locks are brief catalog updates. Both end in the same
//! schema, read from the catalog (columns and their types and nullability, constraints with
//! their definitions and validation state, indexes).
//!
//! The server comes from `MIGRATION_SAFETY_TEST_PG` (a libpq URL, set by `.ci/run`); without it
//! the test is ignored, with the reason.

use std::path::PathBuf;

use migration_safety::Settings;
use migration_safety::trace::postgres::{Client, NoTls};
use migration_safety::trace::{Changes, Observation, Observer, Status};

/// The tables every scenario starts from, with rows, so that scans and rewrites show.
const SETUP: &str = "
CREATE TABLE users (id bigint PRIMARY KEY, email text, last_seen_at timestamptz);
INSERT INTO users SELECT i, 'user' || i || '@example.com', now() FROM generate_series(1, 2000) i;
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total numeric);
INSERT INTO orders SELECT i, i % 2000 + 1, i FROM generate_series(1, 2000) i;
CREATE TABLE events (id bigint, payload text);
INSERT INTO events SELECT i, 'x' FROM generate_series(1, 2000) i;
";

/// One hazardous migration per rule with an in-place fix (run as a `plain` migration).
const SCENARIOS: &[(&str, &str)] = &[
    (
        "set-not-null",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
    ),
    (
        "add-check-constraint",
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);\n",
    ),
    (
        "add-foreign-key",
        "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);\n",
    ),
    (
        "add-unique-constraint",
        "ALTER TABLE users ADD UNIQUE (email, last_seen_at);\n",
    ),
    (
        "add-primary-key",
        "ALTER TABLE events ADD PRIMARY KEY (id);\n",
    ),
    (
        "add-column-with-default",
        "ALTER TABLE events ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp();\n",
    ),
];

fn server() -> String {
    std::env::var("MIGRATION_SAFETY_TEST_PG").expect("MIGRATION_SAFETY_TEST_PG is set")
}

/// The URL of database `name` on the server.
fn database_url(name: &str) -> String {
    let url = server();
    let base = url.rsplit_once('/').map_or(url.as_str(), |(base, _)| base);
    format!("{base}/{name}")
}

/// A fresh database `name` holding [`SETUP`], observed from a new connection.
fn fresh(admin: &mut Client, name: &str) -> Observer {
    // One statement per call: several in one query would be one transaction.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        admin.batch_execute(&sql).unwrap();
    }
    let mut observer = Observer::connect(&database_url(name), Changes::Kept).unwrap();
    observer.execute(SETUP).unwrap();
    observer.mark_existing().unwrap();
    observer
}

/// Run `sql` statement by statement, each observed, except a `DO` block that commits its own
/// batches: the observer runs each statement in a transaction, where such a block cannot run,
/// so it runs unobserved, on its own, as the migration runs it (its `UPDATE`s take ROW
/// EXCLUSIVE locks, which block no read or write).
fn run(observer: &mut Observer, sql: &str) -> Vec<(String, Observation)> {
    migration_safety::split_statements(sql)
        .into_iter()
        .filter_map(|range| {
            let statement = sql[range].to_owned();
            if statement.starts_with("DO $$") && statement.contains("COMMIT;") {
                observer.execute(&statement).unwrap();
                return None;
            }
            let observation = observer.observe(&statement);
            assert_eq!(
                observation.status,
                Status::Succeeded,
                "`{statement}` failed: {observation:?}"
            );
            Some((statement, observation))
        })
        .collect()
}

/// The schema of `public`, from the catalog, one sorted line per item.
fn schema(observer: &mut Observer) -> Vec<String> {
    observer
        .client()
        .query(
            "SELECT format('column %s.%s %s not null=%s', c.relname, a.attname,
                           format_type(a.atttypid, a.atttypmod), a.attnotnull)
             FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
               AND a.attnum > 0 AND NOT a.attisdropped
             UNION ALL
             SELECT format('constraint %s.%s %s validated=%s', conrelid::regclass, conname,
                           pg_get_constraintdef(oid), convalidated)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             UNION ALL
             SELECT format('index %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE c.relnamespace = 'public'::regnamespace
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Whether a statement held a lock that blocks reads or writes of a pre-existing table while
/// it scanned or rewrote one: more than a brief catalog update.
fn blocks_traffic_for_long(observation: &Observation) -> bool {
    let scanned = observation.scans.as_ref().is_some_and(|s| !s.is_empty());
    observation.blocks_traffic() && (scanned || !observation.rewrites.is_empty())
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs a PostgreSQL server: set MIGRATION_SAFETY_TEST_PG"
)]
fn fixed_migrations_take_no_long_lock_rewrite_nothing_and_reach_the_same_schema() {
    let mut admin = Client::connect(&server(), NoTls).unwrap();
    let major: u32 = admin
        .query_one(
            "SELECT current_setting('server_version_num')::int / 10000",
            &[],
        )
        .unwrap()
        .get::<_, i32>(0)
        .try_into()
        .unwrap();
    let settings = Settings::default().pg_version(major).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (index, (rule, migration)) in SCENARIOS.iter().enumerate() {
        let path: PathBuf = dir
            .path()
            .join(format!("{index}_{}.sql", rule.replace('-', "_")));
        std::fs::write(&path, migration).unwrap();
        let fixed =
            migration_safety::fix::fix_paths(std::slice::from_ref(&path), &settings, &[]).unwrap();
        assert_eq!(fixed.changes.len(), 1, "{rule}: fix changes the migration");
        let fixed_sql = &fixed.changes[0].fixed;
        // Clean of what it fixed, and of anything new (a warning of the original, such as a
        // foreign key's missing index, may stay).
        let before = migration_safety::lint_file(&path, &settings).unwrap();
        let found: Vec<_> = before.diagnostics().map(|(_, d)| d.rule).collect();
        for (_, finding) in fixed.report.diagnostics() {
            assert!(
                finding.rule != *rule && finding.fix.is_none() && found.contains(&finding.rule),
                "{rule}: the fixed migration lints clean:\n{}",
                fixed.report.to_human(false)
            );
        }

        let mut original = fresh(&mut admin, &format!("fix_{index}_original"));
        let hazards = run(&mut original, migration);
        assert!(
            hazards.iter().any(|(_, o)| blocks_traffic_for_long(o)),
            "{rule}: the original blocks traffic while it scans: {hazards:#?}"
        );
        let mut safe = fresh(&mut admin, &format!("fix_{index}_fixed"));
        for (statement, observation) in run(&mut safe, fixed_sql) {
            assert!(
                !blocks_traffic_for_long(&observation) && observation.rewrites.is_empty(),
                "{rule}: `{statement}` holds a blocking lock beyond a catalog update, or rewrites: {observation:#?}"
            );
        }
        assert_eq!(
            schema(&mut original),
            schema(&mut safe),
            "{rule}: the fixed migration reaches the original's schema\n{fixed_sql}"
        );
        drop((original, safe));
        for suffix in ["original", "fixed"] {
            admin
                .batch_execute(&format!("DROP DATABASE fix_{index}_{suffix}"))
                .unwrap();
        }
    }
}

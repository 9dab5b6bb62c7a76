//! What `migration-safety fix` writes, proven on a real PostgreSQL: each hazardous migration and
//! its fixed version run on fresh databases holding the same rows. The original takes a lock
//! that blocks traffic while it scans (so the scenario is real); no fixed statement does, and
//! none rewrites a table: its blocking locks are brief catalog updates. Both end in the same
//! schema, read from the catalog (columns and their types and nullability, constraints with
//! their definitions and validation state, indexes).
//!
//! It runs on every server `.ci/postgres.sh` provisions (`MIGRATION_SAFETY_TEST_PG_<major>`, 12
//! to 18: see `migration_safety_e2e::server`); without them the test is ignored, with the
//! reason, and under CI a missing 12, 15 or 18 fails.

use std::path::PathBuf;

use migration_safety::Settings;
use migration_safety_e2e::server::{
    apply_migration, assert_provisioned_under_ci, blocks_traffic_for_long, required_servers, schema,
};

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

/// Under CI the fixes are proven on the servers `.ci/run` provisions.
#[test]
fn ci_provisions_the_servers() {
    assert_provisioned_under_ci();
}

#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh 12 15 18 -- cargo test -p migration-safety-e2e --test fixes"
)]
fn fixed_migrations_take_no_long_lock_rewrite_nothing_and_reach_the_same_schema() {
    for server in required_servers() {
        let settings = Settings::default().pg_version(server.major).unwrap();
        let major = server.major;
        let dir = tempfile::tempdir().unwrap();
        for (index, (rule, migration)) in SCENARIOS.iter().enumerate() {
            let path: PathBuf = dir
                .path()
                .join(format!("{index}_{}.sql", rule.replace('-', "_")));
            std::fs::write(&path, migration).unwrap();
            let fixed =
                migration_safety::fix::fix_paths(std::slice::from_ref(&path), &settings, &[])
                    .unwrap();
            assert_eq!(
                fixed.changes.len(),
                1,
                "PostgreSQL {major}, {rule}: fix changes the migration"
            );
            let fixed_sql = &fixed.changes[0].fixed;
            // Clean of what it fixed, and of anything new (a warning of the original, such as a
            // foreign key's missing index, may stay).
            let before = migration_safety::lint_file(&path, &settings).unwrap();
            let found: Vec<_> = before.diagnostics().map(|(_, d)| d.rule).collect();
            for (_, finding) in fixed.report.diagnostics() {
                assert!(
                    finding.rule != *rule && finding.fix.is_none() && found.contains(&finding.rule),
                    "PostgreSQL {major}, {rule}: the fixed migration lints clean:\n{}",
                    fixed.report.to_human(false)
                );
            }

            let original_db = format!("fix_{index}_original");
            let mut original = server.observer(&original_db, SETUP);
            let hazards = apply_migration(&mut original, rule, migration);
            assert!(
                hazards.iter().any(|(_, o)| blocks_traffic_for_long(o)),
                "PostgreSQL {major}, {rule}: the original blocks traffic while it scans: {hazards:#?}"
            );
            let fixed_db = format!("fix_{index}_fixed");
            let mut safe = server.observer(&fixed_db, SETUP);
            for (statement, observation) in apply_migration(&mut safe, rule, fixed_sql) {
                assert!(
                    !blocks_traffic_for_long(&observation) && observation.rewrites.is_empty(),
                    "PostgreSQL {major}, {rule}: `{statement}` holds a blocking lock beyond a catalog update, or rewrites: {observation:#?}"
                );
            }
            assert_eq!(
                schema(original.client()),
                schema(safe.client()),
                "PostgreSQL {major}, {rule}: the fixed migration reaches the original's schema\n{fixed_sql}"
            );
            drop((original, safe));
            server.drop_database(&original_db);
            server.drop_database(&fixed_db);
        }
    }
}

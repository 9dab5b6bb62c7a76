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
use migration_safety::trace::Observation;
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
CREATE MATERIALIZED VIEW order_totals AS SELECT user_id, sum(total) AS total FROM orders GROUP BY user_id;
";

/// A scenario: the rule, an earlier migration that the linter reads first (and that runs with
/// the setup, before the tables count as pre-existing), the hazardous migration (a `plain`
/// one), and what the fixed migration leaves in the schema besides the original's (the start
/// of each extra catalog line), with the reason.
struct Scenario {
    rule: &'static str,
    earlier: &'static str,
    migration: &'static str,
    extra: &'static [&'static str],
    /// For a hazard that is a lock alone (held while the statement waits and until it
    /// commits, with no scan): the table the original blocks and the fixed one must not.
    frees: Option<&'static str>,
    /// The partition a `DETACH … CONCURRENTLY` detaches: its second transaction takes a brief
    /// ACCESS EXCLUSIVE lock on it by design (the rule's docs say so, and
    /// `tests/verification.rs` proves it queues behind the partition's readers), so a sample
    /// that catches that lock does not count against the fix, which frees the partitioned table.
    detached: Option<&'static str>,
}

/// A partitioned table the migrations create, so that the linter knows it has no default
/// partition.
const MEASUREMENTS: &str = "CREATE TABLE measurements (id bigint, taken_on date) PARTITION BY RANGE (taken_on);
CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
INSERT INTO measurements SELECT i, date '2023-01-01' + i % 700 FROM generate_series(1, 2000) i;
";

const fn scenario(rule: &'static str, migration: &'static str) -> Scenario {
    Scenario {
        rule,
        earlier: "",
        migration,
        extra: &[],
        frees: None,
        detached: None,
    }
}

/// One hazardous migration per rule with an in-place fix.
const SCENARIOS: &[Scenario] = &[
    scenario(
        "set-not-null",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
    ),
    scenario(
        "add-check-constraint",
        "ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);\n",
    ),
    scenario(
        "add-foreign-key",
        "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users (id);\n",
    ),
    scenario(
        "add-unique-constraint",
        "ALTER TABLE users ADD UNIQUE (email, last_seen_at);\n",
    ),
    scenario(
        "add-primary-key",
        "ALTER TABLE events ADD PRIMARY KEY (id);\n",
    ),
    scenario(
        "add-column-with-default",
        "ALTER TABLE events ADD COLUMN seen_at timestamptz NOT NULL DEFAULT clock_timestamp();\n",
    ),
    scenario(
        "refresh-materialized-view-non-concurrently",
        "SET lock_timeout = '5s';
CREATE UNIQUE INDEX CONCURRENTLY order_totals_user_id ON order_totals (user_id);
REFRESH MATERIALIZED VIEW order_totals;
",
    ),
    // In the file's own transaction block: the fixed statements leave it.
    scenario(
        "set-not-null",
        "BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users ADD COLUMN nickname text;
COMMIT;
",
    ),
    // PostgreSQL 14+: DETACH … CONCURRENTLY leaves a CHECK constraint copying the partition
    // bound on the detached table (the plain detach does not).
    Scenario {
        rule: "detach-partition-non-concurrently",
        earlier: MEASUREMENTS,
        migration: "SET lock_timeout = '5s';
ALTER TABLE measurements DETACH PARTITION measurements_2023;
",
        extra: &["constraint measurements_2023 measurements_2023_taken_on_check CHECK"],
        frees: Some("measurements"),
        detached: Some("measurements_2023"),
    },
    Scenario {
        rule: "detach-partition-non-concurrently",
        earlier: MEASUREMENTS,
        migration: "BEGIN;
SET LOCAL lock_timeout = '5s';
ALTER TABLE measurements DETACH PARTITION measurements_2023;
ALTER TABLE measurements_2023 ADD COLUMN archived_at timestamptz;
COMMIT;
",
        extra: &["constraint measurements_2023 measurements_2023_taken_on_check CHECK"],
        frees: Some("measurements"),
        detached: Some("measurements_2023"),
    },
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
        for (index, case) in SCENARIOS.iter().enumerate() {
            let (rule, migration) = (&case.rule, case.migration);
            if *rule == "detach-partition-non-concurrently" && major < 14 {
                // DETACH … CONCURRENTLY exists from PostgreSQL 14: no fix before.
                continue;
            }
            let migrations: PathBuf = dir.path().join(index.to_string());
            std::fs::create_dir(&migrations).unwrap();
            if !case.earlier.is_empty() {
                std::fs::write(migrations.join("1_earlier.sql"), case.earlier).unwrap();
            }
            let path = migrations.join(format!("2_{}.sql", rule.replace('-', "_")));
            std::fs::write(&path, migration).unwrap();
            let fixed =
                migration_safety::fix::fix_paths(std::slice::from_ref(&migrations), &settings, &[])
                    .unwrap();
            assert_eq!(
                fixed.changes.len(),
                1,
                "PostgreSQL {major}, {rule}: fix changes the migration"
            );
            let fixed_sql = &fixed.changes[0].fixed;
            // Clean of what it fixed, and of anything new (a warning of the original, such as a
            // foreign key's missing index, may stay).
            let before =
                migration_safety::lint_paths(std::slice::from_ref(&migrations), &settings).unwrap();
            let found: Vec<_> = before.diagnostics().map(|(_, d)| d.rule).collect();
            for (_, finding) in fixed.report.diagnostics() {
                assert!(
                    finding.rule != *rule && finding.fix.is_none() && found.contains(&finding.rule),
                    "PostgreSQL {major}, {rule}: the fixed migration lints clean:\n{}",
                    fixed.report.to_human(false)
                );
            }

            let original_db = format!("fix_{index}_original");
            let setup = format!("{SETUP}{}", case.earlier);
            let mut original = server.observer(&original_db, &setup);
            let hazards = apply_migration(&mut original, rule, migration);
            let blocks_freed = |o: &Observation| {
                case.frees.is_some_and(|table| {
                    o.lock_on(table)
                        .is_some_and(migration_safety::LockMode::blocks_writes)
                })
            };
            assert!(
                hazards
                    .iter()
                    .any(|(_, o)| blocks_traffic_for_long(o) || blocks_freed(o)),
                "PostgreSQL {major}, {rule}: the original blocks traffic while it scans (or blocks the table the fix frees): {hazards:#?}"
            );
            let fixed_db = format!("fix_{index}_fixed");
            let mut safe = server.observer(&fixed_db, &setup);
            for (statement, mut observation) in apply_migration(&mut safe, rule, fixed_sql) {
                if let Some(partition) = case.detached {
                    observation.locks.retain(|l| l.relation.name != partition);
                }
                assert!(
                    !blocks_traffic_for_long(&observation)
                        && !blocks_freed(&observation)
                        && observation.rewrites.is_empty(),
                    "PostgreSQL {major}, {rule}: `{statement}` holds a blocking lock beyond a catalog update, or rewrites: {observation:#?}"
                );
            }
            let fixed_schema: Vec<String> = schema(safe.client())
                .into_iter()
                .filter(|line| !case.extra.iter().any(|extra| line.starts_with(extra)))
                .collect();
            assert_eq!(
                schema(original.client()),
                fixed_schema,
                "PostgreSQL {major}, {rule}: the fixed migration reaches the original's schema\n{fixed_sql}"
            );
            drop((original, safe));
            server.drop_database(&original_db);
            server.drop_database(&fixed_db);
        }
    }
}

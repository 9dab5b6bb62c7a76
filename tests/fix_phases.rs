//! The phased plans `migration-safety fix` writes, proven on a real PostgreSQL: the original
//! migrations and the fixed ones (every phase, in order) are applied to two throwaway
//! databases holding the same rows; no fixed statement holds a lock that blocks reads or writes
//! of a pre-existing table while it scans or rewrites one (its blocking locks are brief catalog
//! updates), none rewrites a table, and they end with
//! the schema of the original, compared from the catalog (columns and types, constraints with
//! their validation state, indexes, views, triggers, functions), and the same data.
//!
//! It runs on every server `.ci/postgres.sh` provisions (`MIGRATION_SAFETY_TEST_PG_<major>`, 12
//! to 18: see `migration_safety_e2e::server`); without them the test is ignored, with the
//! reason, and under CI a missing 12, 15 or 18 fails.

use std::path::Path;

use migration_safety::trace::postgres::Client;
use migration_safety::{Framework, Settings, fix, lint_dir};
use migration_safety_e2e::server::{
    apply_migration, assert_provisioned_under_ci, blocks_traffic_for_long, required_servers, schema,
};

const SCHEMA: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL);
CREATE TABLE events (id bigint PRIMARY KEY, payload text);
INSERT INTO users SELECT g, 'user ' || g, 'u' || g || '@example.com' FROM generate_series(1, 25000) g;
INSERT INTO orders SELECT g, g % 1000 FROM generate_series(1, 25000) g;
INSERT INTO events SELECT g, 'event ' || g FROM generate_series(1, 100) g;
";

const RISKY: &str = "SET lock_timeout = '5s';
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE users DROP COLUMN email;
ALTER TABLE events RENAME TO audit_events;
";

fn migrations(dir: &Path) -> Vec<String> {
    migration_safety::migrations(dir, Some(Framework::Plain))
        .unwrap()
        .into_iter()
        .map(|m| m.file)
        .collect()
}

fn data(client: &mut Client) -> Vec<String> {
    [
        "SELECT md5(string_agg(id || ':' || full_name, ',' ORDER BY id)) FROM users",
        "SELECT md5(string_agg(id || ':' || amount, ',' ORDER BY id)) FROM orders",
        "SELECT md5(string_agg(id || ':' || payload, ',' ORDER BY id)) FROM audit_events",
    ]
    .iter()
    .map(|q| client.query_one(*q, &[]).unwrap().get::<_, String>(0))
    .collect()
}

/// Each table's storage, by its oid (a rename keeps it): a new `relfilenode` means it was
/// rewritten.
fn storage(client: &mut Client) -> Vec<(u32, u32)> {
    client
        .query(
            "SELECT c.oid, c.relfilenode FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY c.oid",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// Apply the fixes of the phased plans one at a time, as successive `fix --write` runs do.
fn fix_all(dir: &Path) {
    let settings = Settings::default().framework(Framework::Plain);
    for _ in 0..20 {
        let report = lint_dir(dir, &settings).unwrap();
        let Some(fix) = fix::fixes(&report, &[]).find(|f| !f.new_files.is_empty()) else {
            return;
        };
        let applied = fix::apply([fix], &fix::sources(&report));
        for (path, text) in &applied.files {
            std::fs::write(path, text).unwrap();
        }
        for new in &applied.new_files {
            std::fs::write(&new.path, &new.contents).unwrap();
        }
    }
    panic!("the fixes do not converge");
}

/// Under CI the phases are proven on the servers `.ci/run` provisions.
#[test]
fn ci_provisions_the_servers() {
    assert_provisioned_under_ci();
}

#[test]
#[cfg_attr(
    not(postgres_servers),
    ignore = "needs PostgreSQL servers: .ci/postgres.sh 12 15 18 -- cargo test -p migration-safety-e2e --test fix_phases"
)]
fn the_phases_take_no_long_lock_rewrite_nothing_and_end_with_the_original_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_schema.sql"), SCHEMA).unwrap();
    std::fs::write(dir.path().join("0002_risky.sql"), RISKY).unwrap();
    fix_all(dir.path());
    let files = migrations(dir.path());
    assert!(files.len() > 5, "{files:?}");
    let read = |file: &String| std::fs::read_to_string(dir.path().join(file)).unwrap();

    for server in required_servers() {
        let major = server.major;
        let mut original = server.observer("phases_original", SCHEMA);
        let before = storage(original.client());
        apply_migration(&mut original, "0002_risky.sql", RISKY);
        // The original rewrites `orders` (its type change): the comparison below can see one.
        assert_ne!(storage(original.client()), before, "PostgreSQL {major}");
        let (expected, expected_data) = (schema(original.client()), data(original.client()));
        assert!(
            expected.contains(&"column public.users.full_name text NOT NULL".to_owned()),
            "PostgreSQL {major}: {expected:?}"
        );
        drop(original);

        let mut observer = server.observer("phases_fixed", &read(&files[0]));
        let before = storage(observer.client());
        for file in &files[1..] {
            for (statement, observation) in apply_migration(&mut observer, file, &read(file)) {
                assert!(
                    !blocks_traffic_for_long(&observation) && observation.rewrites.is_empty(),
                    "PostgreSQL {major}, {file}: `{statement}`: {observation:?}"
                );
            }
        }
        let client = observer.client();
        let after = storage(client);
        let kept: Vec<_> = after.iter().filter(|t| before.contains(t)).collect();
        assert_eq!(
            kept.len(),
            before.len(),
            "PostgreSQL {major}: rewritten: {before:?} -> {after:?}"
        );
        assert_eq!(schema(client), expected, "PostgreSQL {major}: {files:?}");
        assert_eq!(data(client), expected_data, "PostgreSQL {major}");
        drop(observer);
        server.drop_database("phases_original");
        server.drop_database("phases_fixed");
    }
}

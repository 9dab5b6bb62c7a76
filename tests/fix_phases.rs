//! The phased plans `migration-safety fix` writes, proven on a real PostgreSQL: the original
//! migrations and the fixed ones (every phase, in order) are applied to two throwaway
//! clusters holding the same rows; no fixed statement holds a lock that blocks reads or writes
//! of a pre-existing table while it scans or rewrites one (its blocking locks are brief catalog
//! updates), none rewrites a table, and they end with
//! the schema of the original, compared from the catalog (columns and types, constraints with
//! their validation state, indexes, views, triggers, functions), and the same data.
//!
//! The binaries come from `MIGRATION_SAFETY_TEST_PG_BIN` (as root, the clusters run as
//! `MIGRATION_SAFETY_TEST_PG_USER`, default `mstest`); without it the test is ignored, with
//! the reason.

use std::path::Path;

use migration_safety::trace::postgres::Client;
use migration_safety::trace::{Changes, Cluster, ClusterOptions, Observation, Observer, Status};
use migration_safety::{Framework, Settings, fix, lint_dir};

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

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn cluster() -> Cluster {
    let bin =
        std::env::var("MIGRATION_SAFETY_TEST_PG_BIN").expect("MIGRATION_SAFETY_TEST_PG_BIN is set");
    let mut options = ClusterOptions::new().bin_dir(bin);
    if is_root() {
        options = options.run_as(
            std::env::var("MIGRATION_SAFETY_TEST_PG_USER").unwrap_or_else(|_| "mstest".to_owned()),
        );
    }
    Cluster::start(&options).unwrap()
}

/// Apply the migrations of `dir` in order, statement by statement, as psql does.
fn apply(client: &mut Client, dir: &Path, files: &[String]) {
    for file in files {
        let sql = std::fs::read_to_string(dir.join(file)).unwrap();
        for range in migration_safety::split_statements(&sql) {
            let statement = &sql[range];
            if let Err(error) = client.batch_execute(statement) {
                panic!("{file}: {statement}: {error}");
            }
        }
    }
}

fn migrations(dir: &Path) -> Vec<String> {
    migration_safety::migrations(dir, Some(Framework::Plain))
        .unwrap()
        .into_iter()
        .map(|m| m.file)
        .collect()
}

/// The schema as the catalog describes it, column order aside.
fn schema(client: &mut Client) -> Vec<String> {
    let queries = [
        "SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v') AND a.attnum > 0 AND NOT a.attisdropped",
        "SELECT 'constraint ' || conrelid::regclass::text || '.' || conname || ' ' || pg_get_constraintdef(oid) || CASE WHEN convalidated THEN '' ELSE ' (not validated)' END
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace",
        "SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'",
        "SELECT 'relation ' || relname || ' ' || relkind::text FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'v', 'm', 'S')",
        "SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal",
        "SELECT 'function ' || proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace",
    ];
    let mut out: Vec<String> = queries
        .iter()
        .flat_map(|q| client.query(*q, &[]).unwrap())
        .map(|row| row.get::<_, String>(0))
        .collect();
    out.sort();
    out
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

#[test]
#[cfg_attr(
    not(postgres_bin),
    ignore = "needs PostgreSQL binaries: set MIGRATION_SAFETY_TEST_PG_BIN"
)]
fn the_phases_take_no_long_lock_rewrite_nothing_and_end_with_the_original_schema() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0001_schema.sql"), SCHEMA).unwrap();
    std::fs::write(dir.path().join("0002_risky.sql"), RISKY).unwrap();

    let original = cluster();
    let mut client = original.connect().unwrap();
    let files = migrations(dir.path());
    apply(&mut client, dir.path(), &files[..1]);
    let before = storage(&mut client);
    apply(&mut client, dir.path(), &files[1..]);
    // The original rewrites `orders` (its type change): the comparison below can see one.
    assert_ne!(storage(&mut client), before);
    let (expected, expected_data) = (schema(&mut client), data(&mut client));
    assert!(
        expected.contains(&"column users.full_name text NOT NULL".to_owned()),
        "{expected:?}"
    );

    fix_all(dir.path());
    let files = migrations(dir.path());
    assert!(files.len() > 5, "{files:?}");
    let fixed = cluster();
    let mut observer = Observer::connect(fixed.url(), Changes::Kept).unwrap();
    apply(observer.client(), dir.path(), &files[..1]);
    observer.mark_existing().unwrap();
    let before = storage(observer.client());
    for file in &files[1..] {
        let sql = std::fs::read_to_string(dir.path().join(file)).unwrap();
        for range in migration_safety::split_statements(&sql) {
            let statement = &sql[range];
            // A phase's own transaction block is opened and committed by the observer.
            match statement
                .trim_end_matches(';')
                .trim()
                .to_ascii_uppercase()
                .as_str()
            {
                "BEGIN" => {
                    observer.begin().unwrap();
                    continue;
                }
                "COMMIT" => {
                    observer.commit().unwrap();
                    continue;
                }
                _ => {}
            }
            if statement.starts_with("DO $$") && statement.contains("COMMIT;") {
                // A backfill whose batches commit inside the DO block: the observer runs each
                // statement in a transaction of its own, where that COMMIT is refused, so it
                // runs unobserved (its UPDATEs take ROW EXCLUSIVE, one batch at a time).
                observer.client().batch_execute(statement).unwrap();
                continue;
            }
            let observation = observer.observe(statement);
            assert_eq!(
                observation.status,
                Status::Succeeded,
                "{file}: `{statement}`: {observation:?}"
            );
            assert!(
                !blocks_traffic_for_long(&observation) && observation.rewrites.is_empty(),
                "{file}: `{statement}`: {observation:?}"
            );
        }
    }
    let mut client = observer;
    let client = client.client();
    let after = storage(client);
    let kept: Vec<_> = after.iter().filter(|t| before.contains(t)).collect();
    assert_eq!(
        kept.len(),
        before.len(),
        "rewritten: {before:?} -> {after:?}"
    );
    assert_eq!(schema(client), expected, "{files:?}");
    assert_eq!(data(client), expected_data);
}

/// Whether a statement held a lock that blocks reads or writes of a pre-existing table while
/// it scanned or rewrote one: more than a brief catalog update.
fn blocks_traffic_for_long(observation: &Observation) -> bool {
    let scanned = observation.scans.as_ref().is_some_and(|s| !s.is_empty());
    observation.blocks_traffic() && (scanned || !observation.rewrites.is_empty())
}

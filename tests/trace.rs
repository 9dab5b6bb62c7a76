//! `migration_safety::trace` on a real PostgreSQL server: throwaway clusters, and what the
//! observer sees statement by statement.
//!
//! The server comes from `MIGRATION_SAFETY_TEST_PG` (a libpq URL), the binaries for throwaway
//! clusters from `MIGRATION_SAFETY_TEST_PG_BIN` (as root, the clusters run as the user
//! `MIGRATION_SAFETY_TEST_PG_USER`, default `mstest`). `.ci/run` sets all of them; without them
//! these tests are ignored, with the reason.

use migration_safety::LockMode;
use migration_safety::trace::postgres::{Client, NoTls};
use migration_safety::trace::{
    Changes, Cluster, ClusterOptions, Method, Observer, Status, TraceError,
};

fn server() -> String {
    std::env::var("MIGRATION_SAFETY_TEST_PG").expect("MIGRATION_SAFETY_TEST_PG is set")
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn cluster_options() -> ClusterOptions {
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

/// Under CI every server test must run: a missing variable is a provisioning bug. (The build
/// script reads the same variables, and cargo rebuilds the tests when they change.)
#[test]
fn ci_runs_the_server_tests() {
    if std::env::var_os("CI").is_some() {
        for variable in ["MIGRATION_SAFETY_TEST_PG", "MIGRATION_SAFETY_TEST_PG_BIN"] {
            assert!(
                std::env::var_os(variable).is_some_and(|v| !v.is_empty()),
                "CI must set {variable} (.ci/run), or the trace tests are ignored"
            );
        }
    }
}

#[test]
#[cfg_attr(
    not(postgres_bin),
    ignore = "needs PostgreSQL binaries: set MIGRATION_SAFETY_TEST_PG_BIN"
)]
fn a_throwaway_cluster_runs_on_loopback_and_is_removed() {
    let options = cluster_options();
    if options.user().is_some() {
        let as_root = ClusterOptions::new().bin_dir(options.find_bin_dir().unwrap());
        let error = Cluster::start(&as_root).unwrap_err();
        assert!(matches!(error, TraceError::Root), "{error}");
        assert!(error.to_string().contains("--database-url"), "{error}");
    }
    let cluster = Cluster::start(&options).unwrap();
    let directory = cluster.directory().to_path_buf();
    assert!(directory.join("data/PG_VERSION").is_file());
    assert!(cluster.url().contains("@127.0.0.1:"), "{}", cluster.url());
    let mut client = cluster.connect().unwrap();
    let row = client
        .query_one("SELECT current_setting('server_version_num')::int4 / 10000, current_setting('listen_addresses')", &[])
        .unwrap();
    assert_eq!(row.get::<_, i32>(0) as u32, cluster.major());
    assert_eq!(row.get::<_, String>(1), "127.0.0.1");
    // A password is required: the URL without it is refused.
    let anonymous = cluster
        .url()
        .split_once('@')
        .map(|(_, rest)| format!("postgresql://postgres@{rest}"))
        .unwrap();
    assert!(
        migration_safety::trace::postgres::Client::connect(
            &anonymous,
            migration_safety::trace::postgres::NoTls
        )
        .is_err()
    );
    drop(client);
    let stopper = cluster.stopper();
    drop(cluster);
    assert!(
        !directory.exists(),
        "{} is left behind",
        directory.display()
    );
    stopper.stop(); // stopping again is harmless
}

fn connect() -> Client {
    Client::connect(&server(), NoTls).unwrap()
}

/// An observer whose search path is a fresh schema holding a committed `users` table with rows
/// (tests run in parallel: each uses its own schema).
fn observer(changes: Changes, schema: &str) -> Observer {
    connect()
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}; SET search_path = {schema};
             CREATE TABLE users (id bigint PRIMARY KEY, email text, age integer);
             INSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 100) g;"
        ))
        .unwrap();
    let mut observer = Observer::connect(&server(), changes).unwrap();
    observer
        .execute(&format!("SET search_path = {schema}"))
        .unwrap();
    observer.mark_existing().unwrap();
    observer
}

fn drop_schema(schema: &str) {
    connect()
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn locks_rewrites_and_scans_in_a_transaction() {
    let mut observer = observer(Changes::RolledBack, "trace_lab_observe");
    let index = observer.observe("CREATE INDEX users_email_idx ON users (email)");
    assert_eq!(index.status, Status::Succeeded);
    assert_eq!(index.method, Method::InTransaction);
    assert_eq!(index.lock_on("users"), Some(LockMode::Share));
    assert_eq!(
        index.lock_on("trace_lab_observe.users"),
        Some(LockMode::Share)
    );
    let lock = index
        .locks
        .iter()
        .find(|l| l.relation.name == "users")
        .unwrap();
    assert!(lock.blocks_writes() && !lock.blocks_reads());
    assert!(index.rewrites.is_empty());
    let scans: Vec<_> = index
        .scans
        .unwrap()
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(scans, ["users"]);

    let retype = observer.observe("ALTER TABLE users ALTER COLUMN age TYPE bigint");
    assert_eq!(retype.lock_on("users"), Some(LockMode::AccessExclusive));
    let mut rewritten: Vec<_> = retype.rewrites.iter().map(|r| r.name.as_str()).collect();
    rewritten.sort_unstable();
    // The index created by the previous statement is new, not pre-existing.
    assert_eq!(rewritten, ["users", "users_pkey"]);

    // Everything runs in the one transaction that is rolled back: the lock the previous
    // statement took is still held, and PostgreSQL does not record the same mode twice.
    let added = observer.observe("ALTER TABLE users ADD COLUMN note text");
    assert_eq!(added.lock_on("users"), None);
    assert!(added.locks.iter().any(|l| l.relation.name == "users"
        && l.held_before
        && l.mode == LockMode::AccessExclusive));
    assert!(added.rewrites.is_empty() && added.scans.as_ref().is_some_and(Vec::is_empty));

    let failed = observer.observe("ALTER TABLE users ADD COLUMN tenant bigint NOT NULL");
    match &failed.status {
        Status::Failed { code, message } => {
            assert_eq!(code, "23502");
            assert!(message.contains("contains null values"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    observer.finish().unwrap();
    drop_schema("trace_lab_observe");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn locks_held_by_an_earlier_statement_of_the_transaction_are_marked() {
    let mut observer = observer(Changes::RolledBack, "trace_lab_earlier");
    observer.begin().unwrap();
    let first = observer.observe("ALTER TABLE users ADD COLUMN a text");
    assert!(first.locks.iter().all(|l| !l.held_before));
    let second = observer.observe("SELECT count(*) FROM users");
    assert_eq!(second.lock_on("users"), Some(LockMode::AccessShare));
    let held = second
        .locks
        .iter()
        .find(|l| l.relation.name == "users" && l.held_before)
        .unwrap();
    assert_eq!(held.mode, LockMode::AccessExclusive);
    assert!(held.held_before);
    assert!(!second.blocks_traffic());
    observer.commit().unwrap();
    observer.finish().unwrap();
    drop_schema("trace_lab_earlier");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn the_rolled_back_mode_changes_nothing() {
    let mut observer = observer(Changes::RolledBack, "trace_lab_rolled_back");
    let concurrently =
        observer.observe("CREATE INDEX CONCURRENTLY users_email_idx ON users (email)");
    assert!(
        matches!(&concurrently.status, Status::NotRun(reason) if reason.contains("cannot run inside a transaction block")),
        "{concurrently:?}"
    );
    for sql in [
        "COMMIT",
        "/* hidden */ COMMIT",
        "END",
        "PREPARE TRANSACTION 'x'",
        "ROLLBACK",
    ] {
        let control = observer.observe(sql);
        assert!(
            matches!(control.status, Status::NotRun(_)),
            "{sql}: {control:?}"
        );
    }
    // Several statements in one are refused by the extended protocol, so none can smuggle a COMMIT.
    let smuggled = observer.observe("SELECT 1; COMMIT");
    assert!(
        matches!(smuggled.status, Status::Failed { .. }),
        "{smuggled:?}"
    );
    // A procedure or DO block cannot end the transaction either.
    let in_do = observer.observe("DO $$ BEGIN COMMIT; END $$");
    assert!(matches!(in_do.status, Status::Failed { .. }), "{in_do:?}");
    let created = observer.observe("CREATE TABLE kept (id int)");
    assert_eq!(created.status, Status::Succeeded);
    observer.finish().unwrap();
    let left = connect()
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname = 'kept' AND relnamespace = 'trace_lab_rolled_back'::regnamespace",
            &[],
        )
        .unwrap();
    assert_eq!(
        left.get::<_, i64>(0),
        0,
        "the rolled-back mode kept a table"
    );
    drop_schema("trace_lab_rolled_back");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn statements_that_cannot_run_in_a_transaction_are_sampled() {
    let mut observer = observer(Changes::Kept, "trace_lab_kept");
    let expect =
        |observer: &mut Observer, sql: &str, relation: &str, mode: LockMode, rewrite: bool| {
            let observation = observer.observe(sql);
            assert_eq!(observation.status, Status::Succeeded, "{sql}");
            assert_eq!(observation.method, Method::Sampled, "{sql}");
            assert_eq!(
                observation.lock_on(relation),
                Some(mode),
                "{sql}: {:?}",
                observation.locks
            );
            assert_eq!(
                !observation.rewrites.is_empty(),
                rewrite,
                "{sql}: {:?}",
                observation.rewrites
            );
            assert_eq!(observation.scans, None);
        };
    expect(
        &mut observer,
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email)",
        "users",
        LockMode::ShareUpdateExclusive,
        false,
    );
    expect(
        &mut observer,
        "REINDEX INDEX CONCURRENTLY users_pkey",
        "users",
        LockMode::ShareUpdateExclusive,
        false,
    );
    expect(
        &mut observer,
        "VACUUM FULL users",
        "users",
        LockMode::AccessExclusive,
        true,
    );
    observer.mark_existing().unwrap();
    expect(
        &mut observer,
        "DROP INDEX CONCURRENTLY users_email_idx",
        "users",
        LockMode::ShareUpdateExclusive,
        false,
    );
    observer.finish().unwrap();
    drop_schema("trace_lab_kept");
}

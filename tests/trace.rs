//! `migration_safety::trace` on a real PostgreSQL server: throwaway clusters, and what the
//! observer sees statement by statement.
//!
//! The server comes from `MIGRATION_SAFETY_TEST_PG` (a libpq URL), the binaries for throwaway
//! clusters from `MIGRATION_SAFETY_TEST_PG_BIN` (as root, the clusters run as the user
//! `MIGRATION_SAFETY_TEST_PG_USER`, default `mstest`). `.ci/run` sets all of them; without them
//! these tests are ignored, with the reason.

use migration_safety::LockMode;
use migration_safety::trace::{
    Changes, Cluster, ClusterOptions, Method, Observer, Status, TraceError,
};
use migration_safety_e2e::server::{cli, cluster_options, connect, drop_schema, server};

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
    // statement took is still held, PostgreSQL does not record the same mode twice, and a
    // lock a real run would have released is not reported as held before.
    let added = observer.observe("ALTER TABLE users ADD COLUMN note text");
    assert_eq!(added.status, Status::Succeeded);
    assert_eq!(added.locks, []);
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
    // A procedure or DO block cannot end the transaction either: it is not run.
    let in_do = observer.observe("DO $$ BEGIN COMMIT; END $$");
    assert!(
        matches!(&in_do.status, Status::NotRun(reason) if reason.contains("transactions of its own")),
        "{in_do:?}"
    );
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
    // Plain VACUUM waits for no one: it is caught waiting for the watcher's lock.
    expect(
        &mut observer,
        "VACUUM users",
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

/// A `DO` block that commits between its batches (refused inside a transaction block, SQLSTATE
/// 2D000) runs again alone and is sampled: the locks of the transactions after its first
/// `COMMIT` are seen (the `LOCK` waits for the watcher, so it is seen whatever the timing), and
/// every batch is committed once.
#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn a_do_block_that_commits_its_batches_is_sampled() {
    let mut observer = observer(Changes::Kept, "trace_lab_batches");
    let sql = "DO $$ BEGIN
        UPDATE users SET age = age + 1 WHERE id <= 50;
        COMMIT;
        LOCK TABLE users IN SHARE MODE;
        UPDATE users SET age = age + 1 WHERE id > 50;
        COMMIT;
    END $$";
    let observation = observer.observe(sql);
    assert_eq!(observation.status, Status::Succeeded, "{observation:?}");
    assert_eq!(observation.method, Method::Sampled);
    assert_eq!(
        observation.lock_on("users"),
        Some(LockMode::Share),
        "{:?}",
        observation.locks
    );
    assert!(observation.rewrites.is_empty(), "{observation:?}");
    let updated = connect()
        .query_one(
            "SELECT count(*) FROM trace_lab_batches.users WHERE age = id + 1",
            &[],
        )
        .unwrap();
    assert_eq!(updated.get::<_, i64>(0), 100, "each batch committed once");
    observer.finish().unwrap();
    drop_schema("trace_lab_batches");
}

/// `LOCK` sent alone is refused by PostgreSQL outside a transaction block: the observer sends
/// it alone, as a migration tool does, instead of wrapping it in a transaction where it would
/// succeed. Inside a transaction it takes its lock.
#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn a_lone_lock_fails_as_it_does_outside_a_transaction_block() {
    for (changes, schema) in [
        (Changes::Kept, "trace_lab_lock_kept"),
        (Changes::RolledBack, "trace_lab_lock_rolled_back"),
    ] {
        let mut observer = observer(changes, schema);
        let alone = observer.observe("LOCK TABLE users IN SHARE MODE");
        assert!(
            matches!(&alone.status, Status::Failed { code, message }
                if code == "25P01" && message.contains("can only be used in transaction blocks")),
            "{changes:?}: {alone:?}"
        );
        assert!(alone.locks.is_empty(), "{changes:?}: {alone:?}");
        observer.begin().unwrap();
        let inside = observer.observe("LOCK TABLE users IN SHARE MODE");
        assert_eq!(inside.status, Status::Succeeded, "{changes:?}");
        assert_eq!(
            inside.lock_on("users"),
            Some(LockMode::Share),
            "{changes:?}"
        );
        observer.rollback().unwrap();
        observer.finish().unwrap();
        drop_schema(schema);
    }
}

/// Run `migration-safety trace ARGS…`; returns the exit code, stdout and stderr.
fn trace(args: &[&str]) -> (u8, String, String) {
    let argv: Vec<&str> = std::iter::once("trace")
        .chain(args.iter().copied())
        .collect();
    cli(&argv)
}

fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
}

#[test]
fn a_remote_database_is_refused_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("1_a.sql", "SELECT 1;")]);
    let path = dir.path().to_str().unwrap();
    let (code, out, err) = trace(&[
        "--database-url",
        "postgresql://app@db.example.com/app",
        path,
    ]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("`db.example.com` is not a loopback address"),
        "{err}"
    );
    assert!(err.contains("--allow-remote"), "{err}");
    let (code, _, err) = trace(&["--allow-remote", path]);
    assert_eq!(code, 2);
    assert!(err.contains("--database-url"), "{err}");
}

#[test]
#[cfg_attr(
    not(postgres_bin),
    ignore = "needs PostgreSQL binaries: set MIGRATION_SAFETY_TEST_PG_BIN"
)]
fn trace_applies_migrations_as_their_framework_runs_them() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "1_users.sql",
                "CREATE TABLE users (id bigint PRIMARY KEY, email text, age integer);\nINSERT INTO users SELECT g, 'u' || g, g FROM generate_series(1, 100) g;\n",
            ),
            (
                "2_index.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
            ),
            (
                "3_retype.sql",
                "SET lock_timeout = '5s';\n-- migration-safety: ignore change-column-type -- the trace must still see the rewrite\nALTER TABLE users ALTER COLUMN age TYPE bigint;\n",
            ),
            (
                "4_fail.sql",
                "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN tenant bigint NOT NULL;\nCREATE TABLE never (id int);\n",
            ),
            ("5_after.sql", "CREATE TABLE later (id int);\n"),
        ],
    );
    // The temporary directory must be readable by the server's user only for COPY; the CLI
    // reads the files itself.
    let bin = std::env::var("MIGRATION_SAFETY_TEST_PG_BIN").unwrap();
    let options = cluster_options();
    let mut args = vec![
        "--framework",
        "sqlx",
        "--pg-bin",
        bin.as_str(),
        "--format",
        "json",
    ];
    if let Some(user) = options.user() {
        args.extend(["--run-as", user]);
    }
    let path = dir.path().to_str().unwrap().to_owned();
    args.push(&path);
    let (code, out, err) = trace(&args);
    assert_eq!(code, 1, "a statement failed: {err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["changes"], "kept");
    let files = json["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        4,
        "applying stops at the failing migration: {out}"
    );

    // sqlx runs a file in one transaction.
    let create = &files[0]["statements"];
    assert_eq!(create[0]["transaction"], 1);
    assert_eq!(create[1]["transaction"], 1);

    // `-- no-transaction`: the index is built outside a transaction, and its lock is sampled.
    let index = &files[1]["statements"][0];
    assert_eq!(index["transaction"], serde_json::Value::Null);
    assert_eq!(index["method"], "sampled");
    assert_eq!(index["locks"][0]["relation"], "public.users");
    assert_eq!(index["locks"][0]["mode"], "SHARE UPDATE EXCLUSIVE");
    assert_eq!(index["locks"][0]["blocks_writes"], false);

    // A suppressed finding: the server's rewrite is a missed hazard.
    let retype = &files[2]["statements"][1];
    assert_eq!(retype["status"], "succeeded");
    assert_eq!(retype["findings"], serde_json::json!([]));
    let rewrites: Vec<_> = retype["rewrites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["relation"].as_str().unwrap())
        .collect();
    assert!(rewrites.contains(&"public.users"), "{rewrites:?}");
    let lock = &retype["locks"][0];
    assert_eq!(
        (lock["mode"].as_str(), lock["blocks_reads"].as_bool()),
        (Some("ACCESS EXCLUSIVE"), Some(true))
    );
    assert!(
        retype["disagreements"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["kind"] == "missed-hazard"
                && d["message"]
                    .as_str()
                    .unwrap()
                    .contains("rewrote table public.users")),
        "{retype}"
    );

    // The failure rolls the file's transaction back and stops.
    let failed = &files[3]["statements"];
    assert_eq!(
        failed.as_array().unwrap().len(),
        2,
        "the statement after the failure is not run"
    );
    assert_eq!(failed[1]["status"], "failed");
    assert_eq!(failed[1]["error"]["code"], "23502");
    assert!(
        json["stopped"].as_str().unwrap().contains("4_fail.sql:2:1"),
        "{}",
        json["stopped"]
    );
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn the_database_url_mode_leaves_the_database_as_it_was() {
    connect()
        .batch_execute(
            "DROP SCHEMA IF EXISTS trace_lab_url CASCADE; CREATE SCHEMA trace_lab_url;
             CREATE TABLE trace_lab_url.users (id bigint PRIMARY KEY, email text);",
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "1_change.sql",
            "SET lock_timeout = '5s';\nALTER TABLE trace_lab_url.users ADD COLUMN nickname text;\nBEGIN;\nCREATE TABLE trace_lab_url.audit (id int);\nCOMMIT;\nCREATE INDEX CONCURRENTLY users_email_idx ON trace_lab_url.users (email);\nCREATE INDEX users_nickname_idx ON trace_lab_url.users (nickname);\n",
        )],
    );
    let url = server();
    let (code, out, err) = trace(&["--database-url", &url, dir.path().to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("1_change.sql:2:1: ALTER TABLE trace_lab_url.users ADD COLUMN nickname text;"),
        "{out}"
    );
    assert!(
        out.contains("lock ACCESS EXCLUSIVE on table trace_lab_url.users: blocks reads and writes"),
        "{out}"
    );
    assert!(
        out.contains("1_change.sql:6:1: CREATE INDEX CONCURRENTLY"),
        "{out}"
    );
    assert!(
        out.contains("not observed: it cannot run inside a transaction block"),
        "{out}"
    );
    assert!(
        out.contains("lock SHARE on table trace_lab_url.users: blocks writes"),
        "{out}"
    );
    assert!(
        out.contains("(a transaction that was rolled back)"),
        "{out}"
    );
    let left = connect()
        .query_one(
            "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = 'trace_lab_url.users'::regclass AND attname = 'nickname')
                  + (SELECT count(*) FROM pg_class WHERE relnamespace = 'trace_lab_url'::regnamespace AND relname <> 'users' AND relname <> 'users_pkey')",
            &[],
        )
        .unwrap();
    assert_eq!(left.get::<_, i64>(0), 0, "the trace changed the database");
    drop_schema("trace_lab_url");
}

/// What [`ctrl_c_removes_the_throwaway_cluster`] interrupts: this test binary, run again as a
/// child process, running `migration-safety trace` with the arguments in
/// `MIGRATION_SAFETY_TEST_TRACE_ARGS` (JSON) as the command line does, then exiting with its code.
#[test]
#[ignore = "not a test of its own: the child process that ctrl_c_removes_the_throwaway_cluster interrupts"]
fn trace_until_interrupted() {
    let args: Vec<String> = serde_json::from_str(
        &std::env::var("MIGRATION_SAFETY_TEST_TRACE_ARGS")
            .expect("run by ctrl_c_removes_the_throwaway_cluster"),
    )
    .unwrap();
    let code =
        migration_safety::cli::run(args, &mut std::io::stdout(), &mut std::io::stderr(), false);
    std::process::exit(code.into());
}

/// Ctrl-C (SIGINT) while `trace` runs a migration on its throwaway cluster stops the server
/// and removes the cluster's directory: no process and no file is left, and the exit code is
/// 130.
#[test]
#[cfg_attr(
    not(postgres_bin),
    ignore = "needs PostgreSQL binaries: set MIGRATION_SAFETY_TEST_PG_BIN"
)]
fn ctrl_c_removes_the_throwaway_cluster() {
    use std::os::unix::fs::PermissionsExt;
    use std::time::{Duration, Instant};
    let wait_until = |what: &str, mut done: Box<dyn FnMut() -> bool + '_>| {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < Duration::from_secs(120), "{what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // The cluster's directory is made in TMPDIR, a directory of the test's own (open to the
    // user the server runs as).
    let temp = tempfile::tempdir().unwrap();
    std::fs::set_permissions(temp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let migrations = tempfile::tempdir().unwrap();
    write(
        migrations.path(),
        &[("1_slow.sql", "SELECT pg_sleep(600);\n")],
    );
    let options = cluster_options();
    let bin = options.find_bin_dir().unwrap();
    let mut args = vec![
        "migration-safety".to_owned(),
        "trace".to_owned(),
        "--pg-bin".to_owned(),
        bin.display().to_string(),
    ];
    if let Some(user) = options.user() {
        args.extend(["--run-as".to_owned(), user.to_owned()]);
    }
    args.push(migrations.path().display().to_string());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "trace_until_interrupted",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("TMPDIR", temp.path())
        .env(
            "MIGRATION_SAFETY_TEST_TRACE_ARGS",
            serde_json::to_string(&args).unwrap(),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The migration runs when a backend of the server (a child of the process postmaster.pid
    // names, read again each time: initdb's single-user server writes one too) shows `SELECT`
    // in its process title.
    let running_migration = || -> Option<String> {
        let root = std::fs::read_dir(temp.path()).ok()?.next()?.ok()?.path();
        let pid = std::fs::read_to_string(root.join("data/postmaster.pid")).ok()?;
        let pid = pid.lines().next()?.to_owned();
        let children = std::process::Command::new("ps")
            .args(["-o", "args=", "--ppid", &pid])
            .output()
            .ok()?;
        String::from_utf8_lossy(&children.stdout)
            .contains("SELECT")
            .then_some(pid)
    };
    let mut postmaster = None;
    wait_until(
        "the migration never started running on the throwaway cluster",
        Box::new(|| {
            postmaster = running_migration();
            postmaster.is_some()
        }),
    );
    let postmaster = postmaster.unwrap();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let mut status = None;
    wait_until(
        "trace did not exit after Ctrl-C",
        Box::new(|| {
            status = child.try_wait().unwrap();
            status.is_some()
        }),
    );
    let output = child.wait_with_output().unwrap();
    assert_eq!(
        status.unwrap().code(),
        Some(130),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let left: Vec<_> = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // pg_ctl returns once the server has removed its pid file, just before its process ends.
    wait_until(
        &format!("the server (pid {postmaster}) still runs"),
        Box::new(|| !std::path::Path::new(&format!("/proc/{postmaster}")).exists()),
    );
}

//! Table statistics on a real PostgreSQL server: the read-only session, small tables
//! downgraded, large ones with an estimate, the stats-file round trip, an unreachable
//! database, and the throughput model against this machine's server.
//!
//! The server comes from `MIGRATION_SAFETY_TEST_PG` (a libpq URL); `.ci/run` sets it. Without
//! it the server tests are ignored, with the reason; under CI a missing variable fails.

use std::time::{Duration, Instant};

use migration_safety::stats::{self, Snapshot, Work};
use migration_safety_e2e::server::{cli, cluster_options, connect, drop_schema, server};

/// A migrations directory holding one file.
fn migrations(sql: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1_change.sql"), sql).unwrap();
    dir
}

/// Under CI every server test must run: a missing variable is a provisioning bug.
#[test]
fn ci_runs_the_server_tests() {
    if std::env::var_os("CI").is_some() {
        assert!(
            std::env::var_os("MIGRATION_SAFETY_TEST_PG").is_some_and(|v| !v.is_empty()),
            "CI must set MIGRATION_SAFETY_TEST_PG (.ci/run), or the statistics tests are ignored"
        );
    }
}

/// A fresh schema (tests run in parallel: each has its own) with `users` (40 rows) and
/// `events` (`events_rows` rows), analysed; autovacuum leaves them alone, so that their
/// statistics and sizes hold still between two reads.
fn sized_tables(schema: &str, events_rows: u32) {
    connect()
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
             CREATE TABLE {schema}.users (id integer PRIMARY KEY, email text) WITH (autovacuum_enabled = off);
             INSERT INTO {schema}.users SELECT g, 'user' || g FROM generate_series(1, 40) g;
             CREATE TABLE {schema}.events (id integer PRIMARY KEY, user_id integer, payload text) WITH (autovacuum_enabled = off);
             INSERT INTO {schema}.events SELECT g, g % 40 + 1, repeat('x', 80) FROM generate_series(1, {events_rows}) g;
             ANALYZE {schema}.users; ANALYZE {schema}.events;"
        ))
        .unwrap();
}

/// The findings of a JSON report: `(rule, severity, message)`.
fn findings(json: &str) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_str(json).unwrap();
    report["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let field = |name: &str| d[name].as_str().unwrap().to_owned();
            (field("rule"), field("severity"), field("message"))
        })
        .collect()
}

fn finding<'a>(
    findings: &'a [(String, String, String)],
    rule: &str,
    table: &str,
) -> &'a (String, String, String) {
    findings
        .iter()
        .find(|(r, _, message)| r == rule && message.contains(table))
        .unwrap_or_else(|| panic!("no {rule} finding on {table} in {findings:#?}"))
}

const SIZES_SQL: &str = "SET lock_timeout = '5s';
ALTER TABLE stats_lab_sizes.users ALTER COLUMN id TYPE bigint;
ALTER TABLE stats_lab_sizes.events ALTER COLUMN id TYPE bigint;
CREATE INDEX events_user_idx ON stats_lab_sizes.events (user_id);
ALTER TABLE stats_lab_sizes.users RENAME COLUMN email TO mail;
ALTER TABLE stats_lab_sizes.events ADD FOREIGN KEY (user_id) REFERENCES stats_lab_sizes.users (id);
";

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn a_small_table_is_downgraded_and_a_large_one_gets_an_estimate() {
    sized_tables("stats_lab_sizes", 200_000);
    let dir = migrations(SIZES_SQL);
    let url = server();
    let path = dir.path().to_str().unwrap();
    let (code, out, err) = cli(&["check", "--format", "json", "--database-url", &url, path]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("note: table statistics of ") && err.contains("read over a read-only session"),
        "{err}"
    );
    let found = findings(&out);

    // A rewrite of 40 rows: a warning that says why.
    let (_, severity, message) = finding(&found, "change-column-type", "`stats_lab_sizes.users`");
    assert_eq!(severity, "warning", "{message}");
    assert!(
        message.contains("a warning, not an error: `stats_lab_sizes.users` has about 40 rows (fewer than `small_table_rows = 10000`)"),
        "{message}"
    );
    // The same on 200,000 rows: still an error, with the size and an estimate.
    let (_, severity, message) = finding(&found, "change-column-type", "`stats_lab_sizes.events`");
    assert_eq!(severity, "error", "{message}");
    let estimate = regex::Regex::new(
        r"`stats_lab_sizes\.events` \(\d+ MB, about 200k rows(, about [0-9.,]+[kM]? writes/s)?\): rewriting it blocks reads and writes for (up to|roughly) \d",
    )
    .unwrap();
    assert!(estimate.is_match(message), "{message}");
    let (_, severity, message) = finding(&found, "create-index-non-concurrently", "events");
    assert_eq!(severity, "error", "{message}");
    assert!(
        message.contains("building the index blocks writes for"),
        "{message}"
    );
    // Backward-incompatible findings never change severity, however small the table.
    let (_, severity, message) = finding(&found, "rename-column", "users");
    assert_eq!(severity, "error", "{message}");
    assert!(!message.contains("a warning, not an error"), "{message}");
    // A foreign key locks both tables: one of them is large, so it stays an error.
    let (_, severity, message) = finding(&found, "add-foreign-key", "events");
    assert_eq!(severity, "error", "{message}");
    // The estimate follows the claims of this statement's form: a plain `ADD CONSTRAINT …
    // FOREIGN KEY` takes SHARE ROW EXCLUSIVE (not the ACCESS EXCLUSIVE of `ADD COLUMN …
    // REFERENCES`), as the message says.
    assert!(
        message.contains("scanning it blocks writes for"),
        "{message}"
    );
    assert!(!message.contains("blocks reads and writes"), "{message}");

    // A lower `small_table_rows` in the configuration keeps the small table's error.
    std::fs::write(
        dir.path().join("migration-safety.toml"),
        format!("database_url = \"{url}\"\nsmall_table_rows = 10\n"),
    )
    .unwrap();
    let config = dir.path().join("migration-safety.toml");
    let (_, out, err) = cli(&[
        "check",
        "--format",
        "json",
        "--config",
        config.to_str().unwrap(),
        path,
    ]);
    let found = findings(&out);
    let (_, severity, message) = finding(&found, "change-column-type", "`stats_lab_sizes.users`");
    assert_eq!(severity, "error", "{message}\n{err}");
    assert!(message.contains("about 40 rows"), "{message}");
    drop_schema("stats_lab_sizes");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn the_session_is_read_only_with_short_timeouts() {
    connect()
        .batch_execute(
            "DROP SCHEMA IF EXISTS stats_lab_readonly CASCADE; CREATE SCHEMA stats_lab_readonly;
             CREATE TABLE stats_lab_readonly.t (id int);",
        )
        .unwrap();
    let mut client = stats::connect(&server()).unwrap();
    for (setting, value) in [
        ("default_transaction_read_only", "on"),
        ("statement_timeout", "10s"),
        ("lock_timeout", "1s"),
    ] {
        let row = client.query_one(&format!("SHOW {setting}"), &[]).unwrap();
        assert_eq!(row.get::<_, String>(0), value, "{setting}");
    }
    for write in [
        "CREATE TABLE stats_lab_readonly.u (id int)",
        "INSERT INTO stats_lab_readonly.t VALUES (1)",
        "ALTER TABLE stats_lab_readonly.t ADD COLUMN x int",
    ] {
        let error = client.batch_execute(write).unwrap_err();
        let code = error.code().map(|c| c.code().to_owned());
        assert_eq!(code.as_deref(), Some("25006"), "{write}: {error}"); // read_only_sql_transaction
    }
    let rows = connect()
        .query("SELECT 1 FROM stats_lab_readonly.t", &[])
        .unwrap();
    assert!(rows.is_empty());
    drop_schema("stats_lab_readonly");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn collecting_takes_no_lock_stronger_than_access_share() {
    connect()
        .batch_execute(
            "DROP SCHEMA IF EXISTS stats_lab_locks CASCADE; CREATE SCHEMA stats_lab_locks;
             CREATE TABLE stats_lab_locks.busy (id int PRIMARY KEY);
             INSERT INTO stats_lab_locks.busy SELECT generate_series(1, 100);
             CREATE TABLE stats_lab_locks.migrating (id int PRIMARY KEY);
             INSERT INTO stats_lab_locks.migrating SELECT generate_series(1, 1000);
             ANALYZE stats_lab_locks.migrating;",
        )
        .unwrap();
    // EXCLUSIVE conflicts with every mode but ACCESS SHARE: the statistics are read while a
    // transaction holds it, so they take nothing stronger on the table or its index.
    let mut holder = connect();
    let mut transaction = holder.transaction().unwrap();
    transaction
        .batch_execute("LOCK TABLE stats_lab_locks.busy IN EXCLUSIVE MODE")
        .unwrap();
    // A migration holding ACCESS EXCLUSIVE (which blocks even ACCESS SHARE) does not make the
    // read wait or fail: that table is measured from pg_class.
    let mut migration = connect();
    let mut migrating = migration.transaction().unwrap();
    migrating
        .batch_execute("LOCK TABLE stats_lab_locks.migrating IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = Instant::now();
    let snapshot = stats::collect(&server()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(60));
    let busy = snapshot.table("stats_lab_locks", "busy").unwrap();
    assert_eq!(busy.indexes[0].name, "busy_pkey");
    assert!(busy.table_bytes > 0);
    let locked = snapshot.table("stats_lab_locks", "migrating").unwrap();
    assert_eq!(locked.rows, Some(1000));
    assert_eq!(locked.table_bytes, 5 * 8192, "{locked:?}"); // relpages after ANALYZE
    assert!(locked.indexes[0].bytes > 0, "{locked:?}");
    transaction.rollback().unwrap();
    migrating.rollback().unwrap();
    drop_schema("stats_lab_locks");
}

#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn the_stats_file_round_trips() {
    sized_tables("stats_lab_file", 20_000);
    connect()
        .batch_execute(
            "CREATE TABLE stats_lab_file.never_analysed (id int) WITH (autovacuum_enabled = off);
             INSERT INTO stats_lab_file.never_analysed SELECT generate_series(1, 5000);
             CREATE TABLE stats_lab_file.empty (id int);
             CREATE TABLE stats_lab_file.parent (id int) PARTITION BY RANGE (id);
             CREATE TABLE stats_lab_file.part1 PARTITION OF stats_lab_file.parent FOR VALUES FROM (0) TO (1000) WITH (autovacuum_enabled = off);
             CREATE TABLE stats_lab_file.part2 PARTITION OF stats_lab_file.parent FOR VALUES FROM (1000) TO (2000) WITH (autovacuum_enabled = off);
             INSERT INTO stats_lab_file.parent SELECT generate_series(0, 1999);
             ANALYZE stats_lab_file.part1; ANALYZE stats_lab_file.part2;",
        )
        .unwrap();
    let url = server();
    let (code, json, err) = cli(&["stats", "--database-url", &url]);
    assert_eq!(code, 0, "{err}");
    let snapshot = Snapshot::from_json(&json).unwrap();
    assert_eq!(snapshot.version, 1);
    assert_eq!(Snapshot::from_json(&snapshot.to_json()).unwrap(), snapshot);
    let table = |name: &str| snapshot.table("stats_lab_file", name).unwrap();
    assert_eq!(table("users").rows, Some(40));
    assert_eq!(table("events").rows, Some(20_000));
    assert_eq!(table("events").indexes[0].name, "events_pkey");
    assert!(table("events").index_bytes() > 0);
    assert!(table("events").activity.as_ref().unwrap().inserts >= 20_000);
    assert_eq!(table("empty").rows, Some(0));
    // Never analysed (reltuples = -1 on PostgreSQL 14+): the live-row count stands in, once
    // the activity statistics have it; the row count is never taken for zero.
    assert_ne!(table("never_analysed").rows, Some(0));
    assert_eq!(table("parent").kind, "partitioned table");
    assert_eq!(table("parent").rows, Some(2000));
    assert_eq!(
        table("parent").table_bytes,
        table("part1").table_bytes + table("part2").table_bytes
    );

    // Checked offline from the file, the migrations get the verdicts the database gives.
    let dir = migrations(&SIZES_SQL.replace("stats_lab_sizes", "stats_lab_file"));
    let file = dir.path().join("stats.json");
    std::fs::write(&file, &json).unwrap();
    let path = dir.path().to_str().unwrap();
    let online = cli(&["check", "--format", "json", "--database-url", &url, path]);
    let offline = cli(&[
        "check",
        "--format",
        "json",
        "--stats-file",
        file.to_str().unwrap(),
        path,
    ]);
    assert_eq!(offline.0, online.0);
    assert!(
        offline.2.contains("note: table statistics of ") && offline.2.contains("stats.json"),
        "{}",
        offline.2
    );
    // Write rates are averages over the time since the counters started: they move.
    let rates = regex::Regex::new(r", about \d+ writes/s").unwrap();
    assert_eq!(
        rates.replace_all(&offline.1, ""),
        rates.replace_all(&online.1, "")
    );
    let found = findings(&offline.1);
    let (_, severity, _) = finding(&found, "change-column-type", "`stats_lab_file.users`");
    assert_eq!(severity, "warning");

    // A file that is not a snapshot is an error, not a silent static check.
    std::fs::write(&file, "{\"tables\": []}").unwrap();
    let (code, _, err) = cli(&["check", "--stats-file", file.to_str().unwrap(), path]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a usable statistics snapshot"), "{err}");
    drop_schema("stats_lab_file");
}

/// Needs no server: nothing listens on port 1.
#[test]
fn an_unreachable_database_leaves_the_static_verdicts_with_a_note() {
    let dir = migrations("ALTER TABLE users ALTER COLUMN id TYPE bigint;\n");
    let path = dir.path().to_str().unwrap();
    let url = "postgresql://app:secret@127.0.0.1:1/app?connect_timeout=5";
    let (code, out, err) = cli(&["check", "--format", "concise", "--database-url", url, path]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("error[change-column-type]") && !out.contains("rows"),
        "{out}"
    );
    assert!(
        err.contains("note: cannot read table statistics from 127.0.0.1:1/app (PostgreSQL: error connecting to server"),
        "{err}"
    );
    assert!(
        err.contains("the verdicts are static, without table sizes or estimates (--require-database makes this an error)"),
        "{err}"
    );
    assert!(!err.contains("secret"), "{err}");

    let (code, out, err) = cli(&["check", "--require-database", "--database-url", url, path]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.starts_with(
            "error: --require-database: cannot read table statistics from 127.0.0.1:1/app"
        ),
        "{err}"
    );

    // A configuration that names an unset variable says so too.
    let config = dir.path().join("migration-safety.toml");
    std::fs::write(
        &config,
        "database_url_env = \"MIGRATION_SAFETY_STATS_TEST_UNSET_URL\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    let (code, _, err) = cli(&["check", "--config", config, path]);
    assert_eq!(code, 1);
    assert!(
        err.contains("note: `MIGRATION_SAFETY_STATS_TEST_UNSET_URL` (`database_url_env` in the configuration) is not set: no table statistics, the verdicts are static"),
        "{err}"
    );
    let (code, _, err) = cli(&["check", "--require-database", "--config", config, path]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cli(&["stats", "--database-url", url]);
    assert_eq!(code, 2);
    assert!(
        err.contains("cannot read table statistics from 127.0.0.1:1/app"),
        "{err}"
    );
}

/// The throughput model against this machine's server, on generated tables of several
/// sizes: each measured duration must be within an order of magnitude of the estimated
/// range (ten times below its fast end to ten times above its slow end, plus 100 ms for a
/// statement's fixed costs). No tighter timing is asserted; the measurements are printed.
#[test]
#[cfg_attr(
    not(postgres_server),
    ignore = "needs PostgreSQL: set MIGRATION_SAFETY_TEST_PG"
)]
fn estimates_hold_to_an_order_of_magnitude() {
    let schema = "stats_lab_model";
    let mut client = connect();
    for rows in [10_000u32, 100_000, 1_000_000] {
        let table = format!("t{rows}");
        client
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.{table} (id bigint PRIMARY KEY, email text, age int, created_at timestamptz, note text);
                 INSERT INTO {schema}.{table} SELECT g, 'user' || g || '@example.com', g % 90, now() - g * interval '1 second', repeat('x', 40) FROM generate_series(1, {rows}) g;
                 ANALYZE {schema}.{table};"
            ))
            .unwrap();
        let snapshot = stats::collect(&server()).unwrap();
        let stats = snapshot.table(schema, &table).unwrap().clone();
        for (work, sql) in [
            (
                Work::Scan,
                format!("ALTER TABLE {schema}.{table} ADD CONSTRAINT {table}_age CHECK (age >= 0)"),
            ),
            (
                Work::IndexBuild,
                format!("CREATE INDEX {table}_email ON {schema}.{table} (email)"),
            ),
            (
                Work::Rewrite,
                format!("ALTER TABLE {schema}.{table} ALTER COLUMN age TYPE bigint"),
            ),
        ] {
            // The rewrite also rebuilds the index just built: estimate with it.
            let stats = if work == Work::Rewrite {
                stats::collect(&server())
                    .unwrap()
                    .table(schema, &table)
                    .unwrap()
                    .clone()
            } else {
                stats.clone()
            };
            let estimate = work.estimate(&stats).unwrap();
            let started = Instant::now();
            client.batch_execute(&sql).unwrap();
            let took = started.elapsed();
            eprintln!(
                "{rows} rows, {} MB + {} MB of indexes: {work:?} took {:.3} s; estimated {:.3}–{:.3} s ({estimate})",
                stats.table_bytes >> 20,
                stats.index_bytes() >> 20,
                took.as_secs_f64(),
                estimate.low.as_secs_f64(),
                estimate.high.as_secs_f64(),
            );
            assert!(
                took >= estimate.low / 10,
                "{work:?} on {rows} rows took {took:?}, far below {estimate:?}"
            );
            assert!(
                took <= estimate.high * 10 + Duration::from_millis(100),
                "{work:?} on {rows} rows took {took:?}, far above {estimate:?}"
            );
        }
    }
    drop_schema(schema);
}

/// A certificate authority of its own and a server certificate it signed, for `localhost` and
/// `127.0.0.1`: `(ca.pem, server.crt, server.key)`.
fn certificates(name: &str) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, name);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let server =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server_pem = server.signed_by(&server_key, &issuer).unwrap().pem();
    (ca_pem, server_pem, server_key.serialize_pem())
}

/// Write `bytes` to `path` on the server, as the server's user (`lo_export`), readable by it
/// alone: the server accepts a private key only so.
fn server_file(client: &mut migration_safety::stats::postgres::Client, path: &str, bytes: &str) {
    let object: u32 = client
        .query_one("SELECT lo_from_bytea(0, convert_to($1, 'UTF8'))", &[&bytes])
        .unwrap()
        .get(0);
    client
        .execute("SELECT lo_export($1, $2), lo_unlink($1)", &[&object, &path])
        .unwrap();
    // `lo_export` makes the file readable by all; a private key must not be.
    let chmod = format!("chmod 600 '{}'", path.replace('\'', "'\\''"));
    client
        .batch_execute(&format!(
            "COPY (SELECT 1 WHERE false) TO PROGRAM '{}'",
            chmod.replace('\'', "''")
        ))
        .unwrap();
}

#[test]
#[cfg_attr(
    not(postgres_bin),
    ignore = "needs PostgreSQL binaries: set MIGRATION_SAFETY_TEST_PG_BIN"
)]
fn tls_as_sslmode_asks() {
    let cluster = migration_safety::trace::Cluster::start(&cluster_options()).unwrap();
    let (ca, certificate, key) = certificates("migration-safety test CA");
    let (wrong_ca, _, _) = certificates("another CA");
    let mut admin = cluster.connect().unwrap();
    let data: String = admin.query_one("SHOW data_directory", &[]).unwrap().get(0);
    let hba: String = admin.query_one("SHOW hba_file", &[]).unwrap().get(0);
    server_file(&mut admin, &format!("{data}/server.crt"), &certificate);
    server_file(&mut admin, &format!("{data}/server.key"), &key);
    // TCP connections only with TLS.
    let rules: String = admin
        .query_one("SELECT pg_read_file($1)", &[&hba])
        .unwrap()
        .get(0);
    let tls_only: Vec<String> = rules
        .lines()
        .map(|line| match line.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}"),
            None => line.to_owned(),
        })
        .collect();
    assert!(tls_only.iter().any(|l| l.starts_with("hostssl")), "{rules}");
    server_file(&mut admin, &hba, &(tls_only.join("\n") + "\n"));
    admin.batch_execute("ALTER SYSTEM SET ssl = on").unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").unwrap();
    drop(admin);

    let dir = tempfile::tempdir().unwrap();
    let (ca_file, wrong_file) = (dir.path().join("ca.pem"), dir.path().join("wrong.pem"));
    std::fs::write(&ca_file, &ca).unwrap();
    std::fs::write(&wrong_file, &wrong_ca).unwrap();
    let with = |query: &str| format!("{}?{query}", cluster.url());
    // The reload is asynchronous: wait until a TLS session gets through.
    let require = with("sslmode=require");
    let mut last = None;
    let mut client = (0..100)
        .find_map(|_| match stats::connect(&require) {
            Ok(client) => Some(client),
            Err(error) => {
                last = Some(error.to_string());
                std::thread::sleep(Duration::from_millis(100));
                None
            }
        })
        .unwrap_or_else(|| {
            let log = std::fs::read_to_string(cluster.directory().join("server.log"));
            panic!("the server refuses TLS sessions after its reload: {last:?}; its log: {log:?}")
        });
    assert!(stats::encrypted(&mut client).unwrap());
    drop(client);

    // verify-full with the right root: the certificate names 127.0.0.1.
    let full = with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        ca_file.display()
    ));
    let mut client = stats::connect(&full).unwrap();
    assert!(stats::encrypted(&mut client).unwrap());
    drop(client);
    // In key/value form too.
    let url = cluster.url().to_owned();
    let (authority, port) = url
        .trim_start_matches("postgresql://postgres:")
        .split_once("@127.0.0.1:")
        .unwrap();
    let port = port.trim_end_matches("/postgres");
    let key_value = format!(
        "host=127.0.0.1 port={port} user=postgres password={authority} dbname=postgres sslmode=verify-ca sslrootcert='{}'",
        ca_file.display()
    );
    assert!(stats::connect(&key_value).is_ok());

    // verify-full with another authority's root: refused, saying why.
    let wrong = with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        wrong_file.display()
    ));
    let error = stats::connect(&wrong)
        .err()
        .expect("an unknown issuer is refused");
    let message = error.to_string();
    assert!(
        message.contains("certificate") && message.contains("UnknownIssuer"),
        "{message}"
    );
    // No TLS against a server that accepts TCP sessions only with TLS: refused, saying why.
    let error = stats::connect(&with("sslmode=disable"))
        .err()
        .expect("a session without TLS is refused");
    let message = error.to_string();
    assert!(
        message.contains("no pg_hba.conf entry")
            && (message.contains("no encryption") || message.contains("SSL off")),
        "{message}"
    );

    // The command line: statistics over verify-full; without a root certificate, a clear error.
    let dir = migrations("ALTER TABLE users ALTER COLUMN id TYPE bigint;");
    let path = dir.path().to_str().unwrap();
    let (code, _, err) = cli(&["check", "--require-database", "--database-url", &full, path]);
    assert_eq!(
        code, 1,
        "the finding stands (the database has no `users`): {err}"
    );
    assert!(err.contains("read over a read-only session"), "{err}");
    let (code, _, err) = cli(&[
        "check",
        "--require-database",
        "--database-url",
        &with("sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
        path,
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read sslrootcert `/nonexistent/ca.pem`"),
        "{err}"
    );
}

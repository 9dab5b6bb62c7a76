//! The crates under `consumers/`, one per migration layout, each with a `migrations` directory
//! and a `tests/migrations.rs` that uses `#[check_migrations]`: built and tested with
//! `cargo test`, as their users run it. Asserts which generated tests pass, fail or are
//! ignored, and what a failure says.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use migration_safety_e2e::git;

/// What one `cargo test` run of a consumer crate printed.
struct Run {
    /// Test name (without the module) → `ok`, `FAILED` or `ignored`.
    results: BTreeMap<String, String>,
    output: String,
}

impl Run {
    fn status(&self) -> Vec<(&str, &str)> {
        self.results
            .iter()
            .map(|(name, status)| (name.as_str(), status.as_str()))
            .collect()
    }

    /// The panic message of a failed test.
    fn failure(&self, test: &str) -> &str {
        let header = format!("---- migrations::{test} stdout ----");
        let start = self
            .output
            .find(&header)
            .unwrap_or_else(|| panic!("`{test}` did not fail:\n{}", self.output));
        let rest = &self.output[start + header.len()..];
        let end = rest
            .find("\n---- ")
            .or_else(|| rest.find("\nfailures:"))
            .unwrap_or(rest.len());
        &rest[..end]
    }
}

/// Consumers share one target directory beside the workspace's, so the dependencies build once.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/consumers-<hash>
    exe.ancestors().nth(3).unwrap().join("consumers")
}

/// `cargo SUBCOMMAND --offline --manifest-path <crate_dir>/Cargo.toml` for a consumer crate.
///
/// Every consumer gets the workspace's `Cargo.lock`, so all of them build the same versions
/// of the dependencies, those the workspace fetched, and share them in [`target_dir`]. They
/// build without debug information, which no test reads: it compiles and links faster.
fn cargo(subcommand: &str, crate_dir: &Path) -> Command {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let mut command = Command::new(env!("CARGO"));
    command
        .args([subcommand, "--offline", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_PROFILE_DEV_DEBUG", "false");
    command
}

fn cargo_test(manifest_dir: &Path) -> Run {
    cargo_test_with(manifest_dir, &[])
}

/// `cargo test` with more arguments for the test harness (such as `--show-output`).
fn cargo_test_with(manifest_dir: &Path, harness: &[&str]) -> Run {
    let output = cargo("test", manifest_dir)
        .args(["--color", "never"])
        .args(["--", "--test-threads", "1", "--format", "pretty"])
        .args(harness)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let results = output
        .lines()
        .filter_map(|line| {
            let (name, status) = line
                .strip_prefix("test migrations::")?
                .split_once(" ... ")?;
            let status = status.split(',').next().unwrap_or_default();
            Some((name.to_owned(), status.to_owned()))
        })
        .collect();
    Run { results, output }
}

fn consumer(name: &str) -> Run {
    cargo_test(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("consumers")
            .join(name),
    )
}

#[test]
fn sqlx() {
    let run = consumer("sqlx");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v20240101000000_create_users", "ok"),
            ("v20240102000000_users_email_idx", "ok"),
            ("v20240103000000_users_email_not_null", "FAILED"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v20240103000000_users_email_not_null");
    for expected in [
        "panicked at tests/migrations.rs:3:1:",
        "`migrations/20240103000000_users_email_not_null.sql` is not safe to deploy (run as sqlx migrations: detected",
        "error[set-not-null]: making `users.email` NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        " --> migrations/20240103000000_users_email_not_null.sql:2:19",
        "ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;",
        "put `-- migration-safety: ignore set-not-null -- <reason>` on the line above the statement",
        "#[check_migrations(\"migrations\", allow(\"set-not-null\"))]",
    ] {
        assert!(failure.contains(expected), "{expected}\nnot in:\n{failure}");
    }
}

#[test]
fn diesel() {
    let run = consumer("diesel");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v20240101000000_create_users", "ok"),
            ("v20240102000000_users_email_idx", "FAILED"),
            ("v20240103000000_users_id_email_idx", "ok"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v20240102000000_users_email_idx");
    assert!(failure.contains("`CREATE INDEX CONCURRENTLY` cannot run inside the transaction diesel runs this migration in"), "{failure}");
    assert!(
        failure.contains(" --> migrations/2024-01-02-000000_users_email_idx/up.sql:1:1"),
        "{failure}"
    );
    assert!(
        failure.contains("`metadata.toml` says `run_in_transaction = false`"),
        "{failure}"
    );
}

#[test]
fn refinery() {
    let run = consumer("refinery");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v1_create_users", "ignored"),
            ("v2_rename_email", "FAILED"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v2_rename_email");
    assert!(
        failure.contains(
            "error[rename-column]: renaming column `email` of `users` to `email_address`"
        ),
        "{failure}"
    );
    assert!(
        failure.contains(" --> migrations/V2__rename_email.sql:2:19"),
        "{failure}"
    );
}

#[test]
fn goose_checks_down_sections_when_asked() {
    let run = consumer("goose");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v00001_create_users", "ok"),
            ("v00001_create_users_down", "FAILED"),
            ("v00002_users_email_idx", "ok"),
            ("v00002_users_email_idx_down", "ok"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v00001_create_users_down");
    assert!(
        failure.contains("error[drop-table]: dropping table `users`"),
        "{failure}"
    );
    assert!(
        failure.contains(" --> db/migrations/00001_create_users.sql:5:1"),
        "{failure}"
    );
}

#[test]
fn dbmate_reports_the_near_miss_marker() {
    let run = consumer("dbmate");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v20240101000000_create_users", "ok"),
            ("v20240102000000_users_email_idx", "FAILED"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v20240102000000_users_email_idx");
    assert!(
        failure.contains("(run as dbmate migrations: as configured)"),
        "{failure}"
    );
    assert!(failure.contains("warning[ineffective-transaction-marker]: dbmate reads options as `key:value` with no space"), "{failure}");
    assert!(
        failure.contains("help: write `-- migrate:up transaction:false`"),
        "{failure}"
    );
    assert!(
        failure.contains("error[concurrently-in-transaction]"),
        "{failure}"
    );
}

#[test]
fn golang_migrate_sends_a_file_as_one_query() {
    let run = consumer("golang-migrate");
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v1_create_users", "ok"),
            ("v2_users_email_idx", "FAILED"),
            ("v3_users_name", "ok"),
        ],
        "{}",
        run.output
    );
    let failure = run.failure("v2_users_email_idx");
    assert!(failure.contains("cannot run inside the implicit transaction PostgreSQL opens around a query of several statements (golang-migrate sends this migration as one query)"), "{failure}");
    assert!(
        failure.contains("put it alone in a migration file of its own"),
        "{failure}"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != "Cargo.lock" {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A copy of consumer `name` in a scratch directory (`<scratch>/app`), depending on this
/// checkout's `migration-safety`, which a test may edit.
fn scratch_consumer(name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().unwrap();
    let crate_dir = scratch.path().join("app");
    copy_dir(&root.join("consumers").join(name), &crate_dir);
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let core = root.parent().unwrap().join("migration-safety");
    // A package name of its own: the consumers share one target directory, where a copy
    // under the original name would reuse (and overwrite) the original's test binary.
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        manifest
            .replace("../../../migration-safety", &core.to_string_lossy())
            .replace("name = \"consumer-", "name = \"scratch-consumer-"),
    )
    .unwrap();
    (scratch, crate_dir)
}

#[test]
fn a_migration_added_after_compiling_is_never_silently_skipped() {
    let (_scratch, crate_dir) = scratch_consumer("refinery");
    let first = cargo_test(&crate_dir);
    assert_eq!(
        first.results["migrations_directory_matches_the_tests"], "ok",
        "{}",
        first.output
    );

    std::fs::write(
        crate_dir.join("migrations/V3__drop_email.sql"),
        "ALTER TABLE users DROP COLUMN email;\n",
    )
    .unwrap();
    let stale = cargo_test(&crate_dir);
    assert!(
        !stale.results.contains_key("v3_drop_email"),
        "{}",
        stale.output
    );
    let failure = stale.failure("migrations_directory_matches_the_tests");
    assert!(failure.contains("`migrations/V3__drop_email.sql` has no test: it was added after the tests were compiled"), "{failure}");
    assert!(
        failure.contains("fn main() { println!(\"cargo::rerun-if-changed=migrations\"); }"),
        "{failure}"
    );

    std::fs::write(
        crate_dir.join("build.rs"),
        "fn main() { println!(\"cargo::rerun-if-changed=migrations\"); }\n",
    )
    .unwrap();
    let fixed = cargo_test(&crate_dir);
    assert_eq!(
        fixed.results["migrations_directory_matches_the_tests"], "ok",
        "{}",
        fixed.output
    );
    assert_eq!(fixed.results["v3_drop_email"], "FAILED", "{}", fixed.output);
}

/// Build the tests of the crate at `crate_dir` without running them: the test binary.
fn build_test_binary(crate_dir: &Path) -> PathBuf {
    let output = cargo("test", crate_dir)
        .args(["--no-run", "--message-format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|message| message["target"]["name"] == "migrations")
        .and_then(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo built no `migrations` test binary")
}

/// Run one generated test in a process of its own, as `cargo nextest` does: `ok` or `FAILED`,
/// and what it printed.
fn run_one(binary: &Path, crate_dir: &Path, test: &str) -> (&'static str, String) {
    let output = Command::new(binary)
        .args(["--exact", &format!("migrations::{test}"), "--nocapture"])
        .current_dir(crate_dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        printed.contains("1 passed") || printed.contains("1 failed"),
        "{printed}"
    );
    (
        if output.status.success() {
            "ok"
        } else {
            "FAILED"
        },
        printed,
    )
}

/// The report caches of `binary`: `<profile dir>/migration-safety/<binary>/`, one directory
/// per key.
fn cache_entries(binary: &Path) -> Vec<PathBuf> {
    let root = binary
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("migration-safety")
        .join(binary.file_name().unwrap());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|dir| dir.map(|entry| entry.unwrap().path()).collect())
        .unwrap_or_default();
    entries.sort();
    entries
}

/// Make the cached report of migration `index` say it has no findings.
fn clear_cached_findings(cache: &Path, index: usize) {
    let file = cache.join(format!("{index}.json"));
    let mut report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    report["diagnostics"] = serde_json::json!([]);
    std::fs::write(&file, report.to_string()).unwrap();
}

/// `cargo nextest` runs every generated test in a process of its own. The first process lints
/// the directory and caches the reports next to the binary; the others read their migration's
/// report from the cache (shown here by editing the cache: a process that linted would not see
/// the edit), concurrent processes agree, and a new binary (a changed migration or option)
/// never reads an older binary's reports.
#[test]
fn one_process_per_test_lints_the_directory_once() {
    let (_scratch, crate_dir) = scratch_consumer("sqlx");
    let unsafe_test = "v20240103000000_users_email_not_null";
    let binary = build_test_binary(&crate_dir);
    let caches_before = cache_entries(&binary);

    // Eight processes at once, with no cache yet: each gets the right verdict, and one
    // complete cache directory is left, with no scratch directories beside it.
    let runs: Vec<_> = (0..8)
        .map(|i| {
            let test = if i % 2 == 0 {
                unsafe_test
            } else {
                "v20240102000000_users_email_idx"
            };
            let binary = binary.clone();
            let crate_dir = crate_dir.clone();
            std::thread::spawn(move || (test, run_one(&binary, &crate_dir, test)))
        })
        .collect();
    for run in runs {
        let (test, (status, printed)) = run.join().unwrap();
        let expected = if test == unsafe_test { "FAILED" } else { "ok" };
        assert_eq!(status, expected, "{test}:\n{printed}");
    }
    let created: Vec<PathBuf> = cache_entries(&binary)
        .into_iter()
        .filter(|entry| !caches_before.contains(entry))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let cache = &created[0];
    let mut files: Vec<String> = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["0.json", "1.json", "2.json"]);

    // A later process reads the cache instead of linting.
    clear_cached_findings(cache, 2);
    assert_eq!(run_one(&binary, &crate_dir, unsafe_test).0, "ok");

    // Other options: a new binary, a new cache.
    let tests = crate_dir.join("tests/migrations.rs");
    let source = std::fs::read_to_string(&tests).unwrap();
    std::fs::write(
        &tests,
        source.replace("(\"migrations\")", "(\"migrations\", pg_version = 16)"),
    )
    .unwrap();
    let binary = build_test_binary(&crate_dir);
    let (status, printed) = run_one(&binary, &crate_dir, unsafe_test);
    assert_eq!(status, "FAILED", "{printed}");
    assert!(printed.contains(":2:19"), "{printed}");

    // A changed migration: a new binary, a new cache.
    let newest = cache_entries(&binary)
        .into_iter()
        .max_by_key(|entry| std::fs::metadata(entry).unwrap().modified().unwrap())
        .unwrap();
    clear_cached_findings(&newest, 2);
    assert_eq!(run_one(&binary, &crate_dir, unsafe_test).0, "ok");
    let migration = crate_dir.join("migrations/20240103000000_users_email_not_null.sql");
    let sql = std::fs::read_to_string(&migration).unwrap();
    std::fs::write(&migration, format!("-- the email is required\n{sql}")).unwrap();
    let binary = build_test_binary(&crate_dir);
    let (status, printed) = run_one(&binary, &crate_dir, unsafe_test);
    assert_eq!(status, "FAILED", "{printed}");
    assert!(printed.contains(":3:19"), "{printed}");
}

/// `reported path → ok or FAILED` from the JSON of `migration-safety check`: every object
/// with a `path` and `diagnostics`, wherever the format nests it.
fn cli_verdicts(
    json: &serde_json::Value,
    fails: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, String> {
    let mut verdicts = BTreeMap::new();
    let mut pending = vec![json];
    while let Some(value) = pending.pop() {
        match value {
            serde_json::Value::Object(object) => {
                if let (Some(path), Some(diagnostics)) = (
                    object.get("path").and_then(|p| p.as_str()),
                    object.get("diagnostics").and_then(|d| d.as_array()),
                ) {
                    let failed = diagnostics
                        .iter()
                        .any(|d| d["severity"].as_str().is_some_and(fails));
                    let stem = Path::new(path).file_stem().unwrap().to_string_lossy();
                    let verdict = if failed { "FAILED" } else { "ok" };
                    verdicts.insert(format!("v{stem}"), verdict.to_owned());
                }
                pending.extend(object.values());
            }
            serde_json::Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    verdicts
}

#[test]
fn the_cli_and_the_macro_read_the_same_configuration_and_agree() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("consumers/config");
    let run = consumer("config");
    // framework, start_after, exclude, fail_on, [rules] (a category, and a rule overriding
    // it) and [assume] all come from migration-safety.toml.
    assert_eq!(
        run.status(),
        [
            ("migrations_directory_matches_the_tests", "ok"),
            ("v20240100000000_create_users", "ignored"),
            ("v20240101000000_drop_name", "ignored"),
            ("v20240102000000_rename_nickname", "ok"),
            ("v20240103000000_drop_email", "ignored"),
            ("v20240104000000_users_handle_idx", "FAILED"),
            ("v20240105000000_users_payload", "FAILED"),
        ],
        "{}",
        run.output
    );
    let warning = run.failure("v20240105000000_users_payload");
    assert!(warning.contains("warning[prefer-jsonb]"), "{warning}");
    assert!(
        warning.contains("#[check_migrations(\"migrations\", allow(\"prefer-jsonb\"))]"),
        "{warning}"
    );
    assert!(
        warning.contains("or in migration-safety.toml:\n[rules]\nprefer-jsonb = \"allow\""),
        "{warning}"
    );

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let config = dir.join("migration-safety.toml");
    let migrations = dir.join("migrations");
    let code = migration_safety::cli::run(
        [
            "migration-safety".as_ref(),
            "check".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            "--config".as_ref(),
            config.as_os_str(),
            migrations.as_os_str(),
        ],
        &mut out,
        &mut err,
        false,
    );
    assert_eq!(code, 1, "{}", String::from_utf8_lossy(&err));
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    // fail_on = "warning": any finding fails.
    let cli = cli_verdicts(&json, &|severity| {
        migration_safety::FailOn::Warning.fails(match severity {
            "error" => migration_safety::Severity::Error,
            _ => migration_safety::Severity::Warning,
        })
    });
    let macro_verdicts: BTreeMap<String, String> = run
        .results
        .iter()
        .filter(|(name, status)| name.starts_with('v') && *status != "ignored")
        .map(|(name, status)| (name.clone(), status.clone()))
        .collect();
    assert_eq!(cli, macro_verdicts);
}

/// One application's change, as a developer makes it: a migration that drops `users.name`, and
/// the code that stops using it.
struct Change<'a> {
    /// The consumer crate: its code at the first commit of `main` still reads `users.name`.
    consumer: &'a str,
    /// The migration files the change adds.
    migration: &'a [(&'a str, &'a str)],
    /// The application's files the change writes, and those it removes.
    code: &'a [(&'a str, &'a str)],
    removed: &'a [&'a str],
    /// The generated test of the migration.
    test: &'a str,
    /// Where the base's code reads the column, as the failure names it.
    location: &'a str,
}

/// Both verdicts of a dropped column, in a temporary git repository: while the code at `main`
/// still reads it, the migration's test fails naming the place; once `main` holds the code
/// that stopped reading it, the same migration passes with a note saying so.
fn drop_column_follows_the_code_at_main(change: Change<'_>) {
    let (_scratch, dir) = scratch_consumer(change.consumer);
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "release 1: reads users.name"]);
    for (path, text) in change.migration.iter().chain(change.code) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    for path in change.removed {
        std::fs::remove_file(dir.join(path)).unwrap();
    }

    let before = cargo_test(&dir);
    assert_eq!(before.results[change.test], "FAILED", "{}", before.output);
    assert_eq!(
        before.results["application_code_matches_the_migrations"], "ok",
        "{}",
        before.output
    );
    let failure = before.failure(change.test);
    for expected in [
        "error[drop-column]: dropping column `name` of `users`".to_owned(),
        format!(
            "the code at `main` still reads `users.name`: {}",
            change.location
        ),
        "deploy code that no longer uses it first, then run this migration in a later deploy"
            .to_owned(),
    ] {
        assert!(
            failure.contains(&expected),
            "{expected}\nnot in:\n{failure}"
        );
    }

    // Release 2, which no longer reads the column, is deployed from `main`; the migration is not.
    git(&dir, &["add", "-A"]);
    git(&dir, &["reset", "-q", "--", "migrations"]);
    git(
        &dir,
        &["commit", "-q", "-m", "release 2: stops reading users.name"],
    );
    let after = cargo_test_with(&dir, &["--show-output"]);
    assert_eq!(after.results[change.test], "ok", "{}", after.output);
    assert!(
        after
            .output
            .contains("warning[drop-column]: dropping column `name` of `users`"),
        "{}",
        after.output
    );
    assert!(
        after
            .output
            .contains("no code at `main` reads `users.name`"),
        "{}",
        after.output
    );
}

const DROP_NAME: &str = "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n";

#[test]
fn diesel_schema_at_the_base_decides_a_dropped_column() {
    drop_column_follows_the_code_at_main(Change {
        consumer: "app-diesel",
        migration: &[
            ("migrations/2024-01-02-000000_drop_name/up.sql", DROP_NAME),
            (
                "migrations/2024-01-02-000000_drop_name/down.sql",
                "ALTER TABLE users ADD COLUMN name text;\n",
            ),
        ],
        code: &[(
            "src/schema.rs",
            "// @generated automatically by Diesel CLI.\n\ndiesel::table! {\n    users (id) {\n        id -> Int8,\n        email -> Text,\n    }\n}\n",
        )],
        removed: &[],
        test: "v20240102000000_drop_name",
        location: "src/schema.rs:7: users.name",
    });
}

#[test]
fn sqlx_offline_data_at_the_base_decides_a_dropped_column() {
    // As `cargo sqlx prepare` writes it after the query stopped selecting `name`.
    let offline = "{\n  \"db_name\": \"PostgreSQL\",\n  \"query\": \"SELECT id, email FROM users WHERE id = $1\",\n  \"describe\": {\n    \"columns\": [\n      {\n        \"ordinal\": 0,\n        \"name\": \"id\",\n        \"type_info\": \"Int8\"\n      },\n      {\n        \"ordinal\": 1,\n        \"name\": \"email\",\n        \"type_info\": \"Text\"\n      }\n    ],\n    \"parameters\": {\n      \"Left\": [\n        \"Int8\"\n      ]\n    },\n    \"nullable\": [\n      false,\n      false\n    ]\n  },\n  \"hash\": \"b4a3b0ae9c157a5a6b7922189cfa08a41627c4cc8b8921632a0ecce482001ecd\"\n}\n";
    drop_column_follows_the_code_at_main(Change {
        consumer: "app-sqlx",
        migration: &[("migrations/20240102000000_drop_name.sql", DROP_NAME)],
        code: &[
            (
                ".sqlx/query-b4a3b0ae9c157a5a6b7922189cfa08a41627c4cc8b8921632a0ecce482001ecd.json",
                offline,
            ),
            (
                "src/users.rs",
                "//! Users, through sqlx's checked queries.\n\npub struct User {\n    pub id: i64,\n    pub email: String,\n}\n\npub async fn find(pool: &sqlx::PgPool, id: i64) -> sqlx::Result<User> {\n    sqlx::query_as!(User, \"SELECT id, email FROM users WHERE id = $1\", id)\n        .fetch_one(pool)\n        .await\n}\n",
            ),
        ],
        removed: &[
            ".sqlx/query-c49a553b0b71d37ae8e9563c22700cd3bc275bc4500b38edc178b05a6f55021e.json",
        ],
        test: "v20240102000000_drop_name",
        location: ".sqlx/query-c49a553b0b71d37ae8e9563c22700cd3bc275bc4500b38edc178b05a6f55021e.json:3: users.name, src/users.rs:10: users.name",
    });
}

#[test]
fn seaorm_entities_at_the_base_decide_a_dropped_column() {
    drop_column_follows_the_code_at_main(Change {
        consumer: "app-seaorm",
        migration: &[("migrations/20240102000000_drop_name.sql", DROP_NAME)],
        code: &[(
            "src/entities/users.rs",
            "//! The `users` entity.\n\nuse sea_orm::entity::prelude::*;\n\n#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]\n#[sea_orm(table_name = \"users\")]\npub struct Model {\n    #[sea_orm(primary_key, auto_increment = false)]\n    pub id: i64,\n    pub email: String,\n}\n\n#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]\npub enum Relation {}\n\nimpl ActiveModelBehavior for ActiveModel {}\n",
        )],
        removed: &[],
        test: "v20240102000000_drop_name",
        location: "src/entities/users.rs:12: users.name",
    });
}

//! What `migration-safety check` reads and how it exits: every exit status with `--fail-on`,
//! an empty directory, only the migrations a change adds (`--changed-since`), and standard
//! input (`check -`).

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

#[path = "common/git.rs"]
mod git;
use git::git;

fn cli(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("migration-safety").unwrap();
    command.current_dir(dir);
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn check(dir: &Path, args: &[&str]) -> Output {
    cli(dir).arg("check").args(args).output().unwrap()
}

/// The run exited with `code` and said `message` on standard error.
fn assert_fails(output: &Output, code: i32, message: &str) {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "{stderr}");
    assert!(stderr.contains(message), "{message:?} not in {stderr}");
}

fn check_stdin(dir: &Path, args: &[&str], input: &str) -> Output {
    cli(dir)
        .arg("check")
        .args(args)
        .write_stdin(input)
        .output()
        .unwrap()
}

const ERROR: &str = "ALTER TABLE users DROP COLUMN email;\n";
const WARNING: &str = "ALTER TABLE users ADD COLUMN nickname text;\n";
const CLEAN: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n";

#[test]
fn exit_status_follows_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in [("clean", CLEAN), ("warning", WARNING), ("error", ERROR)] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("1_init.sql"), sql).unwrap();
    }
    // (migrations, --fail-on, status)
    for (name, fail_on, status) in [
        ("clean", None, 0),
        ("clean", Some("warning"), 0),
        ("warning", None, 0),
        ("warning", Some("error"), 0),
        ("warning", Some("warning"), 1),
        ("warning", Some("never"), 0),
        ("error", None, 1),
        ("error", Some("error"), 1),
        ("error", Some("warning"), 1),
        ("error", Some("never"), 0),
    ] {
        let mut args = vec![name];
        if let Some(fail_on) = fail_on {
            args.extend(["--fail-on", fail_on]);
        }
        for format in [
            "human", "json", "sarif", "github", "gitlab", "junit", "concise",
        ] {
            let mut args = args.clone();
            args.extend(["--format", format]);
            let output = check(dir.path(), &args);
            assert_eq!(output.status.code(), Some(status), "{args:?}");
            assert!(
                output.stderr.is_empty(),
                "{args:?}: {}",
                text(&output.stderr)
            );
        }
    }
    // Bad usage is 2, with a message.
    let output = check(dir.path(), &["--fail-on", "sometimes", "clean"]);
    assert_fails(
        &output,
        2,
        "invalid value 'sometimes' for '--fail-on <LEVEL>'",
    );
}

#[test]
fn an_empty_migrations_directory_exits_0_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("migrations")).unwrap();
    std::fs::write(dir.path().join("migrations/README.md"), "no SQL yet").unwrap();
    let output = check(dir.path(), &["migrations"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        text(&output.stdout),
        "note: `migrations` holds no migrations: nothing to check\nmigration-safety: no hazards found in 0 files\n"
    );
    // Machine formats keep standard output parseable: the note goes to standard error.
    let output = check(dir.path(), &["--format", "json", "migrations"]);
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["directories"][0]["migrations"], 0);
    assert_eq!(
        text(&output.stderr),
        "note: `migrations` holds no migrations: nothing to check\n"
    );
    // `.sql` files the framework would not run are a mistake, not an empty directory.
    std::fs::write(dir.path().join("migrations/init.sql"), CLEAN).unwrap();
    let output = check(dir.path(), &["--framework", "refinery", "migrations"]);
    assert_fails(&output, 2, "holds no refinery migration");
}

#[test]
fn changed_since_reports_only_the_migrations_a_change_adds() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let migrations = root.join("db/migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    std::fs::write(migrations.join("1_users.sql"), CLEAN).unwrap();
    // Already in production: it drops a column, but nobody must be asked to fix it now.
    std::fs::write(
        migrations.join("2_legacy.sql"),
        "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN email;\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("3_orders.sql"),
        "CREATE TABLE orders (id bigint);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("4_moved.sql"),
        "CREATE TABLE moved (id bigint);\n",
    )
    .unwrap();
    git(root, &["init", "--quiet", "--initial-branch=main"]);
    git(root, &["add", "."]);
    git(root, &["commit", "--quiet", "-m", "production"]);
    git(root, &["checkout", "--quiet", "-b", "feature"]);
    // The change: an edited migration, a renamed one, and a new one indexing a table that an
    // earlier migration created (an existing table, so a hazard).
    std::fs::write(
        migrations.join("3_orders.sql"),
        "CREATE TABLE orders (id bigint);\nSET lock_timeout = '1s';\nALTER TABLE users RENAME COLUMN id TO user_id;\n",
    )
    .unwrap();
    git(
        root,
        &[
            "mv",
            "db/migrations/4_moved.sql",
            "db/migrations/4_renamed.sql",
        ],
    );
    std::fs::write(
        migrations.join("5_index.sql"),
        "SET lock_timeout = '1s';\nCREATE INDEX orders_id_idx ON orders (id);\n",
    )
    .unwrap();
    git(root, &["add", "db/migrations"]);
    git(root, &["commit", "--quiet", "-m", "feature"]);
    // Untracked and not yet committed: still part of the change.
    std::fs::write(migrations.join("6_untracked.sql"), WARNING).unwrap();
    // Meanwhile main moves on: its changes are not this branch's.
    git(root, &["checkout", "--quiet", "main"]);
    std::fs::write(root.join("README.md"), "main moved on\n").unwrap();
    git(root, &["add", "README.md"]);
    git(root, &["commit", "--quiet", "-m", "main"]);
    git(root, &["checkout", "--quiet", "feature"]);

    let all = check(
        root,
        &[
            "--format",
            "concise",
            "--framework",
            "plain",
            "db/migrations",
        ],
    );
    assert!(text(&all.stdout).contains("db/migrations/2_legacy.sql:2:19: error[drop-column]"));

    let output = check(
        root,
        &[
            "--format",
            "concise",
            "--framework",
            "plain",
            "--changed-since",
            "main",
            "db/migrations",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let files: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "db/migrations/3_orders.sql",
            "db/migrations/5_index.sql",
            "db/migrations/6_untracked.sql"
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("3_orders.sql:3:19: error[rename-column]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("5_index.sql:2:1: error[create-index-non-concurrently]"),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("3 of 6 migration files changed since `main`"),
        "{}",
        text(&output.stderr)
    );

    // From a subdirectory of the repository, with the path relative to it.
    let sub = check(
        &migrations,
        &["--format", "concise", "--changed-since", "HEAD", "."],
    );
    assert_eq!(
        text(&sub.stdout).lines().count(),
        1,
        "{}",
        text(&sub.stdout)
    );
    assert!(text(&sub.stdout).starts_with("./6_untracked.sql:1:1: warning[missing-lock-timeout]"));

    // Nothing changed since HEAD but the untracked file; without it, nothing is reported.
    std::fs::remove_file(migrations.join("6_untracked.sql")).unwrap();
    let none = check(root, &["--changed-since", "HEAD", "db/migrations"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(text(&none.stdout).contains("no hazards found in 0 files"));
}

#[test]
fn changed_since_a_bad_ref_or_outside_git_exits_2() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("1.sql"), CLEAN).unwrap();
    let outside = check(repo.path(), &["--changed-since", "main", "."]);
    assert_fails(&outside, 2, "--changed-since needs a git repository");
    git(repo.path(), &["init", "--quiet"]);
    git(repo.path(), &["add", "."]);
    git(repo.path(), &["commit", "--quiet", "-m", "init"]);
    let output = check(repo.path(), &["--changed-since", "no-such-branch", "."]);
    assert_fails(
        &output,
        2,
        "`no-such-branch` is not a commit of the git repository",
    );
}

#[test]
fn stdin_is_checked_under_the_given_name_and_framework() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    // dbmate's layout: detected from the directory of --stdin-filename.
    std::fs::write(
        migrations.join("20240101000000_init.sql"),
        "-- migrate:up\nCREATE TABLE users (id bigint);\n-- migrate:down\nDROP TABLE users;\n",
    )
    .unwrap();
    let sql = "-- migrate:up\nSET lock_timeout = '1s';\nCREATE INDEX users_id_idx ON users (id);\n\n-- migrate:down\nDROP INDEX users_id_idx;\n";
    let output = check_stdin(
        dir.path(),
        &[
            "--format",
            "json",
            "--stdin-filename",
            "migrations/20240102000000_index.sql",
            "-",
        ],
        sql,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let file = &json["files"][0];
    assert_eq!(file["path"], "migrations/20240102000000_index.sql");
    assert_eq!(file["framework"], "dbmate");
    // Only the up section is checked: the down section's DROP INDEX is not reported.
    let rules: Vec<&str> = file["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["create-index-non-concurrently"]);

    // Without a name: `<stdin>`, run as plain SQL.
    let output = check_stdin(dir.path(), &["--format", "concise", "-"], ERROR);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stdout).contains("<stdin>:1:19: error[drop-column]"),
        "{}",
        text(&output.stdout)
    );
    let clean = check_stdin(dir.path(), &["-"], CLEAN);
    assert_eq!(clean.status.code(), Some(0));

    // Standard input is checked on its own, and --stdin-filename needs it.
    for args in [
        &["-", "migrations"][..],
        &["--changed-since", "HEAD", "-"],
        &["--stdin-filename", "x.sql", "migrations"],
    ] {
        assert_fails(&check_stdin(dir.path(), args, ""), 2, "standard input");
    }
}

#[test]
fn stdin_is_checked_against_the_code_of_its_crate() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in [
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndiesel = \"2\"\n",
        ),
        (
            "src/schema.rs",
            "diesel::table! {\n    users (id) {\n        id -> Int8,\n        email -> Text,\n    }\n}\n",
        ),
        ("migrations/1_create.sql", CLEAN),
    ] {
        std::fs::create_dir_all(dir.path().join(path).parent().unwrap()).unwrap();
        std::fs::write(dir.path().join(path), text).unwrap();
    }
    // As `check migrations` would say it: the crate's diesel schema still reads the column.
    let output = check_stdin(
        dir.path(),
        &[
            "--format",
            "json",
            "--stdin-filename",
            "migrations/2_drop.sql",
            "-",
        ],
        ERROR,
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let message = json["files"][0]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["rule"] == "drop-column")
        .and_then(|d| d["message"].as_str())
        .unwrap();
    assert!(
        message.contains(
            "even the code in the working tree still reads `users.email` (src/schema.rs:4: users.email)"
        ),
        "{message}"
    );
}

/// `--changed-since REF` also names the code still running: a column the diesel schema at
/// `main` reads must not be dropped. The application's code is reported against every
/// migration, changed or not (`schema-drift`).
#[test]
fn changed_since_is_the_base_of_the_application_code() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    let schema = |columns: &str| {
        format!("diesel::table! {{\n    users (id) {{\n        id -> Int8,\n{columns}    }}\n}}\n")
    };
    for (path, text) in [
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndiesel = \"2\"\n".to_owned(),
        ),
        ("migrations/1_create.sql", CLEAN.to_owned()),
        // `nickname`: no migration creates it.
        (
            "src/schema.rs",
            schema("        email -> Text,\n        nickname -> Text,\n"),
        ),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    git(root, &["init", "--quiet", "--initial-branch=main"]);
    git(root, &["add", "."]);
    git(
        root,
        &["commit", "--quiet", "-m", "production reads users.email"],
    );
    std::fs::write(root.join("migrations/2_drop.sql"), ERROR).unwrap();
    std::fs::write(
        root.join("src/schema.rs"),
        schema("        nickname -> Text,\n"),
    )
    .unwrap();

    let args = [
        "--format",
        "concise",
        "--changed-since",
        "main",
        "migrations",
    ];
    let output = check(root, &args);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains(
            "migrations/2_drop.sql:1:19: error[drop-column] dropping column `email` of `users`"
        ) && stdout
            .contains("the code at `main` still reads `users.email`: src/schema.rs:4: users.email"),
        "{stdout}"
    );
    assert!(
        stdout.contains("src/schema.rs:4:9: warning[schema-drift]"),
        "{stdout}"
    );
    assert!(
        text(&output.stderr).contains("1 of 2 migration files changed since `main`"),
        "{}",
        text(&output.stderr)
    );
}

//! The install paths, taken as their users take them, on sample projects: the npm packages
//! (`npm/build.sh`, installed offline into a db-migrate project), the pre-commit hook
//! (`.pre-commit-hooks.yaml`, through `pre-commit try-repo`) and the GitHub Action
//! (`action.yml`'s steps in `.github/action/run.sh`, run with the variables GitHub sets).
//!
//! The npm packages and the pre-commit hook take a copy of the debug build of the CLI that
//! `cargo test --workspace` has already made ([`binary`]): they prove how the binary is
//! packaged, installed and run, not what the optimizer makes of it. The GitHub Action builds
//! the CLI itself with `cargo install`, here with its `cargo-args` input set to
//! `--profile dev` and the workspace's target directory, so that it reuses that build's
//! dependencies (an optimized build of every dependency took longer than the rest of
//! `cargo test --workspace` together, and an unoptimized one in a directory of its own still
//! took a third of it). A test whose tool (node and npm, pre-commit, git) is missing says so on
//! standard error and does nothing, except under CI, where it fails: `.ci/run` installs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use migration_safety_e2e::{available, cli_binary, outside_test};

/// The repository checkout.
fn checkout() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The workspace's target directory.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // <target>/<profile>/deps/install-<hash>
    exe.ancestors().nth(3).unwrap().to_path_buf()
}

/// A copy of the command line `cargo test --workspace` built, made once for all the tests of
/// this binary, before the action's `cargo install` builds it again in the same directory.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let copy = target_dir().join("install-e2e/bin/migration-safety");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(cli_binary(env!("CARGO_CRATE_NAME")), &copy).unwrap();
        copy
    })
}

/// Standard output and standard error.
fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts the exit code of a run and that its output contains each of `expected`; returns the output.
fn assert_run(run: &Output, code: i32, expected: &[&str]) -> String {
    let output = text(run);
    assert_eq!(run.status.code(), Some(code), "{output}");
    for expected in expected {
        assert!(output.contains(expected), "{expected} not in:\n{output}");
    }
    output
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// `PATH` with `dir` first.
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

/// A migration that creates a table, and a second one that is safe or not.
fn sample_migrations(dir: &Path, second: &str) {
    write(
        &dir.join("migrations/20240101000000_create_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    );
    write(
        &dir.join("migrations/20240102000000_change_users.sql"),
        second,
    );
}

const HAZARD: &str = "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n";
const SAFE: &str =
    "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN last_seen_at timestamptz;\n";

/// db-migrate's JavaScript stub for a SQL migration, as `db-migrate create NAME --sql-file`
/// writes it (trimmed to what it runs).
fn db_migrate_stub(name: &str) -> String {
    format!(
        r#"'use strict';
var fs = require('fs');
var path = require('path');

function run(db, file) {{
  var filePath = path.join(__dirname, 'sqls', file);
  return new Promise(function (resolve, reject) {{
    fs.readFile(filePath, {{ encoding: 'utf-8' }}, function (err, data) {{
      if (err) return reject(err);
      resolve(data);
    }});
  }}).then(function (data) {{
    return db.runSql(data);
  }});
}}

exports.up = function (db) {{
  return run(db, '{name}-up.sql');
}};

exports.down = function (db) {{
  return run(db, '{name}-down.sql');
}};

exports._meta = {{
  version: 1
}};
"#
    )
}

#[test]
fn npm_packages_install_offline_and_check_a_db_migrate_project() {
    if !available("node", "the npm packages") || !available("npm", "the npm packages") {
        return;
    }
    let packages = tempfile::tempdir().unwrap();
    let build = Command::new("bash")
        .arg(checkout().join("npm/build.sh"))
        .arg(packages.path())
        .env("MIGRATION_SAFETY_BINARY", binary())
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", text(&build));
    let version = env!("CARGO_PKG_VERSION");
    let tarballs = [
        packages
            .path()
            .join(format!("migration-safety-{version}.tgz")),
        packages
            .path()
            .join(format!("migration-safety-cli-linux-x64-{version}.tgz")),
    ];
    let printed = String::from_utf8_lossy(&build.stdout);
    for tarball in &tarballs {
        assert!(
            tarball.is_file(),
            "{} not written:\n{printed}",
            tarball.display()
        );
        assert!(printed.contains(&*tarball.to_string_lossy()), "{printed}");
    }

    let project = tempfile::tempdir().unwrap();
    let dir = project.path();
    write(
        &dir.join("package.json"),
        r#"{ "name": "app", "private": true, "scripts": { "migrate": "db-migrate up" } }"#,
    );
    for (name, up, down) in [
        (
            "20240101000000-create-users",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
            // Never run by `db-migrate up`: a plain reading of the directory would report it.
            "DROP TABLE users;\n",
        ),
        (
            "20240102000000-users-email-not-null",
            HAZARD,
            "ALTER TABLE users ALTER COLUMN email DROP NOT NULL;\n",
        ),
        (
            "20240103000000-users-email-idx",
            // db-migrate runs each migration in a transaction, where this cannot run.
            "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
            "DROP INDEX CONCURRENTLY users_email_idx;\n",
        ),
    ] {
        write(
            &dir.join(format!("migrations/{name}.js")),
            &db_migrate_stub(name),
        );
        write(&dir.join(format!("migrations/sqls/{name}-up.sql")), up);
        write(&dir.join(format!("migrations/sqls/{name}-down.sql")), down);
    }

    let npm_cache = tempfile::tempdir().unwrap();
    // npm, offline, with a cache of its own: nothing comes from a registry.
    let npm = |program: &str, args: &[&str]| {
        Command::new(program)
            .arg("--offline")
            .args(args)
            .current_dir(dir)
            .env("npm_config_cache", npm_cache.path())
            .env_remove("MIGRATION_SAFETY_BINARY")
            .output()
            .unwrap()
    };
    let mut install = vec!["install", "--no-audit", "--no-fund", "--save-dev"];
    install.extend(tarballs.iter().map(|t| t.to_str().unwrap()));
    let install = npm("npm", &install);
    assert!(install.status.success(), "{}", text(&install));
    assert!(
        dir.join("node_modules/@migration-safety/cli-linux-x64/bin/migration-safety")
            .is_file()
    );

    let output = assert_run(
        &npm("npx", &["migration-safety", "check", "migrations"]),
        1,
        &[
            "error[set-not-null]",
            "migrations/sqls/20240102000000-users-email-not-null-up.sql:1:19",
            // Only under db-migrate, which runs each migration in a transaction.
            "error[concurrently-in-transaction]",
            "`CREATE INDEX CONCURRENTLY` cannot run inside the transaction db-migrate runs this migration in",
            "`migrations` as db-migrate migrations",
        ],
    );
    // Down migrations are not read as up migrations, as a plain reading would.
    assert!(!output.contains("drop-table"), "{output}");

    // The shim passes the exit code through: 0 for a clean run, 2 for bad usage.
    let version = npm("npx", &["migration-safety", "--version"]);
    assert_eq!(version.status.code(), Some(0), "{}", text(&version));
    assert!(text(&version).contains(env!("CARGO_PKG_VERSION")));
    let missing = npm("npx", &["migration-safety", "check", "no-such-dir"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

/// A git repository with sample migrations, committed.
fn git_repository(second_migration: &str) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    sample_migrations(repo.path(), second_migration);
    for args in [
        &["init", "--quiet"][..],
        &["add", "."],
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "commit",
            "--quiet",
            "-m",
            "migrations",
        ],
    ] {
        let git = Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .output()
            .unwrap();
        assert!(git.status.success(), "{}", text(&git));
    }
    repo
}

fn pre_commit_try_repo(repo: &Path, home: &Path) -> Output {
    Command::new("pre-commit")
        .arg("try-repo")
        .arg(checkout())
        .args(["migration-safety", "--all-files", "--color", "never"])
        .current_dir(repo)
        .env("PRE_COMMIT_HOME", home)
        .env("PATH", path_with(binary().parent().unwrap()))
        .output()
        .unwrap()
}

#[test]
fn pre_commit_hook_fails_on_a_hazard_and_passes_a_safe_migration() {
    if !available("git", "the pre-commit hook") || !available("pre-commit", "the pre-commit hook") {
        return;
    }
    let home = tempfile::tempdir().unwrap();

    let hazard = git_repository(HAZARD);
    assert_run(
        &pre_commit_try_repo(hazard.path(), home.path()),
        1,
        &[
            "migration-safety",
            "Failed",
            "error[set-not-null]",
            "migrations/20240102000000_change_users.sql:1:19",
        ],
    );

    let safe = git_repository(SAFE);
    assert_run(
        &pre_commit_try_repo(safe.path(), home.path()),
        0,
        &["migration-safety", "Passed"],
    );
}

/// Runs `.github/action/run.sh STEP` in `workspace` with the variables GitHub sets.
fn action_step(step: &str, workspace: &Path, runner: &Path, env: &[(&str, &Path)]) -> Output {
    let mut command = outside_test("bash");
    command
        .arg(checkout().join(".github/action/run.sh"))
        .arg(step)
        .current_dir(workspace)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_WORKSPACE", workspace)
        .env("GITHUB_ACTION_PATH", checkout())
        .env("RUNNER_TEMP", runner.join("temp"))
        .env("RUNNER_TOOL_CACHE", runner.join("tool-cache"))
        .env("GITHUB_PATH", runner.join("github-path"))
        .env("GITHUB_OUTPUT", runner.join("github-output"))
        .env("GITHUB_STEP_SUMMARY", runner.join("step-summary"))
        .env("MIGRATION_SAFETY_CARGO_ARGS", "--profile dev")
        .env("CARGO_TARGET_DIR", target_dir());
    for (key, value) in env {
        command.env(key, value);
    }
    // What the install step added to `GITHUB_PATH`, as the runner does for later steps.
    if let Ok(added) = std::fs::read_to_string(runner.join("github-path")) {
        let bin = added.lines().last().unwrap_or_default();
        command.env("PATH", path_with(Path::new(bin)));
    }
    command.output().unwrap()
}

#[test]
fn github_action_installs_the_cli_annotates_and_writes_sarif() {
    // The other tests' copy, taken before the install step builds the CLI again.
    binary();
    let runner = tempfile::tempdir().unwrap();
    let runner = runner.path();
    let workspace = tempfile::tempdir().unwrap();
    let workspace = workspace.path();
    sample_migrations(workspace, HAZARD);

    let install = action_step("install", workspace, runner, &[]);
    assert!(install.status.success(), "{}", text(&install));
    // The `cargo-args` input reached `cargo install`.
    assert!(
        text(&install).contains("Finished `dev` profile"),
        "{}",
        text(&install)
    );
    let github_path = std::fs::read_to_string(runner.join("github-path")).unwrap();
    let bin = runner.join("tool-cache/migration-safety/bin");
    assert_eq!(github_path, format!("{}\n", bin.display()));
    assert!(bin.join("migration-safety").is_file());
    assert!(
        String::from_utf8_lossy(&install.stdout)
            .contains(&format!("migration-safety {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        text(&install)
    );

    let sarif = workspace.join("results/migration-safety.sarif");
    let check = action_step(
        "check",
        workspace,
        runner,
        &[
            ("MIGRATION_SAFETY_PATHS", Path::new("migrations")),
            ("MIGRATION_SAFETY_ARGS", Path::new("--pg-version 16")),
            ("MIGRATION_SAFETY_SARIF_FILE", &sarif),
        ],
    );
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    let annotation = stdout
        .lines()
        .find(|l| l.contains("title=set-not-null::"))
        .unwrap_or_else(|| panic!("no set-not-null annotation in:\n{stdout}"));
    assert!(
        annotation
            .starts_with("::error file=migrations/20240102000000_change_users.sql,line=1,col=19,"),
        "{annotation}"
    );

    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["ruleId"] == "set-not-null"),
        "{sarif:#}"
    );
    let outputs = std::fs::read_to_string(runner.join("github-output")).unwrap();
    assert_eq!(
        outputs,
        format!(
            "sarif-file={}\n",
            workspace.join("results/migration-safety.sarif").display()
        )
    );
    let summary = std::fs::read_to_string(runner.join("step-summary")).unwrap();
    assert!(summary.starts_with("### migration-safety\n"), "{summary}");
    assert!(
        summary.contains("migrations/20240102000000_change_users.sql:1:19: error[set-not-null]"),
        "{summary}"
    );

    // A safe migration: no annotation, exit 0, and no SARIF output without the input.
    sample_migrations(workspace, SAFE);
    std::fs::remove_file(runner.join("github-output")).unwrap();
    let check = action_step("check", workspace, runner, &[]);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check));
    assert!(!String::from_utf8_lossy(&check.stdout).contains("::error"));
    assert!(!runner.join("github-output").exists());
}

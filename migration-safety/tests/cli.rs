//! The `migration-safety` binary, run as CI and non-Rust teams run it.

use assert_cmd::Command;

fn cli() -> Command {
    let mut command = Command::cargo_bin("migration-safety").unwrap();
    command.current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    command
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// `check` run on a directory holding one migration, `1.sql`, with `sql`.
fn check_one_migration(sql: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1.sql"), sql).unwrap();
    cli().arg("check").arg(dir.path()).output().unwrap()
}

#[test]
fn check_on_the_shipped_example_reports_rustc_style_and_exits_1() {
    let output = cli()
        .args(["check", "examples/migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    insta::assert_snapshot!("example_human", text);
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn json_output_has_the_documented_shape() {
    let output = cli()
        .args(["check", "--format", "json", "examples/migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let files = json["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    let risky = &files[2];
    assert_eq!(
        risky["path"],
        "examples/migrations/20240301000000_risky_changes.sql"
    );
    let first = &risky["diagnostics"][1];
    let keys: Vec<_> = first.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "category",
            "column",
            "end_column",
            "end_line",
            "fix",
            "help",
            "line",
            "message",
            "rule",
            "severity"
        ]
    );
    let fix = &first["fix"];
    let keys: Vec<_> = fix.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["edits", "new_files", "title"]);
    let edit = &fix["edits"][0];
    let keys: Vec<_> = edit.as_object().unwrap().keys().cloned().collect();
    assert_eq!(
        keys,
        [
            "byte_end",
            "byte_start",
            "column",
            "end_column",
            "end_line",
            "line",
            "path",
            "replacement"
        ]
    );
    assert_eq!(edit["path"], risky["path"]);
    assert_eq!(fix["new_files"].as_array().unwrap().len(), 2);
    assert_eq!(first["rule"], "rename-column");
    assert_eq!(first["severity"], "error");
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(2), Some(19))
    );
    assert_eq!(
        (first["end_line"].as_u64(), first["end_column"].as_u64()),
        (Some(2), Some(49))
    );
}

#[test]
fn check_of_a_directory_prints_what_its_whole_report_renders() {
    use migration_safety::{FailOn, Format, Settings};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/streamed");
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(clean.path().join("1.sql"), "SELECT 1;\n").unwrap();
    for (name, format) in [
        ("human", Format::Human),
        ("json", Format::Json),
        ("sarif", Format::Sarif),
        ("github", Format::Github),
        ("gitlab", Format::Gitlab),
        ("junit", Format::Junit),
        ("concise", Format::Concise),
    ] {
        for (dir, code) in [(std::path::Path::new(dir), 1), (clean.path(), 0)] {
            let output = cli()
                .args(["check", "--format", name, "--fail-on", "error"])
                .arg(dir)
                .output()
                .unwrap();
            assert_eq!(output.status.code(), Some(code), "{name}: {output:?}");
            // What `check` printed when it rendered the whole report at the end.
            let settings = Settings::default().fixes(format.shows_fixes());
            let report = migration_safety::lint_dir(dir, &settings).unwrap();
            let whole = match format {
                Format::Human => report.to_human(false),
                format => format!("{}\n", report.render(format, FailOn::Error).trim_end()),
            };
            assert_eq!(stdout(&output), whole, "{name}");
        }
    }
}

#[test]
fn clean_input_exits_0() {
    let output = check_one_migration("CREATE TABLE t (id bigint PRIMARY KEY);\n");
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("no hazards found in 1 file"));
}

#[test]
fn warnings_alone_exit_0() {
    let output = check_one_migration("ALTER TABLE users ADD COLUMN nickname text;\n");
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("warning[missing-lock-timeout]"));
}

#[test]
fn settings_flags_change_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("1.sql");
    std::fs::write(
        &file,
        "SET lock_timeout = '1s';\nALTER TABLE users ADD COLUMN active boolean DEFAULT true;\n",
    )
    .unwrap();
    assert_eq!(
        cli()
            .arg("check")
            .arg(&file)
            .output()
            .unwrap()
            .status
            .code(),
        Some(0)
    );
    let old = cli()
        .args(["check", "--pg-version", "10"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(old.status.code(), Some(1));
    assert!(stdout(&old).contains("before PostgreSQL 11 (the target is 10)"));
    let allowed = cli()
        .args([
            "check",
            "--pg-version",
            "10",
            "--allow",
            "add-column-with-default",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(allowed.status.code(), Some(0));
    let warned = cli()
        .args([
            "check",
            "--pg-version",
            "10",
            "--warn",
            "add-column-with-default",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(warned.status.code(), Some(0));
    assert!(stdout(&warned).contains("warning[add-column-with-default]"));
}

#[test]
fn small_table_rows_on_the_command_line_overrides_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("1.sql");
    std::fs::write(
        &file,
        "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN id TYPE bigint;\n",
    )
    .unwrap();
    let mut snapshot = migration_safety::stats::Snapshot::new("15.18");
    snapshot
        .tables
        .push(migration_safety::stats::TableStats::new(
            "public",
            "users",
            400,
            64 << 10,
        ));
    let stats = dir.path().join("stats.json");
    std::fs::write(&stats, snapshot.to_json()).unwrap();
    // The configuration says 400 rows is not small.
    let config = dir.path().join("migration-safety.toml");
    std::fs::write(&config, "small_table_rows = 100\n").unwrap();
    let check = |extra: &[&str]| {
        let output = cli()
            .args(["check", "--config"])
            .arg(&config)
            .arg("--stats-file")
            .arg(&stats)
            .args(extra)
            .arg(&file)
            .output()
            .unwrap();
        (output.status.code(), stdout(&output))
    };
    let (code, out) = check(&[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("error[change-column-type]"), "{out}");
    let (code, out) = check(&["--small-table-rows", "1000"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("a warning, not an error: `users` has about 400 rows (fewer than `small_table_rows = 1000`)"),
        "{out}"
    );
    let (code, out) = check(&["--small-table-rows", "many"]);
    assert_eq!(code, Some(2), "{out}");
}

#[test]
fn bad_usage_and_unreadable_input_exit_2_with_a_message() {
    for (args, message) in [
        (
            &["check", "does/not/exist"][..],
            "`does/not/exist` does not exist",
        ),
        (
            &["check", "--pg-version", "9", "examples"],
            "PostgreSQL 9 is not supported",
        ),
        (
            &["check", "--allow", "drop-tabel", "examples"],
            "did you mean `drop-table`?",
        ),
        (
            &["check", "--framework", "liquibase", "examples"],
            "unknown framework `liquibase`",
        ),
        (&["check"], "required"),
        (&["explain", "nope"], "unknown rule `nope`"),
        (&["frobnicate"], "unrecognized subcommand"),
    ] {
        let output = cli().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}

#[test]
fn unreadable_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli()
        .arg("check")
        .arg(dir.path().join("missing.sql"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn rules_lists_every_rule_and_explain_prints_its_documentation() {
    let rules = cli().arg("rules").output().unwrap();
    assert_eq!(rules.status.code(), Some(0));
    let listing = stdout(&rules);
    for rule in migration_safety::rules() {
        // Columns line up: `Category` and `Severity` honour the padding of the format string.
        let row = format!(
            "{:<42} {:<22} {:<8} {:<6} {}",
            rule.name,
            rule.category.as_str(),
            rule.default_severity.as_str(),
            rule.since,
            if rule.has_fix { "yes" } else { "" }
        );
        let row = format!("{}\n", row.trim_end());
        assert!(listing.contains(&row), "{row:?} not in\n{listing}");
    }
    let explain = cli().args(["explain", "set-not-null"]).output().unwrap();
    assert_eq!(explain.status.code(), Some(0));
    assert_eq!(
        stdout(&explain),
        migration_safety::rule("set-not-null")
            .unwrap()
            .to_markdown()
    );
}

#[test]
fn framework_is_detected_or_given() {
    let fixture = "migration-safety/tests/fixtures/concurrently-in-transaction/good_sqlx";
    // Detected from `-- no-transaction`: the index is built outside a transaction.
    let detected = cli().args(["check", fixture]).output().unwrap();
    assert_eq!(detected.status.code(), Some(0), "{}", stdout(&detected));
    // As Atlas runs it, the same file runs in a transaction, and the help says how to opt out.
    let atlas = cli()
        .args(["check", "--framework", "atlas", fixture])
        .output()
        .unwrap();
    assert_eq!(atlas.status.code(), Some(1));
    assert!(
        stdout(&atlas).contains(
            "start the file with the header `-- atlas:txmode none` followed by a blank line"
        ),
        "{}",
        stdout(&atlas)
    );
    // The layout is refinery's own: a sqlx file name is not a refinery migration.
    let refinery = cli()
        .args(["check", "--framework", "refinery", fixture])
        .output()
        .unwrap();
    assert_eq!(refinery.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refinery.stderr)
            .contains("holds no refinery migration (expected `V<n>__<name>.sql`)"),
        "{}",
        String::from_utf8_lossy(&refinery.stderr)
    );
}

#[test]
fn down_migrations_are_checked_on_request() {
    let fixture = "tests/consumers/goose/db/migrations";
    let up = cli().args(["check", fixture]).output().unwrap();
    assert_eq!(up.status.code(), Some(0), "{}", stdout(&up));
    let down = cli()
        .args(["check", "--check-down", fixture])
        .output()
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(
        stdout(&down).contains("error[drop-table]"),
        "{}",
        stdout(&down)
    );
}

#[test]
fn non_ascii_text_outside_the_checked_section_keeps_positions() {
    // Text outside the checked goose section is blanked; a multi-byte character there used to
    // shift every later offset: the human output panicked and the JSON positions were wrong.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_users.sql"),
        "-- +goose Up\n-- café 🦀 naïve\nCREATE TABLE users (id bigint, email text);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_drop.sql"),
        "-- +goose Down\nSELECT 'é🦀é🦀';\nDROP TABLE users;\n-- +goose Up\nSELECT 'ü';  DROP TABLE users;\n",
    )
    .unwrap();
    let path = dir.path().to_str().unwrap();
    let human = cli()
        .args(["check", "--check-down", path])
        .output()
        .unwrap();
    assert_eq!(human.status.code(), Some(1), "{human:?}");
    let text = stdout(&human);
    assert!(text.contains("2_drop.sql:5:14"), "{text}");
    assert!(text.contains("2_drop.sql:3:1"), "{text}");
    let json = cli()
        .args(["check", "--check-down", "--format", "json", path])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let positions: Vec<(String, u64, u64, u64)> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| {
            f["diagnostics"].as_array().unwrap().iter().map(|d| {
                (
                    d["rule"].as_str().unwrap().to_owned(),
                    d["line"].as_u64().unwrap(),
                    d["column"].as_u64().unwrap(),
                    d["end_column"].as_u64().unwrap(),
                )
            })
        })
        .filter(|(rule, ..)| rule == "drop-table")
        .collect();
    assert_eq!(
        positions,
        [
            ("drop-table".to_owned(), 5, 14, 30),
            ("drop-table".to_owned(), 3, 1, 17)
        ],
        "{json}"
    );
}

#[test]
fn hostile_directories_end_with_notes() {
    // Two symbolic links back into the directory used to hang with unbounded memory, and a
    // FIFO named like a migration waited forever.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1_users.sql"), "DROP TABLE users;\n").unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("again")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("and_again")).unwrap();
    let fifo = dir.path().join("2_pipe.sql");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let path = dir.path().to_str().unwrap();
    let output = cli()
        .args(["check", "--framework", "plain", path])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert_eq!(text.matches("error[drop-table]").count(), 1, "{text}");
    assert!(
        text.contains(&format!(
            "note: skipped `{path}/2_pipe.sql`: a FIFO, not a regular file"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("note: skipped `{path}/again`: a symbolic link to")),
        "{text}"
    );
    let json = cli()
        .args(["check", "--format", "json", path])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(json["skipped"].as_array().unwrap().len(), 3, "{json}");
}

/// A git work tree holding one committed migration that lacks a `lock_timeout`.
fn fix_repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    std::fs::write(
        migrations.join("1_users.sql"),
        "CREATE TABLE users (id bigint);\n",
    )
    .unwrap();
    std::fs::write(
        migrations.join("2_nickname.sql"),
        "ALTER TABLE users ADD COLUMN nickname text;\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git is installed");
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "init"]);
    (dir, migrations)
}

#[test]
fn fix_prints_a_diff_and_changes_nothing_by_default() {
    let (dir, migrations) = fix_repo();
    let before = std::fs::read_to_string(migrations.join("2_nickname.sql")).unwrap();
    let output = cli()
        .current_dir(dir.path())
        .args(["fix", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output),
        "--- a/migrations/2_nickname.sql\n+++ b/migrations/2_nickname.sql\n@@ -1 +1,2 @@\n+SET lock_timeout = '5s';\n ALTER TABLE users ADD COLUMN nickname text;\n"
    );
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr, "would fix 1 finding in 1 file\n");
    let after = std::fs::read_to_string(migrations.join("2_nickname.sql")).unwrap();
    assert_eq!(before, after);
}

#[test]
fn fix_write_refuses_uncommitted_changes_unless_allowed() {
    let (dir, migrations) = fix_repo();
    let file = migrations.join("2_nickname.sql");
    std::fs::write(
        &file,
        "ALTER TABLE users ADD COLUMN nickname text; -- edited\n",
    )
    .unwrap();
    let output = cli()
        .current_dir(dir.path())
        .args(["fix", "--write", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("uncommitted changes"), "{stderr}");
    assert!(stderr.contains("migrations/2_nickname.sql"), "{stderr}");
    assert!(stderr.contains("--allow-dirty"), "{stderr}");
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .ends_with("-- edited\n")
    );

    let output = cli()
        .current_dir(dir.path())
        .args(["fix", "--write", "--allow-dirty", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).is_empty(), "--write alone prints no diff");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text; -- edited\n"
    );
    // Fixed: nothing left to do.
    let output = cli()
        .current_dir(dir.path())
        .args(["check", "--fail-on", "warning", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

#[test]
fn fix_write_applies_committed_files_and_the_rule_filter() {
    let (dir, migrations) = fix_repo();
    let file = migrations.join("2_nickname.sql");
    let output = cli()
        .current_dir(dir.path())
        .args(["fix", "--write", "--rule", "set-not-nul", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("did you mean `set-not-null`?")
    );
    let output = cli()
        .current_dir(dir.path())
        .args(["fix", "--rule", "drop-table", "migrations"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8(output.stderr)
            .unwrap()
            .contains("`drop-table` has no automatic fix")
    );
    let output = cli()
        .current_dir(dir.path())
        .args([
            "fix",
            "--write",
            "--diff",
            "--rule",
            "missing-lock-timeout",
            "migrations",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).contains("+SET lock_timeout = '5s';"));
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .starts_with("SET lock_timeout = '5s';\n")
    );
}

/// The README's `fix` section shows what `fix` prints on the example migrations: the diff on
/// standard output, and the summary on standard error.
#[test]
fn fix_exits_1_when_findings_without_a_fix_remain_and_prints_what_the_readme_shows() {
    let output = cli().args(["fix", "examples/migrations"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert!(stderr.contains("without an automatic fix"), "{stderr}");

    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = &readme[readme.find("## Fix it: `fix`").unwrap()..];
    let diff = section.split("```diff\n").nth(1).unwrap();
    let diff = &diff[..diff.find("```\n").unwrap()];
    assert_eq!(
        diff,
        stdout(&output),
        "README.md shows the diff `fix` prints"
    );
    let summary = section
        .split_once("and on standard error: `")
        .and_then(|(_, rest)| rest.split_once("`, with a note"))
        .unwrap()
        .0;
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(
        words(summary),
        words(stderr.lines().next().unwrap()),
        "README.md quotes the summary `fix` prints"
    );
}

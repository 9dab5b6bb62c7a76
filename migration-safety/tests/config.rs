//! `migration-safety.toml` as the command line reads it: discovery, `--config`, precedence,
//! every kind of mistake, `init`, and what the keys do.

use std::path::Path;

use assert_cmd::Command;

/// A scratch project: `migrations/` holds a table, a dropped column and a new column.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "migrations/1_users.sql",
                "CREATE TABLE users (id bigint, email text, name text);\n",
            ),
            (
                "migrations/2_drop_email.sql",
                "ALTER TABLE users DROP COLUMN email;\n",
            ),
            (
                "migrations/3_nickname.sql",
                "ALTER TABLE users ADD COLUMN nickname text;\n",
            ),
        ],
    );
    dir
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// `(file name, rule)` of every finding, from the JSON output.
    fn findings(&self) -> Vec<(String, String)> {
        let json: serde_json::Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", self.stdout, self.stderr));
        let mut found = Vec::new();
        for file in json["files"].as_array().unwrap() {
            let name = file["path"].as_str().unwrap().rsplit('/').next().unwrap();
            for d in file["diagnostics"].as_array().unwrap() {
                found.push((name.to_owned(), d["rule"].as_str().unwrap().to_owned()));
            }
        }
        found
    }

    /// The files reported, from the JSON output.
    fn files(&self) -> Vec<String> {
        let json: serde_json::Value = serde_json::from_str(&self.stdout).unwrap();
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

fn run(cwd: &Path, args: &[&str]) -> Run {
    let output = Command::cargo_bin("migration-safety")
        .unwrap()
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn the_file_is_found_from_the_working_directory_upwards() {
    let dir = project();
    let check = ["check", "--format", "json", "../migrations"];
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let without = run(&sub, &check);
    assert_eq!(without.code, 1);
    assert_eq!(
        without.findings(),
        pairs(&[
            ("2_drop_email.sql", "missing-lock-timeout"),
            ("2_drop_email.sql", "drop-column"),
            ("3_nickname.sql", "missing-lock-timeout"),
        ])
    );
    write(
        dir.path(),
        &[(
            "migration-safety.toml",
            "[rules]\ndrop-column = \"allow\"\n\n[assume]\nlock_timeout = \"5s\"\n",
        )],
    );
    let with = run(&sub, &check);
    assert_eq!(with.code, 0, "{}", with.stderr);
    assert_eq!(with.findings(), []);
}

#[test]
fn config_names_the_file_instead_of_the_search() {
    let dir = project();
    write(
        dir.path(),
        &[
            (
                "migration-safety.toml",
                "[rules]\ndrop-column = \"allow\"\n",
            ),
            ("ci/strict.toml", "[rules]\nlocking = \"deny\"\n"),
        ],
    );
    let strict = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "--config",
            "ci/strict.toml",
            "migrations",
        ],
    );
    assert_eq!(strict.code, 1);
    // The discovered file's `drop-column = "allow"` does not apply; the category `locking`
    // makes missing-lock-timeout an error.
    assert_eq!(
        strict.findings(),
        pairs(&[
            ("2_drop_email.sql", "missing-lock-timeout"),
            ("2_drop_email.sql", "drop-column"),
            ("3_nickname.sql", "missing-lock-timeout"),
        ])
    );
    let missing = run(
        dir.path(),
        &["check", "--config", "nowhere.toml", "migrations"],
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read `nowhere.toml`: "),
        "{}",
        missing.stderr
    );
}

#[test]
fn flags_override_the_file_and_a_rule_overrides_its_category() {
    let dir = project();
    write(
        dir.path(),
        &[(
            "migration-safety.toml",
            "start_after = \"2\"\nframework = \"golang-migrate\"\n\n[rules]\nmissing-lock-timeout = \"allow\"\nlocking = \"deny\"\nbackward-incompatible = \"allow\"\n",
        )],
    );
    // From the file: golang-migrate reads `<n>_<name>.up.sql`, which `migrations/` lacks.
    let file = run(dir.path(), &["check", "migrations"]);
    assert_eq!(file.code, 2);
    assert!(
        file.stderr.contains("holds no golang-migrate migration"),
        "{}",
        file.stderr
    );
    let flags = [
        "check",
        "--format",
        "json",
        "--framework",
        "auto",
        "--start-after",
        "1",
        "--deny",
        "drop-column",
        "migrations",
    ];
    let overridden = run(dir.path(), &flags);
    assert_eq!(overridden.code, 1, "{}", overridden.stderr);
    // missing-lock-timeout stays off although its category is denied; drop-column is denied
    // by the flag although its category is allowed; `--start-after 1` reports migration 2.
    assert_eq!(
        overridden.findings(),
        pairs(&[("2_drop_email.sql", "drop-column")])
    );
    assert_eq!(overridden.files(), ["2_drop_email.sql", "3_nickname.sql"]);
}

#[test]
fn start_after_and_exclude_report_only_new_files_but_replay_every_one() {
    let dir = project();
    write(
        dir.path(),
        &[
            (
                "migrations/4_email_idx.sql",
                "CREATE INDEX CONCURRENTLY users_name_idx ON users (name);\n",
            ),
            (
                "migration-safety.toml",
                "start_after = 2\nexclude = [\"migrations/3_*.sql\"]\n",
            ),
        ],
    );
    let report = run(dir.path(), &["check", "--format", "json", "migrations"]);
    assert_eq!(report.code, 0, "{}", report.stdout);
    // Migration 4 indexes a column migration 1 created: the replayed schema knows `users`.
    assert_eq!(report.files(), ["4_email_idx.sql"]);
    assert_eq!(report.findings(), []);
    // A file given on its own is excluded too, and versioned by its directory's layout.
    let alone = run(
        dir.path(),
        &["check", "--format", "json", "migrations/2_drop_email.sql"],
    );
    assert_eq!(alone.files(), Vec::<String>::new());
}

#[test]
fn an_assumed_lock_timeout_silences_missing_lock_timeout_and_reset_returns_to_it() {
    let dir = project();
    write(
        dir.path(),
        &[
            ("migration-safety.toml", "[assume]\nlock_timeout = 5000\n"),
            (
                "migrations/4_reset.sql",
                "SET lock_timeout = 0;\nALTER TABLE users ADD COLUMN a text;\nRESET lock_timeout;\nALTER TABLE users ADD COLUMN b text;\n",
            ),
        ],
    );
    let report = run(
        dir.path(),
        &[
            "check",
            "--format",
            "json",
            "--allow",
            "drop-column",
            "migrations",
        ],
    );
    assert_eq!(report.code, 0);
    assert_eq!(
        report.findings(),
        pairs(&[("4_reset.sql", "missing-lock-timeout")])
    );
    let json: serde_json::Value = serde_json::from_str(&report.stdout).unwrap();
    assert_eq!(json["files"][3]["diagnostics"][0]["line"], 2);
}

#[test]
fn every_kind_of_mistake_names_the_file_line_and_column() {
    let dir = project();
    let cases = [
        ("unknown key", "pg_version = 16\nfail_onn = \"warning\"\n"),
        ("unknown table", "[rule]\ndrop-column = \"allow\"\n"),
        ("unknown rule", "[rules]\ndrop-colum = \"allow\"\n"),
        ("unknown category", "[rules]\nlockng = \"warn\"\n"),
        ("bad level", "[rules]\n\"drop-column\" = \"allowed\"\n"),
        ("bad level type", "[rules]\ndrop-column = false\n"),
        ("bad type", "check_down = \"yes\"\n"),
        ("bad pg_version", "pg_version = 9\n"),
        ("bad framework", "framework = \"sqlxx\"\n"),
        ("bad fail_on", "fail_on = \"warnings\"\n"),
        (
            "bad glob",
            "exclude = [\"ok/*.sql\", \"migrations/[0-9\"]\n",
        ),
        ("exclude not a list", "exclude = \"migrations/1_*.sql\"\n"),
        ("empty start_after", "start_after = \"\"\n"),
        ("unknown setting", "[assume]\nlock_timout = \"5s\"\n"),
        (
            "bad duration",
            "[assume]\nstatement_timeout = \"5 seconds\"\n",
        ),
        ("bad setting type", "[assume]\ntimezone = true\n"),
        ("bad app", "app = \"sea_orm\"\n"),
        ("empty base_ref", "base_ref = \" \"\n"),
        (
            "two statistics sources",
            "database_url_env = \"DATABASE_URL\"\nstats_file = \"stats.json\"\n",
        ),
        (
            "a URL for an environment variable",
            "database_url_env = \"postgresql://app@db/app\"\n",
        ),
        ("negative small_table_rows", "small_table_rows = -1\n"),
        ("not toml", "pg_version = \n"),
    ];
    let mut out = String::new();
    for (case, text) in cases {
        write(dir.path(), &[("migration-safety.toml", text)]);
        let result = run(dir.path(), &["check", "migrations"]);
        assert_eq!(result.code, 2, "{case}: {}", result.stdout);
        assert_eq!(result.stdout, "", "{case}");
        out.push_str(&format!("{case}:\n{text}{}\n", result.stderr));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn init_writes_a_commented_file_with_the_detected_framework_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "db/migrations/20240101000000_users.sql",
            "-- migrate:up\nCREATE TABLE users (id bigint);\n-- migrate:down\nDROP TABLE users;\n",
        )],
    );
    let init = run(dir.path(), &["init"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    assert_eq!(
        init.stdout,
        "wrote migration-safety.toml (framework: dbmate, detected from `db/migrations`)\n"
    );
    let text = std::fs::read_to_string(dir.path().join("migration-safety.toml")).unwrap();
    insta::assert_snapshot!(text);
    // The file it writes is valid, and `check` reads it.
    let check = run(dir.path(), &["check", "db/migrations"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);

    std::fs::write(
        dir.path().join("migration-safety.toml"),
        "pg_version = 16\n",
    )
    .unwrap();
    let again = run(dir.path(), &["init"]);
    assert_eq!(again.code, 2);
    assert_eq!(
        again.stderr,
        "error: `migration-safety.toml` already exists: edit it, or pass `--force` to replace it\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("migration-safety.toml")).unwrap(),
        "pg_version = 16\n"
    );
    let forced = run(dir.path(), &["init", "--force"]);
    assert_eq!(forced.code, 0);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("migration-safety.toml")).unwrap(),
        text
    );

    let empty = tempfile::tempdir().unwrap();
    let undetected = run(empty.path(), &["init"]);
    assert_eq!(
        undetected.stdout,
        "wrote migration-safety.toml (no migrations directory found: the framework is detected per directory)\n"
    );
    let text = std::fs::read_to_string(empty.path().join("migration-safety.toml")).unwrap();
    assert!(text.contains("\nframework = \"auto\"\n"), "{text}");
}

#[test]
fn an_unknown_rule_flag_suggests_the_closest_and_points_to_the_list() {
    let dir = project();
    let typo = run(
        dir.path(),
        &["check", "--allow", "drop-colum", "migrations"],
    );
    assert_eq!(typo.code, 2);
    assert_eq!(
        typo.stderr,
        "error: unknown rule `drop-colum` (did you mean `drop-column`?); `migration-safety rules` lists the rules and their categories\n"
    );
}

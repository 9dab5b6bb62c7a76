//! The application's own code decides the backward-incompatible rules: in a temporary git
//! repository, a drop or rename that the code at the base ref still uses stays an error naming
//! the place, and one that nothing there uses is a warning that says so. For diesel, sqlx and
//! SeaORM, and without a base.

use std::path::Path;

use migration_safety::{Diagnostic, History, Settings, Severity, lint_dir};

#[path = "common/git.rs"]
mod git;
use git::git;

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// A crate depending on `dependency`, with `files`, committed on `main`: the base.
fn repository(dependency: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "Cargo.toml",
            &format!(
                "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\n{dependency} = \"1\"\n"
            ),
        )],
    );
    write(dir.path(), files);
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    dir
}

fn commit(dir: &Path, files: &[(&str, &str)]) {
    write(dir, files);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "change"]);
}

/// The findings of `rule` when the migrations are checked against the code at `base`.
fn findings(dir: &Path, base: Option<&str>, rule: &str) -> Vec<Diagnostic> {
    let mut settings = Settings::default();
    if let Some(base) = base {
        settings = settings.base_ref(base);
    }
    let report = lint_dir(dir.join("migrations"), &settings).unwrap();
    report
        .diagnostics()
        .filter(|(_, d)| d.rule == rule)
        .map(|(_, d)| d.clone())
        .collect()
}

const CREATE: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);\nCREATE TABLE events (id bigint PRIMARY KEY);\n";

const DIESEL_WITH_NAME: &str = "diesel::table! {\n    users (id) {\n        id -> Int8,\n        email -> Text,\n        name -> Nullable<Text>,\n    }\n}\n";
const DIESEL_WITHOUT_NAME: &str =
    "diesel::table! {\n    users (id) {\n        id -> Int8,\n        email -> Text,\n    }\n}\n";

#[test]
fn diesel_drop_column_follows_the_code_at_the_base() {
    let dir = repository(
        "diesel",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/schema.rs", DIESEL_WITH_NAME),
        ],
    );
    write(
        dir.path(),
        &[
            (
                "migrations/2_drop_name.sql",
                "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n",
            ),
            ("src/schema.rs", DIESEL_WITHOUT_NAME),
        ],
    );
    let used = findings(dir.path(), Some("main"), "drop-column");
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].severity, Severity::Error);
    assert!(
        used[0].message.contains(
            "the code at `main` still reads `users.name`: src/schema.rs:5: users.name; deploy code that no longer uses it first"
        ),
        "{}",
        used[0].message
    );

    // The release that stopped reading the column is deployed: the contract phase may run.
    commit(dir.path(), &[("src/schema.rs", DIESEL_WITHOUT_NAME)]);
    let unused = findings(dir.path(), Some("main"), "drop-column");
    assert_eq!(unused[0].severity, Severity::Warning);
    assert!(
        unused[0]
            .message
            .contains("no code at `main` reads `users.name`, nor does the working tree's diesel code: the contract phase may run"),
        "{}",
        unused[0].message
    );
}

#[test]
fn without_a_base_the_finding_stays_an_error_and_says_how_to_name_one() {
    let dir = repository(
        "diesel",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/schema.rs", DIESEL_WITH_NAME),
            (
                "migrations/2_drop_name.sql",
                "ALTER TABLE users DROP COLUMN name;\n",
            ),
        ],
    );
    let still_read = findings(dir.path(), None, "drop-column");
    assert_eq!(still_read[0].severity, Severity::Error);
    assert!(still_read[0].message.contains("even the code in the working tree still reads `users.name` (src/schema.rs:5: users.name), so this breaks the new release too"), "{}", still_read[0].message);
    assert!(still_read[0].message.contains("`--base-ref REF`"));
    write(dir.path(), &[("src/schema.rs", DIESEL_WITHOUT_NAME)]);
    let no_longer = findings(dir.path(), None, "drop-column");
    assert_eq!(no_longer[0].severity, Severity::Error);
    assert!(no_longer[0].message.contains("the code in the working tree does not read `users.name`, but without a base the release still running cannot be seen"), "{}", no_longer[0].message);
}

#[test]
fn sqlx_offline_data_and_query_macros_decide_a_rename() {
    let offline = "{\n  \"db_name\": \"PostgreSQL\",\n  \"query\": \"SELECT id, name FROM users WHERE email = $1\",\n  \"describe\": {\n    \"columns\": [\n      {\n        \"ordinal\": 0,\n        \"name\": \"id\",\n        \"type_info\": \"Int8\"\n      },\n      {\n        \"ordinal\": 1,\n        \"name\": \"name\",\n        \"type_info\": \"Text\"\n      }\n    ],\n    \"parameters\": {\n      \"Left\": [\n        \"Text\"\n      ]\n    },\n    \"nullable\": [\n      false,\n      true\n    ]\n  },\n  \"hash\": \"0\"\n}";
    let dir = repository(
        "sqlx",
        &[
            ("migrations/1_create.sql", CREATE),
            (".sqlx/query-0.json", offline),
            (
                "src/events.rs",
                "pub async fn count(pool: &sqlx::PgPool) -> i64 {\n    sqlx::query_scalar!(\"SELECT count(*) FROM events\").fetch_one(pool).await.unwrap().unwrap()\n}\n",
            ),
        ],
    );
    write(
        dir.path(),
        &[(
            "migrations/2_rename.sql",
            "SET lock_timeout = '5s';\nALTER TABLE users RENAME COLUMN name TO full_name;\nDROP TABLE events;\n",
        )],
    );
    std::fs::remove_file(dir.path().join(".sqlx/query-0.json")).unwrap();
    std::fs::remove_file(dir.path().join("src/events.rs")).unwrap();
    let renamed = findings(dir.path(), Some("main"), "rename-column");
    assert_eq!(renamed[0].severity, Severity::Error);
    assert!(
        renamed[0].message.contains(
            "the code at `main` still reads `users.name`: .sqlx/query-0.json:3: users.name;"
        ),
        "{}",
        renamed[0].message
    );
    let dropped = findings(dir.path(), Some("main"), "drop-table");
    assert!(
        dropped[0]
            .message
            .contains("the code at `main` still uses `events`: src/events.rs:2: events;"),
        "{}",
        dropped[0].message
    );
    git(dir.path(), &["add", "-A"]);
    git(
        dir.path(),
        &["commit", "-q", "-m", "stop using name and events"],
    );
    let renamed = findings(dir.path(), Some("main"), "rename-column");
    assert_eq!(
        renamed[0].severity,
        Severity::Warning,
        "{}",
        renamed[0].message
    );
    let dropped = findings(dir.path(), Some("main"), "drop-table");
    assert_eq!(
        dropped[0].severity,
        Severity::Warning,
        "{}",
        dropped[0].message
    );
    assert!(
        dropped[0]
            .message
            .contains("no code at `main` uses `events`")
    );
}

#[test]
fn seaorm_column_names_and_unreadable_code_at_the_base() {
    let entity = "use sea_orm::entity::prelude::*;\n\n#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]\n#[sea_orm(table_name = \"users\")]\npub struct Model {\n    #[sea_orm(primary_key)]\n    pub id: i64,\n    #[sea_orm(column_name = \"name\")]\n    pub display_name: Option<String>,\n}\n";
    let dir = repository(
        "sea-orm",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/entities/users.rs", entity),
        ],
    );
    write(
        dir.path(),
        &[(
            "migrations/2_type.sql",
            "SET lock_timeout = '5s';\nALTER TABLE users ALTER COLUMN name TYPE varchar(20);\n",
        )],
    );
    let changed = findings(dir.path(), Some("main"), "change-column-type");
    assert!(
        changed[0].message.contains(
            "the code at `main` still reads `users.name`: src/entities/users.rs:9: users.name"
        ),
        "{}",
        changed[0].message
    );
    commit(
        dir.path(),
        &[(
            "src/entities/users.rs",
            "pub struct Model {\n    pub id: i64,\n",
        )],
    );
    write(dir.path(), &[("src/entities/users.rs", entity)]);
    let unknown = findings(dir.path(), Some("main"), "change-column-type");
    assert_eq!(unknown[0].severity, Severity::Error);
    assert!(
        unknown[0].message.contains(
            "whether the code at `main` reads `users.name` is unknown: src/entities/users.rs:"
        ),
        "{}",
        unknown[0].message
    );
}

#[test]
fn a_base_ref_git_does_not_know_is_an_error() {
    let dir = repository(
        "diesel",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/schema.rs", DIESEL_WITH_NAME),
        ],
    );
    let settings = Settings::default().base_ref("no-such-ref");
    let error = lint_dir(dir.path().join("migrations"), &settings).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("`no-such-ref` is not a commit of the git repository"),
        "{error}"
    );
}

/// The history an editor lints a migration against (the language server's) reads the
/// application's code as `lint_dir` does, and gives the same verdicts: without a base, with a
/// base that still reads the column, and with one that no longer does.
#[test]
fn an_edited_migration_gets_the_same_verdicts_as_the_check() {
    let drop = "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n";
    let dir = repository(
        "diesel",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/schema.rs", DIESEL_WITH_NAME),
        ],
    );
    write(dir.path(), &[("migrations/2_drop_name.sql", drop)]);
    let file = dir.path().join("migrations/2_drop_name.sql");
    let verdicts = |base: Option<&str>| {
        let settings = match base {
            Some(base) => Settings::default().base_ref(base),
            None => Settings::default(),
        };
        let history = History::before(&file, &settings).unwrap().unwrap();
        let edited: Vec<_> = history
            .lint(drop.as_bytes())
            .diagnostics()
            .filter(|(_, d)| d.rule == "drop-column")
            .map(|(_, d)| (d.severity, d.message.clone()))
            .collect();
        let checked: Vec<_> = findings(dir.path(), base, "drop-column")
            .into_iter()
            .map(|d| (d.severity, d.message))
            .collect();
        assert_eq!(edited, checked);
        edited
    };
    let without_base = verdicts(None);
    assert!(
        without_base[0]
            .1
            .contains("even the code in the working tree still reads `users.name`"),
        "{without_base:?}"
    );
    let still_read = verdicts(Some("main"));
    assert_eq!(still_read[0].0, Severity::Error);
    assert!(
        still_read[0]
            .1
            .contains("the code at `main` still reads `users.name`: src/schema.rs:5: users.name"),
        "{still_read:?}"
    );
    commit(dir.path(), &[("src/schema.rs", DIESEL_WITHOUT_NAME)]);
    let unused = verdicts(Some("main"));
    assert_eq!(unused[0].0, Severity::Warning);
    assert!(
        unused[0].1.contains("no code at `main` reads `users.name`"),
        "{unused:?}"
    );
}

/// Nothing running reads the column, but changing its type still rewrites the table under
/// its lock: the finding stays an error, and says both.
#[test]
fn a_type_change_nothing_reads_still_rewrites() {
    let dir = repository(
        "diesel",
        &[
            ("migrations/1_create.sql", CREATE),
            ("src/schema.rs", DIESEL_WITHOUT_NAME),
        ],
    );
    write(
        dir.path(),
        &[(
            "migrations/2_type.sql",
            "SET lock_timeout = '5s';\nALTER TABLE users ALTER COLUMN name TYPE varchar(20);\n",
        )],
    );
    let changed = findings(dir.path(), Some("main"), "change-column-type");
    assert_eq!(changed[0].severity, Severity::Error);
    assert!(
        changed[0].message.contains(
            "no code at `main` reads `users.name`, nor does the working tree's diesel code, but the lock and the rewrite remain"
        ),
        "{}",
        changed[0].message
    );
}

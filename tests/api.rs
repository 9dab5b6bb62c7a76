//! The library API as a project's own test suite uses it.

use migration_safety::{Settings, lint_dir, lint_sql};

#[test]
fn a_custom_test_suite_can_lint_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("1_create.sql"), "CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email_idx ON users (email);\n").unwrap();
    std::fs::write(
        dir.path().join("2_rename.sql"),
        "ALTER TABLE users RENAME COLUMN email TO email_address;\n",
    )
    .unwrap();
    let report = lint_dir(dir.path(), &Settings::default()).unwrap();
    let found: Vec<_> = report
        .diagnostics()
        .map(|(f, d)| {
            (
                f.path.rsplit('/').next().unwrap().to_owned(),
                d.rule,
                d.start.line,
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("2_rename.sql".to_owned(), "missing-lock-timeout", 1),
            ("2_rename.sql".to_owned(), "rename-column", 1),
        ]
    );
}

#[test]
fn assert_clean_panics_with_the_rendered_findings() {
    let report = lint_sql(
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        &Settings::default(),
    );
    let panic = std::panic::catch_unwind(|| report.assert_clean()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("error[set-not-null]"), "{message}");
    assert!(message.contains("--> input.sql:1:19"), "{message}");
    assert!(message.contains("ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;"), "{message}");
}

#[test]
fn check_dir_detects_the_framework_and_panics_with_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_users.up.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2_idx.up.sql"),
        "SET lock_timeout = '5s';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n",
    )
    .unwrap();
    let panic = std::panic::catch_unwind(|| migration_safety::check_dir(dir.path())).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("error[concurrently-in-transaction]"),
        "{message}"
    );
    assert!(
        message.contains("golang-migrate sends this migration as one query"),
        "{message}"
    );
}

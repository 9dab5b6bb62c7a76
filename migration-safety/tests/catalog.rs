//! The catalog replayed across migrations: schema-qualified names, `search_path`, and down
//! migrations checked without changing what the later migrations see.

use std::path::Path;

use migration_safety::{Framework, Settings, lint_dir, lint_sql};

fn rules(report: &migration_safety::Report) -> Vec<&'static str> {
    report.diagnostics().map(|(_, d)| d.rule).collect()
}

fn sql_rules(sql: &str) -> Vec<&'static str> {
    rules(&lint_sql(sql, &Settings::default()))
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, sql) in files {
        std::fs::write(dir.join(name), sql).unwrap();
    }
}

const SET_NOT_NULL: &str = "set-not-null";

#[test]
fn a_table_in_another_schema_is_not_the_unqualified_one() {
    let created = "SET lock_timeout = '1s';\nCREATE TABLE app.users (id bigint, email text);\n";
    // The new table is `app.users`: an unqualified `users` is `public.users`, an existing table.
    let unqualified = sql_rules(&format!(
        "{created}ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
    ));
    assert!(unqualified.contains(&SET_NOT_NULL), "{unqualified:?}");
    let qualified = sql_rules(&format!(
        "{created}ALTER TABLE app.users ALTER COLUMN email SET NOT NULL;"
    ));
    assert!(!qualified.contains(&SET_NOT_NULL), "{qualified:?}");
}

#[test]
fn public_is_the_default_search_path() {
    let found = sql_rules(
        "SET lock_timeout = '1s';\nCREATE TABLE users (id bigint, email text);\n\
         ALTER TABLE public.users ALTER COLUMN email SET NOT NULL;",
    );
    assert!(!found.contains(&SET_NOT_NULL), "{found:?}");
}

#[test]
fn set_search_path_decides_where_unqualified_names_resolve() {
    for set in [
        "SET search_path TO app, public;",
        "SET search_path = \"app\";",
        "SELECT set_config('search_path', 'app, public', false);",
    ] {
        let found = sql_rules(&format!(
            "SET lock_timeout = '1s';\n{set}\nCREATE TABLE users (id bigint, email text);\n\
             ALTER TABLE app.users ALTER COLUMN email SET NOT NULL;\n\
             ALTER TABLE users ALTER COLUMN email SET NOT NULL;"
        ));
        assert!(!found.contains(&SET_NOT_NULL), "{set}: {found:?}");
    }
    // After RESET, `users` is `public.users` again: not the new table.
    let found = sql_rules(
        "SET lock_timeout = '1s';\nSET search_path = app;\nCREATE TABLE users (id bigint, email text);\n\
         RESET search_path;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    );
    assert_eq!(found, [SET_NOT_NULL]);
}

#[test]
fn search_path_falls_through_to_the_schema_that_has_the_table() {
    let found = sql_rules(
        "SET lock_timeout = '1s';\nCREATE TABLE users (id bigint, email text);\n\
         SET search_path = app, public;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    );
    assert!(!found.contains(&SET_NOT_NULL), "{found:?}");
}

#[test]
fn set_local_search_path_ends_with_the_transaction() {
    let found = sql_rules(
        "SET lock_timeout = '1s';\nCREATE TABLE app.users (id bigint, email text);\n\
         BEGIN;\nSET LOCAL search_path = app;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\nCOMMIT;\n\
         ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
    );
    assert_eq!(found, [SET_NOT_NULL]);
    let report = lint_sql(
        "SET lock_timeout = '1s';\nCREATE TABLE app.users (id bigint, email text);\n\
         BEGIN;\nSET LOCAL search_path = app;\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\nCOMMIT;\n\
         ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        &Settings::default(),
    );
    assert_eq!(report.diagnostics().next().unwrap().1.start.line, 7);
}

#[test]
fn a_session_search_path_set_in_a_rolled_back_transaction_is_undone() {
    // Measured on PostgreSQL 15: ROLLBACK undoes a session-level SET made in the transaction.
    let found = sql_rules(
        "SET lock_timeout = '1s';\nBEGIN;\nSET search_path = app;\nROLLBACK;\n\
         CREATE TABLE users (id bigint, email text);\n\
         ALTER TABLE public.users ALTER COLUMN email SET NOT NULL;",
    );
    assert!(!found.contains(&SET_NOT_NULL), "{found:?}");
}

/// The messages of `rule`'s findings on `sql`.
fn messages(sql: &str, rule: &str) -> Vec<String> {
    lint_sql(sql, &Settings::default())
        .diagnostics()
        .filter(|(_, d)| d.rule == rule)
        .map(|(_, d)| d.message.clone())
        .collect()
}

#[test]
fn a_foreign_key_to_a_same_named_table_of_another_schema_is_not_self_referencing() {
    let add = "ALTER TABLE users ADD CONSTRAINT users_app_user_fkey FOREIGN KEY (app_user) REFERENCES app.users (id);";
    // `users` is `public.users`: the key locks two tables.
    let two = messages(
        &format!("SET lock_timeout = '1s';\n{add}"),
        "add-foreign-key",
    );
    assert_eq!(two.len(), 1);
    assert!(
        two[0].contains("on both `users` and the referenced table `app.users`")
            && two[0].contains("on both tables"),
        "{two:?}"
    );
    // With `app` first on the search_path, `users` is `app.users`: a self-reference.
    let one = messages(
        &format!("SET lock_timeout = '1s';\nSET search_path = app, public;\n{add}"),
        "add-foreign-key",
    );
    assert_eq!(one.len(), 1);
    assert!(
        one[0].contains("locks on `users`, blocking every INSERT, UPDATE and DELETE on it"),
        "{one:?}"
    );
}

#[test]
fn same_named_tables_in_two_schemas_are_different_tables() {
    let fk = "SET lock_timeout = '1s';\nALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\n";
    // An index of `app.orders` does not serve the key of `public.orders`.
    let elsewhere = sql_rules(&format!(
        "{fk}CREATE INDEX CONCURRENTLY orders_user_id_idx ON app.orders (user_id);"
    ));
    assert!(
        elsewhere.contains(&"foreign-key-without-index"),
        "{elsewhere:?}"
    );
    for index_on in ["orders", "public.orders"] {
        let here = sql_rules(&format!(
            "{fk}CREATE INDEX CONCURRENTLY orders_user_id_idx ON {index_on} (user_id);"
        ));
        assert!(!here.contains(&"foreign-key-without-index"), "{here:?}");
    }
}

#[test]
fn indexes_live_in_their_tables_schema() {
    let found = sql_rules(
        "SET lock_timeout = '1s';\nCREATE TABLE app.users (id bigint, email text);\n\
         CREATE UNIQUE INDEX users_email ON app.users (email);\n\
         ALTER TABLE app.users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email;",
    );
    assert!(!found.contains(&"add-unique-constraint"), "{found:?}");
}

#[test]
fn the_search_path_is_per_migration_file() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "1_app.sql",
                "SET search_path = app;\nCREATE TABLE users (id bigint, email text);",
            ),
            (
                "2_public.sql",
                "SET lock_timeout = '1s';\nCREATE TABLE users (id bigint, email text);\n\
                 ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            ),
        ],
    );
    let settings = Settings::default().framework(Framework::Plain);
    let found = rules(&lint_dir(dir.path(), &settings).unwrap());
    assert!(!found.contains(&SET_NOT_NULL), "{found:?}");
}

#[test]
fn down_migrations_leave_the_schema_of_the_up_migrations() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "1_users.up.sql",
                "CREATE TABLE users (id bigint, email text, CONSTRAINT email_nn CHECK (email IS NOT NULL));",
            ),
            // Undoing the check, creating a table and validating a constraint in a down
            // migration must change nothing that the next up migration sees.
            (
                "1_users.down.sql",
                "SET lock_timeout = '1s';\nALTER TABLE users DROP CONSTRAINT email_nn;\n\
                 CREATE TABLE audit (id bigint, note text);\n\
                 ALTER TABLE orders ADD CONSTRAINT total_nn CHECK (total IS NOT NULL);\nDROP TABLE users;",
            ),
            (
                "2_not_null.up.sql",
                "SET lock_timeout = '1s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n\
                 ALTER TABLE orders ALTER COLUMN total SET NOT NULL;",
            ),
            ("2_not_null.down.sql", "SELECT 1;"),
        ],
    );
    for check_down in [false, true] {
        let settings = Settings::default()
            .framework(Framework::GolangMigrate)
            .check_down(check_down);
        let report = lint_dir(dir.path(), &settings).unwrap();
        let last = report
            .files
            .iter()
            .find(|f| f.path.ends_with("2_not_null.up.sql"))
            .unwrap();
        let found: Vec<_> = last
            .diagnostics
            .iter()
            .map(|d| (d.rule, d.start.line))
            .collect();
        // `users.email` is still proven non-null by the check; `orders.total` is not.
        assert_eq!(found, [(SET_NOT_NULL, 3)], "check_down = {check_down}");
    }
}

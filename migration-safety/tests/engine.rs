//! End-to-end behaviour of the engine: suppressions, encodings and line endings, and the valid
//! PostgreSQL forms the SQL parser rejects.

use migration_safety::{Settings, lint_sql};

fn rules_found(sql: &str) -> Vec<(&'static str, usize, usize)> {
    lint_sql(sql, &Settings::default())
        .files
        .remove(0)
        .diagnostics
        .into_iter()
        .map(|d| (d.rule, d.start.line, d.start.column))
        .collect()
}

#[test]
fn ignore_migration_checks_as_the_first_word_of_a_comment_silences_the_file() {
    for sql in [
        "ALTER TABLE users DROP COLUMN email;\n/* IGNORE_MIGRATION_CHECKS: reviewed */",
        "-- IGNORE_MIGRATION_CHECKS\nALTER TABLE users DROP COLUMN email;",
    ] {
        assert!(rules_found(sql).is_empty(), "{sql}");
    }
}

#[test]
fn ignore_migration_checks_elsewhere_or_misspelt_is_a_warning_not_a_silence() {
    // `-- do not add IGNORE_MIGRATION_CHECKS here` used to turn every check off.
    let sql = "SET lock_timeout = '1s';\n-- do not add IGNORE_MIGRATION_CHECKS here\n-- ignore_migration_checks\n/* IGNORE_MIGRATION_CHEKS */\n-- IGNORE-MIGRATION-CHECKS\nALTER TABLE users DROP COLUMN email;\n";
    let report = lint_sql(sql, &Settings::default());
    let found: Vec<_> = report
        .diagnostics()
        .map(|(_, d)| (d.rule, d.start.line, d.message.as_str()))
        .collect();
    assert_eq!(found.len(), 5, "{found:#?}");
    assert_eq!(found[4].0, "drop-column");
    for (i, (rule, line, message)) in found[..4].iter().enumerate() {
        assert_eq!((*rule, *line), ("unused-suppression", i + 2), "{message}");
        assert!(message.contains("`IGNORE_MIGRATION_CHECKS`"), "{message}");
    }
    assert!(
        found[0].2.contains("only as the first word"),
        "{}",
        found[0].2
    );
}

#[test]
fn ignore_file_needs_a_reason() {
    let found = rules_found(
        "-- migration-safety: ignore-file missing-lock-timeout\nALTER TABLE users DROP COLUMN email;\n",
    );
    assert_eq!(
        found,
        [
            ("invalid-suppression", 1, 3),
            ("missing-lock-timeout", 2, 1),
            ("drop-column", 2, 19)
        ]
    );
}

#[test]
fn a_bare_carriage_return_ends_a_line_comment() {
    // Checked on PostgreSQL 15, in psql and in one simple-protocol query alike: the table is
    // dropped.
    let found = rules_found("-- drop the old table\rALTER TABLE users DROP COLUMN email;\n");
    assert_eq!(
        found,
        [("missing-lock-timeout", 1, 23), ("drop-column", 1, 41)]
    );
}

#[test]
fn ignore_file_with_rules_silences_only_those_rules() {
    let found = rules_found(
        "-- migration-safety: ignore-file missing-lock-timeout -- lock_timeout is set by the runner\nALTER TABLE users DROP COLUMN email;\n",
    );
    assert_eq!(found, [("drop-column", 2, 19)]);
}

#[test]
fn statement_suppression_applies_to_one_statement_only() {
    let sql = "SET lock_timeout = '1s';\n-- migration-safety: ignore drop-column -- unused since 2.0\nALTER TABLE users DROP COLUMN a;\nALTER TABLE users DROP COLUMN b;\n";
    assert_eq!(rules_found(sql), [("drop-column", 4, 19)]);
}

#[test]
fn trailing_suppression_applies_to_its_statement() {
    let sql = "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN a; -- migration-safety: ignore drop-column -- unused\nALTER TABLE users DROP COLUMN b;\n";
    assert_eq!(rules_found(sql), [("drop-column", 3, 19)]);
}

#[test]
fn suppression_of_a_do_block_covers_its_body() {
    let sql = "SET lock_timeout = '1s';\n-- migration-safety: ignore drop-column -- legacy\nDO $$ BEGIN ALTER TABLE users DROP COLUMN a; END $$;\n";
    assert!(rules_found(sql).is_empty());
}

#[test]
fn unknown_rule_in_a_suppression_suggests_the_closest_and_points_to_the_list() {
    let report = lint_sql(
        "-- migration-safety: ignore drop-colum -- x\nSELECT 1;",
        &Settings::default(),
    );
    let (_, d) = report.diagnostics().next().unwrap();
    assert_eq!(d.rule, "invalid-suppression");
    assert!(
        d.message.contains("did you mean `drop-column`?"),
        "{}",
        d.message
    );
    assert!(
        d.message
            .contains("`migration-safety rules` lists the rules and their categories"),
        "{}",
        d.message
    );
    assert!(!d.message.contains("set-not-null"), "{}", d.message);
    assert_eq!((d.start.line, d.start.column), (1, 29));
}

#[test]
fn crlf_and_bom_keep_positions_right() {
    let sql =
        "\u{feff}SET lock_timeout = '1s';\r\n\r\nALTER TABLE users\r\n  DROP COLUMN email;\r\n";
    assert_eq!(rules_found(sql), [("drop-column", 4, 3)]);
    let rendered = lint_sql(sql, &Settings::default()).to_human(false);
    assert!(
        rendered.contains("4 |   DROP COLUMN email;\n"),
        "{rendered}"
    );
    assert!(!rendered.contains('\r'), "{rendered:?}");
}

#[test]
fn empty_list_elements_are_syntax_errors() {
    assert_eq!(
        rules_found("CREATE TABLE t (id int,);"),
        [("syntax-error", 1, 24)]
    );
}

#[test]
fn invalid_utf8_is_a_finding_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1.sql");
    std::fs::write(&path, b"SELECT 1;\nSELECT '\xff';\n").unwrap();
    let report = migration_safety::lint_file(&path, &Settings::default()).unwrap();
    let found: Vec<_> = report
        .diagnostics()
        .map(|(_, d)| (d.rule, d.start.line, d.start.column))
        .collect();
    assert_eq!(found, [("syntax-error", 2, 9)]);
}

#[test]
fn statements_inside_comments_and_strings_are_not_analysed() {
    let sql = "-- DROP TABLE users;\n/* ALTER TABLE users DROP COLUMN email; */\nSELECT 'DROP TABLE users;';\nSELECT $x$ ALTER TABLE users RENAME TO people; $x$;\n";
    assert!(rules_found(sql).is_empty());
}

/// Valid statements sqlparser 0.63 rejects: recognised, never a syntax error, and hazards in
/// them are still found.
#[test]
fn unparsed_but_recognised_forms() {
    let cases: &[(&str, &[&str])] = &[
        ("DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;", &[]),
        (
            "DROP INDEX users_email_idx;",
            &["drop-index-non-concurrently", "missing-lock-timeout"],
        ),
        ("REINDEX INDEX CONCURRENTLY users_email_idx;", &[]),
        (
            "REINDEX TABLE users;",
            &["missing-lock-timeout", "reindex-non-concurrently"],
        ),
        (
            "REFRESH MATERIALIZED VIEW CONCURRENTLY daily;",
            &["missing-lock-timeout"],
        ),
        (
            "CLUSTER users USING users_pkey;",
            &["missing-lock-timeout", "table-rewrite"],
        ),
        ("ALTER SCHEMA app RENAME TO app_v2;", &["set-schema"]),
        ("ALTER SCHEMA app OWNER TO admin;", &[]),
        ("VACUUM (ANALYZE) users;", &[]),
        ("VACUUM ANALYZE users;", &[]),
        ("ANALYZE users, orders;", &[]),
        ("ALTER SEQUENCE users_id_seq RESTART WITH 100;", &[]),
        ("CREATE SEQUENCE s START 1 INCREMENT 1;", &[]),
        (
            "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO reader;",
            &[],
        ),
        ("GRANT reader TO app;", &[]),
        ("COMMENT ON CONSTRAINT users_pkey ON users IS 'pk';", &[]),
        (
            "CREATE EVENT TRIGGER t ON ddl_command_start EXECUTE FUNCTION f();",
            &[],
        ),
        ("CREATE STATISTICS s (ndistinct) ON a, b FROM users;", &[]),
        (
            "ALTER INDEX IF EXISTS users_email_idx RENAME TO users_mail_idx;",
            &[],
        ),
        (
            "CREATE INDEX users_part_idx ON ONLY users (email);",
            &["missing-lock-timeout"],
        ),
        (
            "CREATE MATERIALIZED VIEW daily AS SELECT 1 WITH NO DATA;",
            &[],
        ),
        ("SELECT;", &[]),
        (
            "CREATE TABLE t2 (LIKE users INCLUDING ALL, extra int REFERENCES orders);",
            &["foreign-key-without-index", "missing-lock-timeout"],
        ),
        (
            "CREATE POLICY p ON users USING (true);",
            &["missing-lock-timeout"],
        ),
        (
            "DROP POLICY IF EXISTS p ON users;",
            &["missing-lock-timeout"],
        ),
        (
            "ALTER VIEW IF EXISTS active_users RENAME TO current_users;",
            &["missing-lock-timeout", "rename-view"],
        ),
        ("COPY users (id, email) FROM STDIN;", &[]),
        (
            "ALTER TRIGGER touch ON users RENAME TO touch_users;",
            &["missing-lock-timeout"],
        ),
        (
            "ALTER TABLE users ALTER CONSTRAINT users_fk DEFERRABLE INITIALLY DEFERRED;",
            &["missing-lock-timeout"],
        ),
        (
            "ALTER TABLE users ALTER COLUMN email SET STATISTICS 500;",
            &[],
        ),
        (
            "ALTER TABLE orders ATTACH PARTITION orders_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');",
            &["missing-lock-timeout", "attach-partition-without-check"],
        ),
        (
            "ALTER TABLE orders DETACH PARTITION orders_2020 CONCURRENTLY;",
            &["missing-lock-timeout"],
        ),
        (
            "ALTER TABLE users ADD CONSTRAINT users_email_nn NOT NULL email;",
            &["missing-lock-timeout", "set-not-null"],
        ),
        (
            "DO $$ BEGIN ALTER TABLE users RENAME COLUMN a TO b; END $$;",
            &["missing-lock-timeout", "rename-column"],
        ),
    ];
    for (sql, expected) in cases {
        let found: Vec<_> = rules_found(sql)
            .into_iter()
            .map(|(rule, _, _)| rule)
            .collect();
        assert_eq!(&found, expected, "{sql}");
    }
}

/// Issue-level precision: nothing here may be reported, on any supported PostgreSQL version.
#[test]
fn harmless_migrations_are_not_reported() {
    let sql = "\
-- A new table is empty: no lock or rewrite hazard applies to it.
CREATE TABLE accounts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX accounts_email_idx ON accounts (email);
ALTER TABLE accounts ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);
INSERT INTO accounts (email) VALUES ('admin@example.com'), ('ops@example.com');
COMMENT ON TABLE accounts IS 'Accounts; see ALTER TABLE accounts DROP COLUMN email in the docs';
COMMENT ON COLUMN accounts.email IS 'login';
GRANT SELECT, INSERT ON accounts TO app;
REVOKE ALL ON accounts FROM PUBLIC;
CREATE SEQUENCE invoice_numbers START 1000;
ALTER SEQUENCE invoice_numbers RESTART WITH 2000;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE VIEW active_accounts AS SELECT * FROM accounts WHERE email IS NOT NULL;
VACUUM (ANALYZE) accounts;
ANALYZE accounts;
SELECT 'DROP TABLE users; ALTER TABLE users RENAME TO people;';
/* ALTER TABLE users ALTER COLUMN id TYPE bigint; */
";
    for version in migration_safety::SUPPORTED_PG_VERSIONS {
        let settings = Settings::default().pg_version(version).unwrap();
        let report = lint_sql(sql, &settings);
        let found: Vec<_> = report
            .diagnostics()
            .map(|(_, d)| d.rule)
            .filter(|r| !r.starts_with("prefer-"))
            .collect();
        assert!(
            found.is_empty(),
            "PostgreSQL {version}: {}",
            report.to_human(false)
        );
    }
}

#[test]
fn do_bodies_hide_no_statement() {
    // A DO nested in a DO body, and DDL under `CASE … THEN`, used to pass silently.
    for (sql, column) in [
        (
            "SET lock_timeout = '1s';\nDO $$ BEGIN DO $inner$ BEGIN ALTER TABLE users DROP COLUMN a; END $inner$; END $$;\n",
            48,
        ),
        (
            "SET lock_timeout = '1s';\nDO $$ BEGIN CASE WHEN true THEN ALTER TABLE users DROP COLUMN a; ELSE NULL; END CASE; END $$;\n",
            51,
        ),
        (
            "SET lock_timeout = '1s';\nDO $$ BEGIN CASE 1 WHEN 1 THEN NULL; WHEN 2 THEN ALTER TABLE users DROP COLUMN a; END CASE; END $$;\n",
            68,
        ),
    ] {
        assert_eq!(rules_found(sql), [("drop-column", 2, column)], "{sql}");
    }
}

#[test]
fn data_modifying_ctes_are_backfills() {
    for sql in [
        "WITH moved AS (UPDATE users SET plan = 'free' RETURNING id) SELECT count(*) FROM moved;",
        "WITH old AS (SELECT id FROM legacy) UPDATE users SET plan = 'free';",
        "WITH gone AS (DELETE FROM users RETURNING id) INSERT INTO archive SELECT * FROM gone;",
    ] {
        let found = rules_found(sql);
        assert!(
            found.iter().any(|(rule, ..)| *rule == "unbatched-backfill"),
            "{sql}: {found:?}"
        );
    }
    assert!(rules_found("WITH s AS (SELECT 1) SELECT * FROM s;").is_empty());
}

#[test]
fn long_lines_keep_their_columns_in_human_output() {
    let sql = format!(
        "/*{}*/CREATE INDEX i ON t (c);{}SELECT 1;",
        "é ".repeat(400),
        " ".repeat(600)
    );
    let report = lint_sql(&sql, &Settings::default());
    let (_, first) = report.diagnostics().next().unwrap();
    assert_eq!(first.rule, "create-index-non-concurrently");
    assert_eq!((first.start.line, first.start.column), (1, 805));
    let rendered = report.to_human(false);
    assert!(rendered.contains("input.sql:1:805"), "{rendered}");
    assert!(rendered.contains("CREATE INDEX i ON t (c);"), "{rendered}");
}

#[test]
fn suppressions_target_their_statement_on_one_line() {
    let sql = "SET lock_timeout = '1s'; CREATE INDEX a ON t (c); -- migration-safety: ignore create-index-non-concurrently -- small table\n\
               CREATE INDEX b ON t (c); CREATE INDEX c ON t (c);";
    let found = rules_found(sql);
    let lines: Vec<_> = found.iter().map(|(rule, line, _)| (*rule, *line)).collect();
    assert_eq!(
        lines,
        [
            ("create-index-non-concurrently", 2),
            ("create-index-non-concurrently", 2)
        ]
    );
}

//! The fixes that write new migrations, in every framework layout: statements that must leave
//! the transaction move into migrations of their own, and changes that need a deploy between
//! phases become phased plans. Each case applies the fixes pass by pass, as `migration-safety
//! fix` does, then snapshots the diff of the edited migration and the whole written tree, and
//! lints the result again: what is left is only what has no fix in that framework, and every
//! suppression is one a phase documents.

use std::collections::BTreeMap;
use std::path::Path;

use migration_safety::{Framework, Settings, fix, lint_dir};

/// The fixes of these rules write new migrations (and `missing-lock-timeout` sets a timeout
/// before what the first phases put in place of a statement).
const RULES: &[&str] = &[
    "missing-lock-timeout",
    "rename-column",
    "rename-table",
    "drop-column",
    "add-column-required",
    "change-column-type",
    "concurrently-in-transaction",
    "validate-constraint-in-same-transaction",
    "enum-value-in-transaction",
];

const SCHEMA: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id bigint PRIMARY KEY, amount integer NOT NULL, note text);
CREATE TABLE events (id bigint PRIMARY KEY, payload jsonb);
";

const RISKY: &str = "SET lock_timeout = '5s';
ALTER TABLE users RENAME COLUMN name TO full_name;
ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
ALTER TABLE users DROP COLUMN email;
ALTER TABLE users ADD COLUMN tier text NOT NULL;
ALTER TABLE events RENAME TO audit_events;
CREATE INDEX CONCURRENTLY orders_note_idx ON orders (note);
ALTER TABLE orders ADD CONSTRAINT orders_id_positive CHECK (id > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_id_positive;
";

/// The migrations directory of a framework: the schema, then the risky migration (the one
/// fixed), then a later migration the new ones must run before.
fn layout(framework: Framework) -> Vec<(&'static str, String)> {
    let goose = |sql: &str| format!("-- +goose Up\n{sql}\n-- +goose Down\nSELECT 1;\n");
    let dbmate = |sql: &str| format!("-- migrate:up\n{sql}\n-- migrate:down\nSELECT 1;\n");
    let later = "CREATE TABLE later (id bigint PRIMARY KEY);\n".to_owned();
    match framework {
        Framework::Plain => vec![
            ("0001_schema.sql", SCHEMA.to_owned()),
            ("0002_risky.sql", RISKY.to_owned()),
            ("0100_later.sql", later),
        ],
        Framework::Sqlx => vec![
            ("20240101000000_schema.sql", SCHEMA.to_owned()),
            ("20240201000000_risky.sql", RISKY.to_owned()),
            ("20240301000000_later.sql", later),
        ],
        Framework::Diesel => vec![
            ("2024-01-01-000000_schema/up.sql", SCHEMA.to_owned()),
            (
                "2024-01-01-000000_schema/down.sql",
                "SELECT 1;\n".to_owned(),
            ),
            ("2024-02-01-000000_risky/up.sql", RISKY.to_owned()),
            ("2024-02-01-000000_risky/down.sql", "SELECT 1;\n".to_owned()),
            ("2024-03-01-000000_later/up.sql", later),
        ],
        Framework::Refinery => vec![
            ("V1__schema.sql", SCHEMA.to_owned()),
            ("V2__risky.sql", RISKY.to_owned()),
            ("V100__later.sql", later),
        ],
        Framework::GolangMigrate => vec![
            ("000001_schema.up.sql", SCHEMA.to_owned()),
            ("000001_schema.down.sql", "SELECT 1;\n".to_owned()),
            ("000002_risky.up.sql", RISKY.to_owned()),
            ("000002_risky.down.sql", "SELECT 1;\n".to_owned()),
            ("000100_later.up.sql", later),
        ],
        Framework::Goose => vec![
            ("20240101000000_schema.sql", goose(SCHEMA)),
            ("20240201000000_risky.sql", goose(RISKY)),
            ("20240301000000_later.sql", goose(&later)),
        ],
        Framework::Dbmate => vec![
            ("20240101000000_schema.sql", dbmate(SCHEMA)),
            ("20240201000000_risky.sql", dbmate(RISKY)),
            ("20240301000000_later.sql", dbmate(&later)),
        ],
        Framework::Flyway => vec![
            ("V1__schema.sql", SCHEMA.to_owned()),
            ("V2__risky.sql", RISKY.to_owned()),
            ("V3__later.sql", later),
        ],
        Framework::Prisma => vec![
            (
                "migration_lock.toml",
                "provider = \"postgresql\"\n".to_owned(),
            ),
            ("20240101000000_schema/migration.sql", SCHEMA.to_owned()),
            ("20240201000000_risky/migration.sql", RISKY.to_owned()),
            ("20240301000000_later/migration.sql", later),
        ],
        Framework::DbMigrate => vec![
            ("sqls/20240101000000-schema-up.sql", SCHEMA.to_owned()),
            (
                "sqls/20240101000000-schema-down.sql",
                "SELECT 1;\n".to_owned(),
            ),
            ("sqls/20240201000000-risky-up.sql", RISKY.to_owned()),
            (
                "sqls/20240201000000-risky-down.sql",
                "SELECT 1;\n".to_owned(),
            ),
            ("sqls/20240301000000-later-up.sql", later),
        ],
        Framework::Atlas => vec![
            ("atlas.sum", "h1:\n".to_owned()),
            ("20240101000000_schema.sql", SCHEMA.to_owned()),
            ("20240201000000_risky.sql", RISKY.to_owned()),
            ("20240301000000_later.sql", later),
        ],
        other => panic!("no layout for {other}"),
    }
}

fn read_tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// Apply the fixes of [`RULES`] one at a time (a fix's new migrations are numbered against the
/// files on disk), re-linting after each, until none is left. Returns how many were applied.
fn fix_all(dir: &Path, settings: &Settings) -> usize {
    let mut applied = 0;
    loop {
        let report = lint_dir(dir, settings).unwrap();
        let Some(fix) = fix::fixes(&report, RULES).next() else {
            return applied;
        };
        let result = fix::apply([fix], &fix::sources(&report));
        assert!(result.conflicts.is_empty(), "{:?}", result.conflicts);
        for (path, text) in &result.files {
            std::fs::write(path, text).unwrap();
        }
        for new in &result.new_files {
            assert!(!new.path.exists(), "{} exists", new.path.display());
            std::fs::create_dir_all(new.path.parent().unwrap()).unwrap();
            std::fs::write(&new.path, &new.contents).unwrap();
        }
        applied += 1;
        assert!(applied < 50, "the fixes do not converge");
    }
}

fn render(framework: Framework) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("migrations");
    for (file, text) in layout(framework) {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let settings = Settings::default().framework(framework);
    let before = read_tree(&root);
    let applied = fix_all(&root, &settings);
    let after = read_tree(&root);
    let mut out = format!("{applied} fixes applied\n\n");
    for (file, text) in &after {
        match before.get(file) {
            Some(old) if old == text => {}
            Some(old) => {
                let diff = similar::TextDiff::from_lines(old, text);
                out.push_str(&format!(
                    "=== {file} (edited)\n{}\n",
                    diff.unified_diff().context_radius(2)
                ));
            }
            None => out.push_str(&format!("=== {file} (new)\n{text}\n")),
        }
    }
    let report = lint_dir(&root, &settings).unwrap();
    out.push_str("=== findings left\n");
    let root_text = format!("{}/", root.display());
    for (file, d) in report.diagnostics() {
        // refinery and db-migrate cannot run a migration outside a transaction: nothing can be
        // written for `CONCURRENTLY` there.
        let no_opt_out = matches!(framework, Framework::Refinery | Framework::DbMigrate);
        assert!(
            no_opt_out && d.rule == "concurrently-in-transaction",
            "{framework}: {}: {}",
            file.path,
            d.message
        );
        out.push_str(&format!(
            "{}:{}: {}[{}]\n",
            file.path.replace(&root_text, ""),
            d.start.line,
            d.severity,
            d.rule
        ));
    }
    out.push_str("=== suppressed by the phases\n");
    for file in &report.files {
        for s in &file.suppressed {
            let reason = s.reason.as_deref().unwrap_or_default();
            assert!(reason.starts_with("phase "), "{framework}: {reason}");
            out.push_str(&format!(
                "{}:{}: {} -- {}\n",
                file.path.replace(&root_text, ""),
                s.diagnostic.start.line,
                s.diagnostic.rule,
                s.reason.as_deref().unwrap_or_default()
            ));
        }
    }
    out
}

#[test]
fn every_layout_gets_its_new_migrations() {
    for framework in Framework::ALL.iter().copied() {
        let rendered = render(framework);
        insta::assert_snapshot!(framework.name(), rendered);
    }
}

/// `DETACH PARTITION` in the transaction the framework opens: the fix rewrites it
/// `CONCURRENTLY` into a migration of its own, outside a transaction, and the statements after
/// it into the next one. The moved statement has no `lock_timeout` of its own: sqlx sends a
/// file as one query, where a `SET` before it would make an implicit transaction block.
#[test]
fn detach_partition_moves_out_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("migrations");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(
        root.join("20240101000000_logs.sql"),
        "CREATE TABLE logs (id bigint, at date) PARTITION BY RANGE (at);
CREATE TABLE logs_2023 PARTITION OF logs FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
",
    )
    .unwrap();
    std::fs::write(
        root.join("20240201000000_archive.sql"),
        "SET lock_timeout = '5s';
ALTER TABLE logs DETACH PARTITION logs_2023;
ALTER TABLE logs_2023 RENAME TO logs_2023_archive;
",
    )
    .unwrap();
    let settings = Settings::default().framework(Framework::Sqlx);
    let before = read_tree(&root);
    let report = lint_dir(&root, &settings).unwrap();
    let fixes: Vec<_> = fix::fixes(&report, &["detach-partition-non-concurrently"]).collect();
    assert_eq!(fixes.len(), 1);
    let applied = fix::apply(fixes, &fix::sources(&report));
    let mut out = String::new();
    for (path, text) in &applied.files {
        let file = path.strip_prefix(&root).unwrap().display().to_string();
        let diff = similar::TextDiff::from_lines(&before[&file], text);
        out.push_str(&format!("=== {file} (edited)\n{}\n", diff.unified_diff()));
    }
    for new in &applied.new_files {
        let file = new.path.strip_prefix(&root).unwrap().display();
        out.push_str(&format!("=== {file} (new)\n{}\n", new.contents));
    }
    insta::assert_snapshot!(out);
}

//! Properties that hold for any input, checked on generated SQL-like text and on arbitrary
//! bytes: the splitter loses nothing, no input under any framework or output format panics,
//! every position lies inside its file, and the JSON output always parses.

use std::path::PathBuf;

use migration_safety::{Framework, Report, Settings, lint_paths, split_statements};
use proptest::prelude::*;

/// Text built from the pieces that steer the splitter, the parser and the frameworks'
/// section markers, in any order.
fn sql_like() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "ALTER TABLE users ",
        "ADD COLUMN c int",
        "DROP COLUMN c",
        "CREATE INDEX i ON users (c)",
        "CREATE TABLE users (id bigint)",
        "UPDATE users SET c = 1",
        "WITH w AS (",
        ")",
        "(",
        "DO ",
        "$$",
        "$t$",
        "BEGIN",
        "END",
        "CASE WHEN true THEN ",
        "COMMIT",
        " ",
        ";",
        ",",
        "'",
        "''",
        "E'\\'",
        "\"",
        "--",
        "/*",
        "*/",
        "\n",
        "\r",
        "\r\n",
        "é",
        "🦀",
        "\u{feff}",
        "-- +goose Up\n",
        "-- +goose Down\n",
        "-- +goose StatementBegin\n",
        "-- +goose StatementEnd\n",
        "-- +goose NO TRANSACTION\n",
        "-- migrate:up\n",
        "-- migrate:down\n",
        "-- migrate:up transaction:false\n",
        "-- no-transaction\n",
        "-- atlas:txmode none\n\n",
        "-- migration-safety: ignore drop-column -- why\n",
        "-- migration-safety: ignore-file\n",
        "-- IGNORE_MIGRATION_CHECKS\n",
        "CONCURRENTLY ",
        "SET lock_timeout = '1s'",
        "BEGIN ATOMIC ",
        "EXECUTE 'DROP TABLE t'",
    ]);
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Any bytes, or SQL-like text, as a file's contents.
fn contents() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        sql_like().prop_map(String::into_bytes),
    ]
}

/// Lint `bytes` as the one migration of a directory under `framework`, both directions.
fn lint(bytes: &[u8], framework: Framework) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let name = match framework {
        Framework::Diesel => "2024-01-01-000000_a/up.sql",
        Framework::Prisma => "20240101000000_a/migration.sql",
        Framework::Refinery | Framework::Flyway => "V1__a.sql",
        Framework::GolangMigrate => "1_a.up.sql",
        Framework::DbMigrate => "sqls/20240101000000-a-up.sql",
        _ => "1_a.sql",
    };
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let settings = Settings::default().framework(framework).check_down(true);
    lint_paths(&[PathBuf::from(dir.path())], &settings).unwrap()
}

fn check_report(report: &Report) {
    for file in &report.files {
        let lines = file.source.split('\n').count();
        for d in &file.diagnostics {
            assert!(
                d.range.start <= d.range.end && d.range.end <= file.source.len(),
                "{d:?} outside a {}-byte file",
                file.source.len()
            );
            assert!(file.source.is_char_boundary(d.range.start));
            assert!(file.source.is_char_boundary(d.range.end));
            assert!((1..=lines).contains(&d.start.line), "{d:?}");
            assert!((d.start.line..=lines).contains(&d.end.line), "{d:?}");
            assert!(d.start.column >= 1 && d.end.column >= 1, "{d:?}");
        }
    }
    for color in [false, true] {
        report.to_human(color);
    }
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert!(json["files"].is_array());
}

proptest! {
    #[test]
    fn statements_and_the_text_between_them_rebuild_the_input(sql in sql_like()) {
        let ranges = split_statements(&sql);
        let mut end = 0;
        let mut rebuilt = String::new();
        for range in &ranges {
            prop_assert!(end <= range.start && range.start < range.end && range.end <= sql.len());
            let between = &sql[end..range.start];
            // Only blanks, comments and semicolons lie between statements.
            prop_assert!(split_statements(between).is_empty(), "{between:?}");
            rebuilt.push_str(between);
            rebuilt.push_str(&sql[range.clone()]);
            end = range.end;
        }
        prop_assert!(split_statements(&sql[end..]).is_empty());
        rebuilt.push_str(&sql[end..]);
        prop_assert_eq!(rebuilt, sql);
    }

    #[test]
    fn any_bytes_under_any_framework_report_positions_inside_the_file(
        bytes in contents(),
        framework in prop::sample::select(Framework::ALL),
    ) {
        check_report(&lint(&bytes, framework));
    }
}

/// The inputs kept from fuzzing (`fuzz/regressions/<target>/`), replayed on stable.
fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    inputs
}

#[test]
fn fuzz_regressions_split() {
    for (path, bytes) in regressions("split") {
        let sql = String::from_utf8_lossy(&bytes);
        let ranges = split_statements(&sql);
        let mut end = 0;
        for range in ranges {
            assert!(
                end <= range.start && range.end <= sql.len(),
                "{}",
                path.display()
            );
            assert!(split_statements(&sql[end..range.start]).is_empty());
            end = range.end;
        }
    }
}

#[test]
fn fuzz_regressions_lint() {
    // As the fuzz target reads them: the first byte picks the framework.
    for (path, bytes) in regressions("lint") {
        let Some((&pick, rest)) = bytes.split_first() else {
            continue;
        };
        let framework = Framework::ALL[usize::from(pick) % Framework::ALL.len()];
        let report = lint(rest, framework);
        check_report(&report);
        eprintln!(
            "{}: {} findings",
            path.display(),
            report.diagnostics().count()
        );
    }
}

#[test]
fn fuzz_regressions_config() {
    for (_, bytes) in regressions("config") {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(error) = migration_safety::config::Config::parse(&text, "migration-safety.toml")
        {
            error.to_string();
        }
    }
}

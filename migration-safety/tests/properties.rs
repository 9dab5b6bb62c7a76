//! Properties that hold for any input, checked on generated SQL-like text and on arbitrary
//! bytes: the splitter loses nothing, no input under any framework or output format panics,
//! every position lies inside its file, and the JSON output always parses.

use std::path::PathBuf;

use fuzz_checks::{check_report, lint_file};
use migration_safety::{Framework, split_statements};
use proptest::prelude::*;

#[path = "../../fuzz/checks.rs"]
mod fuzz_checks;

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
        check_report(&lint_file(&bytes, framework));
    }
}

/// The inputs kept from fuzzing (`fuzz/regressions/<target>/`: crashes and hangs found, then
/// minimized, and a minimized corpus), replayed on stable through the targets' own checks.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "no inputs in {}", dir.display());
    for path in inputs {
        let bytes = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "fuzz input {} fails", path.display());
    }
}

#[test]
fn fuzz_regressions_split() {
    replay("split", fuzz_checks::split);
}

#[test]
fn fuzz_regressions_lint() {
    replay("lint", fuzz_checks::lint);
}

#[test]
fn fuzz_regressions_config() {
    replay("config", fuzz_checks::config);
}

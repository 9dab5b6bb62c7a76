//! What the fuzz targets check, shared with the stable test that replays the kept inputs
//! (`fuzz/regressions/<target>/`, in `migration-safety/tests/properties.rs`): a target and its
//! regression test run the same code on the same bytes.

use std::path::PathBuf;

use migration_safety::config::Config;
use migration_safety::{Framework, Report, Settings, lint_paths, split_statements};

/// Text from any bytes: invalid UTF-8 becomes U+FFFD, as when a file is read.
fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// The splitter: statements and the text between them rebuild the input, and only blanks,
/// comments and semicolons lie between statements.
pub fn split(bytes: &[u8]) {
    let sql = text(bytes);
    let mut end = 0;
    for range in split_statements(&sql) {
        assert!(end <= range.start && range.start < range.end && range.end <= sql.len());
        assert!(split_statements(&sql[end..range.start]).is_empty());
        end = range.end;
    }
    assert!(split_statements(&sql[end..]).is_empty());
}

/// The configuration file: any text is a configuration or an error, never a panic.
pub fn config(bytes: &[u8]) {
    if let Err(error) = Config::parse(&text(bytes), "migration-safety.toml") {
        error.to_string();
    }
}

/// The whole lint of one migration file, both directions, under the framework the first byte
/// picks: every position inside the file, both renderings, and JSON that parses.
pub fn lint(data: &[u8]) {
    if let Some((&pick, bytes)) = data.split_first() {
        let framework = Framework::ALL[usize::from(pick) % Framework::ALL.len()];
        check_report(&lint_file(bytes, framework));
    }
}

/// Lint `bytes` as the one migration of a directory under `framework`, both directions.
pub fn lint_file(bytes: &[u8], framework: Framework) -> Report {
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

/// Every position lies inside its file, on character boundaries, and on a line of the file;
/// both human renderings work and the JSON parses.
pub fn check_report(report: &Report) {
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

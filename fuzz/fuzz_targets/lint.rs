//! The whole lint of one migration file, both directions, under the framework the first byte
//! picks; every position inside the file, both renderings, and JSON that parses.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use migration_safety::{Framework, Settings, lint_paths};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let framework = Framework::ALL[usize::from(pick) % Framework::ALL.len()];
    let name = match framework {
        Framework::Diesel => "2024-01-01-000000_a/up.sql",
        Framework::Prisma => "20240101000000_a/migration.sql",
        Framework::Refinery | Framework::Flyway => "V1__a.sql",
        Framework::GolangMigrate => "1_a.up.sql",
        Framework::DbMigrate => "sqls/20240101000000-a-up.sql",
        _ => "1_a.sql",
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    let settings = Settings::default().framework(framework).check_down(true);
    let report = lint_paths(&[PathBuf::from(dir.path())], &settings).unwrap();
    for file in &report.files {
        for d in &file.diagnostics {
            assert!(d.range.start <= d.range.end && d.range.end <= file.source.len());
            assert!(file.source.is_char_boundary(d.range.start));
            assert!(file.source.is_char_boundary(d.range.end));
        }
    }
    report.to_human(true);
    serde_json::from_str::<serde_json::Value>(&report.to_json()).unwrap();
});

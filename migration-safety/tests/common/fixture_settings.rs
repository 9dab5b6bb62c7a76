//! The settings a fixture asks for in its first line, shared by the fixture snapshots
//! (`tests/rules.rs`) and the real-server verification (`tests/verification.rs` at the root).
//!
//! `-- settings: pg_version = 10, framework = sqlx, assume.timezone = UTC` (a directory's first migration file says it
//! for the whole directory).

use std::path::Path;

use migration_safety::{Framework, Settings};

/// The settings, the pinned PostgreSQL version and the framework a fixture asks for.
pub fn settings_for(path: &Path) -> (Settings, Option<u32>, Option<Framework>) {
    let first = if path.is_dir() {
        migration_safety::migration_files(path)
            .unwrap()
            .into_iter()
            .next()
    } else {
        Some(path.to_path_buf())
    };
    let header = first
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|text| text.lines().next().map(str::to_owned))
        .unwrap_or_default();
    let mut settings = Settings::default();
    let (mut pinned, mut framework) = (None, None);
    if let Some(rest) = header.strip_prefix("-- settings:") {
        for pair in rest.split(',') {
            let (key, value) = pair.split_once('=').expect("`key = value`");
            match key.trim() {
                "pg_version" => {
                    let version = value.trim().parse().unwrap();
                    settings = settings.pg_version(version).unwrap();
                    pinned = Some(version);
                }
                "framework" => {
                    let named = Framework::from_name(value.trim()).expect("a framework");
                    settings = settings.framework(named);
                    framework = Some(named);
                }
                other => match other.strip_prefix("assume.") {
                    Some(name) => settings = settings.assume(name, value.trim()).unwrap(),
                    None => panic!("unknown fixture setting `{other}`"),
                },
            }
        }
    }
    (settings, pinned, framework)
}

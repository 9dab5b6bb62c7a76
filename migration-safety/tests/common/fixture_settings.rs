//! The settings a fixture asks for in its first line, shared by the fixture snapshots
//! (`tests/rules.rs`) and the real-server verification (`tests/verification.rs` at the root).
//!
//! `-- settings: pg_version = 10, framework = sqlx, assume.timezone = UTC` (a directory's first migration file says it
//! for the whole directory).

use std::path::Path;

use migration_safety::{Framework, Settings};

/// What a fixture's header asks for.
pub struct FixtureSettings {
    /// The settings to lint it with.
    pub settings: Settings,
    /// The PostgreSQL version it is pinned to.
    pub pinned: Option<u32>,
    /// The framework it names.
    pub framework: Option<Framework>,
    /// The session settings it assumes (`assume.timezone = UTC`).
    pub assumed: Vec<(String, String)>,
}

/// The settings a fixture asks for.
pub fn settings_for(path: &Path) -> FixtureSettings {
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
    let (mut pinned, mut framework, mut assumed) = (None, None, Vec::new());
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
                    Some(name) => {
                        settings = settings.assume(name, value.trim()).unwrap();
                        assumed.push((name.to_owned(), value.trim().to_owned()));
                    }
                    None => panic!("unknown fixture setting `{other}`"),
                },
            }
        }
    }
    FixtureSettings {
        settings,
        pinned,
        framework,
        assumed,
    }
}

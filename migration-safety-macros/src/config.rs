//! The keys of `migration-safety.toml` that decide at compile time which tests exist and
//! which are ignored: `framework`, `check_down`, `start_after`, `exclude`, and `app` (whether
//! the application's code is read, which adds a test). The generated
//! tests embed the file and read all of it again at run time, through `migration_safety::config`,
//! which checks every key and reports a mistake with its line in every test; so here a value
//! that does not parse is left to that check.

use std::path::{Path, PathBuf};

use migration_safety_core::CONFIG_FILE_NAME;

use crate::layout::Framework;

/// What the configuration file nearest to the crate says about the generated tests.
pub(crate) struct FileConfig {
    /// Where it is.
    pub(crate) path: PathBuf,
    pub(crate) framework: Option<Framework>,
    pub(crate) check_down: Option<bool>,
    pub(crate) start_after: Option<String>,
    /// `app = "…"`, as written.
    pub(crate) app: Option<String>,
    exclude: globset::GlobSet,
}

impl FileConfig {
    /// The file in `manifest_dir` or its nearest parent that has one, as the command line
    /// finds it from a working directory.
    pub(crate) fn find(manifest_dir: &Path) -> Option<FileConfig> {
        let path = manifest_dir
            .ancestors()
            .map(|dir| dir.join(CONFIG_FILE_NAME))
            .find(|path| path.is_file())?;
        let table: toml::Table = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or_default();
        let mut exclude = globset::GlobSetBuilder::new();
        for pattern in table
            .get("exclude")
            .and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(toml::Value::as_str)
        {
            if let Ok(glob) = globset::Glob::new(pattern) {
                exclude.add(glob);
            }
        }
        Some(FileConfig {
            framework: table
                .get("framework")
                .and_then(toml::Value::as_str)
                .and_then(Framework::from_name),
            check_down: table.get("check_down").and_then(toml::Value::as_bool),
            start_after: match table.get("start_after") {
                Some(toml::Value::String(version)) => Some(version.clone()),
                Some(toml::Value::Integer(version)) => Some(version.to_string()),
                _ => None,
            },
            app: table
                .get("app")
                .and_then(toml::Value::as_str)
                .map(str::to_owned),
            exclude: exclude
                .build()
                .unwrap_or_else(|_| globset::GlobSet::empty()),
            path,
        })
    }

    /// Whether `file` matches an `exclude` pattern (relative to the file's directory).
    pub(crate) fn excludes(&self, file: &Path) -> bool {
        let root = self.path.parent().unwrap_or(Path::new(""));
        let relative = file.strip_prefix(root).unwrap_or(file);
        let parts: Vec<_> = relative
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        self.exclude.is_match(parts.join("/"))
    }
}

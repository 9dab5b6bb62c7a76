//! The documents the client has open, and the migration history each is linted against,
//! replayed once and kept until a file changes on disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsp_types::Uri;

use crate::config::Config;
use crate::{Diagnostic, History, Settings};

/// An open document.
pub(crate) struct Document {
    pub(crate) version: i32,
    pub(crate) text: String,
    /// The file on disk, for a `file:` URI.
    pub(crate) path: Option<PathBuf>,
    /// What the last lint found.
    pub(crate) lint: Lint,
}

/// The outcome of linting a document.
#[derive(Default)]
pub(crate) enum Lint {
    /// Not a migration of any layout (or not a file): nothing is reported.
    #[default]
    NotAMigration,
    /// The configuration or the earlier migrations could not be read.
    Failed(String),
    /// The findings, and the history they were found against.
    Linted {
        history: Arc<History>,
        diagnostics: Vec<Diagnostic>,
    },
}

impl Document {
    pub(crate) fn new(uri: &Uri, version: i32, text: String) -> Self {
        Self {
            version,
            text,
            path: file_path(uri),
            lint: Lint::NotAMigration,
        }
    }

    /// The bytes of a leading byte-order mark, which the engine's offsets do not count.
    pub(crate) fn bom(&self) -> usize {
        super::actions::bom(&self.text)
    }
}

/// The path of a `file:` URI.
pub(crate) fn file_path(uri: &Uri) -> Option<PathBuf> {
    url::Url::parse(uri.as_str()).ok()?.to_file_path().ok()
}

/// The `file:` URI of a path.
pub(crate) fn file_uri(path: &Path) -> Option<Uri> {
    url::Url::from_file_path(path).ok()?.as_str().parse().ok()
}

/// The histories of the files linted so far, by path.
#[derive(Default)]
pub(crate) struct Histories {
    by_file: HashMap<PathBuf, Result<Option<Arc<History>>, String>>,
}

impl Histories {
    /// The history before `file`: its settings from the `migration-safety.toml` found from its
    /// directory up, its directory read by the layout, the earlier migrations replayed. Kept
    /// until [`Histories::clear`].
    pub(crate) fn get(&mut self, file: &Path) -> Result<Option<Arc<History>>, String> {
        self.by_file
            .entry(file.to_path_buf())
            .or_insert_with(|| {
                let settings = settings(file)?;
                let history = History::before(file, &settings).map_err(|e| match e {
                    // The code at `base_ref` (not a git repository, an unknown ref).
                    crate::Error::Application(e) => {
                        format!("migration-safety cannot read the application's code: {e}")
                    }
                    e => {
                        format!("migration-safety cannot read the migrations before this one: {e}")
                    }
                })?;
                Ok(history.map(Arc::new))
            })
            .clone()
    }

    /// Forget every history: a migration, a side file or the configuration changed.
    pub(crate) fn clear(&mut self) {
        self.by_file.clear();
    }
}

/// The settings of the configuration file that applies to `file`.
fn settings(file: &Path) -> Result<Settings, String> {
    let directory = file.parent().unwrap_or(Path::new("."));
    match Config::discover(directory) {
        Ok(Some(config)) => Ok(config.settings().clone()),
        Ok(None) => Ok(Settings::default()),
        Err(error) => Err(format!(
            "migration-safety cannot use its configuration: {error}"
        )),
    }
}

/// Lint a document's text against its history.
pub(crate) fn lint(document: &Document, histories: &mut Histories) -> Lint {
    let Some(path) = &document.path else {
        return Lint::NotAMigration;
    };
    match histories.get(path) {
        Ok(Some(history)) => {
            let report = history.lint(document.text.as_bytes());
            let mut diagnostics: Vec<Diagnostic> = report
                .files
                .into_iter()
                .flat_map(|f| f.diagnostics)
                .collect();
            // A file with both directions (goose, dbmate) reports each once, in source order.
            diagnostics.sort_by_key(|d| (d.range.start, d.range.end, d.rule));
            diagnostics.dedup();
            Lint::Linted {
                history,
                diagnostics,
            }
        }
        Ok(None) => Lint::NotAMigration,
        Err(message) => Lint::Failed(message),
    }
}

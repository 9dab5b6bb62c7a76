//! The schema the earlier migrations of a directory built, replayed once, to lint one more
//! migration's text against as often as that text changes: what an editor needs on every
//! keystroke.

#[cfg(feature = "lsp")]
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::engine::{self, Run};
use crate::layout::{self, Direction, Framework, Migration};
#[cfg(feature = "lsp")]
use crate::model::{StatementKind, TableLock};
use crate::schema::Schema;
use crate::settings::Settings;
use crate::{Error, Report};

/// The migrations that come before one migration file in its directory's layout, replayed.
///
/// [`History::before`] finds the file's migrations directory (its own directory, or the one
/// above it for layouts with a directory per migration, such as diesel's
/// `<version>_<name>/up.sql`), reads it the way [`crate::lint_dir`] does, and replays the up
/// migrations before the file, with the application's code read as `lint_dir` reads it
/// ([`Settings::load_application`]). [`History::lint`] then checks any text of the file against that
/// schema without replaying anything: a table the earlier migrations created is an existing
/// table, one the text creates itself is new.
///
/// ```
/// use migration_safety::{History, Settings};
/// # let dir = tempfile::tempdir().unwrap();
/// # let dir = dir.path();
/// std::fs::write(dir.join("1_users.sql"), "CREATE TABLE users (id bigint, email text);")?;
/// std::fs::write(dir.join("2_index.sql"), "")?;
///
/// let history = History::before(dir.join("2_index.sql"), &Settings::default())?.unwrap();
/// // `users` exists before the second migration: a plain index build blocks its writes.
/// let report = history.lint(b"CREATE INDEX users_email_idx ON users (email);");
/// let rules: Vec<_> = report.diagnostics().map(|(_, d)| d.rule).collect();
/// assert!(rules.contains(&"create-index-non-concurrently"));
/// // A table the text creates itself is new and empty.
/// let report = history.lint(b"CREATE TABLE t (id bigint);\nCREATE INDEX t_id_idx ON t (id);");
/// assert!(!report.has_errors());
///
/// // A file that the layout does not list is no migration.
/// std::fs::write(dir.join("notes.txt"), "")?;
/// assert!(History::before(dir.join("notes.txt"), &Settings::default())?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct History {
    settings: Settings,
    file: PathBuf,
    directory: PathBuf,
    framework: Framework,
    /// The file's own entries in the layout: its up migration, its down one, or both (goose
    /// and dbmate keep both in one file).
    own: Vec<Migration>,
    schema: Schema,
    files: usize,
}

impl History {
    /// Replay the migrations before `file`, which need not be readable itself, under
    /// `settings` (the framework they set, or the one detected from the file's directory).
    /// `None` when the layout does not list `file` as a migration.
    pub fn before(file: impl AsRef<Path>, settings: &Settings) -> Result<Option<History>, Error> {
        let file = file.as_ref();
        let Some((directory, framework, migrations, relative)) = locate(file, settings) else {
            return Ok(None);
        };
        let Some(first) = migrations.iter().position(|m| m.file == relative) else {
            return Ok(None);
        };
        let own: Vec<Migration> = migrations
            .iter()
            .filter(|m| m.file == relative)
            .cloned()
            .collect();
        // Down migrations build nothing for the ones after them.
        let jobs: Vec<crate::Job> = migrations[..first]
            .iter()
            .filter(|m| m.direction == Direction::Up)
            .map(|m| (directory.join(&m.file), framework, Direction::Up, false))
            .collect();
        // The application's code, read as `lint_dir` reads it, so that the verdicts agree.
        let settings = settings.clone().load_application(&directory)?;
        let mut run = Run::new(&settings);
        crate::replay(&mut run, &jobs, &settings, |_| {})?;
        let (schema, files) = run.into_schema();
        Ok(Some(History {
            settings,
            file: file.to_path_buf(),
            directory,
            framework,
            own,
            schema,
            files,
        }))
    }

    /// Lint `text` as the file's content against the replayed history, as [`crate::lint_dir`]
    /// would lint it: its up migration, and its down migration with
    /// [`Settings::check_down`] (against the schema the up migration left). The report has a
    /// file for each direction checked; none when the settings do not report the file
    /// ([`Settings::start_after`], [`Settings::exclude`]) or it is a down migration that
    /// they do not check. Side files (diesel's `metadata.toml`, Flyway's `.conf`) are read
    /// from disk.
    pub fn lint(&self, text: &[u8]) -> Report {
        let mut report = Report::default();
        let mut run = Run::resume(&self.settings, self.schema.clone(), self.files);
        for migration in &self.own {
            let down = migration.direction == Direction::Down;
            if (down && !self.settings.checks_down())
                || !self.settings.reports(&self.file, Some(migration))
            {
                continue;
            }
            report
                .files
                .push(run.check(self.prepare(text, migration.direction)));
        }
        report
    }

    /// The top-level statement of `text` (the file's content) at byte `offset`, and the
    /// table-level locks it takes, as the lowered statement model says: each on a relation
    /// that existed before the migration, or that the text itself created earlier (new and
    /// empty, nobody else can be waiting on it).
    #[cfg(feature = "lsp")]
    pub(crate) fn statement_at(&self, text: &[u8], offset: usize) -> Option<StatementAt> {
        for migration in &self.own {
            let prepared = self.prepare(text, migration.direction);
            let Some(index) = prepared
                .statements
                .iter()
                .position(|s| s.range.start <= offset && offset <= s.range.end)
            else {
                continue;
            };
            // What the statements before it built, so that a table they created is known new.
            let mut schema = self.schema.clone();
            for (i, statement) in prepared.statements[..index].iter().enumerate() {
                schema.set_search_path(prepared.sessions[i].search_path.clone());
                let targets = match &statement.kind {
                    StatementKind::Do { body } => engine::flatten(body),
                    _ => vec![statement],
                };
                for target in targets {
                    schema.apply(&target.kind, self.files, i);
                }
            }
            schema.set_search_path(prepared.sessions[index].search_path.clone());
            let statement = &prepared.statements[index];
            let locks = statement
                .kind
                .locks()
                .into_iter()
                .map(|lock| {
                    let new = schema
                        .table(&lock.table)
                        .is_some_and(|t| t.file == Some(self.files));
                    (lock, !new)
                })
                .collect();
            return Some(StatementAt {
                range: statement.range.clone(),
                command: statement.kind.command(),
                locks,
            });
        }
        None
    }

    /// The settings the history was replayed with.
    #[cfg(feature = "lsp")]
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    /// One direction of `text`, split and parsed as the file's framework runs it; side files
    /// that cannot be read count as absent.
    fn prepare(&self, text: &[u8], direction: Direction) -> engine::Prepared {
        let sidecar = crate::sidecar(&self.file, self.framework).unwrap_or_default();
        let path = self.file.display().to_string();
        engine::prepare(
            &self.settings,
            path,
            text,
            self.framework,
            direction,
            &sidecar,
        )
    }

    /// The migrations directory the file belongs to.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The framework the directory is read and run as.
    pub fn framework(&self) -> Framework {
        self.framework
    }
}

/// A statement of a migration and the locks it takes.
#[cfg(feature = "lsp")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatementAt {
    /// Its byte range in the text.
    pub(crate) range: Range<usize>,
    /// The SQL command (`ALTER TABLE`, `CREATE INDEX`, …).
    pub(crate) command: String,
    /// Each lock, and whether its relation existed before the migration.
    pub(crate) locks: Vec<(TableLock, bool)>,
}

/// The migrations directory that lists `file`, its framework, its migrations in order, and the
/// file's path relative to it (with `/`). The file's own directory, or the one above it when
/// that one's layout has a directory per migration; a directory detected as plain (every
/// `.sql` file below it) is only the file's own.
fn locate(
    file: &Path,
    settings: &Settings,
) -> Option<(PathBuf, Framework, Vec<Migration>, String)> {
    let file = crate::settings::absolute(file);
    let parent = file.parent()?;
    let mut fallback = None;
    for directory in parent.ancestors().take(2) {
        let framework = settings
            .target_framework()
            .unwrap_or_else(|| Framework::detect(directory));
        let plain = framework == Framework::Plain;
        if plain && directory != parent {
            continue;
        }
        let relative = file
            .strip_prefix(directory)
            .ok()?
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let Ok(migrations) = layout::discover(directory, framework) else {
            continue;
        };
        if !migrations.iter().any(|m| m.file == relative) {
            continue;
        }
        let found = (directory.to_path_buf(), framework, migrations, relative);
        if plain {
            fallback = Some(found);
        } else {
            return Some(found);
        }
    }
    fallback
}

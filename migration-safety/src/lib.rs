//! # migration-safety
//!
//! Stops dangerous PostgreSQL schema migrations before they reach production.
//!
//! During a deploy the old and the new version of an application run against the same
//! database, and a migration that rewrites a table or takes a strong lock stalls all traffic.
//! migration-safety reads your migrations, finds those hazards, and tells you the phased
//! alternative that keeps both versions working, with your table and column names.
//!
//! ```
//! use migration_safety::{Settings, lint_sql};
//!
//! let report = lint_sql("CREATE INDEX users_email_idx ON users (email);", &Settings::default());
//! let (_, finding) = report.diagnostics().next().unwrap();
//! assert_eq!(finding.rule, "create-index-non-concurrently");
//! assert!(finding.help.as_deref().unwrap().contains("CREATE INDEX CONCURRENTLY users_email_idx ON users (email);"));
//! ```
//!
//! The pipeline: source text → statements with exact ranges → a lowered
//! statement model (sqlparser behind one module, a token recogniser for what it rejects) →
//! rules over that model plus the schema earlier migrations built → findings → renderers.

use std::borrow::Cow;
use std::collections::HashMap;

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use migration_safety_core::layout;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
pub mod app;
pub mod config;
mod context;
mod diagnostic;
mod engine;
pub mod fix;
mod framework;
mod history;
mod lexer;
mod lower;
mod model;
mod parse;
mod recognize;
mod render;
mod rule;
mod rules;
mod schema;
mod settings;
mod source;
mod suppression;
mod written;

#[cfg(feature = "cli")]
mod changed;
#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "lsp")]
pub mod lsp;
#[cfg(feature = "cli")]
mod output;
#[cfg(any(feature = "trace", feature = "stats"))]
mod pg;
pub mod stats;
#[cfg(feature = "trace")]
pub mod trace;

#[doc = include_str!("check_migrations.md")]
pub use migration_safety_macros::check_migrations;

pub use diagnostic::{Diagnostic, Directory, FileReport, Report, Suppressed};
pub use history::History;
pub use layout::{Direction, LayoutError, Migration, Skipped};
pub use model::LockMode;
pub use render::Format;
pub use rule::{Category, Claim, Effect, Outcome, RuleMeta, Severity};
pub use settings::{
    ASSUMABLE_SETTINGS, DEFAULT_PG_VERSION, FailOn, Framework, SUPPORTED_PG_VERSIONS, Settings,
};
pub use source::Position;
pub use suppression::IGNORE_FILE_MARKER;

/// Why a lint run could not start or read its input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A path does not exist.
    #[error("`{0}` does not exist")]
    NotFound(PathBuf),
    /// A rule (or category) name that no rule has.
    #[error("unknown rule `{name}`{}; `migration-safety rules` lists the rules and their categories", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownRule {
        /// The name given.
        name: String,
        /// The closest existing name.
        suggestion: Option<String>,
    },
    /// A session setting [`Settings::assume`] does not know.
    #[error("unknown setting `{name}`{}; the settings that can be assumed are `{}`", suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(), settings::ASSUMABLE_SETTINGS.join("`, `"))]
    UnknownSetting {
        /// The name given.
        name: String,
        /// The closest known setting.
        suggestion: Option<String>,
    },
    /// A value a session setting cannot take.
    #[error("`{value}` is not a valid `{name}`: expected {expected}")]
    BadSettingValue {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: String,
        /// What it takes.
        expected: &'static str,
    },
    /// A glob pattern that does not parse.
    #[error("invalid glob `{pattern}`: {reason}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A configuration file that cannot be read or is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A migrations directory that does not follow its framework's layout.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The application's code at the base ref cannot be read (not a git repository, an
    /// unknown ref).
    #[error("{0}")]
    Application(String),
    /// A table statistics file that is not a snapshot this version reads.
    #[error("`{path}` is not a usable statistics snapshot: {reason}")]
    StatsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A PostgreSQL major version the rules do not know.
    #[error("{}", migration_safety_core::unsupported_pg_version(.0))]
    UnsupportedPgVersion(u32),
}

/// Every rule, sorted by name.
///
/// ```
/// let names: Vec<_> = migration_safety::rules().map(|r| r.name).collect();
/// assert!(names.contains(&"set-not-null"));
/// ```
pub fn rules() -> impl Iterator<Item = &'static RuleMeta> {
    rules::all().iter().copied()
}

/// Look up a rule by name (the error lists the names that exist).
///
/// ```
/// let rule = migration_safety::rule("drop-table").unwrap();
/// assert!(rule.documentation().contains("## Why is this bad?"));
/// assert!(migration_safety::rule("drop-tabel").unwrap_err().to_string().contains("did you mean `drop-table`?"));
/// ```
pub fn rule(name: &str) -> Result<&'static RuleMeta, Error> {
    rules::lookup(name)
}

/// The byte ranges of the top-level statements of `sql`, each from its first token to its `;`
/// (included when present), as the linter splits them: semicolons inside strings, comments,
/// dollar-quoted bodies and `BEGIN … END` blocks do not split. To run a migration statement by
/// statement, as `trace` and the verification suite do.
///
/// ```
/// let sql = "CREATE TABLE t (id int); -- a;\nDO $$ BEGIN PERFORM 1; END $$;\nSELECT 1";
/// let statements: Vec<&str> = migration_safety::split_statements(sql)
///     .into_iter()
///     .map(|range| &sql[range])
///     .collect();
/// assert_eq!(statements, ["CREATE TABLE t (id int);", "DO $$ BEGIN PERFORM 1; END $$;", "SELECT 1"]);
/// ```
pub fn split_statements(sql: &str) -> Vec<std::ops::Range<usize>> {
    lexer::split(sql)
        .statements
        .into_iter()
        .map(|statement| statement.range)
        .collect()
}

/// Lint SQL text as one migration (reported under the path `input.sql`).
///
/// ```
/// use migration_safety::{Settings, lint_sql};
///
/// let report = lint_sql("SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;", &Settings::default());
/// assert!(!report.has_errors());
/// ```
pub fn lint_sql(sql: &str, settings: &Settings) -> Report {
    let mut run = engine::Run::new(settings);
    Report {
        files: vec![run.lint("input.sql".to_owned(), sql.as_bytes())],
        ..Report::default()
    }
}

/// Lint the text of one migration, such as standard input, reported under `path`: it runs as
/// the settings' framework, or the one detected from the directory of `path` (which need not
/// exist: then it runs as [`Framework::Plain`]).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("20240101000000_init.sql"), "-- migrate:up\n").unwrap();
/// // The directory holds dbmate migrations: only the up section of the text is checked.
/// let path = dir.path().join("20240102000000_drop.sql");
/// let sql = b"-- migrate:up\nCREATE TABLE t (id bigint);\n-- migrate:down\nDROP TABLE users;\n";
/// let report = migration_safety::lint_source(&path, sql, &Default::default());
/// assert_eq!(report.files[0].framework, migration_safety::Framework::Dbmate);
/// assert_eq!(report.files[0].path, path.display().to_string());
/// assert!(!report.has_errors());
/// ```
pub fn lint_source(path: impl AsRef<Path>, bytes: &[u8], settings: &Settings) -> Report {
    let path = path.as_ref();
    let framework = settings
        .target_framework()
        .unwrap_or_else(|| path.parent().map_or(Framework::Plain, Framework::detect));
    let mut run = engine::Run::new(settings);
    let file = run.lint_migration(
        path.display().to_string(),
        bytes,
        framework,
        Direction::Up,
        &framework::Sidecar::default(),
    );
    Report {
        files: vec![file],
        ..Report::default()
    }
}

/// Lint one migration file.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("0001_init.sql");
/// # std::fs::write(&path, "CREATE TABLE users (id bigint PRIMARY KEY);").unwrap();
/// let report = migration_safety::lint_file(&path, &Default::default())?;
/// assert_eq!(report.error_count(), 0);
/// # Ok::<(), migration_safety::Error>(())
/// ```
pub fn lint_file(path: impl AsRef<Path>, settings: &Settings) -> Result<Report, Error> {
    lint_paths(&[path.as_ref().to_path_buf()], settings)
}

/// Lint the migrations of a directory, in migration order, as one history: a table created by
/// an earlier migration is an existing table for the later ones. The directory's framework
/// (the settings', or the one [`Framework::detect`] finds) decides which files are migrations,
/// their order, and how each runs; see [`lint_paths`].
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_users.sql"), "CREATE TABLE users (id bigint, email text);").unwrap();
/// # std::fs::write(dir.path().join("2_index.sql"), "CREATE INDEX users_email_idx ON users (email);").unwrap();
/// let report = migration_safety::lint_dir(dir.path(), &Default::default())?;
/// let rules: Vec<_> = report.diagnostics().map(|(_, d)| d.rule).collect();
/// assert_eq!(rules, ["create-index-non-concurrently", "missing-lock-timeout"]);
/// # Ok::<(), migration_safety::Error>(())
/// ```
pub fn lint_dir(path: impl AsRef<Path>, settings: &Settings) -> Result<Report, Error> {
    lint_paths(&[path.as_ref().to_path_buf()], settings)
}

/// Lint files and directories as one history, in the order given. A directory is read with
/// the framework of the settings, or the one [`Framework::detect`] finds: its migrations come in
/// the framework's order, and each runs as the framework runs it (inside a transaction or not,
/// sent as one query or statement by statement). Down migrations are linted only with
/// [`Settings::check_down`], each against the schema its up migration left, without changing it.
/// A file given on its own is run as the framework of the settings or of its directory runs it.
/// Migrations that [`Settings::start_after`] or [`Settings::exclude`] leave out are read, for
/// the schema they build, but not reported.
///
/// A directory that holds no `.sql` file at all is listed in [`Report::directories`] with no
/// migrations, not an error; one whose `.sql` files its framework would not run is an error.
pub fn lint_paths(paths: &[PathBuf], settings: &Settings) -> Result<Report, Error> {
    let mut files = Vec::new();
    let report = Lint::new(paths, settings)?.each(|file| files.push(file))?;
    Ok(Report { files, ..report })
}

/// [`lint_paths`] in two steps, so that a caller can start its output with the directories
/// before any file is checked, then take each file's report as it is checked rather than
/// keep them all.
pub(crate) struct Lint<'s> {
    /// The settings, with the application's code loaded.
    settings: Cow<'s, Settings>,
    jobs: Vec<Job>,
    /// The report without files.
    outline: Report,
}

impl<'s> Lint<'s> {
    /// Load the application's code that the settings name (unless they hold it already) and
    /// find the migrations of `paths`, in order, without reading them.
    pub(crate) fn new(paths: &[PathBuf], settings: &'s Settings) -> Result<Self, Error> {
        let settings = match paths.first() {
            Some(first) if settings.knowledge().is_none() => {
                Cow::Owned(settings.clone().load_application(first)?)
            }
            _ => Cow::Borrowed(settings),
        };
        let (jobs, outline) = jobs(paths, &settings)?;
        Ok(Self {
            settings,
            jobs,
            outline,
        })
    }

    /// The report without files: the directories, how they are read, and the entries their
    /// layouts skip.
    pub(crate) fn outline(&self) -> &Report {
        &self.outline
    }

    /// Check the migrations in order, handing each reported file's report to `on_file` as
    /// soon as it is checked, then those of the application's code (`schema-drift`); returns
    /// the report without files, with what the run has to say in its notes.
    pub(crate) fn each(self, mut on_file: impl FnMut(FileReport)) -> Result<Report, Error> {
        let Self {
            settings,
            jobs,
            mut outline,
        } = self;
        let mut run = engine::Run::new(&settings);
        replay(&mut run, &jobs, &settings, &mut on_file)?;
        run.drift().into_iter().for_each(on_file);
        if let Some(application) = settings.knowledge() {
            outline.notes.push(application.summary());
            outline.notes.extend(
                application
                    .problems()
                    .map(|p| format!("cannot read the application's code: {p}")),
            );
        }
        Ok(outline)
    }
}

/// Check `jobs` in order on `run`, handing each reported migration's findings to `reported`.
/// Files are read, split and parsed in parallel, one bounded batch ahead of the checks,
/// which replay the schema in migration order on the calling thread: memory follows the
/// batch, not the directory, and `reported` need not be sent to another thread.
pub(crate) fn replay(
    run: &mut engine::Run<'_>,
    jobs: &[Job],
    settings: &Settings,
    mut reported: impl FnMut(FileReport),
) -> Result<(), Error> {
    let prepare = |batch: &[Job]| -> Vec<_> {
        batch
            .par_iter()
            .map(|job| prepare_job(settings, job))
            .collect()
    };
    let mut batches = jobs.chunks(rayon::current_num_threads() * 4);
    let mut pending = batches.next().map(prepare).unwrap_or_default();
    loop {
        let next = batches.next();
        let current = std::mem::take(&mut pending);
        let mut prepared = None;
        rayon::in_place_scope(|scope| {
            if let Some(batch) = next {
                scope.spawn(|_| prepared = Some(prepare(batch)));
            }
            for prepared in current {
                let (prepared, report) = prepared?;
                // An unreported migration is still checked: it builds the schema the later
                // ones see.
                let linted = run.check(prepared);
                if report {
                    reported(linted);
                }
            }
            Ok::<_, Error>(())
        })?;
        match prepared {
            Some(prepared) => pending = prepared,
            None => break,
        }
    }
    Ok(())
}

/// One migration of a run: its file, how its framework runs it, and whether it is reported
/// (see [`Settings::start_after`]).
pub(crate) type Job = (PathBuf, Framework, Direction, bool);

/// The migrations of files and directories, in order, and a report without files yet: the
/// directories and how they are read, the entries the layouts skip.
pub(crate) fn jobs(paths: &[PathBuf], settings: &Settings) -> Result<(Vec<Job>, Report), Error> {
    let mut jobs = Vec::new();
    let mut directories: HashMap<PathBuf, (Framework, HashMap<String, Migration>)> = HashMap::new();
    let mut report = Report::default();
    for path in paths {
        if path.is_dir() {
            let framework = settings
                .target_framework()
                .unwrap_or_else(|| Framework::detect(path));
            let found = match layout::discover_all(path, framework) {
                Ok(found) => found,
                Err(LayoutError::Empty(..)) if migration_files(path)?.is_empty() => {
                    layout::Discovery::default()
                }
                Err(error) => return Err(error.into()),
            };
            report.skipped.extend(found.skipped);
            let mut count = 0;
            for migration in found.migrations {
                if migration.direction == Direction::Down && !settings.checks_down() {
                    continue;
                }
                count += 1;
                let file = path.join(&migration.file);
                let reported = settings.reports(&file, Some(&migration));
                jobs.push((file, framework, migration.direction, reported));
            }
            report.directories.push(Directory {
                path: path.display().to_string(),
                framework,
                detected: settings.target_framework().is_none(),
                migrations: count,
            });
        } else if path.exists() {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            let parent = parent.unwrap_or(Path::new("."));
            // Detected and read once per directory, however many of its files are given.
            let (framework, found) = directories.entry(parent.to_path_buf()).or_insert_with(|| {
                let framework = settings
                    .target_framework()
                    .unwrap_or_else(|| Framework::detect(parent));
                let mut found = HashMap::new();
                for migration in layout::discover(parent, framework).unwrap_or_default() {
                    found.entry(migration.file.clone()).or_insert(migration);
                }
                (framework, found)
            });
            // The file's version, as its directory's layout reads it, for `start_after`.
            let migration = path
                .file_name()
                .and_then(|name| name.to_str())
                .and_then(|name| found.get(name));
            let reported = settings.reports(path, migration);
            jobs.push((path.clone(), *framework, Direction::Up, reported));
        } else {
            return Err(Error::NotFound(path.clone()));
        }
    }
    Ok((jobs, report))
}

/// Read a migration and its side files, then split and parse it.
pub(crate) fn prepare_job(
    settings: &Settings,
    job: &Job,
) -> Result<(engine::Prepared, bool), Error> {
    prepare_job_text(settings, job, None)
}

/// [`prepare_job`] with the migration's text given instead of read (its side files are read).
pub(crate) fn prepare_job_text(
    settings: &Settings,
    (file, framework, direction, reported): &Job,
    text: Option<&str>,
) -> Result<(engine::Prepared, bool), Error> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let bytes = match text {
        // Written back, the text keeps the file's byte-order mark (`fix::Change::bytes`), which
        // decides whether sqlx sees its `-- no-transaction`.
        Some(text) => {
            let bom: &[u8] = if read(file)?.starts_with(b"\xEF\xBB\xBF") {
                b"\xEF\xBB\xBF"
            } else {
                b""
            };
            [bom, text.as_bytes()].concat()
        }
        None => read(file)?,
    };
    let sidecar = sidecar(file, *framework)?;
    let path = file.display().to_string();
    let prepared = engine::prepare(settings, path, &bytes, *framework, *direction, &sidecar);
    Ok((prepared, *reported))
}

/// The files next to a migration that change how its framework runs it: diesel's
/// `metadata.toml`, Flyway's `<script>.conf`.
pub(crate) fn sidecar(file: &Path, framework: Framework) -> Result<framework::Sidecar, Error> {
    let text = |path: PathBuf| -> Result<Option<String>, Error> {
        if !path.is_file() {
            return Ok(None);
        }
        let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(framework::Sidecar {
        diesel_metadata: match (framework, file.parent()) {
            (Framework::Diesel, Some(dir)) => text(dir.join("metadata.toml"))?,
            _ => None,
        },
        flyway_conf: match framework {
            Framework::Flyway => text(PathBuf::from(format!("{}.conf", file.display())))?,
            _ => None,
        },
    })
}

/// The migrations of a directory under a framework (detected when `None`), in the order the
/// framework applies them, each down migration right after its up migration.
///
/// ```
/// use migration_safety::{Direction, Framework};
/// # let dir = tempfile::tempdir().unwrap();
/// # for name in ["2_b.up.sql", "2_b.down.sql", "10_c.up.sql", "1_a.up.sql"] { std::fs::write(dir.path().join(name), "").unwrap(); }
/// let migrations = migration_safety::migrations(dir.path(), Some(Framework::GolangMigrate))?;
/// let files: Vec<_> = migrations.iter().map(|m| (m.file.as_str(), m.direction)).collect();
/// assert_eq!(files, [("1_a.up.sql", Direction::Up), ("2_b.up.sql", Direction::Up), ("2_b.down.sql", Direction::Down), ("10_c.up.sql", Direction::Up)]);
/// # Ok::<(), migration_safety::Error>(())
/// ```
pub fn migrations(
    dir: impl AsRef<Path>,
    framework: Option<Framework>,
) -> Result<Vec<Migration>, Error> {
    let dir = dir.as_ref();
    let framework = framework.unwrap_or_else(|| Framework::detect(dir));
    Ok(layout::discover(dir, framework)?)
}

/// Lint a migrations directory (relative paths resolve against the working directory, which
/// is the package root under `cargo test`) with the detected framework, and panic with the
/// rendered findings when any is an error: the run-time alternative to
/// [`check_migrations`], for a plain `#[test]`. It always sees the files on disk.
///
/// ```should_panic
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_users.sql"), "CREATE TABLE users (id bigint);").unwrap();
/// # std::fs::write(dir.path().join("2_drop.sql"), "ALTER TABLE users DROP COLUMN id;").unwrap();
/// migration_safety::check_dir(dir.path()); // panics: drop-column
/// ```
#[track_caller]
pub fn check_dir(dir: impl AsRef<Path>) {
    check_dir_with(dir, &Settings::default());
}

/// [`check_dir`] with settings.
#[track_caller]
pub fn check_dir_with(dir: impl AsRef<Path>, settings: &Settings) {
    match lint_dir(dir.as_ref(), settings) {
        Ok(report) => report.assert_clean(),
        Err(error) => panic!("migration-safety: {error}"),
    }
}

/// The `.sql` files below `dir`, recursively, in migration order: paths compared with digit
/// runs as numbers, so `9_x.sql` comes before `10_x.sql`. Hidden directories, special files
/// (such as FIFOs) and symbolic links back into a searched directory are passed over.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # for name in ["10_b.sql", "9_a.sql", "notes.txt"] { std::fs::write(dir.path().join(name), "").unwrap(); }
/// let files = migration_safety::migration_files(dir.path())?;
/// let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect();
/// assert_eq!(names, ["9_a.sql", "10_b.sql"]);
/// # Ok::<(), migration_safety::Error>(())
/// ```
pub fn migration_files(dir: impl AsRef<Path>) -> Result<Vec<PathBuf>, Error> {
    let dir = dir.as_ref();
    if !dir.exists() {
        return Err(Error::NotFound(dir.to_path_buf()));
    }
    match layout::discover(dir, Framework::Plain) {
        Ok(found) => Ok(found.into_iter().map(|m| dir.join(m.file)).collect()),
        Err(LayoutError::Empty(..)) => Ok(Vec::new()),
        Err(error) => Err(error.into()),
    }
}

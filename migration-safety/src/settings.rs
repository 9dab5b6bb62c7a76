//! What the engine is told about the project: target PostgreSQL major, framework, rule levels,
//! the session settings assumed in force, and which migrations are reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::Error;
use crate::app::{App, AppChoice, Application};
use crate::layout::Migration;
use crate::rule::Severity;
use crate::stats::{DEFAULT_SMALL_TABLE_ROWS, Snapshot};

pub use migration_safety_core::{DEFAULT_PG_VERSION, SUPPORTED_PG_VERSIONS};

pub use crate::layout::Framework;

/// `auto` (`None`: detected per directory) or a framework's name; the error names the choices.
pub(crate) fn framework_choice(name: &str) -> Result<Option<Framework>, String> {
    if name == "auto" {
        return Ok(None);
    }
    Framework::from_name(name).map(Some).ok_or_else(|| {
        let names = Framework::ALL.iter().map(|f| f.name());
        format!(
            "unknown framework `{name}`{}; expected `auto`, `{}`",
            crate::rules::did_you_mean(name, names.clone())
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default(),
            names.collect::<Vec<_>>().join("`, `")
        )
    })
}

/// The session settings [`Settings::assume`] accepts: those the rules read.
pub const ASSUMABLE_SETTINGS: &[&str] = &["lock_timeout", "statement_timeout", "timezone"];

/// Engine settings.
///
/// ```
/// use migration_safety::{Framework, Settings, Severity};
///
/// let settings = Settings::default()
///     .pg_version(16)?
///     .framework(Framework::Plain)
///     .allow("drop-column")?
///     .severity("missing-lock-timeout", Severity::Error)?
///     .assume("statement_timeout", "1min")?
///     .start_after("20240101000000");
/// assert_eq!(settings.target_pg_version(), 16);
/// assert_eq!(settings.assumed("statement_timeout"), Some("1min"));
/// assert_eq!(settings.target_framework(), Some(Framework::Plain));
/// assert_eq!(settings.detect_framework().target_framework(), None);
/// # Ok::<(), migration_safety::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pg_version: u32,
    /// `None`: detected from each directory.
    framework: Option<Framework>,
    check_down: bool,
    /// `None`: the rule is off.
    levels: BTreeMap<&'static str, Option<Severity>>,
    fail_on: FailOn,
    /// Session settings in force before a migration's first statement.
    assumed: BTreeMap<&'static str, String>,
    /// Only migrations after this version are reported.
    start_after: Option<String>,
    exclude: Option<Exclude>,
    /// Which libraries' code to read for what the application uses.
    app: AppChoice,
    /// The git ref of the code still running.
    base_ref: Option<String>,
    /// That code, read.
    application: Option<Arc<Application>>,
    /// The database's table statistics, applied to the findings after the rules.
    statistics: Option<Arc<Snapshot>>,
    small_table_rows: u64,
    /// Whether findings carry their fixes.
    fixes: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pg_version: DEFAULT_PG_VERSION,
            framework: None,
            check_down: false,
            levels: BTreeMap::new(),
            fail_on: FailOn::default(),
            assumed: BTreeMap::new(),
            start_after: None,
            exclude: None,
            app: AppChoice::default(),
            base_ref: None,
            application: None,
            statistics: None,
            small_table_rows: DEFAULT_SMALL_TABLE_ROWS,
            fixes: true,
        }
    }
}

impl Settings {
    /// Target a PostgreSQL major version (10 to 18).
    pub fn pg_version(mut self, major: u32) -> Result<Self, Error> {
        if !SUPPORTED_PG_VERSIONS.contains(&major) {
            return Err(Error::UnsupportedPgVersion(major));
        }
        self.pg_version = major;
        Ok(self)
    }

    /// Set how migrations are laid out and run, instead of detecting it from each directory.
    pub fn framework(mut self, framework: Framework) -> Self {
        self.framework = Some(framework);
        self
    }

    /// Detect the framework from each directory linted (the default).
    pub fn detect_framework(mut self) -> Self {
        self.framework = None;
        self
    }

    /// Also lint down migrations (off by default: they only run to undo a deploy).
    pub fn check_down(mut self, check_down: bool) -> Self {
        self.check_down = check_down;
        self
    }

    /// Turn a rule off, or every rule of a category (such as `design`).
    pub fn allow(mut self, rule_or_category: &str) -> Result<Self, Error> {
        for rule in crate::rules::select(rule_or_category)? {
            self.levels.insert(rule.name, None);
        }
        Ok(self)
    }

    /// Report a rule, or every rule of a category, at `severity` instead of its default.
    pub fn severity(mut self, rule_or_category: &str, severity: Severity) -> Result<Self, Error> {
        for rule in crate::rules::select(rule_or_category)? {
            self.levels.insert(rule.name, Some(severity));
        }
        Ok(self)
    }

    /// Assume a session setting is in force before every migration, because the migration
    /// runner or the database role sets it (`ALTER ROLE migrator SET lock_timeout = '5s'`).
    /// `name` is one of [`ASSUMABLE_SETTINGS`]; a timeout is a PostgreSQL duration such as
    /// `5s`, `500ms` or `1min` (a bare number is milliseconds). An assumed `lock_timeout`
    /// satisfies `missing-lock-timeout`; a `RESET` in a migration returns to the assumed value.
    ///
    /// ```
    /// use migration_safety::{Settings, lint_sql};
    ///
    /// let sql = "ALTER TABLE users ADD COLUMN nickname text;";
    /// let nagged = lint_sql(sql, &Settings::default());
    /// assert_eq!(nagged.diagnostics().next().unwrap().1.rule, "missing-lock-timeout");
    /// let assumed = Settings::default().assume("lock_timeout", "5s")?;
    /// assert_eq!(lint_sql(sql, &assumed).diagnostics().count(), 0);
    /// assert!(Settings::default().assume("lock_timeout", "5 seconds").is_err());
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn assume(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let Some(&known) = ASSUMABLE_SETTINGS.iter().find(|s| **s == name) else {
            return Err(Error::UnknownSetting {
                name: name.to_owned(),
                suggestion: crate::rules::did_you_mean(name, ASSUMABLE_SETTINGS.iter().copied())
                    .map(str::to_owned),
            });
        };
        let valid = match known {
            "timezone" => !value.trim().is_empty(),
            _ => is_duration(value),
        };
        if !valid {
            let expected = match known {
                "timezone" => "a time zone name, such as `UTC` or `Europe/Paris`",
                _ => "a duration, such as `5s`, `500ms` or `1min` (a bare number is milliseconds)",
            };
            return Err(Error::BadSettingValue {
                name: known,
                value: value.to_owned(),
                expected,
            });
        }
        self.assumed.insert(known, value.trim().to_owned());
        Ok(self)
    }

    /// Report only the migrations whose version sorts after `version`: the earlier ones
    /// already ran in production. They are still read, so the later ones know their schema.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::write(dir.path().join("1_users.sql"), "CREATE TABLE users (id bigint, email text);").unwrap();
    /// # std::fs::write(dir.path().join("2_old.sql"), "ALTER TABLE users DROP COLUMN email;").unwrap();
    /// # std::fs::write(dir.path().join("3_new.sql"), "CREATE INDEX CONCURRENTLY users_id_idx ON users (id);").unwrap();
    /// let settings = migration_safety::Settings::default().start_after("2");
    /// let report = migration_safety::lint_dir(dir.path(), &settings)?;
    /// let files: Vec<_> = report.files.iter().map(|f| f.path.rsplit('/').next().unwrap()).collect();
    /// assert_eq!(files, ["3_new.sql"]);
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn start_after(mut self, version: &str) -> Self {
        self.start_after = Some(version.to_owned());
        self
    }

    /// Do not report the migration files that match one of the glob `patterns` (`*` also
    /// matches `/`), written relative to `root`; like migrations before
    /// [`start_after`](Settings::start_after), they are still read for their schema.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir(dir.path().join("migrations")).unwrap();
    /// # std::fs::write(dir.path().join("migrations/1_users.sql"), "CREATE TABLE users (id bigint, email text);").unwrap();
    /// # std::fs::write(dir.path().join("migrations/2_legacy.sql"), "ALTER TABLE users DROP COLUMN email;").unwrap();
    /// let settings = migration_safety::Settings::default()
    ///     .exclude(dir.path(), &["migrations/*_legacy.sql"])?;
    /// let report = migration_safety::lint_dir(dir.path().join("migrations"), &settings)?;
    /// assert_eq!(report.files.len(), 1);
    /// assert!(migration_safety::Settings::default().exclude(".", &["[oops"]).is_err());
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn exclude(mut self, root: impl AsRef<Path>, patterns: &[&str]) -> Result<Self, Error> {
        let mut builder = globset::GlobSetBuilder::new();
        for pattern in patterns {
            let glob = globset::Glob::new(pattern).map_err(|e| Error::BadGlob {
                pattern: (*pattern).to_owned(),
                reason: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let set = builder.build().map_err(|e| Error::BadGlob {
            pattern: patterns.join(", "),
            reason: e.kind().to_string(),
        })?;
        self.exclude = Some(Exclude {
            root: absolute(root.as_ref()),
            patterns: patterns.iter().map(|p| (*p).to_owned()).collect(),
            set,
        });
        Ok(self)
    }

    /// Which libraries the application's code uses the database through: detected from the
    /// crate's `Cargo.toml` by default (see [`App::detect`]).
    pub fn app(mut self, choice: AppChoice) -> Self {
        self.app = choice;
        self
    }

    /// The git ref of the code still running in production (`origin/main`): a change that
    /// drops or renames what that code uses stays an error, naming the place; one that nothing
    /// there uses is reported as a warning that says so.
    pub fn base_ref(mut self, reference: &str) -> Self {
        self.base_ref = Some(reference.to_owned());
        self
    }

    /// Use this knowledge of the application's code instead of reading it.
    pub fn application(mut self, application: Application) -> Self {
        self.application = Some(Arc::new(application));
        self
    }

    /// Read the application's code, unless it is already known or the choice is
    /// [`AppChoice::None`]: the crate is the nearest directory with a `Cargo.toml` from
    /// `start` up, and the libraries are the chosen ones or those it depends on. Nothing is
    /// read when there is no such crate or it uses none of them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir_all(dir.path().join("src")).unwrap();
    /// # std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    /// std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"app\"\n[dependencies]\ndiesel = \"2\"\n").unwrap();
    /// std::fs::write(dir.path().join("src/schema.rs"), "diesel::table! { users (id) { id -> Int8, name -> Text, } }").unwrap();
    /// std::fs::write(dir.path().join("migrations/1_users.sql"), "CREATE TABLE users (id bigint, name text);").unwrap();
    /// std::fs::write(dir.path().join("migrations/2_drop.sql"), "ALTER TABLE users DROP COLUMN name;").unwrap();
    /// let migrations = dir.path().join("migrations");
    /// let settings = migration_safety::Settings::default().load_application(&migrations)?;
    /// assert_eq!(settings.knowledge().unwrap().apps(), [migration_safety::app::App::Diesel]);
    /// let report = migration_safety::lint_dir(&migrations, &settings)?;
    /// assert!(report.diagnostics().any(|(_, d)| d.message.contains("even the code in the working tree still reads `users.name` (src/schema.rs:1: users.name)")));
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn load_application(self, start: &Path) -> Result<Self, Error> {
        if self.application.is_some() || self.app == AppChoice::None {
            return Ok(self);
        }
        let Some(crate_dir) = Application::crate_of(start) else {
            return Ok(self);
        };
        let apps: Vec<App> = match &self.app {
            AppChoice::Apps(apps) => apps.clone(),
            _ => App::detect(&crate_dir),
        };
        if apps.is_empty() {
            return Ok(self);
        }
        let application = Application::load(&crate_dir, &apps, self.base_ref.as_deref())?;
        Ok(self.application(application))
    }

    /// Which libraries' code is read.
    pub fn app_choice(&self) -> &AppChoice {
        &self.app
    }

    /// The git ref of the code still running, if known.
    pub fn target_base_ref(&self) -> Option<&str> {
        self.base_ref.as_deref()
    }

    /// The application's code, once read.
    pub fn knowledge(&self) -> Option<&Application> {
        self.application.as_deref()
    }

    /// Which findings fail a check (errors, by default).
    pub fn fail_on(mut self, fail_on: FailOn) -> Self {
        self.fail_on = fail_on;
        self
    }

    /// Apply a database's table statistics to the findings (see [`crate::stats`]): lock and
    /// rewrite findings name the table's size and estimate how long the statement blocks it,
    /// and those whose tables all have fewer than [`small_table_rows`](Settings::small_table_rows)
    /// rows become warnings.
    pub fn statistics(mut self, snapshot: Arc<Snapshot>) -> Self {
        self.statistics = Some(snapshot);
        self
    }

    /// The statistics applied to the findings, if any.
    pub fn table_statistics(&self) -> Option<&Snapshot> {
        self.statistics.as_deref()
    }

    /// Below how many rows a table is small enough that its lock and rewrite findings are
    /// warnings (default [`DEFAULT_SMALL_TABLE_ROWS`]); it matters only with
    /// [`statistics`](Settings::statistics).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use migration_safety::stats::{Snapshot, TableStats};
    /// use migration_safety::{Settings, Severity, lint_sql};
    ///
    /// let mut snapshot = Snapshot::new("15.18");
    /// snapshot.tables.push(TableStats::new("public", "users", 40, 8192));
    /// let settings = Settings::default().statistics(Arc::new(snapshot)).small_table_rows(10);
    /// let report = lint_sql("CREATE INDEX users_email_idx ON users (email);", &settings);
    /// assert_eq!(report.diagnostics().next().unwrap().1.severity, Severity::Error);
    /// assert_eq!(settings.small_table_row_limit(), 10);
    /// ```
    pub fn small_table_rows(mut self, rows: u64) -> Self {
        self.small_table_rows = rows;
        self
    }

    /// See [`small_table_rows`](Settings::small_table_rows).
    pub fn small_table_row_limit(&self) -> u64 {
        self.small_table_rows
    }

    /// Whether each finding carries its [fix](crate::Diagnostic::fix), when the rule has one
    /// (on by default). Planning a fix takes work (the phases, the names of new migration
    /// files): turn it off when only the messages are read, as the human output and the tests
    /// `#[check_migrations]` generates do.
    ///
    /// ```
    /// use migration_safety::{Settings, lint_sql};
    ///
    /// let sql = "CREATE INDEX users_email_idx ON users (email);";
    /// let with = lint_sql(sql, &Settings::default());
    /// assert!(with.diagnostics().any(|(_, d)| d.fix.is_some()));
    /// let settings = Settings::default().fixes(false);
    /// assert!(!settings.builds_fixes());
    /// let without = lint_sql(sql, &settings);
    /// assert!(without.diagnostics().all(|(_, d)| d.fix.is_none()));
    /// assert_eq!(with.diagnostics().count(), without.diagnostics().count());
    /// ```
    pub fn fixes(mut self, build: bool) -> Self {
        self.fixes = build;
        self
    }

    /// See [`fixes`](Settings::fixes).
    pub fn builds_fixes(&self) -> bool {
        self.fixes
    }

    /// Which findings fail a check.
    pub fn failure_threshold(&self) -> FailOn {
        self.fail_on
    }

    /// The target PostgreSQL major version.
    pub fn target_pg_version(&self) -> u32 {
        self.pg_version
    }

    /// The framework migrations run under, or `None` when it is detected per directory.
    pub fn target_framework(&self) -> Option<Framework> {
        self.framework
    }

    /// Whether down migrations are linted.
    pub fn checks_down(&self) -> bool {
        self.check_down
    }

    /// The value of a session setting assumed in force before every migration.
    pub fn assumed(&self, name: &str) -> Option<&str> {
        self.assumed.get(name).map(String::as_str)
    }

    /// Whether the findings of `file` are reported: it is not excluded and, when its
    /// migration is known, comes after `start_after`.
    pub(crate) fn reports(&self, file: &Path, migration: Option<&Migration>) -> bool {
        let excluded = self.exclude.as_ref().is_some_and(|e| e.matches(file));
        let applied = match (&self.start_after, migration) {
            (Some(after), Some(migration)) => !migration.is_after(after),
            _ => false,
        };
        !excluded && !applied
    }

    /// The severity a rule reports at, or `None` when it is off.
    pub(crate) fn level(&self, rule: &crate::rule::RuleMeta) -> Option<Severity> {
        self.levels
            .get(rule.name)
            .copied()
            .unwrap_or(Some(rule.default_severity))
    }
}

/// Glob patterns of files not to report, relative to a root directory.
#[derive(Debug, Clone)]
struct Exclude {
    root: PathBuf,
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl Exclude {
    fn matches(&self, file: &Path) -> bool {
        let file = absolute(file);
        let relative = file.strip_prefix(&self.root).unwrap_or(&file);
        let text: Vec<_> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect();
        self.set.is_match(text.join("/"))
    }
}

impl PartialEq for Exclude {
    fn eq(&self, other: &Self) -> bool {
        (&self.root, &self.patterns) == (&other.root, &other.patterns)
    }
}

impl Eq for Exclude {}

/// `path` made absolute against the working directory, with `.` and `..` resolved lexically.
pub(crate) fn absolute(path: &Path) -> PathBuf {
    let joined = std::env::current_dir()
        .map(|cwd| cwd.join(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// A PostgreSQL duration: a number with an optional unit (`us`, `ms`, `s`, `min`, `h`, `d`).
fn is_duration(value: &str) -> bool {
    let value = value.trim();
    let number_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(number_end);
    number.parse::<f64>().is_ok()
        && ["", "us", "ms", "s", "min", "h", "d"].contains(&unit.trim_start())
}

/// Which findings fail a check: `migration-safety check` exits 1, a generated test panics.
///
/// ```
/// use migration_safety::{FailOn, Severity};
///
/// assert_eq!(FailOn::default(), FailOn::Error);
/// assert!(FailOn::Error.fails(Severity::Error));
/// assert!(!FailOn::Error.fails(Severity::Warning));
/// assert!(FailOn::Warning.fails(Severity::Warning));
/// assert!(!FailOn::Never.fails(Severity::Error));
/// assert_eq!(FailOn::from_name("warning"), Some(FailOn::Warning));
/// assert_eq!(FailOn::Never.to_string(), "never");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum FailOn {
    /// Fail when any finding is an error (the default).
    #[default]
    Error,
    /// Fail when any finding is an error or a warning.
    Warning,
    /// Never fail: report only.
    Never,
}

impl FailOn {
    /// Every value, in the order `error`, `warning`, `never`.
    pub const ALL: [FailOn; 3] = [FailOn::Error, FailOn::Warning, FailOn::Never];

    /// `error`, `warning` or `never`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailOn::Error => "error",
            FailOn::Warning => "warning",
            FailOn::Never => "never",
        }
    }

    /// The value named `name` (`error`, `warning` or `never`).
    pub fn from_name(name: &str) -> Option<FailOn> {
        Self::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// Whether a finding of `severity` fails the check.
    pub fn fails(self, severity: Severity) -> bool {
        match self {
            FailOn::Error => severity == Severity::Error,
            FailOn::Warning => true,
            FailOn::Never => false,
        }
    }
}

impl std::fmt::Display for FailOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

//! The configuration file, `migration-safety.toml`: one file read by `migration-safety check`
//! and by the tests `#[check_migrations]` generates, so both reach the same verdicts.
//!
//! The command line looks for it in the working directory and then in each parent directory
//! (`--config PATH` names it instead); the generated tests look for it from the crate's
//! directory up. Every key is optional:
//!
//! ```toml
//! pg_version = 16                  # the PostgreSQL major production runs (10 to 18; default 14)
//! framework = "sqlx"               # how migrations are laid out and run; "auto" detects it
//! check_down = false               # also check down migrations
//! start_after = "20240101000000"   # report only the migrations after this version
//! exclude = ["migrations/*_seed.sql"]  # globs, relative to this file, of files not reported
//! fail_on = "error"                # "error", "warning" or "never"
//! app = "diesel"                   # the application's code: "auto", "none", "diesel", "sqlx", "sea-orm"
//! base_ref = "origin/main"         # the git ref of the code running in production
//! database_url_env = "DATABASE_URL"  # table statistics: the variable holding the database's URL
//! small_table_rows = 10000         # lock and rewrite findings on smaller tables are warnings
//!
//! [rules]                          # a rule or a category: "allow", "warn" or "deny"
//! rename-column = "allow"
//! design = "warn"
//!
//! [assume]                         # session settings the runner or the role already applies
//! lock_timeout = "5s"
//! ```
//!
//! Command-line flags override the file, and so do the options of `#[check_migrations(…)]`.
//! A rule's own level overrides its category's. Migrations before `start_after` and excluded
//! files are still read, so the later migrations know the schema they built. An unknown key,
//! rule or setting, a value of the wrong type and a bad glob are errors that give the file, the
//! line and the column, with the closest valid name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::settings::{self, FailOn, Settings};
use crate::{Error, Severity};

/// The file's name.
pub const FILE_NAME: &str = migration_safety_core::CONFIG_FILE_NAME;

/// The top-level keys.
const KEYS: &[&str] = &[
    "pg_version",
    "framework",
    "check_down",
    "start_after",
    "exclude",
    "fail_on",
    "app",
    "base_ref",
    "rules",
    "assume",
    "database_url",
    "database_url_env",
    "stats_file",
    "small_table_rows",
];

/// What `[rules]` sets a rule or category to.
const LEVELS: &[&str] = &["allow", "warn", "deny"];

/// The file as written; every value keeps its position for error messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    pg_version: Option<Spanned<u32>>,
    framework: Option<Spanned<String>>,
    check_down: Option<bool>,
    start_after: Option<Spanned<toml::Value>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    fail_on: Option<Spanned<String>>,
    app: Option<Spanned<String>>,
    base_ref: Option<Spanned<String>>,
    #[serde(default)]
    rules: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    assume: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    database_url: Option<Spanned<String>>,
    database_url_env: Option<Spanned<String>>,
    stats_file: Option<Spanned<String>>,
    small_table_rows: Option<u64>,
}

/// Where `migration-safety check` reads table statistics from (see [`crate::stats`]), as the
/// configuration file says; `--database-url` and `--stats-file` override it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatisticsSource {
    /// None: the verdicts are static.
    #[default]
    None,
    /// `database_url`: this database.
    DatabaseUrl(String),
    /// `database_url_env`: the database whose URL this environment variable holds.
    DatabaseUrlEnv(String),
    /// `stats_file`: a snapshot written by `migration-safety stats` (relative paths are
    /// resolved against the configuration file's directory).
    StatsFile(PathBuf),
}

/// A configuration file, read and checked.
///
/// ```
/// use migration_safety::config::Config;
/// use migration_safety::{FailOn, Framework};
///
/// let config = Config::parse(
///     "framework = \"sqlx\"\nfail_on = \"warning\"\n\n[rules]\nrename-column = \"allow\"\n\n[assume]\nlock_timeout = \"5s\"\n",
///     "migration-safety.toml",
/// )?;
/// let settings = config.settings();
/// assert_eq!(settings.target_framework(), Some(Framework::Sqlx));
/// assert_eq!(settings.failure_threshold(), FailOn::Warning);
/// assert_eq!(settings.assumed("lock_timeout"), Some("5s"));
///
/// let typo = Config::parse("pg_verison = 16\n", "migration-safety.toml").unwrap_err();
/// assert_eq!(
///     typo.to_string(),
///     "migration-safety.toml:1:1: unknown key `pg_verison` (did you mean `pg_version`?); the keys are `pg_version`, `framework`, `check_down`, `start_after`, `exclude`, `fail_on`, `app`, `base_ref`, `rules`, `assume`, `database_url`, `database_url_env`, `stats_file`, `small_table_rows`"
/// );
/// # Ok::<(), migration_safety::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    path: PathBuf,
    settings: Settings,
    statistics: StatisticsSource,
}

impl Config {
    /// The configuration file in `start` or the nearest of its parents, if any; relative
    /// when `start` is (`migration-safety.toml`, `../migration-safety.toml`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # std::fs::create_dir_all(dir.path().join("crates/app")).unwrap();
    /// std::fs::write(dir.path().join("migration-safety.toml"), "pg_version = 16\n")?;
    /// let found = migration_safety::config::Config::find(&dir.path().join("crates/app"));
    /// assert_eq!(found, Some(dir.path().join("migration-safety.toml")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn find(start: &Path) -> Option<PathBuf> {
        let depth = settings::absolute(start)
            .ancestors()
            .position(|dir| dir.join(FILE_NAME).is_file())?;
        let mut path: PathBuf = start
            .components()
            .filter(|c| *c != std::path::Component::CurDir)
            .collect();
        if start.is_absolute() {
            path = settings::absolute(start);
            for _ in 0..depth {
                path.pop();
            }
        } else {
            path.extend(std::iter::repeat_n("..", depth));
        }
        Some(path.join(FILE_NAME))
    }

    /// Read the configuration file [`find`](Config::find) finds from `start`; `None` when
    /// there is none.
    pub fn discover(start: &Path) -> Result<Option<Config>, Error> {
        Config::find(start)
            .map(|path| Config::load(&path))
            .transpose()
    }

    /// Read and check the configuration file at `path`.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Check the text of a configuration file read from `path` (which names the file in error
    /// messages and is the directory `exclude` patterns are relative to).
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let at = |span: std::ops::Range<usize>, message: String| {
            Error::Config(ConfigError::new(path, text, span.start, message))
        };
        let toml_error = |error: toml::de::Error| {
            let span = error.span().unwrap_or(0..0);
            at(span, error.message().trim_end().to_owned())
        };
        let document = toml::de::DeTable::parse(text).map_err(toml_error)?;
        for (key, _) in document.get_ref() {
            let name: &str = key.get_ref();
            if !KEYS.contains(&name) {
                return Err(at(
                    key.span(),
                    format!(
                        "unknown key `{name}`{}; the keys are `{}`",
                        suggestion(name, KEYS.iter().copied()),
                        KEYS.join("`, `")
                    ),
                ));
            }
        }
        let file = File::deserialize(toml::de::Deserializer::from(document)).map_err(toml_error)?;
        let mut settings = Settings::default();
        if let Some(version) = file.pg_version {
            settings = settings
                .pg_version(*version.get_ref())
                .map_err(|e| at(version.span(), e.to_string()))?;
        }
        if let Some(name) = file.framework {
            match settings::framework_choice(name.get_ref()) {
                Ok(Some(framework)) => settings = settings.framework(framework),
                Ok(None) => {}
                Err(message) => return Err(at(name.span(), message)),
            }
        }
        if let Some(check_down) = file.check_down {
            settings = settings.check_down(check_down);
        }
        if let Some(version) = file.start_after {
            match scalar(version.get_ref()).filter(|v| !v.trim().is_empty()) {
                Some(text) => settings = settings.start_after(&text),
                None => {
                    return Err(at(
                        version.span(),
                        "`start_after` takes a migration version, such as \"20240101000000\""
                            .to_owned(),
                    ));
                }
            }
        }
        if !file.exclude.is_empty() {
            let patterns: Vec<&str> = file.exclude.iter().map(|p| p.get_ref().as_str()).collect();
            let root = path.parent().unwrap_or(Path::new(""));
            settings = settings.exclude(root, &patterns).map_err(|e| {
                let span = match &e {
                    Error::BadGlob { pattern, .. } => file
                        .exclude
                        .iter()
                        .find(|p| p.get_ref() == pattern)
                        .map(Spanned::span),
                    _ => None,
                };
                at(span.unwrap_or(0..0), e.to_string())
            })?;
        }
        if let Some(name) = file.fail_on {
            match FailOn::from_name(name.get_ref()) {
                Some(fail_on) => settings = settings.fail_on(fail_on),
                None => {
                    let names = FailOn::ALL.map(FailOn::as_str);
                    return Err(at(
                        name.span(),
                        format!(
                            "unknown `fail_on` value `{}`{}; expected `error`, `warning` or `never`",
                            name.get_ref(),
                            suggestion(name.get_ref(), names)
                        ),
                    ));
                }
            }
        }
        if let Some(name) = file.app {
            let choice = crate::app::AppChoice::from_name(name.get_ref())
                .map_err(|message| at(name.span(), message))?;
            settings = settings.app(choice);
        }
        if let Some(reference) = file.base_ref {
            if reference.get_ref().trim().is_empty() {
                return Err(at(
                    reference.span(),
                    "`base_ref` takes the git ref of the code running in production, such as \"origin/main\"".to_owned(),
                ));
            }
            settings = settings.base_ref(reference.get_ref().trim());
        }
        // Categories first, so that a rule's own level overrides its category's.
        let (categories, rules): (Vec<_>, Vec<_>) = file
            .rules
            .iter()
            .partition(|(name, _)| crate::Category::from_name(name.get_ref()).is_some());
        for (name, level) in categories.into_iter().chain(rules) {
            settings = match level.get_ref().as_str() {
                "allow" => settings.allow(name.get_ref()),
                "warn" => settings.severity(name.get_ref(), Severity::Warning),
                "deny" => settings.severity(name.get_ref(), Severity::Error),
                other => {
                    return Err(at(
                        level.span(),
                        format!(
                            "unknown level `{other}` for `{}`{}; expected `allow`, `warn` or `deny`",
                            name.get_ref(),
                            suggestion(other, LEVELS.iter().copied())
                        ),
                    ));
                }
            }
            .map_err(|e| at(name.span(), e.to_string()))?;
        }
        for (name, value) in &file.assume {
            let Some(text) = scalar(value.get_ref()) else {
                return Err(at(
                    value.span(),
                    format!(
                        "`{}` takes a string, such as \"{}\"",
                        name.get_ref(),
                        if name.get_ref() == "timezone" {
                            "UTC"
                        } else {
                            "5s"
                        }
                    ),
                ));
            };
            settings = settings.assume(name.get_ref(), &text).map_err(|e| {
                let span = match e {
                    Error::UnknownSetting { .. } => name.span(),
                    _ => value.span(),
                };
                at(span, e.to_string())
            })?;
        }
        if let Some(rows) = file.small_table_rows {
            settings = settings.small_table_rows(rows);
        }
        let statistics = statistics_source(
            path,
            file.database_url,
            file.database_url_env,
            file.stats_file,
        )
        .map_err(|(span, message)| at(span, message))?;
        Ok(Config {
            path: path.to_path_buf(),
            settings,
            statistics,
        })
    }

    /// Where `check` reads table statistics from, as the file says.
    ///
    /// ```
    /// use migration_safety::config::{Config, StatisticsSource};
    ///
    /// let config = Config::parse("database_url_env = \"DATABASE_URL\"\nsmall_table_rows = 5000\n", "migration-safety.toml")?;
    /// assert_eq!(config.statistics(), &StatisticsSource::DatabaseUrlEnv("DATABASE_URL".to_owned()));
    /// assert_eq!(config.settings().small_table_row_limit(), 5000);
    ///
    /// let both = Config::parse("database_url = \"postgresql://app@db/app\"\nstats_file = \"stats.json\"\n", "migration-safety.toml").unwrap_err();
    /// assert!(both.to_string().starts_with("migration-safety.toml:2:14: give one of `database_url`, `database_url_env` and `stats_file`"), "{both}");
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn statistics(&self) -> &StatisticsSource {
        &self.statistics
    }

    /// Where the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings the file gives, over the defaults; command-line flags and the options of
    /// `#[check_migrations]` are applied on top of them.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// A commented starter file, for `migration-safety init`: `framework` is the framework
    /// detected in `dir` (the migrations directory, relative to the file), if any.
    ///
    /// ```
    /// use migration_safety::Framework;
    /// use migration_safety::config::Config;
    ///
    /// let text = Config::starter(Some((Framework::Sqlx, "migrations")));
    /// assert!(text.contains("framework = \"sqlx\""));
    /// let config = Config::parse(&text, "migration-safety.toml")?;
    /// assert_eq!(config.settings().target_framework(), Some(Framework::Sqlx));
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn starter(framework: Option<(crate::Framework, &str)>) -> String {
        let framework = match framework {
            Some((framework, dir)) => format!(
                "# How the migrations are laid out and run (detected from `{dir}`); \"auto\" detects it\n\
                 # per directory.\nframework = \"{framework}\"\n"
            ),
            None => "# How the migrations are laid out and run: \"auto\" (detected per directory), \"plain\",\n\
                     # \"sqlx\", \"diesel\", \"refinery\", \"golang-migrate\", \"goose\", \"dbmate\", \"flyway\",\n\
                     # \"prisma\", \"db-migrate\" or \"atlas\".\nframework = \"auto\"\n"
                .to_owned(),
        };
        format!(
            "# migration-safety configuration, read by `migration-safety check` and by the tests\n\
             # `#[check_migrations]` generates. Command-line flags and the macro's options override it.\n\
             \n\
             # The PostgreSQL major version production runs ({first} to {last}).\n\
             pg_version = {pg}\n\
             \n\
             {framework}\
             \n\
             # Also check down migrations.\n\
             check_down = false\n\
             \n\
             # Report only the migrations whose version sorts after this one: the earlier ones already\n\
             # ran in production. They are still read, for the schema they build.\n\
             # start_after = \"20240101000000\"\n\
             \n\
             # Files not to report (globs relative to this file).\n\
             exclude = []\n\
             \n\
             # Which findings fail the check: \"error\", \"warning\" or \"never\".\n\
             fail_on = \"error\"\n\
             \n\
             # The library the application's code uses the database through, read to tell whether a\n\
             # dropped or renamed column is still used: \"auto\" (detected from Cargo.toml), \"none\",\n\
             # \"diesel\", \"sqlx\" or \"sea-orm\".\n\
             app = \"auto\"\n\
             \n\
             # The git ref of the code running in production: what it still uses must not be dropped.\n\
             # base_ref = \"origin/main\"\n\
             \n\
             # Table statistics of the real database, for severities and duration estimates: the\n\
             # environment variable holding its URL (the connection is read-only), or a snapshot\n\
             # written by `migration-safety stats`. Lock and rewrite findings on tables with fewer\n\
             # rows than small_table_rows are warnings.\n\
             # database_url_env = \"DATABASE_URL\"\n\
             # stats_file = \"stats.json\"\n\
             small_table_rows = {small}\n\
             \n\
             # Levels for rules or whole categories: \"allow\", \"warn\" or \"deny\".\n\
             # `migration-safety rules` lists them.\n\
             [rules]\n\
             # rename-column = \"allow\"\n\
             # design = \"warn\"\n\
             \n\
             # Session settings the migration runner or the database role already applies to every\n\
             # migration (`ALTER ROLE migrator SET lock_timeout = '5s'`).\n\
             [assume]\n\
             # lock_timeout = \"5s\"\n\
             # statement_timeout = \"1min\"\n\
             # timezone = \"UTC\"\n",
            pg = settings::DEFAULT_PG_VERSION,
            small = crate::stats::DEFAULT_SMALL_TABLE_ROWS,
            first = settings::SUPPORTED_PG_VERSIONS.start(),
            last = settings::SUPPORTED_PG_VERSIONS.end(),
        )
    }
}

/// The one source of table statistics the file names, checked.
fn statistics_source(
    path: &Path,
    database_url: Option<Spanned<String>>,
    database_url_env: Option<Spanned<String>>,
    stats_file: Option<Spanned<String>>,
) -> Result<StatisticsSource, (std::ops::Range<usize>, String)> {
    let mut given: Vec<(&str, Spanned<String>)> = [
        ("database_url", database_url),
        ("database_url_env", database_url_env),
        ("stats_file", stats_file),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.map(|v| (key, v)))
    .collect();
    given.sort_by_key(|(_, value)| value.span().start);
    if let Some((_, second)) = given.get(1) {
        let keys: Vec<&str> = given.iter().map(|(key, _)| *key).collect();
        return Err((
            second.span(),
            format!(
                "give one of `database_url`, `database_url_env` and `stats_file`, not `{}`",
                keys.join("` and `")
            ),
        ));
    }
    let Some((key, value)) = given.pop() else {
        return Ok(StatisticsSource::None);
    };
    let text = value.get_ref().trim();
    if text.is_empty() {
        return Err((value.span(), format!("`{key}` is empty")));
    }
    Ok(match key {
        "database_url" => StatisticsSource::DatabaseUrl(text.to_owned()),
        "database_url_env" => {
            if text.contains(['=', ':', '/', ' ']) {
                return Err((
                    value.span(),
                    format!(
                        "`database_url_env` names an environment variable, such as \"DATABASE_URL\", not `{text}`; a URL itself goes in `database_url`"
                    ),
                ));
            }
            StatisticsSource::DatabaseUrlEnv(text.to_owned())
        }
        _ => StatisticsSource::StatsFile(path.parent().unwrap_or(Path::new("")).join(text)),
    })
}

/// A string, or an integer written without quotes.
fn scalar(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(text) => Some(text.clone()),
        toml::Value::Integer(number) => Some(number.to_string()),
        _ => None,
    }
}

/// ` (did you mean `x`?)` or nothing.
fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    crate::rules::did_you_mean(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

/// A mistake in a configuration file, at a 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}:{column}: {message}", path.display())]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong, with the closest valid name when there is one.
    pub message: String,
}

impl ConfigError {
    fn new(path: &Path, text: &str, offset: usize, message: String) -> ConfigError {
        let before = &text[..offset.min(text.len())];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        ConfigError {
            path: path.to_path_buf(),
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
            message,
        }
    }
}

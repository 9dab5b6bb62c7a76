//! What the engine is told about the project: target PostgreSQL major, framework, rule levels.

use std::collections::BTreeMap;

use crate::Error;
use crate::rule::Severity;

/// The oldest PostgreSQL major version still supported upstream, the default target.
pub const DEFAULT_PG_VERSION: u32 = 14;

/// The PostgreSQL majors the rules know the behaviour of.
pub const SUPPORTED_PG_VERSIONS: std::ops::RangeInclusive<u32> = 10..=18;

pub use crate::layout::Framework;

/// Engine settings.
///
/// ```
/// use migration_safety::{Framework, Settings, Severity};
///
/// let settings = Settings::default()
///     .pg_version(16)?
///     .framework(Framework::Plain)
///     .allow("drop-column")?
///     .severity("missing-lock-timeout", Severity::Error)?;
/// assert_eq!(settings.target_pg_version(), 16);
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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pg_version: DEFAULT_PG_VERSION,
            framework: None,
            check_down: false,
            levels: BTreeMap::new(),
            fail_on: FailOn::default(),
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

    /// Turn a rule off.
    pub fn allow(mut self, rule: &str) -> Result<Self, Error> {
        let name = crate::rules::lookup(rule)?.name;
        self.levels.insert(name, None);
        Ok(self)
    }

    /// Report a rule at `severity` instead of its default.
    pub fn severity(mut self, rule: &str, severity: Severity) -> Result<Self, Error> {
        let name = crate::rules::lookup(rule)?.name;
        self.levels.insert(name, Some(severity));
        Ok(self)
    }

    /// Which findings fail a check (errors, by default).
    pub fn fail_on(mut self, fail_on: FailOn) -> Self {
        self.fail_on = fail_on;
        self
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

    /// The severity a rule reports at, or `None` when it is off.
    pub(crate) fn level(&self, rule: &crate::rule::RuleMeta) -> Option<Severity> {
        self.levels
            .get(rule.name)
            .copied()
            .unwrap_or(Some(rule.default_severity))
    }
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

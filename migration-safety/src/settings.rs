//! What the engine is told about the project: target PostgreSQL major, framework, rule levels.

use std::collections::BTreeMap;

use crate::Error;
use crate::rule::Severity;

pub use migration_safety_core::{DEFAULT_PG_VERSION, SUPPORTED_PG_VERSIONS};

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
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pg_version: DEFAULT_PG_VERSION,
            framework: None,
            check_down: false,
            levels: BTreeMap::new(),
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

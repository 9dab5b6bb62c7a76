//! What the engine is told about the project: target PostgreSQL major, framework, rule levels.

use std::collections::BTreeMap;
use std::fmt;

use crate::Error;
use crate::rule::Severity;

/// The oldest PostgreSQL major version still supported upstream, the default target.
pub const DEFAULT_PG_VERSION: u32 = 14;

/// The PostgreSQL majors the rules know the behaviour of.
pub const SUPPORTED_PG_VERSIONS: std::ops::RangeInclusive<u32> = 10..=18;

/// How migrations are run, which decides whether a file runs inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Framework {
    /// Each statement is sent on its own (as `psql -f` does): no implicit transaction, and an
    /// explicit `BEGIN … COMMIT` is honoured.
    #[default]
    Plain,
}

impl Framework {
    /// Every framework, for listings and `--framework` parsing.
    pub const ALL: &'static [Framework] = &[Framework::Plain];

    /// The name used on the command line and in configuration.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Plain => "plain",
        }
    }

    /// Look a framework up by name.
    ///
    /// ```
    /// use migration_safety::Framework;
    /// assert_eq!(Framework::from_name("plain"), Some(Framework::Plain));
    /// assert_eq!(Framework::from_name("liquibase"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Whether the framework wraps each migration file in a transaction.
    pub(crate) fn wraps_file_in_transaction(self) -> bool {
        match self {
            Framework::Plain => false,
        }
    }

    /// How to run a statement outside any transaction block with this framework.
    pub(crate) fn outside_transaction_advice(self) -> &'static str {
        match self {
            Framework::Plain => {
                "run it outside `BEGIN … COMMIT`: move it after the `COMMIT`, or into a migration of its own without a transaction block"
            }
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
/// # Ok::<(), migration_safety::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pg_version: u32,
    framework: Framework,
    /// `None`: the rule is off.
    levels: BTreeMap<&'static str, Option<Severity>>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pg_version: DEFAULT_PG_VERSION,
            framework: Framework::default(),
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

    /// Set how migrations are run.
    pub fn framework(mut self, framework: Framework) -> Self {
        self.framework = framework;
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

    /// The framework migrations run under.
    pub fn target_framework(&self) -> Framework {
        self.framework
    }

    /// The severity a rule reports at, or `None` when it is off.
    pub(crate) fn level(&self, rule: &crate::rule::RuleMeta) -> Option<Severity> {
        self.levels
            .get(rule.name)
            .copied()
            .unwrap_or(Some(rule.default_severity))
    }
}

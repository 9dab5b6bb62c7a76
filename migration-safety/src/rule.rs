//! What a rule is: its metadata (name, category, severity, documentation) and the check it runs.

use std::fmt;
use std::ops::Range;

use crate::context::Context;
use crate::model::Statement;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look; does not fail a check.
    Warning,
    /// Fails `migration-safety check` and the generated tests.
    Error,
}

impl Severity {
    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The family of hazard a rule guards against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// A lock that blocks application traffic for long, or that queues everything behind it.
    Locking,
    /// A full rewrite of a table (and its indexes) under a strong lock.
    Rewrite,
    /// A change that breaks the application version still running during the deploy.
    BackwardIncompatible,
    /// A statement that fails, or holds locks longer, because of the transaction it runs in.
    Transaction,
    /// A schema design choice that is hard to undo once the table is large (advisory).
    Design,
    /// Problems with the migration file or with the checks themselves.
    Meta,
}

impl Category {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Locking => "locking",
            Category::Rewrite => "rewrite",
            Category::BackwardIncompatible => "backward-incompatible",
            Category::Transaction => "transaction",
            Category::Design => "design",
            Category::Meta => "meta",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule's identity and documentation.
#[derive(Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// Stable kebab-case name, used in output, settings and suppressions.
    pub name: &'static str,
    /// The hazard family.
    pub category: Category,
    /// The severity unless settings say otherwise.
    pub default_severity: Severity,
    /// One line: what the rule flags.
    pub summary: &'static str,
    /// The migration-safety version that introduced the rule.
    pub since: &'static str,
    /// Markdown documentation: What it does, Why is this bad?, Example, Use instead, References.
    pub docs: &'static str,
}

impl RuleMeta {
    /// The documentation with the one leading space of each `///` line removed.
    pub fn documentation(&self) -> String {
        self.docs
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl RuleMeta {
    /// The rule's page for `docs/rules/<name>.md` and `migration-safety explain`.
    ///
    /// ```
    /// let page = migration_safety::rule("set-not-null").unwrap().to_markdown();
    /// assert!(page.starts_with("# set-not-null\n"));
    /// assert!(page.contains("## Use instead"));
    /// ```
    pub fn to_markdown(&self) -> String {
        format!(
            "# {}\n\n{}.\n\n- Category: `{}`\n- Default severity: `{}`\n- Since: migration-safety {}\n\n{}\n",
            self.name,
            capitalize(self.summary),
            self.category,
            self.default_severity,
            self.since,
            self.documentation().trim()
        )
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A check over one lowered statement.
///
/// Rule files implement only `check`; [`declare_rule!`] implements [`Described`].
pub(crate) trait Rule: Described + Sync {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings);
}

/// A rule's metadata, implemented by [`declare_rule!`] from the rule's doc comment.
pub(crate) trait Described {
    fn meta(&self) -> &'static RuleMeta;
}

/// A finding before settings and suppressions are applied.
#[derive(Debug, Clone)]
pub(crate) struct Finding {
    pub(crate) rule: &'static RuleMeta,
    pub(crate) range: Range<usize>,
    pub(crate) message: String,
    pub(crate) help: Option<String>,
    /// The top-level statement the finding belongs to (for suppressions).
    pub(crate) anchor: Option<usize>,
}

/// Collects the findings of one statement.
pub(crate) struct Findings {
    rule: &'static RuleMeta,
    anchor: Option<usize>,
    pub(crate) found: Vec<Finding>,
}

impl Findings {
    pub(crate) fn new(rule: &'static RuleMeta, anchor: Option<usize>) -> Self {
        Self {
            rule,
            anchor,
            found: Vec::new(),
        }
    }

    pub(crate) fn report(
        &mut self,
        range: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let help: String = help.into();
        self.found.push(Finding {
            rule: self.rule,
            range,
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
            anchor: self.anchor,
        });
    }
}

/// Declare a rule: its doc comment is its documentation.
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $rule:ident {
            name: $name:literal,
            category: $category:ident,
            severity: $severity:ident,
            summary: $summary:literal,
            since: $since:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        $vis struct $rule;

        const _: () = assert!(
            migration_safety_core::is_rule_name($name),
            concat!("add `", $name, "` to RULE_NAMES in migration-safety-core/src/lib.rs")
        );

        impl $rule {
            pub(crate) const META: $crate::rule::RuleMeta = $crate::rule::RuleMeta {
                name: $name,
                category: $crate::rule::Category::$category,
                default_severity: $crate::rule::Severity::$severity,
                summary: $summary,
                since: $since,
                docs: concat!($($doc, "\n"),*),
            };
        }

        impl $crate::rule::Described for $rule {
            fn meta(&self) -> &'static $crate::rule::RuleMeta {
                &Self::META
            }
        }
    };
}
pub(crate) use declare_rule;

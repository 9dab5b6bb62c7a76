//! What a rule is: its metadata (name, category, severity, documentation) and the check it runs.

use std::fmt;
use std::ops::{Range, RangeInclusive};

use crate::context::Context;
use crate::fix::Fix;
use crate::model::{LockMode, Statement};

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
        f.pad(self.as_str())
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
    /// Problems with the migration files, their agreement with the application's code, or
    /// the checks themselves.
    Meta,
}

impl Category {
    /// Every category.
    pub const ALL: [Category; 6] = [
        Category::Locking,
        Category::Rewrite,
        Category::BackwardIncompatible,
        Category::Transaction,
        Category::Design,
        Category::Meta,
    ];

    /// The category named `name` (kebab-case).
    ///
    /// ```
    /// use migration_safety::Category;
    /// assert_eq!(Category::from_name("backward-incompatible"), Some(Category::BackwardIncompatible));
    /// assert_eq!(Category::from_name("locks"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Category> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

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
        f.pad(self.as_str())
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
    /// Whether the rule has a mechanical fix: its findings carry the help as edits
    /// ([`Diagnostic::fix`](crate::Diagnostic::fix)) where the statement allows one, applied by
    /// `migration-safety fix`.
    pub has_fix: bool,
    /// What the statements the rule flags do on a real server, per range of majors; empty for
    /// rules about design or about the migration files, which claim nothing about locks.
    pub claims: &'static [Claim],
}

/// What a rule says its flagged statements do on PostgreSQL, for some majors: proven on each
/// major by the verification suite and tabled in `docs/postgres-verification.md`.
///
/// ```
/// use migration_safety::{LockMode, Outcome};
/// let claims = migration_safety::rule("set-not-null").unwrap().claims;
/// let on_15 = claims.iter().find(|c| c.majors.contains(&15)).unwrap();
/// let Outcome::Takes { table: Some(table), .. } = on_15.outcome else { panic!() };
/// assert_eq!((table.lock, table.rewrite, table.scan), (LockMode::AccessExclusive, false, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The PostgreSQL majors the claim holds on.
    pub majors: RangeInclusive<u32>,
    /// What the server does with the statement.
    pub outcome: Outcome,
}

/// What the server does with a flagged statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It runs, with these effects on relations that existed before it.
    Takes {
        /// On the table (or materialized view) the statement names first.
        table: Option<Effect>,
        /// On the other tables it touches: a referenced table, a partition or its parent, the
        /// tables using a domain, the table of a named index.
        referenced: Option<Effect>,
        /// On an existing index.
        index: Option<Effect>,
    },
    /// The server rejects it with an error whose message contains this text.
    Fails(&'static str),
}

/// The strongest lock a statement holds on a relation, and whether it rewrites or scans it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Effect {
    /// The strongest lock mode held.
    pub lock: LockMode,
    /// The relation gets new storage (`relfilenode` changes): a copy of every row.
    pub rewrite: bool,
    /// The relation is read in full (a sequential scan).
    pub scan: bool,
}

impl Claim {
    /// The statements run on `majors`; add their effects with [`Claim::table`] and friends.
    pub const fn takes(majors: RangeInclusive<u32>) -> Self {
        Self {
            majors,
            outcome: Outcome::Takes {
                table: None,
                referenced: None,
                index: None,
            },
        }
    }

    /// The statements fail on `majors` with an error containing `error`.
    pub const fn fails(majors: RangeInclusive<u32>, error: &'static str) -> Self {
        Self {
            majors,
            outcome: Outcome::Fails(error),
        }
    }

    /// The effect on the table the statement names first.
    pub const fn table(mut self, effect: Effect) -> Self {
        if let Outcome::Takes { table, .. } = &mut self.outcome {
            *table = Some(effect);
        }
        self
    }

    /// The effect on the other tables the statement touches.
    pub const fn referenced(mut self, effect: Effect) -> Self {
        if let Outcome::Takes { referenced, .. } = &mut self.outcome {
            *referenced = Some(effect);
        }
        self
    }

    /// The effect on an existing index.
    pub const fn index(mut self, effect: Effect) -> Self {
        if let Outcome::Takes { index, .. } = &mut self.outcome {
            *index = Some(effect);
        }
        self
    }
}

impl Effect {
    /// Holds `lock`, without rewrite or scan.
    pub const fn lock(lock: LockMode) -> Self {
        Self {
            lock,
            rewrite: false,
            scan: false,
        }
    }

    /// Also rewrites the relation.
    pub const fn rewrite(mut self) -> Self {
        self.rewrite = true;
        self
    }

    /// Also scans the relation.
    pub const fn scan(mut self) -> Self {
        self.scan = true;
        self
    }
}

impl fmt::Display for Effect {
    /// `ACCESS EXCLUSIVE, rewrite, scan`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lock.sql())?;
        if self.rewrite {
            f.write_str(", rewrite")?;
        }
        if self.scan {
            f.write_str(", scan")?;
        }
        Ok(())
    }
}

impl fmt::Display for Outcome {
    /// `table: ACCESS EXCLUSIVE, scan; referenced: SHARE ROW EXCLUSIVE` or `fails: "…"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Fails(error) => write!(f, "fails: \"{error}\""),
            Outcome::Takes {
                table,
                referenced,
                index,
            } => {
                let parts: Vec<String> = [
                    ("table", table),
                    ("referenced", referenced),
                    ("index", index),
                ]
                .into_iter()
                .filter_map(|(role, effect)| effect.map(|e| format!("{role}: {e}")))
                .collect();
                if parts.is_empty() {
                    f.write_str("no lock on an existing relation")
                } else {
                    f.write_str(&parts.join("; "))
                }
            }
        }
    }
}

impl RuleMeta {
    /// The claims that describe a statement the rule flags on PostgreSQL `major`, chosen by
    /// `lock`: the lock the statement holds, as the statement model says, on the relation it
    /// names first while it runs ([`Diagnostic::lock`](crate::Diagnostic::lock)).
    ///
    /// A rule's claims cover the forms of the statements it flags (a plain `ADD CONSTRAINT …
    /// FOREIGN KEY` and an `ADD COLUMN … REFERENCES` take different locks). The forms that run
    /// are told apart by that lock: the claims whose effect on the table has exactly `lock`;
    /// failing those, the claims that say nothing about a table (a statement naming an index,
    /// a function, a type); failing those, every claim of the major. Claims that the server
    /// rejects the statement ([`Outcome::Fails`]) always apply, since no lock tells when a
    /// statement fails. Empty when the rule claims nothing for `major`.
    ///
    /// ```
    /// use migration_safety::{LockMode, Outcome};
    /// let rule = migration_safety::rule("add-foreign-key").unwrap();
    /// let table_lock = |lock| -> Vec<LockMode> {
    ///     rule.claims_for(15, Some(lock))
    ///         .iter()
    ///         .filter_map(|c| match c.outcome {
    ///             Outcome::Takes { table: Some(t), .. } => Some(t.lock),
    ///             _ => None,
    ///         })
    ///         .collect()
    /// };
    /// // `ADD CONSTRAINT … FOREIGN KEY`: SHARE ROW EXCLUSIVE, never ACCESS EXCLUSIVE.
    /// assert!(table_lock(LockMode::ShareRowExclusive).iter().all(|l| *l == LockMode::ShareRowExclusive));
    /// // `ADD COLUMN … REFERENCES`: ACCESS EXCLUSIVE.
    /// assert!(table_lock(LockMode::AccessExclusive).iter().all(|l| *l == LockMode::AccessExclusive));
    /// ```
    pub fn claims_for(&self, major: u32, lock: Option<LockMode>) -> Vec<&'static Claim> {
        let claims: &'static [Claim] = self.claims;
        let of_major = || claims.iter().filter(move |c| c.majors.contains(&major));
        let fails = of_major().filter(|c| matches!(c.outcome, Outcome::Fails(_)));
        let takes = || {
            of_major().filter_map(|c| match c.outcome {
                Outcome::Takes { table, .. } => Some((c, table)),
                Outcome::Fails(_) => None,
            })
        };
        let on_table: Vec<&'static Claim> = takes()
            .filter(|(_, table)| lock.is_some() && table.map(|t| t.lock) == lock)
            .map(|(c, _)| c)
            .collect();
        let chosen = if !on_table.is_empty() {
            on_table
        } else {
            let no_table: Vec<&'static Claim> = takes()
                .filter(|(_, table)| table.is_none())
                .map(|(c, _)| c)
                .collect();
            if no_table.is_empty() {
                takes().map(|(c, _)| c).collect()
            } else {
                no_table
            }
        };
        chosen.into_iter().chain(fails).collect()
    }

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
            "# {}\n\n{}.\n\n- Category: `{}`\n- Default severity: `{}`\n- Since: migration-safety {}\n- Automatic fix: {}\n\n{}\n",
            self.name,
            capitalize(self.summary),
            self.category,
            self.default_severity,
            self.since,
            if self.has_fix {
                "yes, `migration-safety fix` applies the safe alternative where the statement allows it"
            } else {
                "no"
            },
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
    /// The release still running does not use what the finding breaks: it is reported as a
    /// warning at most.
    pub(crate) cleared: bool,
    /// The relations its statement touches, when table statistics are applied.
    pub(crate) touched: Option<crate::stats::annotate::Touched>,
    /// The lock its statement holds on the relation it names first (see
    /// [`Diagnostic::lock`](crate::Diagnostic::lock)).
    pub(crate) lock: Option<LockMode>,
    /// The safe alternative as edits, when the rule has a mechanical fix for this finding.
    pub(crate) fix: Option<Fix>,
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
        self.report_fix(range, message, help, None);
    }

    /// Report a finding with its fix: the help, as edits (`None`: no fix for this finding).
    pub(crate) fn report_fix(
        &mut self,
        range: Range<usize>,
        message: impl Into<String>,
        help: impl Into<String>,
        fix: Option<Fix>,
    ) {
        let help: String = help.into();
        self.found.push(Finding {
            rule: self.rule,
            range,
            message: message.into(),
            help: (!help.is_empty()).then_some(help),
            anchor: self.anchor,
            cleared: false,
            touched: None,
            lock: None,
            fix,
        });
    }

    /// Say, on the finding just reported, whether the release still running uses `table`
    /// (`column` of it, when given), when the application's code is known: the message says
    /// where it is used, and a finding nothing running uses is not an error, unless
    /// `hazard_remains` (the statement is dangerous for other reasons, such as a rewrite).
    pub(crate) fn breaks(
        &mut self,
        cx: &Context<'_>,
        (table, column): (&crate::model::Name, Option<&str>),
        hazard_remains: bool,
    ) {
        let (Some(application), Some(finding)) = (cx.settings.knowledge(), self.found.last_mut())
        else {
            return;
        };
        let judgement = application.judge(table, column, hazard_remains);
        finding.message = format!("{}; {}", finding.message, judgement.text);
        finding.cleared = judgement.cleared;
    }
}

/// A flag a rule declares, or `false` when it leaves it out.
pub(crate) const fn declared(flag: &[bool]) -> bool {
    matches!(flag, [true])
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
            since: $since:literal
            $(, fix: $fix:literal)?
            $(, claims: [$($claim:expr),* $(,)?])? $(,)?
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
                has_fix: $crate::rule::declared(&[$($fix)?]),
                claims: {
                    #[allow(unused_imports)]
                    use $crate::model::LockMode::*;
                    #[allow(unused_imports)]
                    use $crate::rule::{Claim, Effect};
                    &[$($($claim),*)?]
                },
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

#[cfg(test)]
mod tests {
    use super::{Claim, Outcome};
    use crate::model::LockMode::{self, *};

    /// The table lock of each selected `Takes` claim (`None`: it claims nothing on a table),
    /// and how many `Fails` claims were selected.
    fn selected(rule: &str, major: u32, lock: Option<LockMode>) -> (Vec<Option<LockMode>>, usize) {
        let claims: Vec<&Claim> = crate::rule(rule).unwrap().claims_for(major, lock);
        let takes = claims
            .iter()
            .filter_map(|c| match c.outcome {
                Outcome::Takes { table, .. } => Some(table.map(|t| t.lock)),
                Outcome::Fails(_) => None,
            })
            .collect();
        let fails = claims
            .iter()
            .filter(|c| matches!(c.outcome, Outcome::Fails(_)))
            .count();
        (takes, fails)
    }

    #[test]
    fn the_lock_on_the_table_selects_the_statement_form() {
        // `ADD CONSTRAINT … FOREIGN KEY` (scanning, or not when NOT VALID elsewhere) against
        // `ADD COLUMN … REFERENCES`.
        assert_eq!(
            selected("add-foreign-key", 15, Some(ShareRowExclusive)),
            (vec![Some(ShareRowExclusive); 2], 0)
        );
        assert_eq!(
            selected("add-foreign-key", 15, Some(AccessExclusive)),
            (vec![Some(AccessExclusive); 2], 0)
        );
        // LOCK TABLE in its mode; that it fails outside a transaction is always a claim.
        assert_eq!(
            selected("lock-table", 15, Some(Share)),
            (vec![Some(Share)], 1)
        );
        assert_eq!(
            selected("lock-table", 15, Some(AccessExclusive)),
            (vec![Some(AccessExclusive)], 1)
        );
        // An UPDATE alone, or after an ACCESS EXCLUSIVE lock its transaction holds.
        assert_eq!(
            selected("unbatched-backfill", 15, Some(RowExclusive)),
            (vec![Some(RowExclusive); 2], 0)
        );
        assert_eq!(
            selected("unbatched-backfill", 15, Some(AccessExclusive)),
            (vec![Some(AccessExclusive)], 0)
        );
        assert_eq!(
            selected(
                "validate-constraint-in-same-transaction",
                15,
                Some(ShareUpdateExclusive)
            ),
            (vec![Some(ShareUpdateExclusive)], 0)
        );
    }

    #[test]
    fn a_statement_naming_no_table_gets_the_claims_about_no_table() {
        // REINDEX TABLE (SHARE on the table) against REINDEX INDEX (which names no table: its
        // table is "referenced").
        assert_eq!(
            selected("reindex-non-concurrently", 15, Some(Share)),
            (vec![Some(Share)], 0)
        );
        assert_eq!(
            selected("reindex-non-concurrently", 15, None),
            (vec![None], 0)
        );
        assert_eq!(
            selected("drop-index-non-concurrently", 15, None),
            (vec![None], 0)
        );
        // ALTER TABLE … SET SCHEMA against ALTER FUNCTION … SET SCHEMA (no relation locked).
        assert_eq!(
            selected("set-schema", 15, Some(AccessExclusive)),
            (vec![Some(AccessExclusive)], 0)
        );
        assert_eq!(selected("set-schema", 15, None), (vec![None], 0));
    }

    #[test]
    fn without_a_fitting_claim_every_claim_of_the_major_applies() {
        // A CREATE INDEX after an ACCESS EXCLUSIVE lock in its transaction: no claim says so.
        assert_eq!(
            selected("create-index-non-concurrently", 15, Some(AccessExclusive)),
            (vec![Some(Share); 2], 0)
        );
        // The major selects first: DETACH PARTITION locks the partition more from 14 on.
        let detach = |major| {
            crate::rule("detach-partition-non-concurrently")
                .unwrap()
                .claims_for(major, Some(AccessExclusive))
        };
        assert!(detach(13).iter().all(|c| c.majors.contains(&13)));
        assert!(detach(14).iter().all(|c| c.majors.contains(&14)));
        assert_ne!(detach(13), detach(14));
        // No claim for a major the rules are not verified on.
        assert!(
            selected("add-foreign-key", 11, Some(ShareRowExclusive))
                .0
                .is_empty()
        );
    }

    #[test]
    fn the_categories_are_the_ones_the_macro_and_the_configuration_know() {
        let names: Vec<_> = super::Category::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, migration_safety_core::CATEGORY_NAMES);
    }
}

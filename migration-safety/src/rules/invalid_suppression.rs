use crate::rule::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a suppression directive that cannot work: it names a rule that does not exist
    /// (the message lists the rules that do, and the closest match), names no rule, lacks the
    /// reason a statement suppression must give after `--`, or uses an unknown verb.
    ///
    /// ## Why is this bad?
    /// The author meant to accept a risk knowingly, but the directive suppresses nothing or
    /// records no reason for reviewers. It takes no lock; it is a hygiene check.
    ///
    /// ## Example
    /// ```sql
    /// -- migration-safety: ignore drop-colum
    /// ALTER TABLE users DROP COLUMN legacy_flag;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// -- migration-safety: ignore drop-column -- unused since release 42
    /// ALTER TABLE users DROP COLUMN legacy_flag;
    /// ```
    ///
    /// ## References
    /// - migration-safety README, "Suppressing a finding"
    pub(crate) struct InvalidSuppression {
        name: "invalid-suppression",
        category: Meta,
        severity: Error,
        summary: "a suppression directive names an unknown rule, no rule, or no reason",
        since: "0.1.0",
    }
}

use crate::rule::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a `-- migration-safety: ignore …` or `ignore-file …` directive that names a
    /// rule which reports nothing where the directive applies.
    ///
    /// ## Why is this bad?
    /// A stale suppression hides the next real finding on that statement without anyone
    /// reviewing it, and usually means the directive is on the wrong line or names the wrong
    /// rule. It takes no lock; it is a hygiene check.
    ///
    /// ## Example
    /// ```sql
    /// -- migration-safety: ignore drop-table -- old table
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## Use instead
    /// Remove the directive, or move it to the line above the statement it is meant for.
    ///
    /// ## References
    /// - migration-safety README, "Suppressing a finding"
    pub(crate) struct UnusedSuppression {
        name: "unused-suppression",
        category: Meta,
        severity: Warning,
        summary: "a suppression directive suppresses nothing",
        since: "0.1.0",
    }
}

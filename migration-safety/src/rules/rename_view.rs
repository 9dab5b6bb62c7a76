use crate::context::{Context, Created};
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER VIEW … RENAME TO …` and `ALTER MATERIALIZED VIEW … RENAME TO …` of a view
    /// that existed before this migration.
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy queries the view by its old
    /// name, and every such query fails once the rename commits, exactly as for a renamed
    /// table. The rename also takes an `ACCESS EXCLUSIVE` lock on the view, blocking every
    /// query of it while it waits.
    ///
    /// ## Example
    /// ```sql
    /// ALTER VIEW active_users RENAME TO current_users;
    /// ```
    ///
    /// ## Use instead
    /// Create the view under its new name, deploy code that uses it, and drop the old one in a
    /// later migration:
    /// ```sql
    /// CREATE VIEW current_users AS SELECT * FROM users WHERE active;
    /// -- later, once no running code reads active_users:
    /// DROP VIEW active_users;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER VIEW](https://www.postgresql.org/docs/current/sql-alterview.html), [ALTER MATERIALIZED VIEW](https://www.postgresql.org/docs/current/sql-altermaterializedview.html)
    pub(crate) struct RenameView {
        name: "rename-view",
        category: BackwardIncompatible,
        severity: Error,
        summary: "renaming a view breaks the application version still running",
        since: "0.2.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for RenameView {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::RenameView {
            view,
            to,
            materialized,
        } = &statement.kind
        else {
            return;
        };
        let kind = if *materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let created = if *materialized {
            Created::MaterializedView
        } else {
            Created::View
        };
        if cx.created_earlier_in_file(created, view) {
            return;
        }
        let what = if *materialized {
            "materialized view"
        } else {
            "view"
        };
        out.report(
            statement.range.clone(),
            format!(
                "renaming {what} `{view}` to `{to}` breaks the application version still running, which keeps querying `{view}`; the rename also takes an ACCESS EXCLUSIVE lock on `{view}`, blocking every query of it while it waits"
            ),
            steps(
                &format!("rename a {what} in phases:"),
                &[
                    format!("CREATE {kind} {to} AS …;  -- the same query as `{view}`"),
                    format!("deploy code that reads `{to}`"),
                    format!("in a later migration: DROP {kind} {view};"),
                ],
            ),
        );
    }
}

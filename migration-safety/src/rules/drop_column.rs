use crate::context::Context;
use crate::model::{ActionKind, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … DROP COLUMN` on a table that existed before this migration.
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy may read or write the
    /// column (ORMs often list every column in their queries), and each such query fails
    /// once the drop commits. The drop takes an `ACCESS EXCLUSIVE` lock on the table, which
    /// blocks every read and write while it waits.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users DROP COLUMN legacy_flag;
    /// ```
    ///
    /// ## Use instead
    /// First deploy code that no longer uses the column (for ORMs, mark it ignored), then
    /// drop it in a later migration and record why it is safe:
    /// ```sql
    /// -- migration-safety: ignore drop-column -- unused since release 42
    /// ALTER TABLE users DROP COLUMN legacy_flag;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, DROP COLUMN](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-DROP-COLUMN)
    pub(crate) struct DropColumn {
        name: "drop-column",
        category: BackwardIncompatible,
        severity: Error,
        summary: "dropping a column breaks the application version still running",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for DropColumn {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::DropColumn { column } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            out.report_fix(
                action.range.clone(),
                format!(
                    "dropping column `{column}` of `{table}` breaks the application version still running if it still reads or writes `{column}`; the drop also takes an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write while it waits"
                ),
                steps(
                    "drop a column in two deploys:",
                    &[
                        format!("deploy code that no longer reads or writes `{column}` (for an ORM, mark the column ignored so generated queries leave it out)"),
                        format!("then drop it in a later migration, saying why it is safe: -- migration-safety: ignore drop-column -- `{column}` unused since <release>"),
                    ],
                ),
                crate::fix::phases::drop_column(cx, Self::META.name),
            );
            out.breaks(cx, (table, Some(column)), false);
        }
    }
}

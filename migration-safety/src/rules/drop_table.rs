use crate::context::Context;
use crate::model::{ObjectKind, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `DROP TABLE` of a table that existed before this migration.
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy may still query the table,
    /// and every such query fails once the drop commits; the data is gone for good. The drop
    /// takes an `ACCESS EXCLUSIVE` lock on the table and on every table it references by
    /// foreign key, blocking every read and write on all of them while it waits.
    ///
    /// ## Example
    /// ```sql
    /// DROP TABLE audit_events;
    /// ```
    ///
    /// ## Use instead
    /// First deploy code that no longer uses the table, then drop it in a later migration
    /// and record why it is safe:
    /// ```sql
    /// SET lock_timeout = '5s';
    /// -- migration-safety: ignore drop-table -- unused since release 42, data archived
    /// DROP TABLE audit_events;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [DROP TABLE](https://www.postgresql.org/docs/current/sql-droptable.html)
    pub(crate) struct DropTable {
        name: "drop-table",
        category: BackwardIncompatible,
        severity: Error,
        summary: "dropping a table breaks the application version still running",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for DropTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Drop {
            object: ObjectKind::Table,
            names,
        } = &statement.kind
        else {
            return;
        };
        for table in names.iter().filter(|t| !cx.is_new_table(t)) {
            out.report_fix(
                statement.range.clone(),
                format!(
                    "dropping table `{table}` breaks the application version still running if it still uses `{table}`, and deletes its data; the drop takes an ACCESS EXCLUSIVE lock on `{table}` and on every table it references by foreign key, blocking every read and write on them while it waits"
                ),
                steps(
                    "drop a table in two deploys:",
                    &[
                        format!("deploy code that no longer uses `{table}` (and archive its data if it may be needed)"),
                        format!("then drop it in a later migration, saying why it is safe: -- migration-safety: ignore drop-table -- `{table}` unused since <release>"),
                    ],
                ),
                None,
            );
            out.breaks(cx, (table, None), false);
        }
    }
}

use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `TRUNCATE` of a table that existed before this migration.
    ///
    /// ## Why is this bad?
    /// `TRUNCATE` deletes every row at once: the data is gone for the application version
    /// still running, which may still read and write the table. It takes an `ACCESS EXCLUSIVE`
    /// lock, blocking every read and write on the table while it waits and until the
    /// transaction ends; with `CASCADE` it also empties every table that references it.
    ///
    /// ## Example
    /// ```sql
    /// TRUNCATE audit_events;
    /// ```
    ///
    /// ## Use instead
    /// Delete in small batches (each batch takes only row locks), or, when the table is no
    /// longer used, stop using it in the code first and drop it in a later migration:
    /// ```sql
    /// DELETE FROM audit_events WHERE ctid IN (SELECT ctid FROM audit_events LIMIT 10000);
    /// -- repeat until it deletes 0 rows
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [TRUNCATE](https://www.postgresql.org/docs/current/sql-truncate.html)
    pub(crate) struct TruncateTable {
        name: "truncate-table",
        category: Locking,
        severity: Error,
        summary: "TRUNCATE deletes every row under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).referenced(Effect::lock(AccessExclusive).rewrite().scan()),
        ],
    }
}

impl Rule for TruncateTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Truncate { tables } = &statement.kind else {
            return;
        };
        for table in tables.iter().filter(|t| !cx.is_new_table(t)) {
            out.report(
                statement.range.clone(),
                format!(
                    "truncating `{table}` deletes all its rows under an ACCESS EXCLUSIVE lock, blocking every read and write on `{table}` until the transaction ends, while the application version still running may still use its data"
                ),
                steps(
                    "empty it without the strong lock, or retire it in two deploys:",
                    &[
                        format!("to empty it: DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM {table} LIMIT 10000);  -- repeat until it deletes 0 rows, each batch in its own transaction"),
                        format!("to retire it: deploy code that no longer uses `{table}`, then drop it in a later migration"),
                    ],
                ),
            );
        }
    }
}

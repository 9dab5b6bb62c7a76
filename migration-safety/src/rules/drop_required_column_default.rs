use crate::context::Context;
use crate::model::{Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{dropped_defaults, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ALTER COLUMN … DROP DEFAULT` on a column known to be `NOT NULL`, of a
    /// table that existed before this migration: above all the second half of
    /// `ADD COLUMN … NOT NULL DEFAULT …` followed, in the same or a later migration, by
    /// `DROP DEFAULT`.
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy does not set the column: it
    /// was written before the column existed, or it relies on the default. Once the default is
    /// gone, each of its `INSERT`s leaves the column NULL, which the `NOT NULL` constraint
    /// rejects, so its inserts fail until the deploy ends. Dropping the default also takes an
    /// `ACCESS EXCLUSIVE` lock on the table, briefly.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
    /// ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT;
    /// ```
    ///
    /// ## Use instead
    /// Keep the default until every running version sets the column itself: deploy code that
    /// always writes it, then drop the default in a later migration.
    /// ```sql
    /// ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
    /// -- a later migration, once every running release sets `currency`:
    /// ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, DROP DEFAULT](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-SET-DROP-DEFAULT)
    pub(crate) struct DropRequiredColumnDefault {
        name: "drop-required-column-default",
        category: BackwardIncompatible,
        severity: Error,
        summary: "dropping the default of a NOT NULL column makes the running release's inserts fail",
        since: "0.2.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for DropRequiredColumnDefault {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for dropped in dropped_defaults(cx, statement) {
            if !dropped.not_null {
                continue;
            }
            let (table, column) = (dropped.table, dropped.column);
            let col = quote_ident(column);
            out.report(
                dropped.range,
                format!(
                    "dropping the default of `{table}.{column}`, which is NOT NULL, makes every INSERT of the application version still running fail if it leaves `{column}` out: it gets NULL, which the constraint rejects"
                ),
                steps(
                    "keep the default until every running version writes the column:",
                    &[
                        format!("deploy code that always sets `{column}` on INSERT"),
                        format!("then, in a later migration: ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT;"),
                    ],
                ),
            );
        }
    }
}

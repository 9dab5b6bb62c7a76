use crate::context::{Context, Created};
use crate::model::{AlterTypeAction, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TYPE … RENAME VALUE` of an enum type that existed before this migration.
    ///
    /// ## Why is this bad?
    /// The rename takes no table lock, but it is a backward-incompatible change: the
    /// application version still running during the deploy keeps reading and writing the old
    /// label, and every write of it fails ("invalid input value for enum") once the rename
    /// commits, while rows it reads come back with a label it does not know.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TYPE order_status RENAME VALUE 'canceled' TO 'cancelled';
    /// ```
    ///
    /// ## Use instead
    /// Add the new label, move the data, and retire the old label in phases:
    /// ```sql
    /// ALTER TYPE order_status ADD VALUE 'cancelled';
    /// -- deploy code that reads both labels and writes 'cancelled';
    /// -- backfill in batches: UPDATE orders SET status = 'cancelled' WHERE ctid IN
    /// --   (SELECT ctid FROM orders WHERE status = 'canceled' LIMIT 10000);
    /// -- then stop accepting 'canceled' (an enum value cannot be dropped; leave it unused)
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TYPE](https://www.postgresql.org/docs/current/sql-altertype.html)
    pub(crate) struct RenameEnumValue {
        name: "rename-enum-value",
        category: BackwardIncompatible,
        severity: Error,
        summary: "renaming an enum value breaks the application version still running",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18),
        ],
    }
}

impl Rule for RenameEnumValue {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::AlterType {
            name,
            action: AlterTypeAction::RenameValue { from, to },
        } = &statement.kind
        else {
            return;
        };
        if cx.created_earlier_in_file(Created::Type, name) {
            return;
        }
        let quote = |v: &str| format!("'{}'", v.replace('\'', "''"));
        let (old, new) = (quote(from), quote(to));
        out.report(
            statement.range.clone(),
            format!(
                "renaming the value {old} of `{name}` to {new} breaks the application version still running: it keeps writing {old}, which fails once the rename commits, and reads {new}, which it does not know (the rename itself takes no table lock)"
            ),
            steps(
                "rename the label in phases instead:",
                &[
                    format!("ALTER TYPE {name} ADD VALUE {new};  -- commit it before using it"),
                    format!("deploy code that reads both {old} and {new} and writes only {new}"),
                    format!("backfill each column of type `{name}` in batches: UPDATE <table> SET <column> = {new} WHERE ctid IN (SELECT ctid FROM <table> WHERE <column> = {old} LIMIT 10000);  -- repeat until 0 rows"),
                    format!("leave {old} unused (an enum value cannot be dropped), or later move to a new type without it"),
                ],
            ),
        );
    }
}

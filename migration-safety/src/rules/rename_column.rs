use crate::context::Context;
use crate::model::{ActionKind, Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, batched_update, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … RENAME COLUMN` on a table that existed before this migration.
    ///
    /// ## Why is this bad?
    /// During a deploy the previous version of the application keeps running, and it still
    /// reads and writes the column under its old name: every such query fails from the moment
    /// the rename commits. The rename itself takes an `ACCESS EXCLUSIVE` lock on the table,
    /// which blocks every read and write while it waits and while it runs.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users RENAME COLUMN email TO email_address;
    /// ```
    ///
    /// ## Use instead
    /// Rename in phases that keep both versions working:
    /// ```sql
    /// ALTER TABLE users ADD COLUMN email_address text;          -- 1. add the new column
    /// -- 2. deploy code that writes both columns
    /// UPDATE users SET email_address = email
    ///   WHERE ctid IN (SELECT ctid FROM users WHERE email_address IS NULL LIMIT 10000);
    /// -- 3. repeat the batch until it updates 0 rows; 4. deploy code that reads email_address
    /// ALTER TABLE users DROP COLUMN email;                       -- 5. in a later migration
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html)
    /// - [Explicit locking](https://www.postgresql.org/docs/current/explicit-locking.html)
    pub(crate) struct RenameColumn {
        name: "rename-column",
        category: BackwardIncompatible,
        severity: Error,
        summary: "renaming a column breaks the application version still running",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for RenameColumn {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::RenameColumn { from, to } = &action.kind else {
                continue;
            };
            if cx.is_new_table(&alter.table) {
                continue;
            }
            let table = &alter.table;
            let data_type = cx
                .schema
                .table(table)
                .and_then(|t| t.column(from))
                .map_or_else(|| format!("<type of {from}>"), |c| c.data_type.text.clone());
            let (old, new) = (quote_ident(from), quote_ident(to));
            out.report_fix(
                action.range.clone(),
                format!(
                    "renaming column `{from}` of `{table}` to `{to}` breaks the application version still running, which keeps using `{from}`; the rename also takes an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write while it waits"
                ),
                steps(
                    "rename in phases that keep old and new code working:",
                    &[
                        format!("ALTER TABLE {table} ADD COLUMN {new} {data_type};"),
                        format!("deploy code that writes both `{from}` and `{to}`"),
                        batched_update(table, &format!("{new} = {old}"), &format!("{new} IS NULL AND {old} IS NOT NULL")),
                        format!("deploy code that reads and writes only `{to}`"),
                        format!("in a later migration: ALTER TABLE {table} DROP COLUMN {old};"),
                    ],
                ),
                crate::fix::phases::rename_column(cx, Self::META.name),
            );
            out.breaks(cx, (table, Some(from)), false);
        }
    }
}

use crate::context::Context;
use crate::model::{ActionKind, Name, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::alter_actions;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … RENAME TO` on a table that existed before this migration, unless
    /// the rename keeps the old name working through a view:
    /// - the same transaction creates a view with the old name over the renamed table, or
    /// - an earlier migration created a view with the new name over the table, and the same
    ///   transaction drops that view before the rename.
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy queries the table by its old
    /// name, and every such query fails once the rename commits. The rename takes an
    /// `ACCESS EXCLUSIVE` lock, blocking every read and write while it waits.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE customers RENAME TO clients;
    /// ```
    ///
    /// ## Use instead
    /// Keep the old name alive as a view (simple views are updatable), in one transaction:
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE customers RENAME TO clients;
    /// CREATE VIEW customers AS SELECT * FROM clients;
    /// COMMIT;
    /// -- once no running code uses "customers": DROP VIEW customers;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html)
    /// - [Updatable views](https://www.postgresql.org/docs/current/sql-createview.html#SQL-CREATEVIEW-UPDATABLE-VIEWS)
    pub(crate) struct RenameTable {
        name: "rename-table",
        category: BackwardIncompatible,
        severity: Error,
        summary: "renaming a table breaks the application version still running",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for RenameTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::RenameTable { to } = &action.kind else {
                continue;
            };
            let from = &alter.table;
            // The table keeps its schema.
            let renamed = to.in_schema(
                cx.schema
                    .qualified(from)
                    .schema
                    .as_deref()
                    .unwrap_or_default(),
            );
            if cx.is_new_table(from) || replaces_view_created_earlier(cx, from, &renamed) {
                continue;
            }
            let view_follows = cx
                .later_in_transaction()
                .any(|s| is_view_over(cx, s, from, &renamed));
            if view_follows {
                continue;
            }
            let view_outside_transaction = !cx.in_transaction()
                && cx.statements[cx.index + 1..]
                    .iter()
                    .any(|s| is_view_over(cx, s, from, &renamed));
            let message = if view_outside_transaction {
                format!(
                    "renaming table `{from}` to `{to}` and creating the view `{from}` in separate transactions leaves a moment when `{from}` does not exist, and queries from the running application fail"
                )
            } else {
                format!(
                    "renaming table `{from}` to `{to}` breaks the application version still running, which keeps querying `{from}`; the rename also takes an ACCESS EXCLUSIVE lock on `{from}`, blocking every read and write while it waits"
                )
            };
            out.report_fix(
                action.range.clone(),
                message,
                format!(
                    "keep the old name working with a view, in one transaction:\n  BEGIN;\n  ALTER TABLE {from} RENAME TO {to};\n  CREATE VIEW {from} AS SELECT * FROM {to};\n  COMMIT;\nthen, once no running code uses `{from}`, drop the view in a later migration: DROP VIEW {from};",
                    to = to.name
                ),
                crate::fix::phases::rename_table(cx, Self::META.name),
            );
            out.breaks(cx, (from, None), false);
        }
    }
}

/// Whether `statement` creates a view `name` (the old name) that reads `table` (the renamed
/// one, schema-qualified).
fn is_view_over(cx: &Context<'_>, statement: &Statement, name: &Name, table: &Name) -> bool {
    matches!(&statement.kind, StatementKind::CreateView { name: view, materialized: false, reads, .. }
        if cx.schema.same_relation(view, name) && reads.iter().any(|r| cx.schema.same_relation(r, table)))
}

/// An earlier migration created the view `to` over `from`, and this transaction dropped it.
fn replaces_view_created_earlier(cx: &Context<'_>, from: &Name, to: &Name) -> bool {
    cx.schema.dropped_views().any(|dropped| {
        dropped.file == cx.file
            && dropped.statement < cx.index
            && cx.same_transaction(dropped.statement)
            && dropped.view.file < cx.file
            && cx.schema.same_relation(&dropped.view.name, to)
            && dropped.view.reads.contains(&cx.schema.qualified(from))
    })
}

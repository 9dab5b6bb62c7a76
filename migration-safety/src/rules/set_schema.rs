use crate::context::{Context, Created};
use crate::model::{ActionKind, Name, Statement, StatementKind, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::alter_actions;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … SET SCHEMA` on a table that existed before this migration (unless
    /// the same transaction creates a view with the old name over the moved table), and
    /// `ALTER SCHEMA … RENAME TO` of a schema that existed before this migration.
    ///
    /// ## Why is this bad?
    /// Both are renames in disguise: the application version still running during the deploy
    /// keeps using the old qualified name (or a `search_path` that no longer finds the table),
    /// and every such query fails once the change commits. Moving a table takes an
    /// `ACCESS EXCLUSIVE` lock on it, blocking every read and write while it waits. Renaming a
    /// schema takes no lock on its tables at all (measured on PostgreSQL 12–18: other sessions
    /// keep reading and writing them while the rename is uncommitted), so it is no lock hazard,
    /// only a name-resolution one.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE invoices SET SCHEMA billing;
    /// ALTER SCHEMA billing RENAME TO finance;
    /// ```
    ///
    /// ## Use instead
    /// Keep the old name working with a view (simple views are updatable), in one transaction,
    /// and drop it once no running code uses the old name:
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE invoices SET SCHEMA billing;
    /// CREATE VIEW invoices AS SELECT * FROM billing.invoices;
    /// COMMIT;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html), [ALTER SCHEMA](https://www.postgresql.org/docs/current/sql-alterschema.html)
    /// - [Updatable views](https://www.postgresql.org/docs/current/sql-createview.html#SQL-CREATEVIEW-UPDATABLE-VIEWS)
    pub(crate) struct SetSchema {
        name: "set-schema",
        category: BackwardIncompatible,
        severity: Error,
        summary: "moving a table to another schema, or renaming a schema, breaks the application version still running",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
            Claim::takes(12..=18),
        ],
    }
}

impl Rule for SetSchema {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if let StatementKind::RenameSchema { from, to } = &statement.kind {
            if cx.created_earlier_in_file(Created::Schema, &Name::new(from.clone())) {
                return;
            }
            let (old, new) = (quote_ident(from), quote_ident(to));
            out.report(
                statement.range.clone(),
                format!(
                    "renaming schema `{old}` to `{new}` breaks the application version still running: every query that names `{old}`, or finds its tables through a search_path containing `{old}`, fails once the rename commits"
                ),
                format!(
                    "a schema has no alias, so keep the old name working with views, in one transaction:\n  BEGIN;\n  ALTER SCHEMA {old} RENAME TO {new};\n  CREATE SCHEMA {old};\n  CREATE VIEW {old}.<table> AS SELECT * FROM {new}.<table>;  -- for each table the running code uses\n  COMMIT;\nthen, once no running code uses `{old}`, drop it in a later migration: DROP SCHEMA {old} CASCADE;"
                ),
            );
        }
        for (alter, action) in alter_actions(statement) {
            let ActionKind::SetSchema { schema } = &action.kind else {
                continue;
            };
            let from = &alter.table;
            if cx.is_new_table(from) {
                continue;
            }
            let to = Name {
                schema: Some(schema.clone()),
                name: from.name.clone(),
            };
            if cx
                .later_in_transaction()
                .any(|s| is_view_over(s, from, &to))
            {
                continue;
            }
            out.report(
                action.range.clone(),
                format!(
                    "moving table `{from}` to schema `{}` breaks the application version still running, which keeps querying it as `{from}`; the move also takes an ACCESS EXCLUSIVE lock on `{from}`, blocking every read and write while it waits",
                    quote_ident(schema)
                ),
                format!(
                    "keep the old name working with a view, in one transaction:\n  BEGIN;\n  ALTER TABLE {from} SET SCHEMA {};\n  CREATE VIEW {from} AS SELECT * FROM {to};\n  COMMIT;\nthen, once no running code uses `{from}`, drop the view in a later migration: DROP VIEW {from};",
                    quote_ident(schema)
                ),
            );
        }
    }
}

fn is_view_over(statement: &Statement, name: &Name, table: &Name) -> bool {
    matches!(&statement.kind, StatementKind::CreateView { name: view, materialized: false, reads, .. }
        if view.name == name.name && view.schema == name.schema && reads.contains(table))
}

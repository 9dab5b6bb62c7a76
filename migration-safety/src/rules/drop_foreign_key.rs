use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};
use crate::rules::alter_actions;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … DROP CONSTRAINT` of a foreign key (known from earlier migrations)
    /// between two existing tables when no `lock_timeout` is in force.
    ///
    /// ## Why is this bad?
    /// Dropping a foreign key takes an `ACCESS EXCLUSIVE` lock on the table **and on the table
    /// it references**, which blocks every read and write on both. The drop itself is instant,
    /// but while it waits for running queries on either table, every later query on both queues
    /// behind it, and the referenced table is often the busiest one.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// SET lock_timeout = '5s';  -- give up instead of queueing traffic; retry later
    /// ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, DROP CONSTRAINT](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-DROP-CONSTRAINT)
    /// - [lock_timeout](https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT)
    pub(crate) struct DropForeignKey {
        name: "drop-foreign-key",
        category: Locking,
        severity: Warning,
        summary: "dropping a foreign key locks the referenced table too",
        since: "0.2.0",
    }
}

impl Rule for DropForeignKey {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if cx.session().lock_timeout.is_some() {
            return;
        }
        for (alter, action) in alter_actions(statement) {
            let ActionKind::DropConstraint { name } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            let Some(ConstraintKind::ForeignKey { references, .. }) = cx
                .schema
                .table(table)
                .and_then(|t| t.constraint(name))
                .map(|c| &c.kind)
            else {
                continue;
            };
            if references.matches(table) || cx.is_new_table(table) || cx.is_new_table(references) {
                continue;
            }
            let set = if cx.in_transaction() {
                "SET LOCAL lock_timeout = '5s';  -- inside the transaction, before this statement"
            } else {
                "SET lock_timeout = '5s';  -- before this statement"
            };
            out.report(
                action.range.clone(),
                format!(
                    "dropping foreign key `{name}` takes ACCESS EXCLUSIVE locks on both `{table}` and the referenced table `{references}`, with no lock_timeout in force: while it waits for running queries, every read and write on both tables queues behind it"
                ),
                format!("give up instead of stalling traffic on `{references}`, and retry later:\n  {set}"),
            );
        }
    }
}

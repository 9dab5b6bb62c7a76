use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{
    INDEX_THEN_CONSTRAINT, alter_actions, default_constraint_name, index_then_constraint,
    index_then_constraint_fix, report_using_index_problem, steps,
};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] UNIQUE (…)` and `ADD COLUMN … UNIQUE` on a table
    /// that existed before this migration. `ADD CONSTRAINT … UNIQUE USING INDEX` is not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL builds the unique index while holding an `ACCESS EXCLUSIVE` lock on the table,
    /// which blocks every read and write for the whole build, and the build fails on the first
    /// duplicate. Build the index with `CREATE UNIQUE INDEX CONCURRENTLY` (reads and writes
    /// continue), then attach it as the constraint with `USING INDEX`, which is instant.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);  -- outside a transaction block
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint_using_index](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX)
    pub(crate) struct AddUniqueConstraint {
        name: "add-unique-constraint",
        category: Locking,
        severity: Error,
        summary: "adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            // On a partitioned table: the parent locked, each partition read under SHARE
            // (ACCESS EXCLUSIVE on 18).
            Claim::takes(12..=17).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(Share).scan()),
            Claim::takes(18..=18).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(AccessExclusive).scan()),
            Claim::fails(12..=18, "is not a unique index"),
        ],
    }
}

impl Rule for AddUniqueConstraint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let (name, columns, column) = match &action.kind {
                ActionKind::AddConstraint { constraint, .. } => match &constraint.kind {
                    ConstraintKind::Unique {
                        columns,
                        using_index: None,
                    } => (
                        constraint
                            .name
                            .clone()
                            .unwrap_or_else(|| default_constraint_name(table, columns, "key")),
                        columns.clone(),
                        None,
                    ),
                    ConstraintKind::Unique {
                        using_index: Some(index),
                        ..
                    } => {
                        report_using_index_problem(cx, table, index, action, out);
                        continue;
                    }
                    _ => continue,
                },
                ActionKind::AddColumn(column) if column.unique && !column.primary_key => {
                    let columns = vec![column.name.clone()];
                    (
                        default_constraint_name(table, &columns, "key"),
                        columns,
                        Some(column),
                    )
                }
                _ => continue,
            };
            let what = match column {
                Some(c) => format!("adding column `{}` with UNIQUE", c.name),
                None => format!("adding UNIQUE constraint `{name}`"),
            };
            let plan = index_then_constraint(cx, table, &name, &columns, column, "UNIQUE");
            let fix = column.is_none().then(|| {
                index_then_constraint_fix(cx, self.meta().name, statement, action, &name, &plan)
            });
            out.report_fix(
                action.range.clone(),
                format!("{what} builds a unique index on `{table}` under an ACCESS EXCLUSIVE lock, blocking every read and write until the whole index is built"),
                steps(INDEX_THEN_CONSTRAINT, &plan),
                fix.flatten(),
            );
        }
    }
}

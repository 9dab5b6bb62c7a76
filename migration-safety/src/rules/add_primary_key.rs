use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{
    INDEX_THEN_CONSTRAINT, alter_actions, index_then_constraint, index_then_constraint_fix,
    report_using_index_problem, steps,
};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] PRIMARY KEY (…)` and `ADD COLUMN … PRIMARY KEY` on
    /// a table that existed before this migration. `ADD PRIMARY KEY USING INDEX` is not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL builds the primary key's unique index, and makes its columns `NOT NULL` (a scan
    /// unless a validated check proves them non-null), while holding an `ACCESS EXCLUSIVE` lock
    /// on the table, which blocks every read and write until both are done.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events ADD PRIMARY KEY (id);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id);  -- outside a transaction block
    /// ALTER TABLE events ADD CONSTRAINT events_id_not_null CHECK (id IS NOT NULL) NOT VALID;
    /// ALTER TABLE events VALIDATE CONSTRAINT events_id_not_null;  -- in a separate transaction
    /// ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
    /// ```
    /// On PostgreSQL 12+ the validated check lets the last step skip the `NOT NULL` scan.
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint_using_index](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX)
    pub(crate) struct AddPrimaryKey {
        name: "add-primary-key",
        category: Locking,
        severity: Error,
        summary: "adding a primary key builds its index under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for AddPrimaryKey {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let (name, columns, column) = match &action.kind {
                ActionKind::AddConstraint { constraint, .. } => match &constraint.kind {
                    ConstraintKind::PrimaryKey {
                        columns,
                        using_index: None,
                    } => (
                        constraint
                            .name
                            .clone()
                            .unwrap_or_else(|| format!("{}_pkey", table.name)),
                        columns.clone(),
                        None,
                    ),
                    ConstraintKind::PrimaryKey {
                        using_index: Some(index),
                        ..
                    } => {
                        report_using_index_problem(cx, table, index, action, out);
                        continue;
                    }
                    _ => continue,
                },
                ActionKind::AddColumn(column) if column.primary_key => (
                    format!("{}_pkey", table.name),
                    vec![column.name.clone()],
                    Some(column),
                ),
                _ => continue,
            };
            let what = match column {
                Some(c) => format!("adding column `{}` as the PRIMARY KEY", c.name),
                None => format!("adding primary key `{name}`"),
            };
            let plan = index_then_constraint(cx, table, &name, &columns, column, "PRIMARY KEY");
            let fix = column.is_none().then(|| {
                index_then_constraint_fix(cx, self.meta().name, statement, action, &name, &plan)
            });
            out.report_fix(
                action.range.clone(),
                format!("{what} builds a unique index on `{table}` and makes its columns NOT NULL under an ACCESS EXCLUSIVE lock, blocking every read and write until the whole index is built"),
                steps(INDEX_THEN_CONSTRAINT, &plan),
                fix.flatten(),
            );
        }
    }
}

use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] EXCLUDE USING …` on a table that existed before
    /// this migration.
    ///
    /// ## Why is this bad?
    /// PostgreSQL builds the constraint's index and checks every row against every other while
    /// holding an `ACCESS EXCLUSIVE` lock, which blocks every read and write for the whole build.
    /// Unlike other constraints there is no online path: an exclusion constraint cannot be added
    /// `NOT VALID` and has no `USING INDEX` form.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap
    ///   EXCLUDE USING gist (room_id WITH =, during WITH &&);
    /// ```
    ///
    /// ## Use instead
    /// Create a new table with the constraint, copy the rows into it in batches while the
    /// application writes to both, and swap the tables; or schedule the statement for a
    /// maintenance window, with a `lock_timeout`.
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT)
    /// - [Exclusion constraints](https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-EXCLUSION)
    pub(crate) struct AddExclusionConstraint {
        name: "add-exclusion-constraint",
        category: Locking,
        severity: Error,
        summary: "adding an exclusion constraint builds its index under an ACCESS EXCLUSIVE lock, with no online alternative",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for AddExclusionConstraint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AddConstraint { constraint, .. } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if constraint.kind != ConstraintKind::Exclude || cx.is_new_table(table) {
                continue;
            }
            let what = constraint.name.as_ref().map_or_else(
                || "an exclusion constraint".to_owned(),
                |n| format!("exclusion constraint `{n}`"),
            );
            out.report(
                action.range.clone(),
                format!("adding {what} builds its index and checks every row of `{table}` under an ACCESS EXCLUSIVE lock, blocking every read and write until it ends; it cannot be added NOT VALID or USING INDEX"),
                steps(
                    "there is no online form; either:",
                    &[
                        format!("create a new table like {table} with the constraint, copy the rows in batches while the application writes to both, then swap the tables in one short transaction"),
                        format!("or run it in a maintenance window, after SET lock_timeout = '5s' so that it never queues traffic on {table} behind it"),
                    ],
                ),
            );
        }
    }
}

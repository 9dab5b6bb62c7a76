use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement, quote_ident};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{
    SCAN_WITHOUT_BLOCKING, add_column_without, default_constraint_name, existing_table_actions,
    not_valid_then_validate, not_valid_then_validate_fix, steps,
};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] CHECK (…)` without `NOT VALID` on an existing
    /// table, and `ADD COLUMN … CHECK (…)`, which validates its check the same way.
    ///
    /// ## Why is this bad?
    /// PostgreSQL checks every existing row while holding an `ACCESS EXCLUSIVE` lock, which
    /// blocks every read and write for the whole scan. Added `NOT VALID`, the constraint applies
    /// to new and updated rows at once, without the scan; `VALIDATE CONSTRAINT` then checks the
    /// old rows under a `SHARE UPDATE EXCLUSIVE` lock, which lets reads and writes continue.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    /// -- in a separate transaction:
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint … NOT VALID](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT)
    pub(crate) struct AddCheckConstraint {
        name: "add-check-constraint",
        category: Locking,
        severity: Error,
        summary: "adding a CHECK constraint without NOT VALID scans the table under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for AddCheckConstraint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (table, action) in existing_table_actions(cx, statement) {
            let (name, body, column) = match &action.kind {
                ActionKind::AddConstraint {
                    constraint,
                    not_valid: false,
                } => {
                    let ConstraintKind::Check {
                        expr, first_column, ..
                    } = &constraint.kind
                    else {
                        continue;
                    };
                    let name = constraint.name.clone().unwrap_or_else(|| {
                        default_constraint_name(table, first_column.as_slice(), "check")
                    });
                    let body = action
                        .definition(cx.source)
                        .map_or_else(|| format!("CHECK ({expr})"), str::to_owned);
                    (name, body, None)
                }
                ActionKind::AddColumn(column) => {
                    let Some(expr) = &column.check else { continue };
                    let name =
                        default_constraint_name(table, std::slice::from_ref(&column.name), "check");
                    (name, format!("CHECK ({expr})"), Some(column))
                }
                _ => continue,
            };
            let constraint = quote_ident(&name);
            let mut plan = add_column_without(table, column, "the CHECK");
            plan.extend(not_valid_then_validate(
                table,
                &constraint,
                &body,
                "brief lock, no scan; new rows are checked at once",
                SCAN_WITHOUT_BLOCKING,
            ));
            let what = match column {
                Some(c) => format!("adding column `{}` with a CHECK constraint", c.name),
                None => format!("adding CHECK constraint `{name}`"),
            };
            // Adding the column again without its CHECK would drop the rest of its
            // definition: only the constraint form is fixed.
            let fix = column.is_none().then(|| {
                not_valid_then_validate_fix(cx, self.meta().name, statement, &name, &plan)
            });
            out.report_fix(
                action.range.clone(),
                format!("{what} checks every row of `{table}` under an ACCESS EXCLUSIVE lock, blocking every read and write until the scan ends"),
                steps("add it without the scan, then validate it without blocking traffic:", &plan),
                fix.flatten(),
            );
        }
    }
}

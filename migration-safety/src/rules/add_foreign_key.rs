use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Name, Statement, quote_ident};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{
    Step, add_column_without, default_constraint_name, existing_table_actions,
    not_valid_then_validate, not_valid_then_validate_fix, steps,
};

declare_rule! {
    /// ## What it does
    /// Flags a foreign key added without `NOT VALID` to a table that existed before this
    /// migration: `ALTER TABLE … ADD [CONSTRAINT …] FOREIGN KEY … REFERENCES …` and
    /// `ALTER TABLE … ADD COLUMN … REFERENCES …` when the new column gets a value in the
    /// existing rows (a non-null default, `serial`, a stored generated or identity column). A
    /// new column without one is all NULL, so PostgreSQL validates the key without a scan: the
    /// rule is quiet, and `missing-lock-timeout` still reports its locks (`ACCESS EXCLUSIVE` on
    /// the table, `SHARE ROW EXCLUSIVE` on the referenced one).
    ///
    /// ## Why is this bad?
    /// Adding a foreign key takes a `SHARE ROW EXCLUSIVE` lock on **both** tables, the
    /// referencing one and the referenced one, which blocks every `INSERT`, `UPDATE` and `DELETE`
    /// on both while PostgreSQL checks every existing row. The referenced table is often the
    /// busiest one (`users`, `accounts`). `ADD COLUMN … REFERENCES` also takes an
    /// `ACCESS EXCLUSIVE` lock on the referencing table until the transaction commits.
    ///
    /// Added `NOT VALID`, the key is enforced for new rows at once and the locks are brief;
    /// `VALIDATE CONSTRAINT` then checks the old rows under `SHARE UPDATE EXCLUSIVE` on the
    /// referencing table and `ROW SHARE` on the referenced one, so traffic continues.
    /// Before PostgreSQL 18 a partitioned table cannot take a `NOT VALID` foreign key: add it to
    /// each partition first.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE orders ADD CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;
    /// -- in a separate transaction:
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_user_id_fkey;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint … NOT VALID](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT)
    /// - [Table-level locks](https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES)
    pub(crate) struct AddForeignKey {
        name: "add-foreign-key",
        category: Locking,
        severity: Error,
        summary: "adding a foreign key without NOT VALID blocks writes on both tables while every row is checked",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(ShareRowExclusive).scan()).referenced(Effect::lock(ShareRowExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()).referenced(Effect::lock(ShareRowExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(ShareRowExclusive)),
            Claim::takes(12..=18).table(Effect::lock(ShareRowExclusive)).referenced(Effect::lock(ShareRowExclusive)),
        ],
    }
}

impl Rule for AddForeignKey {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (table, action) in existing_table_actions(cx, statement) {
            let partitioned_before_18 =
                cx.pg_version() < 18 && cx.schema.table(table).is_some_and(|t| t.partitioned);
            match &action.kind {
                ActionKind::AddConstraint {
                    constraint,
                    not_valid: false,
                } => {
                    let ConstraintKind::ForeignKey {
                        columns,
                        references,
                        ..
                    } = &constraint.kind
                    else {
                        continue;
                    };
                    let name = constraint
                        .name
                        .clone()
                        .unwrap_or_else(|| default_constraint_name(table, columns, "fkey"));
                    let body = action.definition(cx.source).map_or_else(
                        || {
                            format!(
                                "FOREIGN KEY ({}) REFERENCES {references}",
                                columns
                                    .iter()
                                    .map(|c| quote_ident(c))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        },
                        str::to_owned,
                    );
                    let plan = plan(table, &name, &body, None, partitioned_before_18);
                    out.report_fix(
                        action.range.clone(),
                        format!(
                            "adding foreign key `{name}` takes SHARE ROW EXCLUSIVE locks on {}, blocking every INSERT, UPDATE and DELETE {} while every row of `{table}` is checked",
                            both(cx, table, references),
                            if cx.schema.same_relation(references, table) { "on it" } else { "on both tables" }
                        ),
                        steps(INTRO, &plan),
                        not_valid_then_validate_fix(
                            cx,
                            self.meta().name,
                            statement,
                            &name,
                            &plan,
                        ),
                    );
                }
                ActionKind::AddColumn(column) => {
                    let Some(references) = &column.references else {
                        continue;
                    };
                    // Without a value for the existing rows the new column is all NULL: the
                    // key is validated without a scan (measured on PostgreSQL 12–18), and only
                    // the locks remain, which `missing-lock-timeout` covers.
                    let filled = column.default.as_ref().is_some_and(|d| !d.is_null)
                        || column.data_type.is_serial()
                        || column
                            .generated
                            .is_some_and(|g| g != crate::model::Generated::Virtual);
                    if !filled {
                        continue;
                    }
                    let columns = std::slice::from_ref(&column.name);
                    let name = default_constraint_name(table, columns, "fkey");
                    let referenced = if column.referenced_columns.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " ({})",
                            column
                                .referenced_columns
                                .iter()
                                .map(|c| quote_ident(c))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    let body = format!(
                        "FOREIGN KEY ({}) REFERENCES {references}{referenced}",
                        quote_ident(&column.name)
                    );
                    let scan = format!(
                        ", and every row of `{table}` is checked against `{references}` because the new column gets a value in every existing row"
                    );
                    let referenced_lock = if cx.schema.same_relation(references, table) {
                        String::new()
                    } else {
                        format!(
                            " and a SHARE ROW EXCLUSIVE lock on `{references}` (blocking every INSERT, UPDATE and DELETE on it)"
                        )
                    };
                    out.report(
                        action.range.clone(),
                        format!(
                            "adding column `{}` with REFERENCES `{references}` takes an ACCESS EXCLUSIVE lock on `{table}` (blocking every read and write){referenced_lock} until the transaction commits{scan}",
                            column.name
                        ),
                        steps(
                            INTRO,
                            &plan(table, &name, &body, Some(column), partitioned_before_18),
                        ),
                    );
                }
                _ => {}
            }
        }
    }
}

fn both(cx: &Context<'_>, table: &Name, references: &Name) -> String {
    if cx.schema.same_relation(references, table) {
        format!("`{table}`")
    } else {
        format!("both `{table}` and the referenced table `{references}`")
    }
}

fn plan(
    table: &Name,
    name: &str,
    body: &str,
    column: Option<&crate::model::ColumnDef>,
    partitioned_before_18: bool,
) -> Vec<Step> {
    let constraint = quote_ident(name);
    let mut plan = add_column_without(table, column, "REFERENCES");
    if partitioned_before_18 {
        plan.push(Step::prose(format!(
            "before PostgreSQL 18 a partitioned table cannot take a NOT VALID foreign key: on each partition of {table}, ADD CONSTRAINT … {body} NOT VALID, then VALIDATE CONSTRAINT in a separate transaction"
        )));
        plan.push(Step::sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} {body};"),
            "the partitions' validated keys are reused, no scan",
        ));
    } else {
        plan.extend(not_valid_then_validate(
            table,
            &constraint,
            body,
            "brief locks, no scan; new rows are checked at once",
            "SHARE UPDATE EXCLUSIVE and ROW SHARE, reads and writes continue on both tables",
        ));
    }
    plan
}

const INTRO: &str = "add the key without the long locks, then validate it:";

use crate::context::Context;
use crate::model::{ActionKind, Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, batched_update, not_null_steps, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD COLUMN … NOT NULL` without a default on an existing table.
    ///
    /// ## Why is this bad?
    /// Existing rows would hold `NULL` in the new column, so the statement fails with
    /// "column contains null values" as soon as the table has a row, which it does in
    /// production even when it is empty in development. If it did succeed, the application
    /// version still running would fail on every `INSERT` that does not name the new column.
    /// It also waits for an `ACCESS EXCLUSIVE` lock, blocking every read and write meanwhile.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;
    /// ```
    ///
    /// ## Use instead
    /// Give it a constant default (stored without a rewrite on PostgreSQL 11+), or add it
    /// nullable, backfill, and enforce `NOT NULL` through a validated `CHECK`:
    /// ```sql
    /// ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL DEFAULT 0;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html)
    pub(crate) struct AddColumnRequired {
        name: "add-column-required",
        category: BackwardIncompatible,
        severity: Error,
        summary: "adding a NOT NULL column without a default fails on a table with rows",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::fails(12..=18, "contains null values"),
        ],
    }
}

impl Rule for AddColumnRequired {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AddColumn(column) = &action.kind else {
                continue;
            };
            let has_default = column.default.as_ref().is_some_and(|d| !d.is_null);
            if !column.not_null
                || has_default
                || column.generated.is_some()
                || column.data_type.is_serial()
                || cx.is_new_table(&alter.table)
            {
                continue;
            }
            let table = &alter.table;
            let name = &column.name;
            let col = quote_ident(name);
            let mut plan = Vec::new();
            if cx.pg_version() >= 11 {
                plan.push(format!(
                    "if one value fits existing rows, give it a constant default (no rewrite on PostgreSQL 11+): ALTER TABLE {table} ADD COLUMN {col} {} NOT NULL DEFAULT <value>;",
                    column.data_type
                ));
            }
            plan.extend([
                format!(
                    "otherwise add it nullable: ALTER TABLE {table} ADD COLUMN {col} {};",
                    column.data_type
                ),
                format!(
                    "deploy code that writes `{name}`, then: {}",
                    batched_update(
                        table,
                        &format!("{col} = <value>"),
                        &format!("{col} IS NULL")
                    )
                ),
            ]);
            plan.extend(
                not_null_steps(cx.pg_version(), table, name)
                    .iter()
                    .map(ToString::to_string),
            );
            out.report_fix(
                action.range.clone(),
                format!(
                    "adding `{name}` as NOT NULL without a default fails once `{table}` has rows (they would hold NULL), and breaks inserts from the application version still running; it also takes an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write while it waits"
                ),
                steps("add the column in a way that works on a table with rows:", &plan),
                crate::fix::phases::add_required_column(cx, Self::META.name),
            );
        }
    }
}

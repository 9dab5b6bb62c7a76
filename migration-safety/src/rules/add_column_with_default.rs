use crate::context::Context;
use crate::fix::replace_statement;
use crate::model::{ActionKind, Statement, Volatility, quote_ident};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{Step, alter_actions, batched_update, not_null_steps, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD COLUMN … DEFAULT` on an existing table when the default makes
    /// PostgreSQL rewrite the table: a volatile default (`gen_random_uuid()`, `random()`,
    /// `clock_timestamp()`, `nextval()`, or a function not known to be stable) on any version,
    /// and any non-null default before PostgreSQL 11. Constants and stable expressions such as
    /// `now()` are stored once, without a rewrite, on PostgreSQL 11 and later.
    ///
    /// ## Why is this bad?
    /// The rewrite copies every row and rebuilds every index while holding an
    /// `ACCESS EXCLUSIVE` lock, which blocks every read and write until it ends.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE users ADD COLUMN token uuid;
    /// ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid();  -- new rows only
    /// UPDATE users SET token = gen_random_uuid()
    ///   WHERE ctid IN (SELECT ctid FROM users WHERE token IS NULL LIMIT 10000);  -- repeat until 0 rows
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, Notes](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES)
    /// - [Function volatility categories](https://www.postgresql.org/docs/current/xfunc-volatility.html)
    pub(crate) struct AddColumnWithDefault {
        name: "add-column-with-default",
        category: Rewrite,
        severity: Error,
        summary: "adding a column with a volatile default (or any default before PostgreSQL 11) rewrites the table",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
        ],
    }
}

impl Rule for AddColumnWithDefault {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AddColumn(column) = &action.kind else {
                continue;
            };
            let Some(default) = column.default.as_ref().filter(|d| !d.is_null) else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let name = &column.name;
            let why = match &default.volatility {
                Volatility::Volatile { function } => format!(
                    "adding `{name}` with the volatile default `{}` rewrites the whole table `{table}` and all its indexes, because every existing row gets its own value from `{function}()`",
                    default.text
                ),
                Volatility::Unknown { function } => format!(
                    "adding `{name}` with the default `{}` rewrites the whole table `{table}` and all its indexes unless `{function}()` is stable or immutable, which cannot be proven from the migration",
                    default.text
                ),
                Volatility::NonVolatile if cx.pg_version() < 11 => format!(
                    "before PostgreSQL 11 (the target is {}), adding `{name}` with a default rewrites the whole table `{table}` and all its indexes",
                    cx.pg_version()
                ),
                Volatility::NonVolatile => continue,
            };
            let col = quote_ident(name);
            let set = format!("{col} = {}", default.text);
            let pending = format!("{col} IS NULL");
            // Outside a transaction block, from PostgreSQL 11, a DO block commits each batch.
            let backfill = if cx.session().transaction.is_none() && cx.pg_version() >= 11 {
                Step::sql(
                    format!(
                        "DO $$ BEGIN LOOP UPDATE {table} SET {set} WHERE ctid IN (SELECT ctid FROM {table} WHERE {pending} LIMIT 10000); EXIT WHEN NOT FOUND; COMMIT; END LOOP; END $$;"
                    ),
                    "backfill in batches of 10000 rows, each committed: outside a transaction block",
                )
            } else {
                Step::prose(batched_update(table, &set, &pending))
            };
            let mut plan = vec![
                Step::sql(
                    format!("ALTER TABLE {table} ADD COLUMN {col} {};", column.data_type),
                    "",
                ),
                Step::sql(
                    format!(
                        "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT {};",
                        default.text
                    ),
                    "applies to new rows, no rewrite",
                ),
                backfill,
            ];
            if column.not_null {
                plan.extend(not_null_steps(cx.pg_version(), table, name));
            }
            // Only a column of a type, a default and NOT NULL: the plan would drop anything else
            // it was declared with.
            let plain = column.check.is_none()
                && column.references.is_none()
                && column.generated.is_none()
                && !column.unique
                && !column.primary_key
                && !action.written.collate
                && !action.written.if_exists;
            let fix = plain.then(|| {
                replace_statement(
                    cx,
                    self.meta().name,
                    statement,
                    format!(
                        "add `{name}` without the default, then set it and backfill in batches"
                    ),
                    Step::runnable(&plan),
                )
            });
            out.report_fix(
                action.range.clone(),
                format!("{why}; the rewrite holds an ACCESS EXCLUSIVE lock that blocks every read and write until it ends"),
                steps("add the column without the default, then fill it in batches:", &plan),
                fix.flatten(),
            );
        }
    }
}

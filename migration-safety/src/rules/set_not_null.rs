use crate::context::Context;
use crate::fix::replace_statement;
use crate::model::{ActionKind, ConstraintKind, Name, Statement, quote_ident};
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{
    SCAN_WITHOUT_BLOCKING, Step, alter_actions, native_not_null_steps, not_null_steps, steps,
};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER COLUMN … SET NOT NULL` (and PostgreSQL 18's validated
    /// `ADD CONSTRAINT … NOT NULL col`) on an existing table, unless the column is already
    /// `NOT NULL`, or the target is PostgreSQL 12+ and a `CHECK (col IS NOT NULL)` constraint
    /// validated in this or an earlier migration proves it. A `NOT VALID` check does not count.
    /// Also flags the named `NOT NULL` constraint form when the target is older than
    /// PostgreSQL 18, where it does not exist.
    ///
    /// ## Why is this bad?
    /// PostgreSQL scans the whole table to prove there is no `NULL` while holding an
    /// `ACCESS EXCLUSIVE` lock, which blocks every read and write for the whole scan.
    /// Since PostgreSQL 12 the scan is skipped when a validated `CHECK (col IS NOT NULL)`
    /// proves the column non-null; a `NOT VALID` check does not count.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE users ADD CONSTRAINT users_email_not_null CHECK (email IS NOT NULL) NOT VALID;
    /// -- in a separate transaction (SHARE UPDATE EXCLUSIVE: reads and writes continue):
    /// ALTER TABLE users VALIDATE CONSTRAINT users_email_not_null;
    /// ALTER TABLE users ALTER COLUMN email SET NOT NULL;  -- no scan on PostgreSQL 12+
    /// ALTER TABLE users DROP CONSTRAINT users_email_not_null;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, SET NOT NULL](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-SET-DROP-NOT-NULL)
    pub(crate) struct SetNotNull {
        name: "set-not-null",
        category: Locking,
        severity: Error,
        summary: "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            Claim::fails(12..=17, "syntax error"),
        ],
    }
}

impl Rule for SetNotNull {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let table = &alter.table;
            // The native form keeps its own name; `SET NOT NULL` names its constraint
            // `<table>_<column>_not_null` on PostgreSQL 18.
            let (column, native) = match &action.kind {
                ActionKind::SetNotNull { column } => (column, None),
                ActionKind::AddConstraint {
                    constraint,
                    not_valid,
                } => match &constraint.kind {
                    ConstraintKind::NotNull { column } if cx.pg_version() < 18 => {
                        out.report(
                            action.range.clone(),
                            format!(
                                "a named `NOT NULL` constraint{} needs PostgreSQL 18, but the target is {}: the statement fails",
                                if *not_valid { " with NOT VALID" } else { "" },
                                cx.pg_version()
                            ),
                            help(cx.pg_version(), table, column),
                        );
                        continue;
                    }
                    ConstraintKind::NotNull { column } if !not_valid => {
                        (column, Some(constraint.name.as_deref()))
                    }
                    _ => continue,
                },
                _ => continue,
            };
            if cx.is_new_table(table) || is_proven(cx, table, column) {
                continue;
            }
            let plan = match (native, unvalidated_check(cx, table, column)) {
                (Some(Some(name)), _) => native_not_null_steps(table, column, name),
                // A `CHECK (col IS NOT NULL) NOT VALID` added earlier only needs validating
                // (adding it again fails: the name is taken).
                (_, Some(check)) if cx.pg_version() >= 12 => {
                    let check = quote_ident(&check);
                    vec![
                        Step::sql(
                            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {check};"),
                            format!("in a separate transaction: {SCAN_WITHOUT_BLOCKING}"),
                        ),
                        Step::sql(
                            format!(
                                "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL;",
                                quote_ident(column)
                            ),
                            "no scan: the validated check proves it",
                        ),
                    ]
                }
                _ => not_null_steps(cx.pg_version(), table, column),
            };
            out.report_fix(
                action.range.clone(),
                format!(
                    "making `{table}.{column}` NOT NULL{} scans the whole table under an ACCESS EXCLUSIVE lock, blocking every read and write until the scan ends",
                    if native.is_some() { " with a validated constraint" } else { "" }
                ),
                steps(INTRO, &plan),
                replace_statement(
                    cx,
                    self.meta().name,
                    statement,
                    format!("make `{table}.{column}` NOT NULL through a constraint validated without the long lock"),
                    Step::runnable(&plan),
                ),
            );
        }
    }
}

/// The name of a `CHECK (column IS NOT NULL)` added `NOT VALID` earlier and not validated yet.
fn unvalidated_check(cx: &Context<'_>, table: &Name, column: &str) -> Option<String> {
    cx.schema
        .table(table)?
        .constraints
        .iter()
        .find_map(|c| match &c.kind {
            ConstraintKind::Check {
                not_null_column: Some(col),
                ..
            } if !c.validated && col == column => c.name.clone(),
            _ => None,
        })
}

/// Whether the column is already `NOT NULL` (no scan on any version), or, on PostgreSQL 12+,
/// proven non-null by a constraint validated in this or an earlier migration.
fn is_proven(cx: &Context<'_>, table: &Name, column: &str) -> bool {
    cx.schema.table(table).is_some_and(|t| {
        t.column(column).is_some_and(|c| c.not_null)
            || (cx.pg_version() >= 12 && t.proves_not_null(column))
    })
}

const INTRO: &str = "prove the column non-null without the long lock:";

fn help(pg_version: u32, table: &Name, column: &str) -> String {
    steps(INTRO, &not_null_steps(pg_version, table, column))
}

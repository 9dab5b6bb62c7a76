use crate::context::Context;
use crate::model::{ActionKind, AlterTable, LockMode, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::alter_actions;

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … VALIDATE CONSTRAINT` that runs in the same transaction as the
    /// `ADD CONSTRAINT … NOT VALID` that created the constraint, or after any other statement in
    /// that transaction that took a lock blocking writes (`SHARE` or stronger) on an existing
    /// table. Migration frameworks that wrap each file in a transaction count as one
    /// transaction; so does a `DO` block.
    ///
    /// ## Why is this bad?
    /// Locks are held until the transaction ends. `VALIDATE CONSTRAINT` itself only takes a
    /// `SHARE UPDATE EXCLUSIVE` lock, but in the same transaction as `ADD … NOT VALID` the
    /// `ACCESS EXCLUSIVE` (or, for a foreign key, `SHARE ROW EXCLUSIVE`) lock of the add is still
    /// held through the whole validation scan, blocking traffic exactly as a plain validated add
    /// would: the `NOT VALID` split gains nothing.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Commit in between, for example with the validation in the next migration:
    /// ```sql
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0) NOT VALID;
    /// -- next migration:
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, VALIDATE CONSTRAINT](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-VALIDATE-CONSTRAINT)
    pub(crate) struct ValidateConstraintInSameTransaction {
        name: "validate-constraint-in-same-transaction",
        category: Transaction,
        severity: Error,
        summary: "validating a constraint in the same transaction as strong locks holds them through the whole scan",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(ShareUpdateExclusive).scan()).referenced(Effect::lock(RowShare).scan()),
        ],
    }
}

impl Rule for ValidateConstraintInSameTransaction {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::ValidateConstraint { name } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if !cx.in_transaction() || cx.is_new_table(table) {
                continue;
            }
            let earlier = earlier_in_transaction(cx, statement);
            let added_here = earlier.iter().any(|s| adds_not_valid(cx, s, alter, name))
                || alter.actions.iter().take_while(|a| a.range.start < action.range.start).any(|a| {
                    matches!(&a.kind, ActionKind::AddConstraint { constraint, not_valid: true } if constraint.name.as_ref() == Some(name))
                });
            let held = earlier
                .iter()
                .flat_map(|s| s.kind.locks())
                .filter(|l| l.mode.blocks_writes() && !cx.is_new_table(&l.table))
                .max_by_key(|l| l.mode);
            let (why, lock) = match (added_here, &held) {
                (true, held) => (
                    "its `ADD CONSTRAINT … NOT VALID`".to_owned(),
                    held.as_ref().map_or(LockMode::AccessExclusive, |l| l.mode),
                ),
                (false, Some(held)) => (
                    format!("an earlier statement that locked `{}`", held.table),
                    held.mode,
                ),
                (false, None) => continue,
            };
            let on = held
                .as_ref()
                .map_or_else(|| table.to_string(), |l| l.table.to_string());
            let place = if cx.in_do_block {
                "the DO block"
            } else {
                "the transaction"
            };
            let fix = crate::fix::phases::move_out(
                cx,
                Self::META.name,
                true,
                &format!(
                    "validating `{name}` in its own transaction holds only SHARE UPDATE EXCLUSIVE on `{table}` during the scan."
                ),
            );
            out.report_fix(
                action.range.clone(),
                format!(
                    "validating `{name}` in the same transaction as {why} keeps that {} lock on `{on}` held through the whole validation scan of `{table}`, blocking {} until {place} ends: the NOT VALID split gains nothing",
                    lock.sql(),
                    lock.blocks()
                ),
                format!(
                    "commit before validating: move `ALTER TABLE {table} VALIDATE CONSTRAINT {};` into the next migration (or after COMMIT), where it takes only SHARE UPDATE EXCLUSIVE and reads and writes continue",
                    crate::model::quote_ident(name)
                ),
                fix,
            );
        }
    }
}

/// Statements that ran before this one in its transaction: earlier top-level statements of the
/// same transaction block and, inside a `DO` body, the body's earlier statements.
fn earlier_in_transaction<'a>(cx: &'a Context<'_>, statement: &Statement) -> Vec<&'a Statement> {
    let mut out: Vec<&Statement> = Vec::new();
    let push = |s: &'a Statement, out: &mut Vec<&'a Statement>| match &s.kind {
        StatementKind::Do { body } => out.extend(body.iter()),
        _ => out.push(s),
    };
    for (i, s) in cx.statements[..cx.index].iter().enumerate() {
        if cx.same_transaction(i) {
            push(s, &mut out);
        }
    }
    if cx.in_do_block
        && let StatementKind::Do { body } = &cx.statements[cx.index].kind
    {
        for s in body
            .iter()
            .filter(|s| s.range.start < statement.range.start)
        {
            push(s, &mut out);
        }
    }
    out
}

fn adds_not_valid(cx: &Context<'_>, statement: &Statement, alter: &AlterTable, name: &str) -> bool {
    alter_actions(statement).any(|(a, action)| {
        cx.schema.same_relation(&a.table, &alter.table)
            && matches!(&action.kind, ActionKind::AddConstraint { constraint, not_valid: true } if constraint.name.as_deref() == Some(name))
    })
}

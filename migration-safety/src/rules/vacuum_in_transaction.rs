use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `VACUUM` (in any form, including `VACUUM FULL` and `VACUUM (ANALYZE)`) inside a
    /// transaction block or a `DO` block. `ANALYZE` on its own may run in a transaction and is
    /// not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL refuses to run `VACUUM` inside a transaction block ("VACUUM cannot run
    /// inside a transaction block") or from a function, so the migration fails at deploy time.
    /// Many migration tools wrap every file in a transaction unless told not to.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// DELETE FROM sessions WHERE expires_at < '2024-01-01';
    /// VACUUM (ANALYZE) sessions;
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Run it on its own, outside any transaction block, or use `ANALYZE` alone (which may
    /// run in a transaction) and leave vacuuming to autovacuum:
    /// ```sql
    /// VACUUM (ANALYZE) sessions;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [VACUUM](https://www.postgresql.org/docs/current/sql-vacuum.html)
    pub(crate) struct VacuumInTransaction {
        name: "vacuum-in-transaction",
        category: Transaction,
        severity: Error,
        summary: "VACUUM fails inside a transaction block",
        since: "0.1.0",
        claims: [
            Claim::fails(12..=18, "cannot run inside a transaction block"),
            Claim::fails(12..=18, "cannot be executed from a function"),
        ],
    }
}

impl Rule for VacuumInTransaction {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if !cx.in_transaction()
            || !matches!(
                statement.kind,
                StatementKind::Vacuum | StatementKind::Rewrite { .. }
            )
        {
            return;
        }
        if !statement.written.vacuum {
            return;
        }
        let (place, advice) = if cx.in_do_block {
            (
                "a DO block",
                "run it as a top-level statement instead of inside DO, outside any transaction block".to_owned(),
            )
        } else {
            (
                "a transaction block",
                format!(
                    "{}; or, if fresh planner statistics are all it is for, use ANALYZE alone, which may run in a transaction",
                    crate::framework::outside_transaction_advice(cx.framework)
                ),
            )
        };
        out.report(
            statement.range.clone(),
            format!(
                "`VACUUM` cannot run inside {place}: PostgreSQL rejects it and the migration fails"
            ),
            advice,
        );
    }
}

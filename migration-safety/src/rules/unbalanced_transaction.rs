use crate::context::{Context, Wrapper};
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags explicit transaction statements that do not pair up: a `BEGIN` with no `COMMIT`
    /// (or `ROLLBACK`) after it in the file, a `BEGIN` inside a transaction that is already open
    /// (one the file began, or the one the migration framework runs the file in), and a
    /// `COMMIT` with no `BEGIN` before it.
    ///
    /// ## Why is this bad?
    /// PostgreSQL does not nest transactions. A second `BEGIN` only draws the warning "there is
    /// already a transaction in progress"; the first `COMMIT` then ends the outer transaction,
    /// so the statements after it run outside any transaction, and a failure no longer rolls
    /// the migration back. Inside the framework's transaction, the file's `COMMIT` commits the
    /// framework's work early, before the framework records the migration as applied. A
    /// `COMMIT` with no transaction open draws the warning "there is no transaction in
    /// progress": the statements before it were never in a transaction, though the file reads
    /// as if they were. A `BEGIN` never committed leaves the transaction open, holding every
    /// lock its statements took, until the session ends and PostgreSQL rolls it all back.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## Use instead
    /// Pair every `BEGIN` with a `COMMIT`, and leave the transaction to the framework when it
    /// runs the file in one:
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// COMMIT;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [BEGIN](https://www.postgresql.org/docs/current/sql-begin.html), [COMMIT](https://www.postgresql.org/docs/current/sql-commit.html)
    pub(crate) struct UnbalancedTransaction {
        name: "unbalanced-transaction",
        category: Transaction,
        severity: Error,
        summary: "a BEGIN without COMMIT, a BEGIN inside an open transaction, or a COMMIT without BEGIN",
        since: "0.2.0",
    }
}

impl Rule for UnbalancedTransaction {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if cx.in_do_block {
            return;
        }
        let enclosing = cx.session().enclosing;
        let framework = crate::framework::outside_transaction_advice(cx.framework);
        match (&statement.kind, enclosing) {
            (StatementKind::Begin, Some(Wrapper::Block)) => out.report(
                statement.range.clone(),
                "this BEGIN is inside a transaction the file already began: PostgreSQL does not nest transactions, so it is ignored with a warning, and the first COMMIT ends the outer transaction, leaving the statements after it outside any transaction",
                "remove this BEGIN, or COMMIT the open transaction before it",
            ),
            (StatementKind::Begin, Some(Wrapper::Framework)) => out.report(
                statement.range.clone(),
                "this BEGIN is inside the transaction the migration framework runs the file in: it is ignored with a warning, and the file's COMMIT commits the framework's transaction early, so the statements after it run outside any transaction",
                format!("remove BEGIN and COMMIT and let the framework's transaction hold the statements; for statements that must run outside a transaction: {framework}"),
            ),
            // In a query of several statements, BEGIN turns PostgreSQL's implicit transaction
            // into an explicit one: nothing is ignored.
            (StatementKind::Begin, None | Some(Wrapper::SingleQuery)) => {
                let closed = cx.statements[cx.index + 1..].iter().any(|s| {
                    matches!(s.kind, StatementKind::Commit | StatementKind::Rollback)
                });
                if !closed {
                    out.report(
                        statement.range.clone(),
                        "this BEGIN is never committed: the transaction stays open, holding every lock its statements take, until the session ends and PostgreSQL rolls it all back",
                        "end the transaction with COMMIT; after its last statement",
                    );
                }
            }
            (StatementKind::Commit, None) => out.report(
                statement.range.clone(),
                "this COMMIT has no BEGIN before it: PostgreSQL only warns that there is no transaction in progress, and the statements before it were never in a transaction, so a failure does not roll them back",
                "put BEGIN; before the statements that must succeed or fail together, or remove this COMMIT",
            ),
            (StatementKind::Commit, Some(Wrapper::Framework)) => out.report(
                statement.range.clone(),
                "this COMMIT commits the transaction the migration framework runs the file in, early: the statements after it run outside any transaction",
                format!("remove it and let the framework commit; for statements that must run outside a transaction: {framework}"),
            ),
            _ => {}
        }
    }
}

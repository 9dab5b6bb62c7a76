use crate::context::Context;
use crate::model::{ActionKind, Statement, StatementKind};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags a `CONCURRENTLY` operation (`CREATE INDEX`, `DROP INDEX`, `REINDEX`,
    /// `ALTER TABLE … DETACH PARTITION`) that runs inside a transaction block or a `DO` block.
    ///
    /// ## Why is this bad?
    /// PostgreSQL refuses to run these inside a transaction block ("cannot run inside a
    /// transaction block"), so the migration fails at deploy time. Many migration tools wrap
    /// every file in a transaction unless told not to.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Run it on its own, outside any transaction block:
    /// ```sql
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [CREATE INDEX](https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY)
    /// - [DROP INDEX](https://www.postgresql.org/docs/current/sql-dropindex.html), [REINDEX](https://www.postgresql.org/docs/current/sql-reindex.html)
    pub(crate) struct ConcurrentlyInTransaction {
        name: "concurrently-in-transaction",
        category: Transaction,
        severity: Error,
        summary: "CONCURRENTLY operations fail inside a transaction block",
        since: "0.1.0",
    }
}

impl Rule for ConcurrentlyInTransaction {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if !cx.in_transaction() {
            return;
        }
        let concurrent = match &statement.kind {
            StatementKind::CreateIndex(i) => i.concurrently,
            StatementKind::DropIndex { concurrently, .. }
            | StatementKind::Reindex { concurrently, .. } => *concurrently,
            StatementKind::AlterTable(alter) => alter.actions.iter().any(|a| {
                matches!(
                    a.kind,
                    ActionKind::DetachPartition {
                        concurrently: true,
                        ..
                    }
                )
            }),
            _ => false,
        };
        if !concurrent {
            return;
        }
        let command = match &statement.kind {
            StatementKind::AlterTable(_) => "DETACH PARTITION … CONCURRENTLY".to_owned(),
            kind => kind.command(),
        };
        let (place, advice) = if cx.in_do_block {
            (
                "a DO block (which always runs as one transaction)",
                "run it as a top-level statement instead of inside DO".to_owned(),
            )
        } else {
            (
                "a transaction block",
                cx.settings
                    .target_framework()
                    .outside_transaction_advice()
                    .to_owned(),
            )
        };
        out.report(
            statement.range.clone(),
            format!("`{command}` cannot run inside {place}: PostgreSQL rejects it and the migration fails"),
            advice,
        );
    }
}

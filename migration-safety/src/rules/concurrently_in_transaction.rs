use crate::context::{Context, Wrapper};
use crate::framework;
use crate::layout::Framework;
use crate::model::{ActionKind, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags a `CONCURRENTLY` operation (`CREATE INDEX`, `DROP INDEX`, `REINDEX`,
    /// `ALTER TABLE … DETACH PARTITION`) that runs inside a transaction block or a `DO` block.
    ///
    /// ## Why is this bad?
    /// PostgreSQL refuses to run these inside a transaction block ("cannot run inside a
    /// transaction block"), so the migration fails at deploy time. Many migration tools wrap
    /// every file in a transaction unless told not to (sqlx, diesel, refinery, goose, dbmate,
    /// Flyway, db-migrate, Atlas), and several send the whole file as one query (sqlx, diesel,
    /// refinery, golang-migrate, dbmate, Prisma, db-migrate): PostgreSQL then runs all the statements of the
    /// file as one implicit transaction, so the statement must be alone in its file even when
    /// the framework's transaction is turned off. The help names the framework's own way out.
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
        fix: true,
        claims: [
            Claim::fails(12..=18, "cannot run inside a transaction block"),
            Claim::fails(12..=18, "cannot be executed from a function"),
        ],
    }
}

impl Rule for ConcurrentlyInTransaction {
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
        let framework = cx.framework;
        let (place, advice) = if cx.in_do_block {
            (
                "a DO block (which always runs as one transaction)".to_owned(),
                "run it as a top-level statement instead of inside DO".to_owned(),
            )
        } else {
            let place = match cx.session().wrapper {
                Some(Wrapper::Framework) => {
                    format!("the transaction {framework} runs this migration in")
                }
                Some(Wrapper::SingleQuery) => format!(
                    "the implicit transaction PostgreSQL opens around a query of several statements ({framework} sends this migration as one query)"
                ),
                _ => "a transaction block".to_owned(),
            };
            let advice = match cx.session().wrapper {
                Some(Wrapper::Block) | None => {
                    framework::outside_transaction_advice(Framework::Plain).to_owned()
                }
                _ => framework::outside_transaction_advice(framework).to_owned(),
            };
            (place, advice)
        };
        let fix = crate::fix::phases::move_out(
            cx,
            Self::META.name,
            false,
            &format!("`{command}` cannot run inside a transaction."),
        );
        out.report_fix(
            statement.range.clone(),
            format!("`{command}` cannot run inside {place}: PostgreSQL rejects it and the migration fails"),
            advice,
            fix,
        );
    }
}

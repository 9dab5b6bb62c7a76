use crate::context::Context;
use crate::model::{LockMode, Statement, StatementKind};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags a statement that takes an `ACCESS EXCLUSIVE`, `EXCLUSIVE`, `SHARE ROW EXCLUSIVE`
    /// or `SHARE` lock on an existing table while no `lock_timeout` is in force. Statements
    /// that take weaker locks (such as `CREATE INDEX CONCURRENTLY`) and tables created in the
    /// same migration are not flagged.
    ///
    /// ## Why is this bad?
    /// A lock request waits behind every transaction already using the table, however long
    /// it runs, and while it waits every later query on the table queues behind it. An
    /// `ALTER TABLE` that would take milliseconds can so stall all traffic for as long as the
    /// slowest running query. A `lock_timeout` makes the migration give up instead, so it
    /// can be retried at a quieter moment.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// SET lock_timeout = '5s';
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [lock_timeout](https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT)
    /// - [Table-level locks](https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES)
    pub(crate) struct MissingLockTimeout {
        name: "missing-lock-timeout",
        category: Locking,
        severity: Warning,
        summary: "a strong lock requested without lock_timeout can queue all traffic behind it",
        since: "0.1.0",
    }
}

impl Rule for MissingLockTimeout {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        // A DO block's statements are checked one by one.
        if matches!(statement.kind, StatementKind::Do { .. }) || cx.session().lock_timeout.is_some()
        {
            return;
        }
        let locks = statement.kind.locks();
        let Some(lock) = locks
            .iter()
            .filter(|l| l.mode.blocks_writes() && !cx.is_new_table(&l.table))
            .max_by_key(|l| l.mode)
        else {
            return;
        };
        let set = if cx.in_transaction() {
            "SET LOCAL lock_timeout = '5s';  -- inside the transaction, before this statement"
        } else {
            "SET lock_timeout = '5s';  -- before this statement"
        };
        out.report(
            statement.range.clone(),
            format!(
                "`{}` requests {} {} lock on `{}` with no lock_timeout in force: while it waits behind running transactions, every later query on `{}` queues behind it, so {} on `{}` stalls",
                statement.kind.command(),
                if lock.mode == LockMode::AccessExclusive || lock.mode == LockMode::Exclusive { "an" } else { "a" },
                lock.mode.sql(),
                lock.table,
                lock.table,
                lock.mode.blocks(),
                lock.table
            ),
            format!("give up instead of stalling traffic, and retry the migration later:\n  {set}"),
        );
    }
}

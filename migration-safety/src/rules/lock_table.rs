use crate::context::Context;
use crate::model::{LockMode, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags an explicit `LOCK TABLE` in `SHARE` mode or stronger (`SHARE`,
    /// `SHARE ROW EXCLUSIVE`, `EXCLUSIVE`, `ACCESS EXCLUSIVE`, the default) on a table that
    /// existed before this migration, and any `LOCK TABLE` outside a transaction block.
    ///
    /// ## Why is this bad?
    /// An explicit lock is held until the transaction ends, however long the rest of the
    /// migration takes. `SHARE` and stronger modes block every `INSERT`, `UPDATE` and `DELETE`
    /// on the table, and `ACCESS EXCLUSIVE` also blocks every read; while the request waits
    /// behind running transactions, every later query on the table queues behind it. Outside
    /// a transaction block `LOCK TABLE` is an error ("can only be used in transaction blocks").
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// LOCK TABLE accounts;
    /// UPDATE accounts SET tier = 'gold' WHERE id = 42;
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Take no explicit lock, or the weakest mode that protects what the migration needs, with
    /// a `lock_timeout`, in a transaction that does nothing slow:
    /// ```sql
    /// BEGIN;
    /// SET LOCAL lock_timeout = '5s';
    /// LOCK TABLE accounts IN SHARE UPDATE EXCLUSIVE MODE;  -- blocks only schema changes
    /// COMMIT;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [LOCK](https://www.postgresql.org/docs/current/sql-lock.html)
    /// - [Table-level locks](https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES)
    pub(crate) struct LockTable {
        name: "lock-table",
        category: Locking,
        severity: Error,
        summary: "an explicit LOCK TABLE in SHARE mode or stronger blocks writes until the transaction ends",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
            Claim::takes(12..=18).table(Effect::lock(Share)),
            Claim::fails(12..=18, "can only be used in transaction blocks"),
        ],
    }
}

impl Rule for LockTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::LockTable { tables, mode } = &statement.kind else {
            return;
        };
        let names = tables
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if !cx.in_transaction() {
            out.report(
                statement.range.clone(),
                format!(
                    "`LOCK TABLE {}` outside a transaction block fails: PostgreSQL rejects it (\"LOCK TABLE can only be used in transaction blocks\") and the migration stops",
                    tables.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                ),
                "run it inside BEGIN … COMMIT together with the statements it protects, or remove it".to_owned(),
            );
            return;
        }
        if !mode.blocks_writes() || tables.iter().all(|t| cx.is_new_table(t)) {
            return;
        }
        let mut plan =
            vec!["take no explicit lock unless the migration really needs one".to_owned()];
        if *mode > LockMode::ShareUpdateExclusive {
            plan.push(format!(
                "if it only has to keep other schema changes out: LOCK TABLE {} IN SHARE UPDATE EXCLUSIVE MODE;  -- reads and writes continue",
                tables.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
        plan.push("otherwise: SET LOCAL lock_timeout = '5s'; right before it, and keep the rest of the transaction free of slow statements".to_owned());
        out.report(
            statement.range.clone(),
            format!(
                "`LOCK TABLE` takes {} {} lock on {names} and holds it until the transaction ends, blocking {} on {names}; while it waits behind running transactions, every later query queues behind it",
                if matches!(mode, LockMode::AccessExclusive | LockMode::Exclusive) { "an" } else { "a" },
                mode.sql(),
                mode.blocks(),
            ),
            steps("hold as little as possible, for as short as possible:", &plan),
        );
    }
}

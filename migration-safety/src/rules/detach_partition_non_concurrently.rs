use crate::context::Context;
use crate::model::{ActionKind, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … DETACH PARTITION …` without `CONCURRENTLY` when the partitioned
    /// table existed before this migration, and `… CONCURRENTLY` when the target is older than
    /// PostgreSQL 14, where it is a syntax error.
    ///
    /// ## Why is this bad?
    /// A plain detach takes an `ACCESS EXCLUSIVE` lock on the partitioned table, which blocks
    /// every read and write on the whole partitioned table while it waits for running queries
    /// and until it commits. On the partition it takes `ACCESS EXCLUSIVE` too from PostgreSQL 14
    /// on; on 12 and 13 only `SHARE UPDATE EXCLUSIVE`, so a query that names the partition
    /// directly can still read it (measured on PostgreSQL 12–18).
    ///
    /// PostgreSQL 14 added `DETACH PARTITION … CONCURRENTLY`, which takes only a
    /// `SHARE UPDATE EXCLUSIVE` lock on the partitioned table. It is not lock-free: it runs as
    /// two transactions, waits between them for every older snapshot of a reader of the
    /// partitioned table, and its second transaction requests an `ACCESS EXCLUSIVE` lock on the
    /// partition, which queues behind running readers of the partition and blocks its new
    /// readers while it waits. It cannot run in a transaction block, and it is not allowed while
    /// the table has a default partition. If it is interrupted, finish it with
    /// `DETACH PARTITION … FINALIZE`. It leaves a `CHECK`
    /// constraint equal to the partition bound on the detached table. Before
    /// PostgreSQL 14 there is no online form: the rule still reports the lock, and the help says
    /// how to keep it short.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events DETACH PARTITION events_2023;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE events DETACH PARTITION events_2023 CONCURRENTLY;  -- PostgreSQL 14+, outside a transaction block
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, DETACH PARTITION](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DETACH-PARTITION)
    pub(crate) struct DetachPartitionNonConcurrently {
        name: "detach-partition-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "detaching a partition without CONCURRENTLY blocks every read and write on the partitioned table",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=13).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(ShareUpdateExclusive)),
            Claim::takes(14..=18).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(AccessExclusive)),
            Claim::fails(12..=13, "syntax error"),
        ],
    }
}

impl Rule for DetachPartitionNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::DetachPartition {
                partition,
                concurrently,
            } = &action.kind
            else {
                continue;
            };
            if *concurrently {
                if cx.pg_version() < 14 {
                    out.report(
                        action.range.clone(),
                        format!(
                            "DETACH PARTITION … CONCURRENTLY needs PostgreSQL 14, but the target is {}: the statement fails",
                            cx.pg_version()
                        ),
                        format!(
                            "before PostgreSQL 14 keep the lock short instead: ALTER TABLE {} DETACH PARTITION {partition}; alone in its own transaction, after SET lock_timeout = '5s', and retry if it times out",
                            alter.table
                        ),
                    );
                }
                continue;
            }
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let help = if cx.pg_version() >= 14 {
                let text = cx
                    .source
                    .get(action.range.clone())
                    .filter(|t| t.to_ascii_lowercase().starts_with("detach"));
                let rewritten = text.map_or_else(
                    || format!("DETACH PARTITION {partition} CONCURRENTLY"),
                    |t| format!("{} CONCURRENTLY", t.trim_end()),
                );
                format!(
                    "{}\nit cannot run in a transaction block ({}) nor while `{table}` has a default partition; its second step still takes an ACCESS EXCLUSIVE lock on `{partition}`, queued behind running readers of it (hence the lock_timeout); if it is interrupted, run ALTER TABLE {table} DETACH PARTITION {partition} FINALIZE",
                    steps(
                        "detach it without blocking the partitioned table:",
                        &[
                            "SET lock_timeout = '5s';".to_owned(),
                            format!("ALTER TABLE {table} {rewritten};"),
                            format!(
                                "drop the CHECK constraint it leaves on {partition} (a copy of the partition bound) unless you want to keep it"
                            ),
                        ]
                    ),
                    crate::framework::outside_transaction_advice(cx.framework)
                )
            } else {
                format!(
                    "DETACH PARTITION … CONCURRENTLY needs PostgreSQL 14 (the target is {}): keep the lock short instead: run the detach alone in its own transaction after SET lock_timeout = '5s', and retry if it times out",
                    cx.pg_version()
                )
            };
            out.report(
                action.range.clone(),
                format!(
                    "detaching `{partition}` without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table `{table}` and {}, blocking every read and write on all of `{table}` while it waits for running queries and until it commits",
                    if cx.pg_version() >= 14 {
                        format!("an ACCESS EXCLUSIVE lock on `{partition}`")
                    } else {
                        format!("a SHARE UPDATE EXCLUSIVE lock on `{partition}`")
                    }
                ),
                help,
            );
        }
    }
}

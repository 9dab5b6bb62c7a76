use std::path::PathBuf;

use crate::context::Context;
use crate::fix::phases::Moved;
use crate::fix::{Edit, Fix};
use crate::model::{ActionKind, Name, Statement, StatementKind};
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
    /// directly can still read it (measured on PostgreSQL 12–18). When the table has a default
    /// partition, its default partition is locked `ACCESS EXCLUSIVE` too, on every version
    /// (measured on PostgreSQL 12, 14 and 18).
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
    /// `migration-safety fix` adds `CONCURRENTLY` when the target is PostgreSQL 14 or later,
    /// the migrations created the partitioned table, and they gave it no default partition
    /// (otherwise the help says what is missing). A statement that runs outside any
    /// transaction is edited in place; one in the transaction the framework runs the migration
    /// in moves into a migration of its own, with the framework's marker for running it
    /// outside a transaction, and the statements after it into the migration after that.
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, DETACH PARTITION](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DETACH-PARTITION)
    pub(crate) struct DetachPartitionNonConcurrently {
        name: "detach-partition-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "detaching a partition without CONCURRENTLY blocks every read and write on the partitioned table",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=13).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(ShareUpdateExclusive)),
            Claim::takes(12..=13).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(AccessExclusive)),
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
            let mut fix = None;
            let help = if cx.pg_version() >= 14 {
                let text = cx
                    .source
                    .get(action.range.clone())
                    .filter(|t| t.to_ascii_lowercase().starts_with("detach"));
                let rewritten = text.map_or_else(
                    || format!("DETACH PARTITION {partition} CONCURRENTLY"),
                    |t| format!("{} CONCURRENTLY", t.trim_end()),
                );
                let default = match known_partitions(cx, table) {
                    Ok(()) => {
                        fix = text.and_then(|t| {
                            concurrently_fix(
                                cx,
                                statement,
                                action.range.start + t.trim_end().len(),
                                partition,
                            )
                        });
                        String::new()
                    }
                    Err(why) => format!(" ({why})"),
                };
                format!(
                    "{}\nit cannot run in a transaction block ({}) nor while `{table}` has a default partition{default}; its second step still takes an ACCESS EXCLUSIVE lock on `{partition}`, queued behind running readers of it (hence the lock_timeout); if it is interrupted, run ALTER TABLE {table} DETACH PARTITION {partition} FINALIZE",
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
            out.report_fix(
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
                fix,
            );
        }
    }
}

/// Whether the migrations show that `table` has no default partition: they created it, and
/// none of its partitions is its default one; otherwise why `CONCURRENTLY` may be refused.
fn known_partitions(cx: &Context<'_>, table: &Name) -> Result<(), String> {
    if let Some(default) = cx.schema.default_partition(table) {
        return Err(format!(
            "`{}` is its default partition: detach that one first, without CONCURRENTLY, or keep the plain detach",
            default.name
        ));
    }
    if cx.schema.table(table).is_none_or(|t| t.file.is_none()) {
        return Err(format!(
            "the migrations did not create `{table}`, so they do not show whether it has one"
        ));
    }
    Ok(())
}

/// The fix that adds `CONCURRENTLY` at `at` (the end of the `DETACH PARTITION` action) of the
/// checked statement: in place when the statement runs outside any transaction; moved, as
/// rewritten, into a migration of its own (outside a transaction) when it runs in the one the
/// framework opens; out of the file's own `BEGIN … COMMIT` block, in place (see
/// [`crate::fix::phases::split`]). A statement of several actions, or in a `DO` body, has no
/// fix.
fn concurrently_fix(
    cx: &Context<'_>,
    statement: &Statement,
    at: usize,
    partition: &Name,
) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let single =
        matches!(&statement.kind, StatementKind::AlterTable(alter) if alter.actions.len() == 1);
    let top_level = cx.statements.get(cx.index).map(|s| &s.range) == Some(&statement.range);
    if !single || !top_level || cx.in_do_block {
        return None;
    }
    let rule = DetachPartitionNonConcurrently::META.name;
    match cx.session().wrapper {
        None => Some(Fix {
            rule,
            title: format!("detach `{partition}` concurrently"),
            edits: vec![Edit {
                path: PathBuf::from(cx.path),
                range: at..at,
                replacement: " CONCURRENTLY".to_owned(),
            }],
            new_files: Vec::new(),
        }),
        Some(_) => {
            let text = cx.source.get(statement.range.clone())?.trim_end();
            let offset = at.checked_sub(statement.range.start)?;
            let mut rewritten = format!("{} CONCURRENTLY{}", &text[..offset], &text[offset..]);
            if !rewritten.ends_with(';') {
                rewritten.push(';');
            }
            crate::fix::phases::split(
                cx,
                rule,
                Moved {
                    name: format!("detach {}", partition.name),
                    why: "`DETACH PARTITION … CONCURRENTLY` cannot run inside a transaction."
                        .to_owned(),
                    text: rewritten,
                    down: Vec::new(),
                    transaction: false,
                },
            )
        }
    }
}

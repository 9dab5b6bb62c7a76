use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::with_concurrently;

declare_rule! {
    /// ## What it does
    /// Flags `DROP INDEX` without `CONCURRENTLY` when the index belongs to a table that existed
    /// before this migration (or to a table the migrations checked do not show).
    ///
    /// ## Why is this bad?
    /// A plain `DROP INDEX` takes an `ACCESS EXCLUSIVE` lock on the index's table, which blocks
    /// every read and write. It must wait for every running query on the table first, and
    /// every later query queues behind it while it waits.
    ///
    /// `DROP INDEX CONCURRENTLY` takes a `SHARE UPDATE EXCLUSIVE` lock on the table: reads and
    /// writes continue. It first waits for every transaction with a snapshot older than its own,
    /// read-only ones too, and its final step takes a brief `ACCESS EXCLUSIVE` lock on the index
    /// itself (measured on PostgreSQL 12–18). It drops one index per statement, cannot be used with `CASCADE`, cannot run
    /// in a transaction block, and cannot drop the index of a partitioned table (drop it
    /// plainly, under a short `lock_timeout`).
    ///
    /// ## Example
    /// ```sql
    /// DROP INDEX users_email_idx;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// DROP INDEX CONCURRENTLY users_email_idx;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [DROP INDEX](https://www.postgresql.org/docs/current/sql-dropindex.html)
    pub(crate) struct DropIndexNonConcurrently {
        name: "drop-index-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "dropping an index without CONCURRENTLY blocks every read and write on its table",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).referenced(Effect::lock(AccessExclusive)).index(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for DropIndexNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::DropIndex {
            names,
            concurrently: false,
        } = &statement.kind
        else {
            return;
        };
        let indexes: Vec<_> = names
            .iter()
            .map(|name| (name, cx.schema.index(name)))
            .filter(|(_, index)| index.is_none_or(|i| !cx.is_new_table(&i.table)))
            .collect();
        if indexes.is_empty() {
            return;
        }
        let tables: Vec<String> = indexes
            .iter()
            .filter_map(|(_, index)| index.map(|i| format!("`{}`", i.table)))
            .collect();
        let on = if tables.is_empty() {
            "the indexed table".to_owned()
        } else {
            tables.join(", ")
        };
        let what = indexes
            .iter()
            .map(|(name, _)| format!("`{name}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let partitioned: Vec<_> = indexes
            .iter()
            .filter(|(_, index)| {
                index.is_some_and(|i| cx.schema.table(&i.table).is_some_and(|t| t.partitioned))
            })
            .map(|(name, _)| *name)
            .collect();
        let help = if !partitioned.is_empty() {
            format!(
                "a partitioned table's index cannot be dropped CONCURRENTLY ({}): keep the lock short instead: run the drop alone in its own transaction after SET lock_timeout = '5s', and retry if it times out",
                partitioned
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            let rewritten = match (names.as_slice(), with_concurrently(cx.source, statement)) {
                ([_], Some(text)) => text.trim_end_matches(';').trim_end().to_owned(),
                _ => names
                    .iter()
                    .map(|n| format!("DROP INDEX CONCURRENTLY IF EXISTS {n}"))
                    .collect::<Vec<_>>()
                    .join(";\n  "),
            };
            format!(
                "drop it without blocking reads and writes (one index per statement, no CASCADE):\n  {rewritten};\nCONCURRENTLY cannot run in a transaction block: {}",
                crate::framework::outside_transaction_advice(cx.framework)
            )
        };
        out.report(
            statement.range.clone(),
            format!(
                "dropping {what} without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on {on}, blocking every read and write while it waits for running queries and until it commits"
            ),
            help,
        );
    }
}

use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::partitioned_index_plan;

declare_rule! {
    /// ## What it does
    /// Flags `CREATE INDEX CONCURRENTLY` on a partitioned table and `DROP INDEX CONCURRENTLY` of
    /// a partitioned table's index, when earlier migrations show the table is partitioned
    /// (`PARTITION BY`).
    ///
    /// ## Why is this bad?
    /// PostgreSQL rejects both ("cannot create index on partitioned table concurrently",
    /// "cannot drop partitioned index concurrently"), so the migration fails. Dropping the
    /// `CONCURRENTLY` instead would build or drop the index on every partition under a lock that
    /// blocks writes (`SHARE`) or all traffic (`ACCESS EXCLUSIVE`) on the whole table.
    ///
    /// ## Example
    /// ```sql
    /// CREATE INDEX CONCURRENTLY events_user_id_idx ON events (user_id);
    /// ```
    ///
    /// ## Use instead
    /// Create the index on the partitioned table alone, build each partition's index
    /// concurrently, and attach them; the parent index becomes valid once every partition's
    /// index is attached:
    /// ```sql
    /// CREATE INDEX events_user_id_idx ON ONLY events (user_id);
    /// CREATE INDEX CONCURRENTLY events_2024_user_id_idx ON events_2024 (user_id);
    /// ALTER INDEX events_user_id_idx ATTACH PARTITION events_2024_user_id_idx;
    /// -- repeat for each partition
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Partition maintenance](https://www.postgresql.org/docs/current/ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-MAINTENANCE)
    /// - [CREATE INDEX](https://www.postgresql.org/docs/current/sql-createindex.html)
    pub(crate) struct ConcurrentlyOnPartitionedTable {
        name: "concurrently-on-partitioned-table",
        category: Transaction,
        severity: Error,
        summary: "CONCURRENTLY index builds and drops fail on a partitioned table",
        since: "0.1.0",
        claims: [
            Claim::fails(12..=18, "cannot create index on partitioned table"),
            Claim::fails(12..=18, "cannot drop partitioned index"),
        ],
    }
}

impl Rule for ConcurrentlyOnPartitionedTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let partitioned = |table| cx.schema.table(table).is_some_and(|t| t.partitioned);
        match &statement.kind {
            StatementKind::CreateIndex(index)
                if index.concurrently && !index.only && partitioned(&index.table) =>
            {
                out.report(
                    statement.range.clone(),
                    format!(
                        "`{}` is a partitioned table: PostgreSQL rejects CREATE INDEX CONCURRENTLY on it and the migration fails",
                        index.table
                    ),
                    partitioned_index_plan(cx, statement, index),
                );
            }
            StatementKind::DropIndex {
                names,
                concurrently: true,
            } => {
                for name in names {
                    let Some(index) = cx.schema.index(name).filter(|i| partitioned(&i.table))
                    else {
                        continue;
                    };
                    out.report(
                        statement.range.clone(),
                        format!(
                            "`{name}` is the index of the partitioned table `{}`: PostgreSQL rejects DROP INDEX CONCURRENTLY of it and the migration fails",
                            index.table
                        ),
                        format!(
                            "drop it without CONCURRENTLY, alone in a short transaction after SET lock_timeout = '5s' (it takes an ACCESS EXCLUSIVE lock on `{}` and its partitions), and retry if it times out",
                            index.table
                        ),
                    );
                }
            }
            _ => {}
        }
    }
}

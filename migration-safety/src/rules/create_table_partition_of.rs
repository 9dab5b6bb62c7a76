use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `CREATE TABLE … PARTITION OF parent …` when the partitioned table existed before
    /// this migration and the target is PostgreSQL 12 or later.
    ///
    /// ## Why is this bad?
    /// Creating a partition takes an `ACCESS EXCLUSIVE` lock on the partitioned table, which
    /// blocks every read and write on all of its partitions while it waits for running queries
    /// and until the transaction commits. Since PostgreSQL 12, `ATTACH PARTITION` takes only a
    /// `SHARE UPDATE EXCLUSIVE` lock on the partitioned table, so creating the table on its own
    /// and attaching it lets traffic continue. (Before PostgreSQL 12 attaching also takes an
    /// `ACCESS EXCLUSIVE` lock, so there is nothing better and the rule is quiet.)
    ///
    /// ## Example
    /// ```sql
    /// CREATE TABLE events_2025 PARTITION OF events
    ///   FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE TABLE events_2025 (LIKE events INCLUDING ALL);
    /// ALTER TABLE events ATTACH PARTITION events_2025
    ///   FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    /// ```
    /// The new table is empty, so the attach has nothing to scan. If the partitioned table has a
    /// default partition, both forms scan it to prove none of its rows belong to the new bounds.
    ///
    /// ## References
    /// - PostgreSQL documentation: [Partition maintenance](https://www.postgresql.org/docs/current/ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-MAINTENANCE)
    /// - [ALTER TABLE, ATTACH PARTITION](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-ATTACH-PARTITION)
    pub(crate) struct CreateTablePartitionOf {
        name: "create-table-partition-of",
        category: Locking,
        severity: Error,
        summary: "creating a partition with PARTITION OF locks the whole partitioned table",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for CreateTablePartitionOf {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::CreateTable(create) = &statement.kind else {
            return;
        };
        let Some(parent) = &create.partition_of else {
            return;
        };
        if cx.pg_version() < 12 || cx.is_new_table(parent) {
            return;
        }
        let table = &create.table;
        let bounds =
            bounds_clause(cx.source, statement).unwrap_or_else(|| "FOR VALUES …".to_owned());
        out.report(
            statement.range.clone(),
            format!(
                "creating `{table}` as a PARTITION OF `{parent}` takes an ACCESS EXCLUSIVE lock on `{parent}`, blocking every read and write on all of its partitions while it waits for running queries and until it commits"
            ),
            steps(
                "create the table on its own, then attach it (SHARE UPDATE EXCLUSIVE on the partitioned table: reads and writes continue):",
                &[
                    format!("CREATE TABLE {table} (LIKE {parent} INCLUDING ALL);"),
                    format!("ALTER TABLE {parent} ATTACH PARTITION {table} {bounds};  -- the new table is empty: nothing to scan"),
                ],
            ),
        );
    }
}

/// `FOR VALUES …` or `DEFAULT`, cut from the statement's text.
fn bounds_clause(source: &str, statement: &Statement) -> Option<String> {
    let bound = source.get(statement.written.partition_bound.clone()?)?;
    Some(
        bound
            .trim_end_matches(';')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE parent ATTACH PARTITION p …` when `p` existed before this migration
    /// and earlier migrations show no validated `CHECK` constraint on `p`. (The rule takes any
    /// validated check on `p` as the one matching the partition bounds; it does not compare the
    /// expressions.) A table created earlier in the same migration is empty and is not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL scans every row of `p` to prove it fits the partition bounds, while holding an
    /// `ACCESS EXCLUSIVE` lock on `p`, which blocks every read and write on it for the whole scan.
    /// Before PostgreSQL 12 the partitioned table itself is also locked `ACCESS EXCLUSIVE`. A
    /// validated `CHECK` that implies the bounds (and `NOT NULL` on the partition key) lets
    /// PostgreSQL skip the scan; `VALIDATE CONSTRAINT` proves it without blocking traffic.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events ATTACH PARTITION events_2024
    ///   FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE events_2024 ADD CONSTRAINT events_2024_bounds
    ///   CHECK (created_at IS NOT NULL AND created_at >= '2024-01-01' AND created_at < '2025-01-01') NOT VALID;
    /// ALTER TABLE events_2024 VALIDATE CONSTRAINT events_2024_bounds;  -- in a separate transaction
    /// ALTER TABLE events ATTACH PARTITION events_2024
    ///   FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');  -- no scan
    /// ALTER TABLE events_2024 DROP CONSTRAINT events_2024_bounds;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ATTACH PARTITION](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-ATTACH-PARTITION)
    pub(crate) struct AttachPartitionWithoutCheck {
        name: "attach-partition-without-check",
        category: Locking,
        severity: Error,
        summary: "attaching a partition without a validated CHECK matching its bounds scans it under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(ShareUpdateExclusive)).referenced(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for AttachPartitionWithoutCheck {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AttachPartition { partition, .. } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(partition) {
                continue;
            }
            let proven = cx.schema.table(partition).is_some_and(|p| {
                p.constraints
                    .iter()
                    .any(|c| c.validated && matches!(c.kind, ConstraintKind::Check { .. }))
            });
            if proven {
                continue;
            }
            let parent_lock = if cx.pg_version() < 12 {
                format!(
                    "; before PostgreSQL 12 (the target is {}) `{table}` is locked ACCESS EXCLUSIVE for the whole scan too",
                    cx.pg_version()
                )
            } else {
                String::new()
            };
            let bounds = cx
                .source
                .get(action.range.clone())
                .and_then(|t| {
                    let lower = t.to_ascii_lowercase();
                    lower
                        .find("for values")
                        .or_else(|| lower.rfind("default"))
                        .map(|i| t[i..].trim_end().to_owned())
                })
                .unwrap_or_else(|| "FOR VALUES …".to_owned());
            let check = crate::model::quote_ident(&format!("{}_bounds", partition.name));
            out.report(
                action.range.clone(),
                format!(
                    "attaching `{partition}` to `{table}` scans every row of `{partition}` to prove it fits the partition bounds, under an ACCESS EXCLUSIVE lock on `{partition}` that blocks every read and write on it until the scan ends{parent_lock}"
                ),
                steps(
                    "prove the bounds first, without blocking traffic, so that the attach skips its scan:",
                    &[
                        format!("ALTER TABLE {partition} ADD CONSTRAINT {check} CHECK (<the partition key IS NOT NULL and within {bounds}>) NOT VALID;"),
                        format!("ALTER TABLE {partition} VALIDATE CONSTRAINT {check};  -- in a separate transaction: SHARE UPDATE EXCLUSIVE, reads and writes continue"),
                        format!("ALTER TABLE {table} ATTACH PARTITION {partition} {bounds};  -- no scan"),
                        format!("ALTER TABLE {partition} DROP CONSTRAINT {check};"),
                    ],
                ),
            );
        }
    }
}

use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{partitioned_index_plan, pg14_concurrently_caution};

declare_rule! {
    /// ## What it does
    /// Flags `CREATE [UNIQUE] INDEX` without `CONCURRENTLY` on a table that existed before
    /// this migration.
    ///
    /// ## Why is this bad?
    /// A plain index build holds a `SHARE` lock on the table for the whole build: reads go
    /// on, but every `INSERT`, `UPDATE` and `DELETE` waits until the index is complete, which
    /// takes minutes to hours on a large table.
    ///
    /// ## Example
    /// ```sql
    /// CREATE INDEX users_email_idx ON users (email);
    /// ```
    ///
    /// ## Use instead
    /// Build it concurrently (`SHARE UPDATE EXCLUSIVE`: reads and writes continue), outside
    /// any transaction block, and check afterwards that the index is valid. A concurrent build
    /// is slower, and it waits for every transaction with a snapshot older than its own to
    /// finish, read-only ones too (measured on PostgreSQL 12–18), so one long-running query
    /// stalls it:
    /// ```sql
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// On a partitioned table (known from an earlier `PARTITION BY`) the plain build locks every
    /// partition, and `CONCURRENTLY` is rejected. Create the index `ON ONLY` the partitioned
    /// table, build each partition's index concurrently, and attach it:
    /// ```sql
    /// CREATE INDEX events_user_id_idx ON ONLY events (user_id);
    /// CREATE INDEX CONCURRENTLY events_2024_user_id_idx ON events_2024 (user_id);
    /// ALTER INDEX events_user_id_idx ATTACH PARTITION events_2024_user_id_idx;
    /// ```
    /// Each `ATTACH PARTITION` takes an `ACCESS EXCLUSIVE` lock on the partition's index, which
    /// blocks reads and writes of the partition while it runs (briefly: nothing is built), so
    /// run it under a short `lock_timeout`.
    ///
    /// PostgreSQL 14.0 to 14.3 could build indexes concurrently that silently miss rows (fixed
    /// in 14.4). Target versions are major versions, so when the target is 14 the help reminds
    /// you to run 14.4 or later.
    ///
    /// ## References
    /// - PostgreSQL documentation: [Building indexes concurrently](https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY)
    pub(crate) struct CreateIndexNonConcurrently {
        name: "create-index-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "building an index without CONCURRENTLY blocks writes for the whole build",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(Share).scan()),
            Claim::takes(12..=18).table(Effect::lock(Share)).referenced(Effect::lock(Share).scan()),
        ],
    }
}

impl Rule for CreateIndexNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::CreateIndex(index) = &statement.kind else {
            return;
        };
        // `ON ONLY parent` creates an invalid, empty index on the parent alone.
        if index.concurrently || index.only || cx.is_new_table(&index.table) {
            return;
        }
        let table = &index.table;
        let what = index
            .name
            .as_ref()
            .map_or_else(|| "an index".to_owned(), |n| format!("index `{n}`"));
        if cx.schema.table(table).is_some_and(|t| t.partitioned) {
            out.report(
                statement.range.clone(),
                format!(
                    "creating {what} on the partitioned table `{table}` takes a SHARE lock on `{table}` and on every one of its partitions, blocking every INSERT, UPDATE and DELETE on all of them until the whole index is built"
                ),
                partitioned_index_plan(cx, statement, index),
            );
            return;
        }
        let text = &cx.source[statement.range.clone()];
        // Past the statement's first byte: a statement lowered from a copy of its text (an
        // `EXECUTE` string) has its start there, and the string cannot be edited in place.
        let rewritten = if statement.range.start < index.index_keyword_end
            && index.index_keyword_end <= statement.range.end
        {
            let at = index.index_keyword_end - statement.range.start;
            format!("{} CONCURRENTLY{}", &text[..at], &text[at..])
        } else {
            format!(
                "CREATE {}INDEX CONCURRENTLY … ON {table} (…);",
                if index.unique { "UNIQUE " } else { "" }
            )
        };
        out.report(
            statement.range.clone(),
            format!(
                "creating {what} without CONCURRENTLY takes a SHARE lock on `{table}`, blocking every INSERT, UPDATE and DELETE until the whole index is built"
            ),
            format!(
                "build it without blocking writes:\n  {}\nCONCURRENTLY cannot run in a transaction block: {}. If the build fails it leaves an INVALID index: drop it with DROP INDEX CONCURRENTLY and retry{}",
                rewritten.trim_end(),
                crate::framework::outside_transaction_advice(cx.framework),
                pg14_concurrently_caution(cx.pg_version())
            ),
        );
    }
}

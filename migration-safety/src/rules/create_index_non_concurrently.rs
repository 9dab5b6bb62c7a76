use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};

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
    /// any transaction block, and check afterwards that the index is valid:
    /// ```sql
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Building indexes concurrently](https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY)
    pub(crate) struct CreateIndexNonConcurrently {
        name: "create-index-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "building an index without CONCURRENTLY blocks writes for the whole build",
        since: "0.1.0",
    }
}

impl Rule for CreateIndexNonConcurrently {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

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
        let text = &cx.source[statement.range.clone()];
        let rewritten = if statement.range.contains(&index.index_keyword_end) {
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
                "build it without blocking writes:\n  {}\nCONCURRENTLY cannot run in a transaction block: {}. If the build fails it leaves an INVALID index: drop it with DROP INDEX CONCURRENTLY and retry",
                rewritten.trim_end(),
                crate::framework::outside_transaction_advice(cx.framework)
            ),
        );
    }
}

use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS`.
    ///
    /// ## Why is this bad?
    /// A concurrent build that fails (a deadlock, a cancelled statement, a duplicate key in a
    /// unique index) leaves the index behind, marked INVALID: queries do not use it, and an
    /// invalid unique index enforces nothing. When the migration is retried, `IF NOT EXISTS`
    /// sees an index of that name and skips the build with only a notice, so the migration
    /// "succeeds" and the INVALID index stays (measured on PostgreSQL 12–18).
    ///
    /// ## Example
    /// ```sql
    /// CREATE INDEX CONCURRENTLY IF NOT EXISTS users_email_idx ON users (email);
    /// ```
    ///
    /// ## Use instead
    /// Drop a leftover invalid index first, then build it without `IF NOT EXISTS`, so that a
    /// failure fails the migration:
    /// ```sql
    /// DROP INDEX CONCURRENTLY IF EXISTS users_email_idx;
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [CREATE INDEX, Building Indexes Concurrently](https://www.postgresql.org/docs/current/sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY)
    pub(crate) struct ConcurrentlyIfNotExists {
        name: "concurrently-if-not-exists",
        category: Transaction,
        severity: Warning,
        summary: "CREATE INDEX CONCURRENTLY IF NOT EXISTS keeps an INVALID index left by a failed attempt",
        since: "0.2.0",
    }
}

impl Rule for ConcurrentlyIfNotExists {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::CreateIndex(index) = &statement.kind else {
            return;
        };
        if !(index.concurrently && index.if_not_exists) {
            return;
        }
        let name = index
            .name
            .as_ref()
            .map_or_else(|| "<index>".to_owned(), ToString::to_string);
        let without = remove_if_not_exists(cx.source, statement);
        out.report(
            statement.range.clone(),
            format!(
                "after a failed earlier attempt, `{name}` exists but is INVALID (unused by queries{}), and IF NOT EXISTS skips the build with only a notice, so the migration succeeds with the index still invalid",
                if index.unique { ", enforcing no uniqueness" } else { "" }
            ),
            format!(
                "drop a leftover index first and build it without IF NOT EXISTS, so that a failure fails the migration (each statement outside a transaction block):\n  DROP INDEX CONCURRENTLY IF EXISTS {name};\n  {without};"
            ),
        );
    }
}

/// The statement without its `IF NOT EXISTS`.
fn remove_if_not_exists(source: &str, statement: &Statement) -> String {
    let range = &statement.range;
    let text = source.get(range.clone()).unwrap_or_default();
    let trimmed = match &statement.written.if_not_exists {
        Some(at) => format!(
            "{}{}",
            &source[range.start..at.start],
            source[at.end..range.end].trim_start()
        ),
        None => text.to_owned(),
    };
    trimmed.trim_end_matches(';').trim_end().to_owned()
}

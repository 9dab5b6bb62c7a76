use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `CREATE INDEX CONCURRENTLY` and `REINDEX … CONCURRENTLY` when the target is
    /// PostgreSQL 14.
    ///
    /// ## Why is this bad?
    /// PostgreSQL 14.0 to 14.3 could build indexes concurrently that silently miss rows, and
    /// queries using them return wrong results; 14.4 fixed the bug, but indexes built before the
    /// upgrade stay corrupt until rebuilt. The target version is a major version, so the rule
    /// cannot tell 14.3 from 14.4: it warns for every target 14. Once every server runs 14.4 or
    /// later, turn the rule off in the settings.
    ///
    /// ## Example
    /// ```sql
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);  -- on PostgreSQL 14.0–14.3
    /// ```
    ///
    /// ## Use instead
    /// Upgrade to PostgreSQL 14.4 or later before building indexes concurrently, then rebuild
    /// the indexes built concurrently under 14.0–14.3 (`REINDEX INDEX CONCURRENTLY …`; the
    /// `amcheck` extension's `bt_index_check(…, heapallindexed => true)` finds them).
    ///
    /// ## References
    /// - [PostgreSQL 14.4 release notes](https://www.postgresql.org/docs/release/14.4/)
    pub(crate) struct ConcurrentIndexOnPostgres14 {
        name: "concurrent-index-on-postgres-14",
        category: Meta,
        severity: Warning,
        summary: "PostgreSQL 14.0–14.3 can silently corrupt indexes built CONCURRENTLY",
        since: "0.2.0",
    }
}

impl Rule for ConcurrentIndexOnPostgres14 {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if cx.pg_version() != 14 {
            return;
        }
        let concurrent = match &statement.kind {
            StatementKind::CreateIndex(index) => index.concurrently,
            StatementKind::Reindex { concurrently, .. } => *concurrently,
            _ => false,
        };
        if !concurrent {
            return;
        }
        out.report(
            statement.range.clone(),
            format!(
                "`{}` on PostgreSQL 14.0–14.3 can build an index that silently misses rows, so queries using it return wrong results (fixed in 14.4)",
                statement.kind.command()
            ),
            "make sure every server runs PostgreSQL 14.4 or later, then turn this rule off; indexes built concurrently on 14.0–14.3 must be rebuilt with REINDEX INDEX CONCURRENTLY",
        );
    }
}

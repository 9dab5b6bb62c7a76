use crate::context::{Context, Created};
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::statement_tokens;

declare_rule! {
    /// ## What it does
    /// Flags `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY` of a materialized view that
    /// existed before this migration, and `REFRESH MATERIALIZED VIEW … WITH NO DATA`, which
    /// empties it.
    ///
    /// ## Why is this bad?
    /// A plain refresh recomputes the whole view while holding an `ACCESS EXCLUSIVE` lock on
    /// it, which blocks every read of the view until the query finishes. `WITH NO DATA` is
    /// quick, but leaves the view unpopulated: every query on it fails ("has not been
    /// populated") until the next refresh.
    ///
    /// ## Example
    /// ```sql
    /// REFRESH MATERIALIZED VIEW sales_summary;
    /// ```
    ///
    /// ## Use instead
    /// Refresh concurrently: it takes an `EXCLUSIVE` lock, which lets reads continue. It needs
    /// a unique index on the view (on plain columns, without a `WHERE`), a populated view, and
    /// cannot run in a transaction block:
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY sales_summary_key ON sales_summary (region, month);
    /// REFRESH MATERIALIZED VIEW CONCURRENTLY sales_summary;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [REFRESH MATERIALIZED VIEW](https://www.postgresql.org/docs/current/sql-refreshmaterializedview.html)
    pub(crate) struct RefreshMaterializedViewNonConcurrently {
        name: "refresh-materialized-view-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "refreshing a materialized view without CONCURRENTLY blocks every read of it",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).referenced(Effect::lock(AccessShare).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
        ],
    }
}

impl Rule for RefreshMaterializedViewNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::RefreshMaterializedView { name, concurrently } = &statement.kind else {
            return;
        };
        if *concurrently || cx.created_earlier_in_file(Created::MaterializedView, name) {
            return;
        }
        let (text, tokens) = statement_tokens(cx, statement);
        let no_data = tokens
            .windows(2)
            .any(|w| w[0].is_word(text, "NO") && w[1].is_word(text, "DATA"));
        if no_data {
            out.report(
                statement.range.clone(),
                format!(
                    "`REFRESH MATERIALIZED VIEW {name} WITH NO DATA` empties `{name}`: every query on it fails with \"materialized view has not been populated\" until it is refreshed again (and the refresh takes an ACCESS EXCLUSIVE lock on `{name}`, blocking every read)"
                ),
                format!(
                    "to stop using the view, deploy code that no longer reads `{name}` first; to recompute it, refresh it without blocking reads instead:\n  REFRESH MATERIALIZED VIEW CONCURRENTLY {name};"
                ),
            );
            return;
        }
        out.report(
            statement.range.clone(),
            format!(
                "refreshing `{name}` without CONCURRENTLY recomputes the whole view under an ACCESS EXCLUSIVE lock, blocking every read of `{name}` until the query finishes"
            ),
            format!(
                "refresh it while reads continue (EXCLUSIVE lock):\n  REFRESH MATERIALIZED VIEW CONCURRENTLY {name};\nit needs a unique index on `{name}` over plain columns without WHERE (create one with CREATE UNIQUE INDEX CONCURRENTLY), a view that is already populated, and no transaction block: {}",
                crate::framework::outside_transaction_advice(cx.framework)
            ),
        );
    }
}

use std::path::PathBuf;

use crate::context::{Context, Created};
use crate::fix::{Edit, Fix};
use crate::model::{Name, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

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
    /// a unique index on the view whose keys are all plain columns, without a `WHERE` (a
    /// partial or expression index is refused; `INCLUDE`, `DESC` or an operator class are
    /// fine), and a populated view: it fails on a view created or last refreshed
    /// `WITH NO DATA`. Unlike `CREATE INDEX CONCURRENTLY`, it runs inside a transaction block
    /// (measured on PostgreSQL 12–18):
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY sales_summary_key ON sales_summary (region, month);
    /// REFRESH MATERIALIZED VIEW CONCURRENTLY sales_summary;
    /// ```
    ///
    /// `migration-safety fix` adds `CONCURRENTLY` when the migrations create such an index on
    /// the view and leave it populated; otherwise the help says what is missing.
    ///
    /// ## References
    /// - PostgreSQL documentation: [REFRESH MATERIALIZED VIEW](https://www.postgresql.org/docs/current/sql-refreshmaterializedview.html)
    pub(crate) struct RefreshMaterializedViewNonConcurrently {
        name: "refresh-materialized-view-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "refreshing a materialized view without CONCURRENTLY blocks every read of it",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).referenced(Effect::lock(AccessShare).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
        ],
    }
}

impl Rule for RefreshMaterializedViewNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::RefreshMaterializedView {
            name,
            concurrently,
            no_data,
        } = &statement.kind
        else {
            return;
        };
        if *concurrently || cx.created_earlier_in_file(Created::MaterializedView, name) {
            return;
        }
        if *no_data {
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
        let populated = cx
            .schema
            .materialized_view(name)
            .is_none_or(|v| v.populated);
        let (help, fix) = match concurrent_refresh(cx, name) {
            _ if !populated => (
                format!(
                    "`{name}` is not populated (created or last refreshed WITH NO DATA), and CONCURRENTLY fails on a view that is not: its first refresh must be a plain one. Run it before any code reads `{name}` (until then a query on it fails anyway), and refresh it CONCURRENTLY afterwards"
                ),
                None,
            ),
            Ok(key) => (
                format!(
                    "refresh it while reads continue (EXCLUSIVE lock), matching rows through the unique index `{key}`:\n  REFRESH MATERIALIZED VIEW CONCURRENTLY {name};"
                ),
                concurrently_fix(cx, statement, name),
            ),
            Err(missing) => (
                format!(
                    "refresh it while reads continue (EXCLUSIVE lock):\n  REFRESH MATERIALIZED VIEW CONCURRENTLY {name};\nit needs a unique index on `{name}` whose keys are plain columns, without WHERE, and a populated view; {missing}"
                ),
                None,
            ),
        };
        out.report_fix(
            statement.range.clone(),
            format!(
                "refreshing `{name}` without CONCURRENTLY recomputes the whole view under an ACCESS EXCLUSIVE lock, blocking every read of `{name}` until the query finishes"
            ),
            help,
            fix,
        );
    }
}

/// The unique index through which `REFRESH … CONCURRENTLY` of `view` can run, or what it
/// lacks, as far as the migrations tell.
fn concurrent_refresh(cx: &Context<'_>, view: &Name) -> Result<String, String> {
    let indexes = cx.schema.relation_indexes(view);
    let Some(key) = indexes.iter().find(|i| i.identifies_rows()) else {
        let unique: Vec<String> = indexes
            .iter()
            .filter(|i| i.unique)
            .map(|i| {
                let why = if i.partial {
                    "has a WHERE clause"
                } else if i.expressions {
                    "indexes an expression"
                } else {
                    "is not valid yet"
                };
                format!("`{}` {why}", i.name)
            })
            .collect();
        let known = if unique.is_empty() {
            format!("the migrations create no unique index on `{view}`")
        } else {
            format!("its unique indexes cannot be used: {}", unique.join(", "))
        };
        return Err(format!(
            "{known}: create one first (CREATE UNIQUE INDEX CONCURRENTLY {}_key ON {view} (columns that identify a row);), then refresh concurrently",
            view.name
        ));
    };
    Ok(key.name.to_string())
}

/// The edit that adds `CONCURRENTLY` after `REFRESH MATERIALIZED VIEW`. It is valid wherever
/// the statement is, in a transaction block or a `DO` body too.
fn concurrently_fix(cx: &Context<'_>, statement: &Statement, view: &Name) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let at = statement.written.concurrently_at?;
    Some(Fix {
        rule: RefreshMaterializedViewNonConcurrently::META.name,
        title: format!("refresh `{view}` concurrently"),
        edits: vec![Edit {
            path: PathBuf::from(cx.path),
            range: at..at,
            replacement: " CONCURRENTLY".to_owned(),
        }],
        new_files: Vec::new(),
    })
}

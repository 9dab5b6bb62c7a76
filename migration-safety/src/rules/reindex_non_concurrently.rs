use crate::context::Context;
use crate::model::{Name, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{pg14_concurrently_caution, steps, with_concurrently};

declare_rule! {
    /// ## What it does
    /// Flags `REINDEX` without `CONCURRENTLY` of an index, table, schema or database that
    /// existed before this migration.
    ///
    /// ## Why is this bad?
    /// A plain `REINDEX` takes a `SHARE` lock on the table, which blocks every `INSERT`, `UPDATE`
    /// and `DELETE`, and an `ACCESS EXCLUSIVE` lock on each index it rebuilds, for the whole
    /// rebuild. That index lock blocks far more than the reads that use the index: planning any
    /// query on the table opens all of its indexes, so every newly planned read of the table
    /// waits too, even a sequential scan (measured on PostgreSQL 11–18; only a statement whose
    /// generic plan was cached before still runs).
    ///
    /// PostgreSQL 12 added `REINDEX … CONCURRENTLY` (also spelled `REINDEX (CONCURRENTLY) …`):
    /// `SHARE UPDATE EXCLUSIVE` on the table, so reads and writes continue. It is not free: it
    /// waits for every transaction with a snapshot older than its own to finish, read-only ones
    /// too, so one long-running query stalls it; and its final step takes a brief
    /// `ACCESS EXCLUSIVE` lock on the old index to drop it. Before PostgreSQL 12, build a
    /// replacement index concurrently and swap it in.
    ///
    /// ## Example
    /// ```sql
    /// REINDEX INDEX users_email_idx;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// REINDEX INDEX CONCURRENTLY users_email_idx;  -- PostgreSQL 12+, outside a transaction block
    /// ```
    /// If it fails, it leaves an invalid `…_ccnew` index behind: drop it with
    /// `DROP INDEX CONCURRENTLY` and retry. PostgreSQL 14.0 to 14.3 could rebuild indexes
    /// concurrently that silently miss rows (fixed in 14.4); target versions are major versions,
    /// so when the target is 14 the help reminds you to run 14.4 or later.
    ///
    /// ## References
    /// - PostgreSQL documentation: [REINDEX, Rebuilding indexes concurrently](https://www.postgresql.org/docs/current/sql-reindex.html#SQL-REINDEX-CONCURRENTLY)
    pub(crate) struct ReindexNonConcurrently {
        name: "reindex-non-concurrently",
        category: Locking,
        severity: Error,
        summary: "REINDEX without CONCURRENTLY blocks writes, and every newly planned read of the table, for the whole rebuild",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).referenced(Effect::lock(Share).scan()).index(Effect::lock(AccessExclusive).rewrite()),
            Claim::takes(12..=18).table(Effect::lock(Share).scan()).index(Effect::lock(AccessExclusive).rewrite()),
        ],
    }
}

impl Rule for ReindexNonConcurrently {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Reindex {
            target,
            name,
            concurrently: false,
        } = &statement.kind
        else {
            return;
        };
        let table: Option<Name> = match target.as_str() {
            "TABLE" => Some(name.clone()),
            "INDEX" => cx.schema.index(name).map(|i| i.table.clone()),
            _ => None,
        };
        if table.as_ref().is_some_and(|t| cx.is_new_table(t)) {
            return;
        }
        let what = match target.as_str() {
            "INDEX" => format!("index `{name}`"),
            "TABLE" => format!("every index of `{name}`"),
            "SYSTEM" => "the system catalogs".to_owned(),
            other => format!("every index in {} `{name}`", other.to_lowercase()),
        };
        let on = match (&table, target.as_str()) {
            (Some(t), _) => format!("`{t}`"),
            (None, "INDEX") => "its table".to_owned(),
            (None, _) => "each table in turn".to_owned(),
        };
        let message = format!(
            "rebuilding {what} without CONCURRENTLY takes a SHARE lock on {on} and an ACCESS EXCLUSIVE lock on {}, blocking every INSERT, UPDATE and DELETE, and every newly planned read of the table (planning opens all its indexes), until the rebuild ends",
            if target == "INDEX" {
                "the index"
            } else {
                "each index"
            }
        );
        let help = if target == "SYSTEM" {
            "system catalogs cannot be reindexed concurrently: run it in a maintenance window, not in a migration".to_owned()
        } else if cx.pg_version() >= 12 {
            // With an option list that already names CONCURRENTLY (`(CONCURRENTLY false)`),
            // the statement is written afresh rather than spell the option twice.
            let rewritten = with_concurrently(cx.source, statement).map_or_else(
                || format!("REINDEX {target} CONCURRENTLY {name}"),
                |t| t.trim_end_matches(';').trim_end().to_owned(),
            );
            format!(
                "rebuild it without blocking reads and writes:\n  {rewritten};\nCONCURRENTLY cannot run in a transaction block: {}. It waits for every older transaction, read-only ones too, so run it when no long query is open, and it ends with a brief ACCESS EXCLUSIVE lock on the old index. If it fails it leaves an invalid `…_ccnew` index: drop it with DROP INDEX CONCURRENTLY and retry{}",
                crate::framework::outside_transaction_advice(cx.framework),
                pg14_concurrently_caution(cx.pg_version())
            )
        } else if target == "INDEX" {
            let new = Name {
                schema: name.schema.clone(),
                name: format!("{}_new", name.name),
            };
            steps(
                &format!(
                    "REINDEX CONCURRENTLY needs PostgreSQL 12 (the target is {}); build a replacement instead, outside a transaction block:",
                    cx.pg_version()
                ),
                &[
                    format!(
                        "CREATE INDEX CONCURRENTLY {new} ON … (…);  -- the same definition as `{name}`"
                    ),
                    format!("DROP INDEX CONCURRENTLY {name};"),
                    format!(
                        "ALTER INDEX {new} RENAME TO {};",
                        crate::model::quote_ident(&name.name)
                    ),
                ],
            )
        } else {
            format!(
                "REINDEX CONCURRENTLY needs PostgreSQL 12 (the target is {}): replace each index with CREATE INDEX CONCURRENTLY of a copy, DROP INDEX CONCURRENTLY of the old one and ALTER INDEX … RENAME, outside a transaction block",
                cx.pg_version()
            )
        };
        out.report(statement.range.clone(), message, help);
    }
}

use crate::context::Context;
use crate::model::{Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::designed_columns;

declare_rule! {
    /// ## What it does
    /// Flags a column declared `json` in `CREATE TABLE`, `ADD COLUMN` or
    /// `ALTER COLUMN … TYPE` (unless the column was already `json`, known from earlier
    /// migrations). It applies to new tables too: that is when the type is chosen.
    ///
    /// ## Why is this bad?
    /// `json` keeps the input text and re-parses it on every access, and it has no equality
    /// operator: once a `json` column is added, queries on the table that use `SELECT
    /// DISTINCT`, `UNION` or `GROUP BY` over all columns fail ("could not identify an equality
    /// operator for type json"). It cannot be indexed with GIN either. `jsonb` is parsed once,
    /// compares, and indexes. Converting the column later rewrites the table under an
    /// `ACCESS EXCLUSIVE` lock, which blocks every read and write.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events ADD COLUMN payload json;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE events ADD COLUMN payload jsonb;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [JSON types](https://www.postgresql.org/docs/current/datatype-json.html)
    pub(crate) struct PreferJsonb {
        name: "prefer-jsonb",
        category: Design,
        severity: Warning,
        summary: "json is better declared jsonb",
        since: "0.1.0",
    }
}

impl Rule for PreferJsonb {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for column in designed_columns(cx, statement) {
            let t = column.data_type;
            if t.name != "json" {
                continue;
            }
            let table = column.table;
            let col = quote_ident(column.column);
            let array = if t.array { "[]" } else { "" };
            out.report(
                column.range,
                format!(
                    "`{table}.{col}` is declared `{t}`, which is re-parsed on every access and has no equality operator: queries that compare whole rows of `{table}` (SELECT DISTINCT *, UNION of SELECT *, GROUP BY the column) fail"
                ),
                format!("declare it `{col} jsonb{array}` instead"),
            );
        }
    }
}

use crate::context::Context;
use crate::model::{Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::designed_columns;

declare_rule! {
    /// ## What it does
    /// Flags a column declared `timestamp` (`timestamp without time zone`) in `CREATE TABLE`,
    /// `ADD COLUMN` or `ALTER COLUMN … TYPE` (unless the column already had that type, known
    /// from earlier migrations, and only its precision changes). It applies to new tables too:
    /// that is when the type is chosen.
    ///
    /// ## Why is this bad?
    /// `timestamp` stores a wall-clock reading with no time zone: the same value means
    /// different instants for sessions with different `TimeZone` settings, `now()` is
    /// silently converted to the session's local time, and daylight-saving changes create
    /// duplicate or missing hours. `timestamptz` stores an instant (in UTC) and converts on
    /// display; it takes the same 8 bytes. Converting the column later rewrites the table
    /// under an `ACCESS EXCLUSIVE` lock (on PostgreSQL 12+ only the column's indexes, when the
    /// session time zone is UTC).
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders ADD COLUMN shipped_at timestamp;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE orders ADD COLUMN shipped_at timestamptz;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Date/time types](https://www.postgresql.org/docs/current/datatype-datetime.html)
    /// - PostgreSQL wiki: [Don't use timestamp (without time zone)](https://wiki.postgresql.org/wiki/Don%27t_Do_This#Don.27t_use_timestamp_.28without_time_zone.29)
    pub(crate) struct PreferTimestamptz {
        name: "prefer-timestamptz",
        category: Design,
        severity: Warning,
        summary: "timestamp without time zone is better declared timestamptz",
        since: "0.1.0",
    }
}

impl Rule for PreferTimestamptz {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for column in designed_columns(cx, statement) {
            let t = column.data_type;
            if t.name != "timestamp" {
                continue;
            }
            let table = column.table;
            let col = quote_ident(column.column);
            let precision = t
                .modifiers
                .first()
                .map(|p| format!("({p})"))
                .unwrap_or_default();
            let array = if t.array { "[]" } else { "" };
            out.report(
                column.range,
                format!(
                    "`{table}.{col}` is declared `{t}`, a wall-clock time without time zone: the same value means different instants for sessions in different time zones"
                ),
                format!("declare it `{col} timestamptz{precision}{array}` instead: it stores an instant and takes the same 8 bytes"),
            );
        }
    }
}

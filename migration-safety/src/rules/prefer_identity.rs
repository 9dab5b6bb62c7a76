use crate::context::Context;
use crate::model::{Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::designed_columns;

declare_rule! {
    /// ## What it does
    /// Flags a `smallserial`, `serial` or `bigserial` column in `CREATE TABLE` or
    /// `ADD COLUMN`. It applies to new tables too: that is when the type is chosen.
    ///
    /// ## Why is this bad?
    /// `serial` is not a type but a shorthand for an `integer` column with a `nextval(…)`
    /// default on a separately created sequence: privileges on the sequence must be granted
    /// separately, `CREATE TABLE … (LIKE …)` copies make the copy share the sequence, and
    /// nothing stops code from writing its own values, which later collide with the
    /// sequence's. Identity columns (PostgreSQL 10+, SQL standard) tie the sequence to the
    /// column, and `GENERATED ALWAYS` rejects hand-written values. Converting a `serial`
    /// column later is possible without a rewrite, but takes an `ACCESS EXCLUSIVE` lock on the
    /// table, which blocks every read and write while it waits.
    ///
    /// ## Example
    /// ```sql
    /// CREATE TABLE orders (id bigserial PRIMARY KEY);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Identity columns](https://www.postgresql.org/docs/current/ddl-identity-columns.html)
    /// - [Serial types](https://www.postgresql.org/docs/current/datatype-numeric.html#DATATYPE-SERIAL)
    pub(crate) struct PreferIdentity {
        name: "prefer-identity",
        category: Design,
        severity: Warning,
        summary: "serial columns are better declared as identity columns",
        since: "0.1.0",
    }
}

impl Rule for PreferIdentity {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for column in designed_columns(cx, statement) {
            let t = column.data_type;
            if column.def.is_none() || t.array || !t.is_serial() {
                continue;
            }
            let table = column.table;
            let col = quote_ident(column.column);
            out.report(
                column.range,
                format!(
                    "`{table}.{col}` is declared `{t}`: a loose sequence default, whose sequence needs its own privileges and accepts hand-written ids that later collide with generated ones"
                ),
                format!(
                    "declare an identity column instead: `{col} bigint GENERATED ALWAYS AS IDENTITY` (BY DEFAULT instead of ALWAYS if code must still insert explicit ids)"
                ),
            );
        }
    }
}

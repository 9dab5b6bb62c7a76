use crate::context::Context;
use crate::model::{Generated, Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::designed_columns;

declare_rule! {
    /// ## What it does
    /// Flags a `smallint` or `integer` column (including `smallserial` and `serial`) defined by
    /// `CREATE TABLE` or `ADD COLUMN` that is a generated key: the table's single-column
    /// primary key, an identity column (`GENERATED … AS IDENTITY`), a `serial`, or a column
    /// whose default is `nextval(…)`. Other integer columns, and foreign-key columns (which must
    /// match the key they reference, flagged where that key is defined), are not flagged. It
    /// applies to new tables too: that is when the type is chosen.
    ///
    /// ## Why is this bad?
    /// A key only grows: `integer` holds values up to 2,147,483,647 (`smallint` up to 32,767),
    /// and then every `INSERT` fails. Widening the column later rewrites the table and all its
    /// indexes under an `ACCESS EXCLUSIVE` lock, which blocks every read and write, and locks
    /// and rewrites every table whose foreign keys reference it. `bigint` costs 4 more bytes a
    /// row.
    ///
    /// ## Example
    /// ```sql
    /// CREATE TABLE orders (id serial PRIMARY KEY, total numeric);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Integer types](https://www.postgresql.org/docs/current/datatype-numeric.html#DATATYPE-INT)
    pub(crate) struct PreferBigint {
        name: "prefer-bigint",
        category: Design,
        severity: Warning,
        summary: "a generated key of type smallint or integer runs out of values",
        since: "0.1.0",
    }
}

impl Rule for PreferBigint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for column in designed_columns(cx, statement) {
            let Some(def) = column.def else { continue };
            let t = column.data_type;
            if t.array || !matches!(t.name.as_str(), "int2" | "int4" | "serial2" | "serial4") {
                continue;
            }
            let sequence_default = def.default.as_ref().is_some_and(|d| {
                d.text
                    .to_ascii_lowercase()
                    .replace(' ', "")
                    .starts_with("nextval(")
            });
            let why = if t.is_serial() {
                "a serial key"
            } else if def.generated == Some(Generated::Identity) {
                "an identity key"
            } else if sequence_default {
                "a key filled from a sequence"
            } else if column.primary_key {
                "the primary key"
            } else {
                continue;
            };
            let max = if matches!(t.name.as_str(), "int2" | "serial2") {
                "32,767"
            } else {
                "2,147,483,647"
            };
            let table = column.table;
            let col = quote_ident(column.column);
            let declare = if t.is_serial() || def.generated == Some(Generated::Identity) {
                format!("`{col} bigint GENERATED ALWAYS AS IDENTITY`")
            } else if sequence_default {
                format!(
                    "`{col} bigint DEFAULT {}` (and give its sequence the same range: ALTER SEQUENCE … AS bigint)",
                    def.default.as_ref().map_or("", |d| d.text.as_str())
                )
            } else {
                format!("`{col} bigint`")
            };
            out.report(
                column.range,
                format!(
                    "`{table}.{col}` is {why}, declared `{t}`, which holds values only up to {max}: once the keys reach it, every INSERT fails; widening it later rewrites `{table}` and its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write, along with every table whose foreign keys reference it"
                ),
                format!("declare it {declare} now, while the table is small"),
            );
        }
    }
}

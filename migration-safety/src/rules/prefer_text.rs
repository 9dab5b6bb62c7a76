use crate::context::Context;
use crate::model::{Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::designed_columns;

declare_rule! {
    /// ## What it does
    /// Flags a column declared `varchar(n)` (`character varying(n)`) or `char(n)`
    /// (`character(n)`, `char`) in `CREATE TABLE`, `ADD COLUMN` or `ALTER COLUMN … TYPE`
    /// (unless the column already had that type, known from earlier migrations, and only its
    /// length changes). Unlimited `varchar` is the same as `text` and is not flagged. It applies to new tables
    /// too: that is when the type is chosen.
    ///
    /// ## Why is this bad?
    /// In PostgreSQL `text` and `varchar(n)` are stored the same way; the length limit only
    /// adds a check that lives in the type. Raising it is cheap, but lowering it rewrites the
    /// table under an `ACCESS EXCLUSIVE` lock, blocking every read and write, and the limit
    /// is often an arbitrary number that real data outgrows. `char(n)` pads values with
    /// spaces, which breaks comparisons and wastes space. A `CHECK` constraint on a `text`
    /// column enforces the same limit and can be changed online (`NOT VALID`, then
    /// `VALIDATE`).
    ///
    /// ## Example
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email varchar(255));
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE TABLE users (id bigint PRIMARY KEY, email text CHECK (char_length(email) <= 255));
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Character types](https://www.postgresql.org/docs/current/datatype-character.html)
    pub(crate) struct PreferText {
        name: "prefer-text",
        category: Design,
        severity: Warning,
        summary: "varchar(n) and char(n) are better declared text with a CHECK constraint",
        since: "0.1.0",
    }
}

impl Rule for PreferText {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for column in designed_columns(cx, statement) {
            let t = column.data_type;
            let limit = match t.name.as_str() {
                "varchar" if !t.modifiers.is_empty() => t.modifiers[0].clone(),
                "bpchar" => t
                    .modifiers
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "1".to_owned()),
                _ => continue,
            };
            let table = column.table;
            let col = quote_ident(column.column);
            let why = if t.name == "bpchar" {
                "pads every value with spaces to the full length, which breaks comparisons and wastes space"
            } else {
                "keeps its length limit in the type, where lowering it later rewrites the table under an ACCESS EXCLUSIVE lock, blocking every read and write"
            };
            let advice = if t.array {
                format!("declare it `{col} text[]` instead")
            } else {
                format!(
                    "declare it `{col} text CHECK (char_length({col}) <= {limit})` instead: a CHECK constraint can be changed later without touching the column (add the new one NOT VALID, VALIDATE it, drop the old one)"
                )
            };
            out.report(
                column.range,
                format!("`{table}.{col}` is declared `{t}`, which {why}"),
                advice,
            );
        }
    }
}

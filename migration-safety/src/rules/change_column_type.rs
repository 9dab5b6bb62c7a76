use crate::context::Context;
use crate::model::{ActionKind, Statement, TypeName, quote_ident};
use crate::rule::{Findings, Rule, RuleMeta, declare_rule};
use crate::rules::{alter_actions, batched_update, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ALTER COLUMN … TYPE` on an existing table, unless the column's
    /// current type (known from earlier migrations) is binary-coercible to the new one:
    /// `varchar(n)` to `varchar(m ≥ n)`, `varchar` or `text`; `text` to unlimited `varchar`;
    /// `numeric(p, s)` to `numeric(p' ≥ p, s)` or `numeric`; more precision for `timestamp`,
    /// `timestamptz`, `time`, `timetz` and `interval`; `varbit(n)` to `varbit(m ≥ n)`; `cidr` to `inet`.
    ///
    /// ## Why is this bad?
    /// Any other type change rewrites the whole table and rebuilds every index on it while
    /// holding an `ACCESS EXCLUSIVE` lock, which blocks every read and write, for minutes or
    /// hours on a large table. It can also fail half-way on data the new type rejects.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE orders ALTER COLUMN amount TYPE bigint;
    /// ```
    ///
    /// ## Use instead
    /// Change the type in phases:
    /// ```sql
    /// ALTER TABLE orders ADD COLUMN amount_new bigint;
    /// -- deploy code that writes both columns (or keep them in sync with a trigger)
    /// UPDATE orders SET amount_new = amount::bigint
    ///   WHERE ctid IN (SELECT ctid FROM orders WHERE amount_new IS NULL AND amount IS NOT NULL LIMIT 10000);
    /// -- repeat until 0 rows; deploy code that uses amount_new only; then, later:
    /// ALTER TABLE orders DROP COLUMN amount;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, Notes](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES)
    pub(crate) struct ChangeColumnType {
        name: "change-column-type",
        category: Rewrite,
        severity: Error,
        summary: "changing a column's type rewrites the table under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
    }
}

impl Rule for ChangeColumnType {
    fn meta(&self) -> &'static RuleMeta {
        &Self::META
    }

    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AlterColumnType {
                column, data_type, ..
            } = &action.kind
            else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let old = cx
                .schema
                .table(table)
                .and_then(|t| t.columns.iter().find(|c| &c.name == column))
                .map(|c| &c.data_type);
            let message = match old {
                Some(old) if is_binary_coercible(old, data_type) => continue,
                Some(old) => format!(
                    "changing `{table}.{column}` from `{old}` to `{data_type}` rewrites the whole table and all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until it finishes"
                ),
                None => format!(
                    "changing `{table}.{column}` to `{data_type}` takes an ACCESS EXCLUSIVE lock and, unless the current type is binary-coercible to `{data_type}`, rewrites the whole table and all its indexes, blocking every read and write; the current type is not known from the migrations checked, so this cannot be proven safe"
                ),
            };
            let (col, new) = (quote_ident(column), quote_ident(&format!("{column}_new")));
            out.report(
                action.range.clone(),
                message,
                steps(
                    "change the type in phases instead:",
                    &[
                        format!("ALTER TABLE {table} ADD COLUMN {new} {data_type};"),
                        format!("deploy code that writes both `{column}` and `{column}_new` (or sync them with a trigger)"),
                        format!("backfill in batches: {}", batched_update(table, &format!("{new} = {col}::{data_type}"), &format!("{new} IS NULL AND {col} IS NOT NULL"))),
                        format!("deploy code that reads and writes only `{column}_new`"),
                        format!("in a later migration: ALTER TABLE {table} DROP COLUMN {col};"),
                    ],
                ),
            );
        }
    }
}

/// Whether PostgreSQL changes the type without rewriting the table or rebuilding indexes.
pub(crate) fn is_binary_coercible(old: &TypeName, new: &TypeName) -> bool {
    if old.array != new.array {
        return false;
    }
    let int = |m: &[String], i: usize| m.get(i).and_then(|v| v.parse::<u64>().ok());
    let same_or_wider = |at: usize| match (int(&old.modifiers, at), int(&new.modifiers, at)) {
        (_, None) if new.modifiers.is_empty() => true,
        (Some(o), Some(n)) => n >= o,
        _ => false,
    };
    match (old.name.as_str(), new.name.as_str()) {
        (o, n) if o == n && old.modifiers == new.modifiers => true,
        ("varchar", "varchar") | ("varbit", "varbit") => same_or_wider(0),
        ("varchar", "text") | ("cidr", "inet") => true,
        ("text", "varchar") => new.modifiers.is_empty(),
        ("numeric", "numeric") => {
            new.modifiers.is_empty()
                || (same_or_wider(0)
                    && old.modifiers.get(1).map_or("0", String::as_str)
                        == new.modifiers.get(1).map_or("0", String::as_str)
                    && !old.modifiers.is_empty())
        }
        (o, n)
            if o == n
                && matches!(
                    o,
                    "timestamp" | "timestamptz" | "time" | "timetz" | "interval"
                ) =>
        {
            same_or_wider(0)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coercible(old: &str, new: &str) -> bool {
        is_binary_coercible(&TypeName::parse(old), &TypeName::parse(new))
    }

    #[test]
    fn widening_is_coercible() {
        assert!(coercible("varchar(10)", "varchar(20)"));
        assert!(coercible("varchar(10)", "varchar"));
        assert!(coercible("character varying(10)", "text"));
        assert!(coercible("text", "varchar"));
        assert!(coercible("numeric(10,2)", "numeric(12,2)"));
        assert!(coercible("numeric(10,2)", "numeric"));
        assert!(coercible("timestamp(3)", "timestamp(6)"));
        assert!(coercible("timestamptz(3)", "timestamptz"));
        assert!(coercible("cidr", "inet"));
        assert!(coercible("int", "integer"));
    }

    #[test]
    fn other_changes_rewrite() {
        assert!(!coercible("varchar(20)", "varchar(10)"));
        assert!(!coercible("text", "varchar(10)"));
        assert!(!coercible("int", "bigint"));
        assert!(!coercible("numeric(10,2)", "numeric(12,3)"));
        assert!(!coercible("numeric", "numeric(12,2)"));
        assert!(!coercible("timestamp", "timestamptz"));
        assert!(!coercible("timestamp(6)", "timestamp(3)"));
        assert!(!coercible("text", "text[]"));
    }
}

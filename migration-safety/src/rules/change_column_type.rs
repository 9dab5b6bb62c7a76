use crate::context::Context;
use crate::model::{ActionKind, Name, Statement, TypeName, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, batched_update, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ALTER COLUMN … TYPE` on an existing table, unless the column's
    /// current type (known from earlier migrations) is binary-coercible to the new one:
    /// `varchar(n)` to `varchar(m ≥ n)`, `varchar` or `text`; `text` to unlimited `varchar`;
    /// `citext` to and from `text` and `varchar` (unlimited `varchar` only when leaving `citext`);
    /// `numeric(p, s)` to `numeric(p' ≥ p, s)` or `numeric`; more precision for `timestamp`,
    /// `timestamptz`, `time`, `timetz` and `interval`, up to and including the maximum (6, which
    /// is also what no precision means); `varbit(n)` to `varbit(m ≥ n)`; `cidr` to `inet`; a
    /// `serial` column (an `integer` with a default) to `integer`; to or from a domain over such
    /// a type, when the new domain has no constraints. Changing a column to a domain with
    /// `CHECK` or `NOT NULL` constraints always rewrites. A `USING` clause that is just the
    /// column, or the column cast to the new type (`USING col::new_type`), converts like no
    /// `USING` at all; any other `USING` expression computes every value and rewrites.
    ///
    /// Even a binary-coercible change is flagged when the column has a validated `CHECK`
    /// constraint (known from earlier migrations): PostgreSQL re-checks it with a full scan under
    /// the `ACCESS EXCLUSIVE` lock. A change between `citext` and `text`/`varchar` changes the
    /// column's collation and operator class, so it is flagged when the column has a known
    /// index: PostgreSQL rebuilds it under the lock. When the column is a key that foreign keys
    /// of other tables reference, the message names those tables: they are locked and
    /// re-checked too.
    ///
    /// `timestamp` to `timestamptz` (or back) rewrites the table before PostgreSQL 12. Since
    /// PostgreSQL 12 it skips the rewrite when the session `TimeZone` is UTC (or another zone
    /// always at offset 0) and the new type keeps full precision; it still rebuilds the indexes
    /// on the column. The rule honours `SET TIME ZONE 'UTC'` (or `SET timezone = 'UTC'`) earlier
    /// in the migration, and otherwise the `timezone` assumed in the configuration (`[assume]`);
    /// without either the change is flagged.
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
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).referenced(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for ChangeColumnType {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AlterColumnType {
                column,
                data_type,
                using,
            } = &action.kind
            else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let known = cx.schema.table(table);
            let old = known.and_then(|t| t.column(column)).map(|c| &c.data_type);
            let new_domain = cx.schema.domain_of(data_type);
            // Changing a column to the type it already has converts nothing.
            let same_type = old.is_some_and(|o| {
                o.name == data_type.name
                    && o.modifiers == data_type.modifiers
                    && o.array == data_type.array
            });
            let constrained = new_domain.filter(|d| !d.constraints.is_empty() && !same_type);
            let new_base = new_domain.map_or(data_type, |d| &d.base);
            // `USING col` or `USING col::new_type` converts exactly as no USING does.
            let computed = using
                .as_deref()
                .filter(|u| !is_plain_conversion(u, column, data_type));
            let rewrite = "rewrites the whole table and all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until it finishes";
            let message = match (old, constrained, computed) {
                (_, Some(domain), _) => format!(
                    "changing `{table}.{column}` to `{data_type}`, a domain with constraints, checks every value and {rewrite}; `{}` has constraints, so no change to it is binary-coercible",
                    domain.name
                ),
                (_, None, Some(expr)) => format!(
                    "changing `{table}.{column}` to `{data_type}` computes every value with `USING {expr}` and {rewrite}"
                ),
                (Some(old), None, None) => {
                    let old_base = cx.schema.domain_of(old).map_or(old, |d| &d.base);
                    let utc = cx.pg_version() >= 12 && cx.time_zone_is_utc();
                    let coercible = is_binary_coercible(old_base, new_base)
                        || (utc && is_timezone_change(old_base, new_base));
                    if coercible {
                        report_rescans(cx, table, column, old, data_type, action, out);
                        continue;
                    }
                    if is_timezone_change(old_base, new_base) && cx.pg_version() >= 12 {
                        format!(
                            "changing `{table}.{column}` from `{old}` to `{data_type}` takes an ACCESS EXCLUSIVE lock, blocking every read and write until it finishes; since PostgreSQL 12 it skips the table rewrite only when the session TimeZone is UTC (say so with SET TIME ZONE 'UTC' before it) and the new type keeps full precision, and even then it rebuilds every index on `{column}` under the lock"
                        )
                    } else if let Some(e) = cx
                        .schema
                        .enum_type(&Name::new(old.name.clone()))
                        .filter(|_| !old.array)
                    {
                        format!(
                            "changing `{table}.{column}` from the enum `{}` ({} labels) to `{data_type}` converts every value and {rewrite}",
                            e.name,
                            e.labels.len()
                        )
                    } else {
                        format!(
                            "changing `{table}.{column}` from `{old}` to `{data_type}` {rewrite}"
                        )
                    }
                }
                (None, None, None) => format!(
                    "changing `{table}.{column}` to `{data_type}` takes an ACCESS EXCLUSIVE lock and, unless the current type is binary-coercible to `{data_type}`, rewrites the whole table and all its indexes, blocking every read and write; the current type is not known from the migrations checked, so this cannot be proven safe"
                ),
            };
            let referencing = cx.schema.referencing(table, column);
            let message = if referencing.is_empty() {
                message
            } else {
                let tables: Vec<String> = referencing
                    .iter()
                    .map(|r| format!("`{}`", r.table))
                    .collect();
                format!(
                    "{message}; `{column}` is referenced by foreign keys from {}, which are locked ACCESS EXCLUSIVE and re-checked row by row as well",
                    tables.join(", ")
                )
            };
            let (col, new) = (quote_ident(column), quote_ident(&format!("{column}_new")));
            // Whoever reads the column, the rewrite under the lock stays a hazard.
            out.report_fix(
                action.range.clone(),
                message,
                steps(
                    "change the type in phases instead:",
                    &[
                        format!("ALTER TABLE {table} ADD COLUMN {new} {data_type};"),
                        format!("deploy code that writes both `{column}` and `{column}_new` (or sync them with a trigger)"),
                        batched_update(table, &format!("{new} = {col}::{data_type}"), &format!("{new} IS NULL AND {col} IS NOT NULL")),
                        format!("deploy code that reads and writes only `{column}_new`"),
                        format!("in a later migration: ALTER TABLE {table} DROP COLUMN {col};"),
                    ],
                ),
                crate::fix::phases::change_column_type(cx, Self::META.name),
            );
            out.breaks(cx, (table, Some(column)), true);
        }
    }
}

/// A change that needs no table rewrite still re-checks the column's validated `CHECK`
/// constraints with a scan, and rebuilds the column's indexes when their operator class or
/// collation changes (to or from `citext`, `timestamp` to `timestamptz`).
fn report_rescans(
    cx: &Context<'_>,
    table: &Name,
    column: &str,
    old: &TypeName,
    data_type: &TypeName,
    action: &crate::model::Action,
    out: &mut Findings,
) {
    let known = cx.schema.table(table);
    let checks: Vec<&crate::schema::TableConstraint> = known
        .map(|t| t.checks_on(column).filter(|c| c.validated).collect())
        .unwrap_or_default();
    if !checks.is_empty() {
        let names: Vec<String> = checks
            .iter()
            .map(|c| {
                c.name
                    .as_ref()
                    .map_or_else(|| "an unnamed CHECK".to_owned(), |n| format!("`{n}`"))
            })
            .collect();
        out.report(
            action.range.clone(),
            format!(
                "changing `{table}.{column}` from `{old}` to `{data_type}` needs no rewrite, but PostgreSQL re-checks the CHECK constraint{} {} on it by scanning the whole table under an ACCESS EXCLUSIVE lock, blocking every read and write until the scan ends",
                if checks.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            check_plan(
                table,
                column,
                data_type,
                checks.iter().filter_map(|c| c.name.clone()).collect(),
            ),
        );
        return;
    }
    let old_base = cx.schema.domain_of(old).map_or(old, |d| &d.base);
    let new_base = cx
        .schema
        .domain_of(data_type)
        .map_or(data_type, |d| &d.base);
    if !rebuilds_indexes(old_base, new_base) {
        return;
    }
    let indexes: Vec<String> = cx
        .schema
        .indexes_on(table, column)
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    if indexes.is_empty() {
        return;
    }
    let list = indexes
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ");
    out.report(
        action.range.clone(),
        format!(
            "changing `{table}.{column}` from `{old}` to `{data_type}` needs no table rewrite, but it rebuilds the index{} {list} on `{column}` by scanning the whole table under an ACCESS EXCLUSIVE lock, blocking every read and write until the rebuild ends",
            if indexes.len() == 1 { "" } else { "es" },
        ),
        steps(
            "take the indexes out of the way, then rebuild them without blocking traffic:",
            &[
                format!(
                    "DROP INDEX CONCURRENTLY {};  -- one statement per index, outside a transaction block",
                    indexes.join(", ")
                ),
                format!(
                    "ALTER TABLE {table} ALTER COLUMN {} TYPE {data_type};  -- no rewrite, no index to rebuild",
                    quote_ident(column)
                ),
                "CREATE INDEX CONCURRENTLY … ;  -- recreate each index as it was, outside a transaction block; queries that need it run without it until then".to_owned(),
            ],
        ),
    );
}

/// Whether `USING expr` converts the column exactly as the plain type change would: the column
/// itself, or the column cast to the new type (`col::t`, `CAST(col AS t)`).
fn is_plain_conversion(expr: &str, column: &str, data_type: &TypeName) -> bool {
    let mut text = expr.trim();
    while let Some(inner) = strip_outer_parens(text) {
        text = inner;
    }
    let is_column = |t: &str| {
        let mut t = t.trim();
        while let Some(inner) = strip_outer_parens(t) {
            t = inner;
        }
        match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            Some(quoted) => quoted == column,
            None => {
                t.eq_ignore_ascii_case(column)
                    && t.chars()
                        .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
            }
        }
    };
    let same_type = |t: &str| {
        let t = TypeName::parse(t);
        t.name == data_type.name && t.modifiers == data_type.modifiers && t.array == data_type.array
    };
    if is_column(text) {
        return true;
    }
    if let Some((value, cast)) = text.split_once("::") {
        return is_column(value) && !cast.contains("::") && same_type(cast);
    }
    let lower = text.to_ascii_lowercase();
    if let Some(inner) = lower
        .strip_prefix("cast")
        .map(str::trim_start)
        .and_then(|t| t.strip_prefix('('))
        .and_then(|t| t.strip_suffix(')'))
    {
        let start = text.len() - inner.len() - 1;
        let inner = &text[start..text.len() - 1];
        if let Some(at) = inner.to_ascii_lowercase().find(" as ") {
            return is_column(&inner[..at]) && same_type(&inner[at + 4..]);
        }
    }
    false
}

/// `inner` of `(inner)` when the parentheses enclose the whole text.
fn strip_outer_parens(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0i32;
    for c in inner.chars() {
        depth += match c {
            '(' => 1,
            ')' => -1,
            _ => 0,
        };
        if depth < 0 {
            return None;
        }
    }
    Some(inner.trim())
}

/// Binary-coercible changes that still rebuild the column's indexes (their operator class or
/// collation changes): between `citext` and `text`/`varchar`, and `timestamp` ↔ `timestamptz`.
fn rebuilds_indexes(old: &TypeName, new: &TypeName) -> bool {
    let citext = |t: &TypeName| t.name == "citext" || t.name.ends_with(".citext");
    (citext(old) != citext(new)) || is_timezone_change(old, new)
}

/// `timestamp` ↔ `timestamptz`: binary-coercible since PostgreSQL 12 only when the session
/// TimeZone is UTC, and the column's indexes are rebuilt even then.
/// The new type must keep full precision (none given, or 6): PostgreSQL cannot prove a
/// narrower precision keeps every value, and rewrites.
fn is_timezone_change(old: &TypeName, new: &TypeName) -> bool {
    old.array == new.array
        && matches!(
            (old.name.as_str(), new.name.as_str()),
            ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
        )
        && new.modifiers.first().is_none_or(|p| p == "6")
}

fn check_plan(table: &Name, column: &str, data_type: &TypeName, checks: Vec<String>) -> String {
    let col = quote_ident(column);
    if checks.is_empty() {
        return format!(
            "drop the unnamed CHECK on {col} first, change the type, then re-add the check NOT VALID and VALIDATE CONSTRAINT it in a separate transaction"
        );
    }
    let names: Vec<String> = checks.iter().map(|c| quote_ident(c)).collect();
    steps(
        "move the checks out of the way so that the change needs no scan:",
        &[
            format!(
                "ALTER TABLE {table} {};",
                names
                    .iter()
                    .map(|n| format!("DROP CONSTRAINT {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "ALTER TABLE {table} ALTER COLUMN {col} TYPE {data_type};  -- no rewrite, no scan"
            ),
            format!(
                "ALTER TABLE {table} ADD CONSTRAINT … CHECK (…) NOT VALID;  -- re-add each of {} as it was",
                names.join(", ")
            ),
            format!(
                "ALTER TABLE {table} VALIDATE CONSTRAINT …;  -- in a separate transaction: SHARE UPDATE EXCLUSIVE, reads and writes continue"
            ),
        ],
    )
}

/// Whether PostgreSQL changes the type without rewriting the table.
pub(crate) fn is_binary_coercible(old: &TypeName, new: &TypeName) -> bool {
    if old.array != new.array {
        return false;
    }
    // `serial` is `integer` with a default, not a type of its own.
    fn storage(t: &TypeName) -> &str {
        match t.name.as_str() {
            "serial2" => "int2",
            "serial4" => "int4",
            "serial8" => "int8",
            "public.citext" => "citext",
            other => other,
        }
    }
    let int = |m: &[String], i: usize| m.get(i).and_then(|v| v.parse::<u64>().ok());
    let same_or_wider = |at: usize| match (int(&old.modifiers, at), int(&new.modifiers, at)) {
        (_, None) if new.modifiers.is_empty() => true,
        (Some(o), Some(n)) => n >= o,
        _ => false,
    };
    match (storage(old), storage(new)) {
        (o, n) if o == n && old.modifiers == new.modifiers => true,
        ("varchar", "varchar") | ("varbit", "varbit") => same_or_wider(0),
        ("varchar" | "citext", "text" | "citext") | ("cidr", "inet") | ("text", "citext") => true,
        ("text" | "citext", "varchar") => new.modifiers.is_empty(),
        ("numeric", "numeric") => {
            new.modifiers.is_empty()
                || (same_or_wider(0)
                    && old.modifiers.get(1).map_or("0", String::as_str)
                        == new.modifiers.get(1).map_or("0", String::as_str)
                    && !old.modifiers.is_empty())
        }
        // Precision up to the maximum, 6, which is also what no precision means.
        (o, n)
            if o == n
                && matches!(
                    o,
                    "timestamp" | "timestamptz" | "time" | "timetz" | "interval"
                ) =>
        {
            let precision = |t: &TypeName| int(&t.modifiers, 0).unwrap_or(6);
            precision(new) >= precision(old)
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
        assert!(coercible("serial", "integer"));
        assert!(coercible("bigserial", "bigint"));
        assert!(coercible("citext", "text"));
        assert!(coercible("varchar(20)", "citext"));
        assert!(coercible("citext", "varchar"));
        assert!(coercible("timestamp", "timestamp(6)"));
        assert!(coercible("interval(2)", "interval"));
        assert!(coercible("time(2)", "time(6)"));
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
        assert!(!coercible("citext", "varchar(30)"));
        assert!(!coercible("timestamp", "timestamp(5)"));
        assert!(!coercible("serial", "bigint"));
    }

    #[test]
    fn plain_using_converts_like_no_using() {
        let t = TypeName::parse("varchar(30)");
        assert!(is_plain_conversion("email", "email", &t));
        assert!(is_plain_conversion("email::varchar(30)", "email", &t));
        assert!(is_plain_conversion(
            "(email)::character varying(30)",
            "email",
            &t
        ));
        assert!(is_plain_conversion(
            "CAST(email AS varchar(30))",
            "email",
            &t
        ));
        assert!(!is_plain_conversion("upper(email)", "email", &t));
        assert!(!is_plain_conversion("email::text", "email", &t));
        assert!(!is_plain_conversion("name::varchar(30)", "email", &t));
    }
}

use crate::context::Context;
use crate::model::{ActionKind, Name, Statement, TypeName, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, batched_update, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ALTER COLUMN … TYPE` on an existing table, unless the column's
    /// current type (known from earlier migrations) is binary-coercible to the new one:
    /// `varchar(n)` to `varchar(m ≥ n)`, `varchar` or `text`; `text` to unlimited `varchar`;
    /// `numeric(p, s)` to `numeric(p' ≥ p, s)` or `numeric`; more precision for `timestamp`,
    /// `timestamptz`, `time`, `timetz` and `interval`; `varbit(n)` to `varbit(m ≥ n)`; `cidr` to `inet`;
    /// to or from a domain over such a type, when the new domain has no constraints. Changing a
    /// column to a domain with `CHECK` or `NOT NULL` constraints always rewrites.
    ///
    /// Even a binary-coercible change is flagged when the column has a validated `CHECK`
    /// constraint (known from earlier migrations): PostgreSQL re-checks it with a full scan under
    /// the `ACCESS EXCLUSIVE` lock. When the column is a key that foreign keys of other tables
    /// reference, the message names those tables: they are locked and re-checked too.
    ///
    /// `timestamp` to `timestamptz` (or back) is flagged on every version: before PostgreSQL 12
    /// it rewrites the table; since PostgreSQL 12 it skips the rewrite only when the session
    /// `TimeZone` is UTC, which a migration file does not show, and even then it rebuilds the
    /// indexes on the column under the lock.
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
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).referenced(Effect::lock(AccessExclusive).rewrite().scan()),
        ],
    }
}

impl Rule for ChangeColumnType {
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
            let rewrite = "rewrites the whole table and all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until it finishes";
            let message = match (old, constrained) {
                (_, Some(domain)) => format!(
                    "changing `{table}.{column}` to `{data_type}`, a domain with constraints, checks every value and {rewrite}; `{}` has constraints, so no change to it is binary-coercible",
                    domain.name
                ),
                (Some(old), None) => {
                    let old_base = cx.schema.domain_of(old).map_or(old, |d| &d.base);
                    if is_binary_coercible(old_base, new_base) {
                        let checks: Vec<String> = known
                            .map(|t| {
                                t.checks_on(column)
                                    .filter(|c| c.validated)
                                    .map(|c| {
                                        c.name.as_ref().map_or_else(
                                            || "an unnamed CHECK".to_owned(),
                                            |n| format!("`{n}`"),
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        if checks.is_empty() {
                            continue;
                        }
                        out.report(
                            action.range.clone(),
                            format!(
                                "changing `{table}.{column}` from `{old}` to `{data_type}` needs no rewrite, but PostgreSQL re-checks the CHECK constraint{} {} on it by scanning the whole table under an ACCESS EXCLUSIVE lock, blocking every read and write until the scan ends",
                                if checks.len() == 1 { "" } else { "s" },
                                checks.join(", ")
                            ),
                            check_plan(table, column, data_type, known.map(|t| t.checks_on(column).filter(|c| c.validated).filter_map(|c| c.name.clone()).collect()).unwrap_or_default()),
                        );
                        continue;
                    }
                    if is_timezone_change(old_base, new_base) && cx.pg_version() >= 12 {
                        format!(
                            "changing `{table}.{column}` from `{old}` to `{data_type}` takes an ACCESS EXCLUSIVE lock, blocking every read and write until it finishes; since PostgreSQL 12 it skips the table rewrite only when the session TimeZone is UTC, which the migration does not show, and even then it rebuilds every index on `{column}` under the lock"
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
                (None, None) => format!(
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
            out.report(
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
            );
        }
    }
}

/// `timestamp` ↔ `timestamptz`: binary-coercible since PostgreSQL 12 only when the session
/// TimeZone is UTC, and the column's indexes are rebuilt even then.
fn is_timezone_change(old: &TypeName, new: &TypeName) -> bool {
    old.array == new.array
        && matches!(
            (old.name.as_str(), new.name.as_str()),
            ("timestamp", "timestamptz") | ("timestamptz", "timestamp")
        )
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

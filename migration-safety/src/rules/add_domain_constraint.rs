use crate::context::Context;
use crate::model::{AlterDomainAction, Statement, StatementKind, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{source_or, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER DOMAIN … ADD CONSTRAINT … CHECK (…)` without `NOT VALID`,
    /// `ALTER DOMAIN … ADD NOT NULL` / `SET NOT NULL`, and `ALTER DOMAIN … VALIDATE CONSTRAINT`,
    /// when a table that existed before this migration may have a column of the domain. When
    /// earlier migrations created the domain, the rule knows every table that uses it and is
    /// quiet if none is an existing table.
    ///
    /// ## Why is this bad?
    /// PostgreSQL checks every column of the domain in every table that uses it, holding a
    /// `SHARE` lock on each of those tables, which blocks every `INSERT`, `UPDATE` and `DELETE`
    /// on all of them for the whole scan. Unlike a table's `VALIDATE CONSTRAINT` (which takes
    /// `SHARE UPDATE EXCLUSIVE`), `ALTER DOMAIN … VALIDATE CONSTRAINT` takes that same `SHARE`
    /// lock on every using table and scans them all (measured on PostgreSQL 12–18), so
    /// "add it `NOT VALID`, validate later" saves nothing for a domain.
    ///
    /// What is safe: add the domain constraint `NOT VALID` (no lock on the tables, no scan;
    /// new values are checked at once), and prove the old values table by table with an
    /// ordinary `CHECK` constraint on each column of the domain, added `NOT VALID` and then
    /// validated under `SHARE UPDATE EXCLUSIVE`, which lets reads and writes continue. The
    /// domain constraint itself stays marked not validated.
    ///
    /// ## Example
    /// ```sql
    /// ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE > 0);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE > 0) NOT VALID;
    /// -- for each table column of the domain, e.g. orders.total:
    /// ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0) NOT VALID;
    /// ALTER TABLE orders VALIDATE CONSTRAINT orders_total_positive;  -- separate transaction
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER DOMAIN](https://www.postgresql.org/docs/current/sql-alterdomain.html)
    pub(crate) struct AddDomainConstraint {
        name: "add-domain-constraint",
        category: Locking,
        severity: Error,
        summary: "adding or validating a domain constraint scans every table using the domain while blocking their writes",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).referenced(Effect::lock(Share).scan()),
        ],
    }
}

impl Rule for AddDomainConstraint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::AlterDomain { name, action } = &statement.kind else {
            return;
        };
        let (not_null, constraint_name) = match action {
            AlterDomainAction::AddConstraint {
                constraint,
                not_valid: false,
            } => (constraint.not_null, constraint.name.clone()),
            AlterDomainAction::SetNotNull => (true, None),
            AlterDomainAction::ValidateConstraint { name: constraint } => {
                report_validate(cx, name, constraint, statement, out);
                return;
            }
            _ => return,
        };
        let Some(users) = using_tables(cx, name) else {
            return;
        };
        let check = quote_ident(&constraint_name.unwrap_or_else(|| {
            format!(
                "{}_{}",
                name.name,
                if not_null { "not_null" } else { "check" }
            )
        }));
        let add = if not_null {
            format!(
                "ALTER DOMAIN {name} ADD CONSTRAINT {check} CHECK (VALUE IS NOT NULL) NOT VALID;"
            )
        } else {
            format!(
                "{} NOT VALID;",
                source_or(
                    cx.source,
                    &statement.range,
                    format!("ALTER DOMAIN {name} ADD CONSTRAINT {check} CHECK (…)")
                )
            )
        };
        let what = if not_null {
            format!("making the domain `{name}` NOT NULL")
        } else {
            format!("adding a CHECK constraint to the domain `{name}`")
        };
        out.report(
            statement.range.clone(),
            format!(
                "{what} checks every value of it under a SHARE lock on {users}, blocking every INSERT, UPDATE and DELETE on them until the scans end"
            ),
            steps(
                "add it without the scan; new values are checked at once:",
                &[
                    format!("{add}  -- no lock on the tables, no scan"),
                    table_checks(&users),
                    format!("do not run ALTER DOMAIN {name} VALIDATE CONSTRAINT {check}: it scans every table under SHARE again; leave the domain constraint NOT VALID"),
                ],
            ),
        );
    }
}

/// The existing tables that use the domain, as a list for messages; `None` when the schema
/// knows every user and none is an existing table.
fn using_tables(cx: &Context<'_>, name: &crate::model::Name) -> Option<String> {
    if cx.schema.domain(name).is_none() {
        return Some("every table with a column of this domain".to_owned());
    }
    let mut tables: Vec<String> = Vec::new();
    for (table, _) in cx.schema.domain_users(name) {
        let t = format!("`{table}`");
        if !cx.is_new_table(&table) && !tables.contains(&t) {
            tables.push(t);
        }
    }
    (!tables.is_empty()).then(|| tables.join(", "))
}

/// The step that proves old values without the SHARE lock: a table CHECK per column.
fn table_checks(users: &str) -> String {
    format!(
        "prove the old values table by table instead, for each column of the domain in {users}: ALTER TABLE t ADD CONSTRAINT … CHECK (<the condition on the column>) NOT VALID; then, in a separate transaction, ALTER TABLE t VALIDATE CONSTRAINT …;  -- SHARE UPDATE EXCLUSIVE: reads and writes continue"
    )
}

fn report_validate(
    cx: &Context<'_>,
    name: &crate::model::Name,
    constraint: &str,
    statement: &Statement,
    out: &mut Findings,
) {
    let Some(users) = using_tables(cx, name) else {
        return;
    };
    out.report(
        statement.range.clone(),
        format!(
            "validating `{constraint}` of the domain `{name}` checks every value of it under a SHARE lock on {users}, blocking every INSERT, UPDATE and DELETE on them until the scans end: unlike a table's VALIDATE CONSTRAINT, a domain's takes SHARE"
        ),
        steps(
            "leave the domain constraint NOT VALID (it already checks new values):",
            &[table_checks(&users)],
        ),
    );
}

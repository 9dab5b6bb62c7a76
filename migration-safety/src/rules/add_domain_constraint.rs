use crate::context::Context;
use crate::model::{AlterDomainAction, Statement, StatementKind, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{source_or, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER DOMAIN … ADD CONSTRAINT … CHECK (…)` without `NOT VALID`, and
    /// `ALTER DOMAIN … ADD NOT NULL` / `SET NOT NULL`, when a table that existed before this
    /// migration may have a column of the domain. When earlier migrations created the domain,
    /// the rule knows every table that uses it and is quiet if none is an existing table.
    ///
    /// ## Why is this bad?
    /// PostgreSQL checks every column of the domain in every table that uses it, holding a
    /// `SHARE` lock on each of those tables, which blocks every `INSERT`, `UPDATE` and `DELETE`
    /// on all of them for the whole scan. Added `NOT VALID`, a `CHECK` applies to new values at
    /// once, without the scan. `ALTER DOMAIN … VALIDATE CONSTRAINT` still scans under a `SHARE`
    /// lock, so run it when the tables are quiet, or leave old values unchecked.
    ///
    /// ## Example
    /// ```sql
    /// ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE > 0);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER DOMAIN price ADD CONSTRAINT price_positive CHECK (VALUE > 0) NOT VALID;
    /// -- later, at a quiet time:
    /// ALTER DOMAIN price VALIDATE CONSTRAINT price_positive;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER DOMAIN](https://www.postgresql.org/docs/current/sql-alterdomain.html)
    pub(crate) struct AddDomainConstraint {
        name: "add-domain-constraint",
        category: Locking,
        severity: Error,
        summary: "adding a validated domain constraint scans every table using the domain while blocking their writes",
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
            _ => return,
        };
        let users = if cx.schema.domain(name).is_some() {
            let users: Vec<_> = cx
                .schema
                .domain_users(name)
                .into_iter()
                .filter(|(table, _)| !cx.is_new_table(table))
                .collect();
            if users.is_empty() {
                return;
            }
            let mut tables: Vec<String> = Vec::new();
            for (table, _) in &users {
                let t = format!("`{table}`");
                if !tables.contains(&t) {
                    tables.push(t);
                }
            }
            tables.join(", ")
        } else {
            "every table with a column of this domain".to_owned()
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
                    format!("{add}  -- no scan"),
                    format!("later, at a quiet time: ALTER DOMAIN {name} VALIDATE CONSTRAINT {check};  -- still scans under SHARE"),
                ],
            ),
        );
    }
}

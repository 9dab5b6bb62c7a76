use crate::context::{Context, Created};
use crate::model::{Name, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::steps;

declare_rule! {
    /// ## What it does
    /// Flags `DROP SCHEMA … CASCADE` of a schema that existed before this migration. Without
    /// `CASCADE` PostgreSQL drops only an empty schema (and fails otherwise), so that form is
    /// not flagged.
    ///
    /// ## Why is this bad?
    /// `CASCADE` drops every table, view, function and type in the schema, and everything
    /// elsewhere that depends on them, with their data: the application version still running
    /// breaks on every query that touches them. The drop takes an `ACCESS EXCLUSIVE` lock on
    /// every table in the schema, blocking every read and write on them while it waits.
    ///
    /// ## Example
    /// ```sql
    /// DROP SCHEMA reporting CASCADE;
    /// ```
    ///
    /// ## Use instead
    /// Drop what the schema contains explicitly, one object at a time, once no running code
    /// uses it; then drop the empty schema without `CASCADE`, which fails instead of taking
    /// something unexpected with it:
    /// ```sql
    /// DROP VIEW reporting.monthly_sales;
    /// DROP TABLE reporting.sales_facts;
    /// DROP SCHEMA reporting;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [DROP SCHEMA](https://www.postgresql.org/docs/current/sql-dropschema.html)
    pub(crate) struct DropSchema {
        name: "drop-schema",
        category: BackwardIncompatible,
        severity: Error,
        summary: "DROP SCHEMA … CASCADE drops every object in the schema",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).referenced(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for DropSchema {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let Some(names) = statement.kind.drop_of("SCHEMA") else {
            return;
        };
        if !statement.written.cascade {
            return;
        }
        for schema in names {
            let schema = &schema.name;
            if cx.created_earlier_in_file(Created::Schema, &Name::new(schema.clone())) {
                continue;
            }
            let schema = crate::model::quote_ident(schema);
            out.report(
                statement.range.clone(),
                format!(
                    "`DROP SCHEMA {schema} CASCADE` drops every table, view, function and type in `{schema}` and everything that depends on them, with their data, breaking the application version still running if it uses any of them; it takes an ACCESS EXCLUSIVE lock on every table in `{schema}`, blocking every read and write on them while it waits"
                ),
                steps(
                    "retire the schema explicitly:",
                    &[
                        format!("deploy code that no longer uses anything in `{schema}`"),
                        format!("drop its objects one by one in a later migration (DROP TABLE {schema}.<table>; …), each under a lock_timeout"),
                        format!("then DROP SCHEMA {schema};  -- without CASCADE: it fails if something was missed"),
                    ],
                ),
            );
        }
    }
}

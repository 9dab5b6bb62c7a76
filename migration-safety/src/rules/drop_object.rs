use crate::context::{Context, Created};
use crate::model::{AlterTypeAction, Statement, StatementKind, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{dropped_defaults, steps};

declare_rule! {
    /// ## What it does
    /// Flags dropping an object that existed before this migration and that running code may
    /// use: a view or materialized view, a function or procedure, a type or domain, a sequence,
    /// a trigger, the default of a nullable column; and `ALTER TYPE … DROP VALUE`, which no
    /// PostgreSQL version can run. An object the same migration creates, or creates again after
    /// dropping it, is not reported. (`drop-table`, `drop-column`, `drop-schema` and
    /// `drop-required-column-default` cover tables, columns, schemas and the defaults of
    /// `NOT NULL` columns.)
    ///
    /// ## Why is this bad?
    /// The application version still running during the deploy was written against the old
    /// schema. Once the drop commits, its queries that read the view, call the function, cast to
    /// the type or call `nextval` on the sequence fail; a dropped trigger silently stops doing
    /// its work (an audit row, a computed column) for the writes of both versions; without its
    /// default, a column the old version leaves out of its `INSERT`s gets NULL instead of the
    /// value it expects. `ALTER TYPE … DROP VALUE` is a syntax error before PostgreSQL 17 and
    /// fails with "dropping an enum value is not implemented" on 17 and 18, so the migration
    /// fails on every version.
    ///
    /// The drop itself is brief, but it takes an `ACCESS EXCLUSIVE` lock on the dropped view or
    /// sequence, and on the table of a dropped trigger or column default, blocking every read
    /// and write of it (every `nextval` of the sequence) while it waits; functions, procedures
    /// and types take no lock on a table (measured on PostgreSQL 12–18).
    ///
    /// ## Example
    /// ```sql
    /// DROP VIEW active_users;
    /// DROP FUNCTION normalize_email(text);
    /// ```
    ///
    /// ## Use instead
    /// Drop in two deploys: first deploy code that no longer uses the object, then drop it in a
    /// later migration and say why it is safe:
    /// ```sql
    /// -- migration-safety: ignore drop-object -- unused since release 42
    /// DROP VIEW active_users;
    /// ```
    /// To retire an enum value, stop writing it, update the rows that hold it, and recreate
    /// the type without it (a new type, a column change, a rename).
    ///
    /// ## References
    /// - PostgreSQL documentation: [DROP VIEW](https://www.postgresql.org/docs/current/sql-dropview.html), [DROP FUNCTION](https://www.postgresql.org/docs/current/sql-dropfunction.html), [ALTER TYPE](https://www.postgresql.org/docs/current/sql-altertype.html)
    pub(crate) struct DropObject {
        name: "drop-object",
        category: BackwardIncompatible,
        severity: Error,
        summary: "dropping a view, function, procedure, type, sequence, trigger or column default breaks the code still using it",
        since: "0.2.0",
        claims: [
            // A view, a sequence, or the table of a trigger or column default.
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
            // A function, procedure or type.
            Claim::takes(12..=18),
            Claim::fails(12..=16, "syntax error at or near \"VALUE\""),
            Claim::fails(17..=18, "dropping an enum value is not implemented"),
        ],
    }
}

impl Rule for DropObject {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let two_deploys = |what: &str, rule_example: &str| {
            steps(
                &format!("drop {what} in two deploys:"),
                &[
                    format!("deploy code that no longer uses {what}"),
                    format!(
                        "then drop it in a later migration, saying why it is safe: -- migration-safety: ignore drop-object -- {rule_example} unused since <release>"
                    ),
                ],
            )
        };
        match &statement.kind {
            StatementKind::Drop { object, names } => {
                let (kind, created) = match object.keyword() {
                    "VIEW" => ("view", Created::View),
                    "MATERIALIZED VIEW" => ("materialized view", Created::MaterializedView),
                    "TYPE" => ("type", Created::Type),
                    "FUNCTION" => ("function", Created::Function),
                    "PROCEDURE" => ("procedure", Created::Procedure),
                    "ROUTINE" => ("routine", Created::Function),
                    "SEQUENCE" => ("sequence", Created::Sequence),
                    "DOMAIN" => ("domain", Created::Domain),
                    _ => return,
                };
                for name in names {
                    // New in this migration, or dropped to be created again: no running code
                    // loses it.
                    if cx.created_earlier_in_file(created, name)
                        || cx.created_later_in_file(created, name)
                    {
                        continue;
                    }
                    out.report(
                        statement.range.clone(),
                        format!(
                            "dropping {kind} `{name}` breaks the application version still running if it still uses `{name}`: its queries fail once the drop commits"
                        ),
                        two_deploys(&format!("`{name}`"), &format!("`{name}`")),
                    );
                }
            }
            StatementKind::Trigger {
                table,
                command: "DROP TRIGGER",
            } => {
                if cx.is_new_table(table) {
                    return;
                }
                out.report(
                    statement.range.clone(),
                    format!(
                        "dropping a trigger of `{table}` stops its work for the writes of the application version still running, which may rely on it; the drop also takes an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write while it waits"
                    ),
                    two_deploys("the trigger", "the trigger"),
                );
            }
            StatementKind::AlterType {
                name,
                action: AlterTypeAction::DropValue { value },
            } => out.report(
                statement.range.clone(),
                format!(
                    "PostgreSQL cannot drop the value '{value}' of enum `{name}`: this is a syntax error before PostgreSQL 17 and fails with \"dropping an enum value is not implemented\" on 17 and 18, so the migration fails"
                ),
                steps(
                    &format!("retire '{value}' instead:"),
                    &[
                        format!("deploy code that no longer writes '{value}', and update the rows that hold it"),
                        format!("create a type without it, change the columns to it (USING col::text::new_type), drop `{name}` and rename the new type"),
                    ],
                ),
            ),
            _ => {
                // NOT NULL columns: `drop-required-column-default`.
                for dropped in dropped_defaults(cx, statement) {
                    if dropped.not_null {
                        continue;
                    }
                    let (table, column) = (dropped.table, dropped.column);
                    out.report(
                        dropped.range,
                        format!(
                            "dropping the default of `{table}.{column}` changes what the application version still running stores: its INSERTs that leave `{column}` out get NULL instead of the default"
                        ),
                        steps(
                            "drop the default in two deploys:",
                            &[
                                format!("deploy code that always sets `{column}` on INSERT"),
                                format!("then, in a later migration: ALTER TABLE {table} ALTER COLUMN {} DROP DEFAULT;", quote_ident(column)),
                            ],
                        ),
                    );
                }
            }
        }
    }
}

use crate::context::Context;
use crate::model::{ActionKind, Generated, Statement, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, batched_update, not_null_steps, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD COLUMN` on an existing table when the column's definition makes
    /// PostgreSQL rewrite the table even without a `DEFAULT`:
    /// - a `serial`, `bigserial` or `smallserial` column;
    /// - a `GENERATED { ALWAYS | BY DEFAULT } AS IDENTITY` column;
    /// - a `GENERATED ALWAYS AS (…) STORED` column;
    /// - a column of a domain that has `CHECK` or `NOT NULL` constraints (known from earlier
    ///   migrations).
    ///
    /// PostgreSQL 18's virtual generated columns (`GENERATED ALWAYS AS (…)` without `STORED`)
    /// and domains without constraints do not rewrite and are not flagged; when the target is
    /// older than PostgreSQL 18, a virtual generated column is flagged because PostgreSQL
    /// rejects it.
    ///
    /// ## Why is this bad?
    /// Every existing row needs its own value (from the new sequence, the generation
    /// expression, or the domain's checks applied to `NULL`), so PostgreSQL rewrites the whole
    /// table and rebuilds every index while holding an `ACCESS EXCLUSIVE` lock, which blocks
    /// every read and write until the rewrite ends.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events ADD COLUMN seq bigserial;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE events ADD COLUMN seq bigint;
    /// CREATE SEQUENCE events_seq_seq OWNED BY events.seq;
    /// ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq_seq');  -- new rows only
    /// UPDATE events SET seq = nextval('events_seq_seq')
    ///   WHERE ctid IN (SELECT ctid FROM events WHERE seq IS NULL LIMIT 10000);  -- repeat until 0 rows
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, Notes](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-NOTES)
    /// - [Generated columns](https://www.postgresql.org/docs/current/ddl-generated-columns.html)
    pub(crate) struct AddColumnRewritesTable {
        name: "add-column-rewrites-table",
        category: Rewrite,
        severity: Error,
        summary: "adding a serial, identity, stored generated or constrained-domain column rewrites the table",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::fails(12..=17, "syntax error"),
        ],
    }
}

impl Rule for AddColumnRewritesTable {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AddColumn(column) = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let name = &column.name;
            let col = quote_ident(name);
            let ty = &column.data_type;
            let sequence = quote_ident(&format!("{}_{name}_seq", table.name));
            let sequence_plan = |int: &str| {
                vec![
                    format!("ALTER TABLE {table} ADD COLUMN {col} {int};"),
                    format!("CREATE SEQUENCE {sequence} OWNED BY {table}.{col};"),
                    format!(
                        "ALTER TABLE {table} ALTER COLUMN {col} SET DEFAULT nextval('{sequence}');  -- new rows only, no rewrite"
                    ),
                    batched_update(
                        table,
                        &format!("{col} = nextval('{sequence}')"),
                        &format!("{col} IS NULL"),
                    ),
                ]
                .into_iter()
                .chain(
                    not_null_steps(cx.pg_version(), table, name)
                        .iter()
                        .map(ToString::to_string),
                )
                .collect::<Vec<_>>()
            };
            let (why, intro, plan) = if ty.is_serial() {
                let int = match ty.name.as_str() {
                    "serial8" => "bigint",
                    "serial2" => "smallint",
                    _ => "integer",
                };
                (
                    format!(
                        "adding `{name}` as `{ty}` gives every existing row its own value from a new sequence"
                    ),
                    "add a plain column and fill it from a sequence in batches:",
                    sequence_plan(int),
                )
            } else if column.generated == Some(Generated::Identity) {
                (
                    format!(
                        "adding `{name}` as an identity column gives every existing row its own value from a new sequence"
                    ),
                    "add a plain column and fill it from a sequence in batches:",
                    {
                        let mut plan = sequence_plan(&ty.text);
                        plan.push(format!(
                            "to make it an identity column (no rewrite once it is NOT NULL): ALTER TABLE {table} ALTER COLUMN {col} DROP DEFAULT; DROP SEQUENCE {sequence}; ALTER TABLE {table} ALTER COLUMN {col} ADD GENERATED BY DEFAULT AS IDENTITY (START WITH <max({col}) + 1>);"
                        ));
                        plan
                    },
                )
            } else if column.generated == Some(Generated::Stored) {
                let mut plan = vec![
                    format!("ALTER TABLE {table} ADD COLUMN {col} {ty};"),
                    format!(
                        "compute `{name}` for new and changed rows with a BEFORE INSERT OR UPDATE trigger on {table}"
                    ),
                    batched_update(
                        table,
                        &format!("{col} = <the generation expression>"),
                        &format!("{col} IS NULL"),
                    ),
                ];
                if cx.pg_version() >= 18 {
                    plan.insert(0, format!("on PostgreSQL 18 a virtual generated column (GENERATED ALWAYS AS (…) without STORED) is computed on read and never rewrites: use it if `{name}` need not be stored or indexed; otherwise:"));
                }
                (
                    format!(
                        "adding `{name}` as a STORED generated column computes and stores it for every existing row"
                    ),
                    "add a plain column kept up to date by a trigger instead:",
                    plan,
                )
            } else if column.generated == Some(Generated::Virtual) && cx.pg_version() < 18 {
                out.report(
                    action.range.clone(),
                    format!(
                        "a virtual generated column needs PostgreSQL 18, but the target is {}: PostgreSQL rejects `{name}` without STORED, and STORED rewrites the whole table `{table}` under an ACCESS EXCLUSIVE lock",
                        cx.pg_version()
                    ),
                    steps(
                        "before PostgreSQL 18, add a plain column kept up to date by a trigger instead:",
                        &[
                            format!("ALTER TABLE {table} ADD COLUMN {col} {ty};"),
                            format!("compute `{name}` for new and changed rows with a BEFORE INSERT OR UPDATE trigger on {table}"),
                            batched_update(table, &format!("{col} = <the generation expression>"), &format!("{col} IS NULL")),
                        ],
                    ),
                );
                continue;
            } else if let Some(domain) = cx
                .schema
                .domain_of(ty)
                .filter(|d| !d.constraints.is_empty())
            {
                (
                    format!(
                        "adding `{name}` of the domain `{}`, which has constraints, checks them against every existing row",
                        domain.name
                    ),
                    "add the column as the base type and enforce the domain's rule with a table CHECK added without a scan:",
                    vec![
                        format!("ALTER TABLE {table} ADD COLUMN {col} {};", domain.base),
                        format!(
                            "if it needs values: {}",
                            batched_update(table, &format!("{col} = …"), &format!("{col} IS NULL"))
                        ),
                        format!(
                            "ALTER TABLE {table} ADD CONSTRAINT {} CHECK (<the domain's check on {col}>) NOT VALID;",
                            quote_ident(&format!("{}_{name}_check", table.name))
                        ),
                        format!(
                            "ALTER TABLE {table} VALIDATE CONSTRAINT {};  -- in a separate transaction: SHARE UPDATE EXCLUSIVE, reads and writes continue",
                            quote_ident(&format!("{}_{name}_check", table.name))
                        ),
                    ],
                )
            } else {
                continue;
            };
            out.report(
                action.range.clone(),
                format!("{why}: PostgreSQL rewrites the whole table `{table}` and all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write until the rewrite ends"),
                steps(intro, &plan),
            );
        }
    }
}

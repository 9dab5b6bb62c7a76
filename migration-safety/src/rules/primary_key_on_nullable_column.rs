use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Name, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, not_null_steps, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] PRIMARY KEY USING INDEX …` on a table that existed
    /// before this migration when a column of the index is not known to be `NOT NULL`: neither
    /// declared so, nor (PostgreSQL 12+) proven by a validated `CHECK (col IS NOT NULL)`, in the
    /// migrations checked.
    ///
    /// ## Why is this bad?
    /// Attaching a prebuilt unique index as the primary key builds nothing, but a primary key
    /// makes its columns `NOT NULL`, and PostgreSQL proves that by scanning the whole table
    /// while it holds the `ACCESS EXCLUSIVE` lock of the `ALTER TABLE`, blocking every read and
    /// write until the scan ends. The "build the index concurrently, then attach it" recipe
    /// only stays online when the columns are already known `NOT NULL`.
    ///
    /// ## Example
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY accounts_code_key ON accounts (code);
    /// ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_code_key;
    /// ```
    ///
    /// ## Use instead
    /// Prove the columns non-null first, without the long lock (PostgreSQL 12+):
    /// ```sql
    /// ALTER TABLE accounts ADD CONSTRAINT accounts_code_not_null CHECK (code IS NOT NULL) NOT VALID;
    /// ALTER TABLE accounts VALIDATE CONSTRAINT accounts_code_not_null;  -- separate transaction
    /// ALTER TABLE accounts ALTER COLUMN code SET NOT NULL;  -- no scan
    /// ALTER TABLE accounts ADD CONSTRAINT accounts_pkey PRIMARY KEY USING INDEX accounts_code_key;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint_using_index](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX)
    pub(crate) struct PrimaryKeyOnNullableColumn {
        name: "primary-key-on-nullable-column",
        category: Locking,
        severity: Error,
        summary: "ADD PRIMARY KEY USING INDEX on columns not known NOT NULL scans the table under ACCESS EXCLUSIVE",
        since: "0.2.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()).index(Effect::lock(ShareUpdateExclusive)),
        ],
    }
}

impl Rule for PrimaryKeyOnNullableColumn {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::AddConstraint { constraint, .. } = &action.kind else {
                continue;
            };
            let ConstraintKind::PrimaryKey {
                using_index: Some(index),
                ..
            } = &constraint.kind
            else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let index_name = Name {
                schema: table.schema.clone(),
                name: index.clone(),
            };
            let known_index = cx.schema.index(&index_name);
            let known_table = cx.schema.table(table);
            let proven = |column: &str| {
                known_table.is_some_and(|t| {
                    t.column(column).is_some_and(|c| c.not_null)
                        || (cx.pg_version() >= 12 && t.proves_not_null(column))
                })
            };
            let (message, plan) = match known_index {
                Some(known) => {
                    let nullable: Vec<&String> =
                        known.columns.iter().filter(|c| !proven(c)).collect();
                    if nullable.is_empty() {
                        continue;
                    }
                    let list = nullable
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let mut plan: Vec<String> = nullable
                        .iter()
                        .flat_map(|c| not_null_steps(cx.pg_version(), table, c))
                        .map(|step| step.to_string())
                        .collect();
                    plan.push(format!(
                        "then attach the index: ALTER TABLE {table} ADD PRIMARY KEY USING INDEX {};  -- no scan",
                        crate::model::quote_ident(index)
                    ));
                    (
                        format!(
                            "making `{index}` the primary key of `{table}` makes {list} NOT NULL, which PostgreSQL proves by scanning the whole table under an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write until the scan ends: {list} not known to be NOT NULL"
                        ),
                        plan,
                    )
                }
                None => (
                    format!(
                        "making `{index}` the primary key of `{table}` scans the whole table under an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write, unless every column of `{index}` is already NOT NULL; the index is not known from the migrations checked, so this cannot be proven safe"
                    ),
                    vec![format!(
                        "make each column of `{index}` NOT NULL first (ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT, SET NOT NULL), then ADD PRIMARY KEY USING INDEX"
                    )],
                ),
            };
            out.report(
                action.range.clone(),
                message,
                steps(
                    "prove the columns non-null without the long lock first:",
                    &plan,
                ),
            );
        }
    }
}

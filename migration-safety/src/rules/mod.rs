//! The rules, one per file, and the registry that lists them.

use std::ops::Range;

use crate::Error;
use crate::context::Context;
use crate::model::{
    Action, ActionKind, AlterTable, ColumnDef, ConstraintKind, Name, Statement, StatementKind,
    TypeName, quote_ident,
};
use crate::rule::{Category, Findings, Rule, RuleMeta};

mod add_check_constraint;
mod add_column_required;
mod add_column_rewrites_table;
mod add_column_with_default;
mod add_domain_constraint;
mod add_exclusion_constraint;
mod add_foreign_key;
mod add_primary_key;
mod add_unique_constraint;
mod attach_partition_without_check;
mod change_column_type;
mod concurrently_if_not_exists;
mod concurrently_in_transaction;
mod concurrently_on_partitioned_table;
mod create_index_non_concurrently;
mod create_table_partition_of;
mod detach_partition_non_concurrently;
mod drop_column;
mod drop_database;
mod drop_index_non_concurrently;
mod drop_object;
mod drop_required_column_default;
mod drop_schema;
mod drop_table;
mod enum_value_in_transaction;
mod extension_in_migration;
mod foreign_key_without_index;
mod ineffective_transaction_marker;
mod invalid_suppression;
mod lock_table;
pub(crate) mod missing_lock_timeout;
mod prefer_bigint;
mod prefer_identity;
mod prefer_jsonb;
mod prefer_text;
mod prefer_timestamptz;
mod primary_key_on_nullable_column;
mod refresh_materialized_view_non_concurrently;
mod reindex_non_concurrently;
mod rename_column;
mod rename_enum_value;
mod rename_table;
mod rename_view;
mod schema_drift;
mod set_not_null;
mod set_schema;
mod syntax_error;
mod table_rewrite;
mod truncate_table;
mod unanalyzed_statement;
mod unbalanced_transaction;
mod unbatched_backfill;
mod unused_suppression;
mod vacuum_in_transaction;
mod validate_constraint_in_same_transaction;

/// Rules the engine reports itself rather than through a statement check.
pub(crate) mod meta {
    use crate::rule::RuleMeta;

    pub(crate) const SYNTAX_ERROR: &RuleMeta = &super::syntax_error::SyntaxError::META;
    pub(crate) const UNUSED_SUPPRESSION: &RuleMeta =
        &super::unused_suppression::UnusedSuppression::META;
    pub(crate) const INVALID_SUPPRESSION: &RuleMeta =
        &super::invalid_suppression::InvalidSuppression::META;
    pub(crate) const INEFFECTIVE_TRANSACTION_MARKER: &RuleMeta =
        &super::ineffective_transaction_marker::IneffectiveTransactionMarker::META;
    pub(crate) const SCHEMA_DRIFT: &RuleMeta = &super::schema_drift::SchemaDrift::META;
}

/// Every statement check, in the order findings are produced.
pub(crate) static ALL: &[&dyn Rule] = &[
    &syntax_error::SyntaxError,
    &unanalyzed_statement::UnanalyzedStatement,
    &rename_column::RenameColumn,
    &rename_table::RenameTable,
    &rename_view::RenameView,
    &change_column_type::ChangeColumnType,
    &add_column_with_default::AddColumnWithDefault,
    &add_column_required::AddColumnRequired,
    &add_column_rewrites_table::AddColumnRewritesTable,
    &set_not_null::SetNotNull,
    &add_check_constraint::AddCheckConstraint,
    &add_foreign_key::AddForeignKey,
    &add_unique_constraint::AddUniqueConstraint,
    &add_primary_key::AddPrimaryKey,
    &primary_key_on_nullable_column::PrimaryKeyOnNullableColumn,
    &add_exclusion_constraint::AddExclusionConstraint,
    &validate_constraint_in_same_transaction::ValidateConstraintInSameTransaction,
    &add_domain_constraint::AddDomainConstraint,
    &create_index_non_concurrently::CreateIndexNonConcurrently,
    &concurrently_on_partitioned_table::ConcurrentlyOnPartitionedTable,
    &drop_index_non_concurrently::DropIndexNonConcurrently,
    &reindex_non_concurrently::ReindexNonConcurrently,
    &create_table_partition_of::CreateTablePartitionOf,
    &attach_partition_without_check::AttachPartitionWithoutCheck,
    &detach_partition_non_concurrently::DetachPartitionNonConcurrently,
    &concurrently_in_transaction::ConcurrentlyInTransaction,
    &concurrently_if_not_exists::ConcurrentlyIfNotExists,
    &unbalanced_transaction::UnbalancedTransaction,
    &drop_column::DropColumn,
    &drop_table::DropTable,
    &drop_object::DropObject,
    &drop_required_column_default::DropRequiredColumnDefault,
    &drop_database::DropDatabase,
    &extension_in_migration::ExtensionInMigration,
    &set_schema::SetSchema,
    &drop_schema::DropSchema,
    &rename_enum_value::RenameEnumValue,
    &enum_value_in_transaction::EnumValueInTransaction,
    &table_rewrite::TableRewrite,
    &refresh_materialized_view_non_concurrently::RefreshMaterializedViewNonConcurrently,
    &truncate_table::TruncateTable,
    &lock_table::LockTable,
    &unbatched_backfill::UnbatchedBackfill,
    &vacuum_in_transaction::VacuumInTransaction,
    &missing_lock_timeout::MissingLockTimeout,
    &prefer_bigint::PreferBigint,
    &prefer_identity::PreferIdentity,
    &prefer_text::PreferText,
    &prefer_timestamptz::PreferTimestamptz,
    &prefer_jsonb::PreferJsonb,
    &foreign_key_without_index::ForeignKeyWithoutIndex,
];

/// Every rule's metadata, sorted by name.
pub(crate) fn all() -> &'static [&'static RuleMeta] {
    // Built once: a rule is looked up by name for every finding.
    static ALL_SORTED: std::sync::OnceLock<Vec<&'static RuleMeta>> = std::sync::OnceLock::new();
    ALL_SORTED.get_or_init(|| {
        let mut all: Vec<&'static RuleMeta> = ALL
            .iter()
            .map(|r| r.meta())
            .chain([
                meta::UNUSED_SUPPRESSION,
                meta::INVALID_SUPPRESSION,
                meta::INEFFECTIVE_TRANSACTION_MARKER,
                meta::SCHEMA_DRIFT,
            ])
            .collect();
        all.sort_by_key(|m| m.name);
        all
    })
}

/// Find a rule by name; the error suggests the closest name.
pub(crate) fn lookup(name: &str) -> Result<&'static RuleMeta, Error> {
    find(name).ok_or_else(|| unknown_rule(name, &[]))
}

/// The rules a rule or category name selects: the rule, or every rule of the category.
pub(crate) fn select(name: &str) -> Result<Vec<&'static RuleMeta>, Error> {
    if let Some(category) = Category::from_name(name) {
        return Ok(all()
            .iter()
            .copied()
            .filter(|m| m.category == category)
            .collect());
    }
    let categories = Category::ALL.map(Category::as_str);
    find(name)
        .map(|rule| vec![rule])
        .ok_or_else(|| unknown_rule(name, &categories))
}

fn find(name: &str) -> Option<&'static RuleMeta> {
    let all = all();
    all.binary_search_by_key(&name, |m| m.name)
        .ok()
        .map(|at| all[at])
}

/// An unknown rule name, with the closest rule (or one of `also`) as a suggestion.
fn unknown_rule(name: &str, also: &[&str]) -> Error {
    let names = all().iter().map(|m| m.name);
    Error::UnknownRule {
        name: name.to_owned(),
        suggestion: did_you_mean(name, names.chain(also.iter().copied())).map(str::to_owned),
    }
}

pub(crate) use migration_safety_core::did_you_mean;

/// The actions of an `ALTER TABLE` statement.
pub(crate) fn alter_actions(statement: &Statement) -> impl Iterator<Item = (&AlterTable, &Action)> {
    let alter = match &statement.kind {
        StatementKind::AlterTable(alter) => Some(alter),
        _ => None,
    };
    alter
        .into_iter()
        .flat_map(|a| a.actions.iter().map(move |action| (a, action)))
}

/// The actions of an `ALTER TABLE` of a table that existed before this migration, with the
/// table (a table the same migration created is new and empty: nothing waits on it).
pub(crate) fn existing_table_actions<'s>(
    cx: &Context<'_>,
    statement: &'s Statement,
) -> impl Iterator<Item = (&'s Name, &'s Action)> {
    alter_actions(statement)
        .filter(|(alter, _)| !cx.is_new_table(&alter.table))
        .map(|(alter, action)| (&alter.table, action))
}

/// A `DROP DEFAULT` of a column of a table that existed before this migration.
pub(crate) struct DroppedDefault<'s> {
    pub(crate) table: &'s Name,
    pub(crate) column: &'s str,
    pub(crate) range: Range<usize>,
    /// The column is known to be `NOT NULL`.
    pub(crate) not_null: bool,
}

/// The `ALTER COLUMN … DROP DEFAULT` actions of the statement on existing tables.
pub(crate) fn dropped_defaults<'s>(
    cx: &Context<'_>,
    statement: &'s Statement,
) -> Vec<DroppedDefault<'s>> {
    alter_actions(statement)
        .filter_map(|(alter, action)| match &action.kind {
            ActionKind::DropDefault { column } if !cx.is_new_table(&alter.table) => {
                Some(DroppedDefault {
                    table: &alter.table,
                    column,
                    range: action.range.clone(),
                    not_null: cx
                        .schema
                        .table(&alter.table)
                        .and_then(|t| t.column(column))
                        .is_some_and(|c| c.not_null),
                })
            }
            _ => None,
        })
        .collect()
}

/// Whether an index on `indexed` can find rows by `columns`: it starts with them, in any order.
pub(crate) fn leads_with(indexed: &[String], columns: &[String]) -> bool {
    !columns.is_empty()
        && indexed.len() >= columns.len()
        && indexed[..columns.len()].iter().all(|c| columns.contains(c))
}

/// One step of a safe alternative: a runnable SQL statement (with the statement's real names)
/// and a note on what it locks, or a sentence where no statement can be written. The help
/// shows the steps; a fix runs the statements, so the two cannot disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    sql: Option<String>,
    note: String,
}

impl Step {
    /// A statement (ending with `;`) and a note, shown after it as an SQL comment.
    pub(crate) fn sql(sql: impl Into<String>, note: impl Into<String>) -> Self {
        Self {
            sql: Some(sql.into()),
            note: note.into(),
        }
    }

    /// A step that is not one statement (a choice, a loop over partitions).
    pub(crate) fn prose(text: impl Into<String>) -> Self {
        Self {
            sql: None,
            note: text.into(),
        }
    }

    /// The statements of a plan, when every step is one.
    pub(crate) fn runnable(plan: &[Step]) -> Option<Vec<String>> {
        plan.iter().map(|step| step.sql.clone()).collect()
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.sql, self.note.is_empty()) {
            (Some(sql), true) => f.write_str(sql),
            (Some(sql), false) => write!(f, "{sql}  -- {}", self.note),
            (None, _) => f.write_str(&self.note),
        }
    }
}

/// The steps that make `column` NOT NULL without a long lock: a `NOT VALID` constraint,
/// validated in a separate transaction. Before PostgreSQL 18 it is a check, which (from 12)
/// spares `SET NOT NULL` its scan and is then dropped; on 18 it is the native `NOT NULL`
/// constraint, named as `SET NOT NULL` would name it.
pub(crate) fn not_null_steps(pg_version: u32, table: &Name, column: &str) -> Vec<Step> {
    let (mut plan, cleanup) = not_null_proof(pg_version, table, column);
    if (12..18).contains(&pg_version) {
        plan.push(Step::sql(
            format!(
                "ALTER TABLE {table} ALTER COLUMN {} SET NOT NULL;",
                quote_ident(column)
            ),
            "no scan: the validated check proves it",
        ));
    }
    plan.extend(cleanup);
    plan
}

/// What proves `column` non-null to PostgreSQL without a long lock, so that `SET NOT NULL` or
/// a primary key on it skips its scan: the steps before, and the steps that clean up after
/// (dropping the check once it has served). On PostgreSQL 18 the native constraint is the
/// column's `NOT NULL` itself; before 12 nothing spares the scan.
pub(crate) fn not_null_proof(
    pg_version: u32,
    table: &Name,
    column: &str,
) -> (Vec<Step>, Vec<Step>) {
    let name = format!("{}_{column}_not_null", table.name);
    if pg_version >= 18 {
        return (native_not_null_steps(table, column, &name), Vec::new());
    }
    let col = quote_ident(column);
    let check = quote_ident(&name);
    let proof = not_valid_then_validate(
        table,
        &check,
        &format!("CHECK ({col} IS NOT NULL)"),
        "brief lock, no scan",
        SCAN_WITHOUT_BLOCKING,
    )
    .to_vec();
    let cleanup = if pg_version >= 12 {
        vec![Step::sql(
            format!("ALTER TABLE {table} DROP CONSTRAINT {check};"),
            "",
        )]
    } else {
        vec![Step::prose(format!(
            "before PostgreSQL 12 (the target is {pg_version}) SET NOT NULL always scans: keep the validated check instead of SET NOT NULL"
        ))]
    };
    (proof, cleanup)
}

/// The first step of a plan for a constraint that came with a new `column` (none for a
/// constraint added on its own): `ADD COLUMN` with only the column's name, type and default,
/// without what it was declared with (`without`, such as `REFERENCES`), which the plan adds
/// separately.
pub(crate) fn add_column_without(
    table: &Name,
    column: Option<&ColumnDef>,
    without: &str,
) -> Vec<Step> {
    column
        .map(|column| add_bare_column(table, column, without))
        .into_iter()
        .collect()
}

fn add_bare_column(table: &Name, column: &ColumnDef, without: &str) -> Step {
    Step::sql(
        format!(
            "ALTER TABLE {table} ADD COLUMN {} {}{};",
            quote_ident(&column.name),
            column.data_type,
            // A default stays: it is the column's value, not the constraint.
            column
                .default
                .as_ref()
                .map_or_else(String::new, |d| format!(" DEFAULT {}", d.text))
        ),
        format!("without {without}"),
    )
}

/// A constraint added `NOT VALID` (`added`: what the brief lock does), then validated in a
/// separate transaction (`validated`: what that takes and lets continue).
pub(crate) fn not_valid_then_validate(
    table: &Name,
    constraint: &str,
    body: &str,
    added: &str,
    validated: &str,
) -> [Step; 2] {
    [
        Step::sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {constraint} {body} NOT VALID;"),
            added,
        ),
        Step::sql(
            format!("ALTER TABLE {table} VALIDATE CONSTRAINT {constraint};"),
            format!("in a separate transaction: {validated}"),
        ),
    ]
}

/// The fix of a constraint `name` added on its own: [`not_valid_then_validate`]'s plan in place
/// of the statement (see [`crate::fix::replace_statement`]).
pub(crate) fn not_valid_then_validate_fix(
    cx: &Context<'_>,
    rule: &'static str,
    statement: &Statement,
    name: &str,
    plan: &[Step],
) -> Option<crate::fix::Fix> {
    crate::fix::replace_statement(
        cx,
        rule,
        statement,
        format!("add `{name}` NOT VALID, then validate it"),
        Step::runnable(plan),
    )
}

/// PostgreSQL 18's native form: a `NOT NULL` constraint `name` added `NOT VALID`, then
/// validated.
pub(crate) fn native_not_null_steps(table: &Name, column: &str, name: &str) -> Vec<Step> {
    not_valid_then_validate(
        table,
        &quote_ident(name),
        &format!("NOT NULL {}", quote_ident(column)),
        "PostgreSQL 18: brief lock, no scan",
        SCAN_WITHOUT_BLOCKING,
    )
    .to_vec()
}

/// What `VALIDATE CONSTRAINT` takes, and lets continue.
pub(crate) const SCAN_WITHOUT_BLOCKING: &str =
    "scans under SHARE UPDATE EXCLUSIVE, reads and writes continue";

/// A batched backfill that needs no knowledge of the table's key: `ctid` batches.
pub(crate) fn batched_update(table: &Name, set: &str, pending: &str) -> String {
    format!(
        "UPDATE {table} SET {set} WHERE ctid IN (SELECT ctid FROM {table} WHERE {pending} LIMIT 10000);  -- backfill in batches: repeat until it updates 0 rows"
    )
}

/// Number the steps of a phased plan.
pub(crate) fn steps(intro: &str, steps: &[impl std::fmt::Display]) -> String {
    let mut out = intro.to_owned();
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("\n  {}. {step}", i + 1));
    }
    out
}

/// A column whose type a statement chooses: in `CREATE TABLE`, `ADD COLUMN` or `ALTER COLUMN … TYPE`.
pub(crate) struct DesignedColumn<'s> {
    /// The table.
    pub(crate) table: &'s Name,
    /// The column.
    pub(crate) column: &'s str,
    /// The chosen type.
    pub(crate) data_type: &'s TypeName,
    /// The full definition (not for `ALTER COLUMN … TYPE`).
    pub(crate) def: Option<&'s ColumnDef>,
    /// Whether the column is the table's whole primary key.
    pub(crate) primary_key: bool,
    /// Where the column is defined.
    pub(crate) range: Range<usize>,
}

/// The columns whose type the statement chooses.
pub(crate) fn designed_columns<'s>(
    cx: &Context<'_>,
    statement: &'s Statement,
) -> Vec<DesignedColumn<'s>> {
    match &statement.kind {
        StatementKind::CreateTable(create) => {
            let pk_columns = create.constraints.iter().find_map(|c| match &c.kind {
                ConstraintKind::PrimaryKey { columns, .. } => Some(columns.as_slice()),
                _ => None,
            });
            create
                .columns
                .iter()
                .enumerate()
                .map(|(i, def)| DesignedColumn {
                    table: &create.table,
                    column: &def.name,
                    data_type: &def.data_type,
                    def: Some(def),
                    primary_key: def.primary_key
                        || pk_columns == Some(std::slice::from_ref(&def.name)),
                    range: statement
                        .written
                        .columns
                        .get(i)
                        .cloned()
                        .flatten()
                        .unwrap_or_else(|| statement.range.clone()),
                })
                .collect()
        }
        StatementKind::AlterTable(alter) => alter
            .actions
            .iter()
            .filter_map(|action| match &action.kind {
                ActionKind::AddColumn(def) => Some(DesignedColumn {
                    table: &alter.table,
                    column: &def.name,
                    data_type: &def.data_type,
                    def: Some(def),
                    primary_key: def.primary_key,
                    range: action.range.clone(),
                }),
                // Changing only the modifiers of a known type (`varchar(20)` to `varchar(40)`)
                // keeps a choice made, and reported, when the column was defined.
                ActionKind::AlterColumnType {
                    column, data_type, ..
                } if cx
                    .schema
                    .table(&alter.table)
                    .and_then(|t| t.column(column))
                    .is_none_or(|c| c.data_type.name != data_type.name) =>
                {
                    Some(DesignedColumn {
                        table: &alter.table,
                        column,
                        data_type,
                        def: None,
                        primary_key: false,
                        range: action.range.clone(),
                    })
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The statement's text with `CONCURRENTLY` where it goes ([`Written::concurrently_at`]), cut
/// from the source so that the suggestion keeps the statement's own names and formatting.
/// `None` when there is no such place (a statement lowered from a quoted `DO` body).
///
/// [`Written::concurrently_at`]: crate::model::Written::concurrently_at
pub(crate) fn with_concurrently(source: &str, statement: &Statement) -> Option<String> {
    let text = source.get(statement.range.clone())?;
    let at = statement
        .written
        .concurrently_at?
        .checked_sub(statement.range.start)?;
    Some(format!("{} CONCURRENTLY{}", text.get(..at)?, &text[at..]))
}

/// The name PostgreSQL gives an unnamed constraint: `<table>_<columns>_<suffix>`, with every
/// key column joined by `_` for a unique or foreign key, the first column a check names for a
/// check (PostgreSQL truncates names beyond 63 bytes, which is not modelled).
pub(crate) fn default_constraint_name(table: &Name, columns: &[String], suffix: &str) -> String {
    let columns = if suffix == "check" {
        columns.first().cloned().into_iter().collect()
    } else {
        columns.to_vec()
    };
    if columns.is_empty() {
        format!("{}_{suffix}", table.name)
    } else {
        format!("{}_{}_{suffix}", table.name, columns.join("_"))
    }
}

/// `ALTER TABLE` text cut from the source when possible, else `fallback`.
pub(crate) fn source_or(source: &str, range: &Range<usize>, fallback: String) -> String {
    source
        .get(range.clone())
        .filter(|t| {
            let lower = t.trim_start().to_ascii_lowercase();
            lower.starts_with("alter") || lower.starts_with("create") || lower.starts_with("add")
        })
        .map_or(fallback, |t| t.trim_end_matches(';').trim_end().to_owned())
}

/// A key constraint, as `add-unique-constraint` and `add-primary-key` check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Unique,
    PrimaryKey,
}

impl Key {
    fn sql(self) -> &'static str {
        match self {
            Self::Unique => "UNIQUE",
            Self::PrimaryKey => "PRIMARY KEY",
        }
    }

    /// The name PostgreSQL gives the constraint when it is not named.
    fn default_name(self, table: &Name, columns: &[String]) -> String {
        match self {
            Self::Unique => default_constraint_name(table, columns, "key"),
            Self::PrimaryKey => format!("{}_pkey", table.name),
        }
    }
}

/// A key constraint that an `ALTER TABLE` action adds to an existing table, building its
/// index under the lock.
struct AddedKey<'s> {
    table: &'s Name,
    /// The constraint's name, as written or as PostgreSQL names it.
    name: String,
    columns: Vec<String>,
    /// The new column it is declared with (`ADD COLUMN … UNIQUE`), if any.
    column: Option<&'s ColumnDef>,
    kind: Key,
}

impl<'s> AddedKey<'s> {
    /// The `kind` key that `action` adds to `table`, by `ADD [CONSTRAINT name] kind (columns)`
    /// or `ADD COLUMN … kind`. `ADD … kind USING INDEX` builds no index: it is reported only
    /// where PostgreSQL rejects it.
    fn of(
        cx: &Context<'_>,
        table: &'s Name,
        action: &'s Action,
        kind: Key,
        out: &mut Findings,
    ) -> Option<Self> {
        let (name, columns, column) = match &action.kind {
            ActionKind::AddConstraint { constraint, .. } => {
                let (columns, using_index) = match (&constraint.kind, kind) {
                    (
                        ConstraintKind::Unique {
                            columns,
                            using_index,
                        },
                        Key::Unique,
                    )
                    | (
                        ConstraintKind::PrimaryKey {
                            columns,
                            using_index,
                        },
                        Key::PrimaryKey,
                    ) => (columns, using_index),
                    _ => return None,
                };
                if let Some(index) = using_index {
                    report_using_index_problem(cx, table, index, action, out);
                    return None;
                }
                let name = constraint
                    .name
                    .clone()
                    .unwrap_or_else(|| kind.default_name(table, columns));
                (name, columns.clone(), None)
            }
            ActionKind::AddColumn(column)
                if match kind {
                    Key::Unique => column.unique && !column.primary_key,
                    Key::PrimaryKey => column.primary_key,
                } =>
            {
                let columns = vec![column.name.clone()];
                (kind.default_name(table, &columns), columns, Some(column))
            }
            _ => return None,
        };
        Some(Self {
            table,
            name,
            columns,
            column,
            kind,
        })
    }

    /// What the finding says.
    fn message(&self) -> String {
        let Self {
            table, name, kind, ..
        } = self;
        let what = match (self.column, kind) {
            (Some(c), Key::Unique) => format!("adding column `{}` with UNIQUE", c.name),
            (Some(c), Key::PrimaryKey) => format!("adding column `{}` as the PRIMARY KEY", c.name),
            (None, Key::Unique) => format!("adding UNIQUE constraint `{name}`"),
            (None, Key::PrimaryKey) => format!("adding primary key `{name}`"),
        };
        let not_null = match kind {
            Key::Unique => "",
            Key::PrimaryKey => " and makes its columns NOT NULL",
        };
        format!(
            "{what} builds a unique index on `{table}`{not_null} under an ACCESS EXCLUSIVE lock, blocking every read and write until the whole index is built"
        )
    }
}

/// Report the `kind` keys that `statement` adds to existing tables, building their index
/// under the lock. The help builds the index concurrently and attaches it
/// ([`index_then_constraint`]); that plan is also the fix of a constraint added on its own.
pub(crate) fn check_added_keys(
    cx: &Context<'_>,
    rule: &'static str,
    statement: &Statement,
    kind: Key,
    out: &mut Findings,
) {
    for (table, action) in existing_table_actions(cx, statement) {
        let Some(key) = AddedKey::of(cx, table, action, kind, out) else {
            continue;
        };
        let plan = index_then_constraint(cx, &key);
        // Adding the column again without the key would drop the rest of its definition:
        // only the constraint form is fixed.
        let fix = key
            .column
            .is_none()
            .then(|| index_then_constraint_fix(cx, rule, statement, action, &key.name, &plan));
        out.report_fix(
            action.range.clone(),
            key.message(),
            steps(
                "build the index without blocking traffic, then attach it:",
                &plan,
            ),
            fix.flatten(),
        );
    }
}

/// The online plan for a `UNIQUE` or `PRIMARY KEY` constraint: build its index concurrently,
/// prove the key columns non-null without a long lock, then attach the index as the constraint.
fn index_then_constraint(cx: &Context<'_>, key: &AddedKey<'_>) -> Vec<Step> {
    let AddedKey {
        table,
        name,
        columns,
        column,
        kind,
    } = key;
    let (table, column, kind) = (*table, *column, kind.sql());
    let index = quote_ident(name);
    let list = columns
        .iter()
        .map(|c| quote_ident(c))
        .collect::<Vec<_>>()
        .join(", ");
    let mut plan = add_column_without(table, column, kind);
    let partitioned = cx.schema.table(table).is_some_and(|t| t.partitioned);
    if partitioned {
        // PostgreSQL 12–18 reject `ADD CONSTRAINT … USING INDEX` on a partitioned table; a
        // constraint added to the parent adopts the partitions' own constraints and their
        // indexes instead of building new ones (measured).
        plan.push(Step::prose(format!(
            "{table} is partitioned, where CONCURRENTLY and USING INDEX are impossible; on each partition p instead: CREATE UNIQUE INDEX CONCURRENTLY p_key ON p ({list}); then ALTER TABLE p ADD CONSTRAINT p_key {kind} USING INDEX p_key;"
        )));
    } else {
        plan.push(Step::sql(
            format!("CREATE UNIQUE INDEX CONCURRENTLY {index} ON {table} ({list});"),
            format!(
                "CONCURRENTLY cannot run in a transaction block: {}",
                crate::framework::outside_transaction_advice(cx.framework)
            ),
        ));
    }
    let mut cleanup = Vec::new();
    let mut note = "brief lock, no index build".to_owned();
    let pg_version = cx.pg_version();
    if kind == "PRIMARY KEY" {
        let known = cx.schema.table(table);
        let nullable: Vec<&String> = columns
            .iter()
            .filter(|c| !known.is_some_and(|t| t.column(c).is_some_and(|col| col.not_null)))
            .collect();
        if !nullable.is_empty() && pg_version < 12 {
            note = format!(
                "no index build, but before PostgreSQL 12 (the target is {pg_version}) it still scans for NULLs under an ACCESS EXCLUSIVE lock: nothing spares that scan"
            );
        } else if !nullable.is_empty() {
            for c in nullable {
                let (proof, after) = not_null_proof(pg_version, table, c);
                plan.extend(proof);
                cleanup.extend(after);
            }
            note.push_str(", no scan: the validated constraints prove the columns non-null");
        }
    }
    plan.push(if partitioned {
        Step::sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {index} {kind} ({list});"),
            format!("adopts the partitions' constraints without building an index, but takes an ACCESS EXCLUSIVE lock on {table} and reads each partition under a SHARE lock (ACCESS EXCLUSIVE on PostgreSQL 18), blocking its writes during the read"),
        )
    } else {
        Step::sql(
            format!("ALTER TABLE {table} ADD CONSTRAINT {index} {kind} USING INDEX {index};"),
            note,
        )
    });
    plan.extend(cleanup);
    plan
}

/// The fix of [`index_then_constraint`]'s plan, for a constraint added on its own
/// (`ADD [CONSTRAINT name] UNIQUE | PRIMARY KEY (columns)`, without options the plan would
/// drop, such as `DEFERRABLE` or `INCLUDE`): see [`crate::fix::replace_statement`].
fn index_then_constraint_fix(
    cx: &Context<'_>,
    rule: &'static str,
    statement: &Statement,
    action: &Action,
    name: &str,
    plan: &[Step],
) -> Option<crate::fix::Fix> {
    // Before PostgreSQL 12 the primary key still scans for NULLs: no fix removes the hazard.
    if cx.pg_version() < 12
        && matches!(&action.kind, ActionKind::AddConstraint { constraint, .. } if matches!(constraint.kind, ConstraintKind::PrimaryKey { .. }))
    {
        return None;
    }
    if !action.written.bare {
        return None;
    }
    crate::fix::replace_statement(
        cx,
        rule,
        statement,
        format!("build the index of `{name}` concurrently, then attach it"),
        Step::runnable(plan),
    )
}

/// The online plan for an index on a partitioned table: `ON ONLY` the parent, then each
/// partition's index built concurrently and attached.
pub(crate) fn partitioned_index_plan(
    cx: &crate::context::Context<'_>,
    statement: &Statement,
    index: &crate::model::CreateIndex,
) -> String {
    let parent_index = index
        .name
        .as_ref()
        .map_or_else(|| "<parent_index>".to_owned(), ToString::to_string);
    let columns = statement
        .written
        .index_columns
        .clone()
        .and_then(|columns| cx.source.get(columns))
        .map_or("(…)", |columns| columns.trim_end_matches(';').trim_end());
    let unique = if index.unique { "UNIQUE " } else { "" };
    let mut plan = vec![format!(
        "CREATE {unique}INDEX {parent_index} ON ONLY {} {columns};  -- the parent alone: instant, invalid until every partition is attached",
        index.table
    )];
    let partitions = cx.schema.partitions(&index.table);
    if partitions.is_empty() {
        plan.push(format!(
            "for each partition p of {}: CREATE {unique}INDEX CONCURRENTLY p_idx ON p {columns};  -- outside a transaction block",
            index.table
        ));
        plan.push(format!(
            "ALTER INDEX {parent_index} ATTACH PARTITION p_idx;  -- for each partition: a brief ACCESS EXCLUSIVE lock on p_idx blocks reads and writes of p while it runs"
        ));
    } else {
        for partition in partitions {
            // `events_user_id_idx` on `events_2024` becomes `events_2024_user_id_idx`.
            let own = index.name.as_ref().map_or("idx", |n| n.name.as_str());
            let own = own
                .strip_prefix(index.table.name.as_str())
                .and_then(|rest| rest.strip_prefix('_'))
                .unwrap_or(own);
            let child = crate::model::quote_ident(&format!("{}_{own}", partition.name.name));
            plan.push(format!(
                "CREATE {unique}INDEX CONCURRENTLY {child} ON {} {columns};  -- outside a transaction block",
                partition.name
            ));
            plan.push(format!(
                "ALTER INDEX {parent_index} ATTACH PARTITION {child};  -- a brief ACCESS EXCLUSIVE lock on {child} blocks reads and writes of {} while it runs",
                partition.name
            ));
        }
    }
    steps(
        "CONCURRENTLY is impossible on a partitioned table; build the index partition by partition instead:",
        &plan,
    )
}

/// Report an `ADD CONSTRAINT … USING INDEX index` that PostgreSQL would reject.
pub(crate) fn report_using_index_problem(
    cx: &Context<'_>,
    table: &Name,
    index: &str,
    action: &Action,
    out: &mut Findings,
) {
    if let Some(problem) = using_index_problem(cx, table, index) {
        out.report(
            action.range.clone(),
            format!("PostgreSQL rejects this USING INDEX form and the migration fails: {problem}"),
            format!(
                "attach a valid unique index of `{table}`: CREATE UNIQUE INDEX CONCURRENTLY … ON {table} (…); then ADD CONSTRAINT … USING INDEX it"
            ),
        );
    }
}

/// Why PostgreSQL would reject `ADD CONSTRAINT … UNIQUE | PRIMARY KEY USING INDEX index` on
/// `table`, when the schema knows the index; `None` when it would not (or it cannot tell).
fn using_index_problem(
    cx: &crate::context::Context<'_>,
    table: &Name,
    index: &str,
) -> Option<String> {
    let known = cx.schema.index(&Name {
        schema: table.schema.clone(),
        name: index.to_owned(),
    })?;
    if !cx.schema.same_relation(&known.table, table) {
        Some(format!(
            "`{index}` is an index of `{}`, not of `{table}`",
            known.table
        ))
    } else if !known.unique {
        Some(format!("`{index}` is not a unique index"))
    } else if !known.valid {
        Some(format!(
            "`{index}` was built ON ONLY `{table}` and is not valid until every partition's index is attached"
        ))
    } else {
        None
    }
}

/// A caution for help that recommends building an index concurrently: PostgreSQL 14.0–14.3 could
/// build such indexes corrupt. Target versions are majors, so every target 14 gets the caution.
pub(crate) fn pg14_concurrently_caution(pg_version: u32) -> &'static str {
    if pg_version == 14 {
        "\non PostgreSQL 14 make sure the server runs 14.4 or later: 14.0–14.3 could build indexes CONCURRENTLY that silently miss rows"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_listed_rule_name_has_a_rule() {
        // `migration-safety-core` lists the names once, for the library and the macro; declaring
        // a rule missing from it is a compile error, and this checks the other direction.
        let rules: Vec<&str> = super::all().iter().map(|r| r.name).collect();
        assert_eq!(
            rules,
            migration_safety_core::RULE_NAMES,
            "RULE_NAMES in migration-safety-core/src/lib.rs lists a rule that does not exist"
        );
    }
}

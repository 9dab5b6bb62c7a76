//! The rules, one per file, and the registry that lists them.

use std::ops::Range;

use crate::Error;
use crate::context::Context;
use crate::lexer::{self, Token, TokenKind};
use crate::model::{
    Action, ActionKind, AlterTable, ColumnDef, ConstraintKind, Name, Statement, StatementKind,
    TypeName,
};
use crate::recognize;
use crate::rule::{Rule, RuleMeta};

mod add_column_required;
mod add_column_with_default;
mod change_column_type;
mod concurrently_in_transaction;
mod create_index_non_concurrently;
mod drop_column;
mod drop_schema;
mod drop_table;
mod enum_value_in_transaction;
mod invalid_suppression;
mod lock_table;
mod missing_lock_timeout;
mod prefer_bigint;
mod prefer_identity;
mod prefer_jsonb;
mod prefer_text;
mod prefer_timestamptz;
mod refresh_materialized_view_non_concurrently;
mod rename_column;
mod rename_enum_value;
mod rename_table;
mod set_not_null;
mod set_schema;
mod syntax_error;
mod table_rewrite;
mod truncate_table;
mod unanalyzed_statement;
mod unbatched_backfill;
mod unused_suppression;
mod vacuum_in_transaction;

/// Rules the engine reports itself rather than through a statement check.
pub(crate) mod meta {
    use crate::rule::RuleMeta;

    pub(crate) const SYNTAX_ERROR: &RuleMeta = &super::syntax_error::SyntaxError::META;
    pub(crate) const UNUSED_SUPPRESSION: &RuleMeta =
        &super::unused_suppression::UnusedSuppression::META;
    pub(crate) const INVALID_SUPPRESSION: &RuleMeta =
        &super::invalid_suppression::InvalidSuppression::META;
}

/// Every statement check, in the order findings are produced.
pub(crate) static ALL: &[&dyn Rule] = &[
    &syntax_error::SyntaxError,
    &unanalyzed_statement::UnanalyzedStatement,
    &rename_column::RenameColumn,
    &rename_table::RenameTable,
    &change_column_type::ChangeColumnType,
    &add_column_with_default::AddColumnWithDefault,
    &add_column_required::AddColumnRequired,
    &set_not_null::SetNotNull,
    &create_index_non_concurrently::CreateIndexNonConcurrently,
    &concurrently_in_transaction::ConcurrentlyInTransaction,
    &drop_column::DropColumn,
    &drop_table::DropTable,
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
];

/// Every rule's metadata, sorted by name.
pub(crate) fn all() -> Vec<&'static RuleMeta> {
    let mut all: Vec<&'static RuleMeta> = ALL
        .iter()
        .map(|r| r.meta())
        .chain([meta::UNUSED_SUPPRESSION, meta::INVALID_SUPPRESSION])
        .collect();
    all.sort_by_key(|m| m.name);
    all
}

/// Find a rule by name; the error lists the names that exist and suggests the closest.
pub(crate) fn lookup(name: &str) -> Result<&'static RuleMeta, Error> {
    let all = all();
    if let Some(meta) = all.iter().find(|m| m.name == name) {
        return Ok(meta);
    }
    let suggestion = all
        .iter()
        .map(|m| (strsim::levenshtein(m.name, name), m.name))
        .filter(|(distance, _)| *distance <= 3.max(name.len() / 3))
        .min()
        .map(|(_, n)| n.to_owned());
    Err(Error::UnknownRule {
        name: name.to_owned(),
        suggestion,
        known: all.iter().map(|m| m.name).collect::<Vec<_>>().join(", "),
    })
}

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

/// A batched backfill that needs no knowledge of the table's key: `ctid` batches.
pub(crate) fn batched_update(table: &Name, set: &str, pending: &str) -> String {
    format!(
        "UPDATE {table} SET {set} WHERE ctid IN (SELECT ctid FROM {table} WHERE {pending} LIMIT 10000);  -- repeat until it updates 0 rows"
    )
}

/// Number the steps of a phased plan.
pub(crate) fn steps(intro: &str, steps: &[String]) -> String {
    let mut out = intro.to_owned();
    for (i, step) in steps.iter().enumerate() {
        out.push_str(&format!("\n  {}. {step}", i + 1));
    }
    out
}

/// The text of a statement and its tokens (without the final `;`), with offsets relative to that text.
pub(crate) fn statement_tokens<'a>(
    cx: &Context<'a>,
    statement: &Statement,
) -> (&'a str, Vec<Token>) {
    let text = cx.source.get(statement.range.clone()).unwrap_or_default();
    let mut tokens = lexer::tokenize(text).0;
    if tokens.last().is_some_and(|t| t.is_punct(text, ";")) {
        tokens.pop();
    }
    (text, tokens)
}

/// Whether a top-level statement of this file before the current one ran `CREATE <object> name`
/// (an object created by the same migration is new: no running code uses it yet).
pub(crate) fn created_earlier_in_file(cx: &Context<'_>, object: &str, name: &Name) -> bool {
    cx.statements[..cx.index].iter().any(|s| {
        let (text, tokens) = statement_tokens(cx, s);
        recognize::created_object(text, &tokens, object).is_some_and(|n| n.matches(name))
    })
}

/// The identifier a token denotes, folded as PostgreSQL folds it.
pub(crate) fn token_ident(text: &str, token: &Token) -> Option<String> {
    let raw = token.text(text);
    match token.kind {
        TokenKind::Word => Some(raw.to_lowercase()),
        TokenKind::QuotedIdent => Some(raw[1..raw.len() - 1].replace("\"\"", "\"")),
        _ => None,
    }
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
                .map(|def| DesignedColumn {
                    table: &create.table,
                    column: &def.name,
                    data_type: &def.data_type,
                    def: Some(def),
                    primary_key: def.primary_key
                        || pk_columns == Some(std::slice::from_ref(&def.name)),
                    range: column_range(cx, statement, &def.name),
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
                    .and_then(|t| t.columns.iter().find(|c| &c.name == column))
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

/// The range of a column's definition in a `CREATE TABLE` (the statement's range if not found).
fn column_range(cx: &Context<'_>, statement: &Statement, column: &str) -> Range<usize> {
    let (text, tokens) = statement_tokens(cx, statement);
    let found = tokens
        .iter()
        .position(|t| t.is_punct(text, "("))
        .and_then(|open| {
            let mut depth = 0usize;
            let close = tokens[open..].iter().position(|t| {
                if t.is_punct(text, "(") {
                    depth += 1;
                } else if t.is_punct(text, ")") {
                    depth -= 1;
                }
                depth == 0
            })?;
            recognize::split_top_level(text, &tokens[open + 1..open + close])
                .into_iter()
                .find(|element| {
                    element
                        .first()
                        .and_then(|t| token_ident(text, t))
                        .is_some_and(|name| name == column)
                })
                .and_then(|element| Some(element.first()?.range.start..element.last()?.range.end))
        });
    match found {
        Some(range) => range.start + statement.range.start..range.end + statement.range.start,
        None => statement.range.clone(),
    }
}

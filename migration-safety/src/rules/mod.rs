//! The rules, one per file, and the registry that lists them.

use crate::Error;
use crate::model::{Action, AlterTable, Name, Statement, StatementKind};
use crate::rule::{Rule, RuleMeta};

mod add_column_required;
mod add_column_with_default;
mod change_column_type;
mod concurrently_in_transaction;
mod create_index_non_concurrently;
mod drop_column;
mod drop_table;
mod ineffective_transaction_marker;
mod invalid_suppression;
mod missing_lock_timeout;
mod rename_column;
mod rename_table;
mod set_not_null;
mod syntax_error;
mod unanalyzed_statement;
mod unused_suppression;

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
    &missing_lock_timeout::MissingLockTimeout,
];

/// Every rule's metadata, sorted by name.
pub(crate) fn all() -> Vec<&'static RuleMeta> {
    let mut all: Vec<&'static RuleMeta> = ALL
        .iter()
        .map(|r| r.meta())
        .chain([
            meta::UNUSED_SUPPRESSION,
            meta::INVALID_SUPPRESSION,
            meta::INEFFECTIVE_TRANSACTION_MARKER,
        ])
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

use crate::context::Context;
use crate::model::{ActionKind, ConstraintKind, Name, Statement, StatementKind, quote_ident};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::leads_with;

declare_rule! {
    /// ## What it does
    /// Flags a foreign key whose referencing columns no index leads with: no index, primary
    /// key or unique constraint of the referencing table starts with those columns, in the
    /// migrations checked, and none is created later in the same migration. It covers
    /// `FOREIGN KEY` and `REFERENCES` in `CREATE TABLE`, `ADD CONSTRAINT` and `ADD COLUMN`.
    /// Advisory: a warning.
    ///
    /// ## Why is this bad?
    /// PostgreSQL does not index the referencing side of a foreign key by itself. Every
    /// `DELETE` of a referenced row, and every `UPDATE` of its key, must find the rows that
    /// reference it, and without an index that is a scan of the whole referencing table, once
    /// per deleted row, while the referenced row stays locked. On a large table a batch delete
    /// of parents becomes one full scan per row.
    ///
    /// ## Example
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id));
    /// CREATE INDEX orders_user_id_idx ON orders (user_id);
    /// ```
    /// (On an existing table, build it `CONCURRENTLY`.)
    ///
    /// ## References
    /// - PostgreSQL documentation: [Foreign Keys](https://www.postgresql.org/docs/current/ddl-constraints.html#DDL-CONSTRAINTS-FK)
    pub(crate) struct ForeignKeyWithoutIndex {
        name: "foreign-key-without-index",
        category: Design,
        severity: Warning,
        summary: "a foreign key whose referencing columns have no index makes deletes of the referenced rows scan the table",
        since: "0.2.0",
    }
}

impl Rule for ForeignKeyWithoutIndex {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let mut keys: Vec<(&Name, Vec<String>, &Name, std::ops::Range<usize>)> = Vec::new();
        let mut own_keys: Vec<Vec<String>> = Vec::new();
        match &statement.kind {
            StatementKind::CreateTable(create) => {
                for column in &create.columns {
                    if column.primary_key || column.unique {
                        own_keys.push(vec![column.name.clone()]);
                    }
                    if let Some(references) = &column.references {
                        keys.push((
                            &create.table,
                            vec![column.name.clone()],
                            references,
                            statement.range.clone(),
                        ));
                    }
                }
                for constraint in &create.constraints {
                    match &constraint.kind {
                        ConstraintKind::PrimaryKey { columns, .. }
                        | ConstraintKind::Unique { columns, .. } => own_keys.push(columns.clone()),
                        ConstraintKind::ForeignKey {
                            columns,
                            references,
                            ..
                        } => {
                            keys.push((
                                &create.table,
                                columns.clone(),
                                references,
                                statement.range.clone(),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            StatementKind::AlterTable(alter) => {
                for action in &alter.actions {
                    match &action.kind {
                        ActionKind::AddColumn(column) => {
                            if column.primary_key || column.unique {
                                own_keys.push(vec![column.name.clone()]);
                            }
                            if let Some(references) = &column.references {
                                keys.push((
                                    &alter.table,
                                    vec![column.name.clone()],
                                    references,
                                    action.range.clone(),
                                ));
                            }
                        }
                        ActionKind::AddConstraint { constraint, .. } => match &constraint.kind {
                            ConstraintKind::PrimaryKey { columns, .. }
                            | ConstraintKind::Unique { columns, .. } => {
                                own_keys.push(columns.clone())
                            }
                            ConstraintKind::ForeignKey {
                                columns,
                                references,
                                ..
                            } => {
                                keys.push((
                                    &alter.table,
                                    columns.clone(),
                                    references,
                                    action.range.clone(),
                                ));
                            }
                            _ => {}
                        },
                        _ => {}
                    }
                }
            }
            _ => return,
        }
        for (table, columns, references, range) in keys {
            if columns.is_empty()
                || own_keys.iter().any(|k| leads_with(k, &columns))
                || cx.schema.has_index_leading_with(table, &columns)
                || indexed_later(cx, table, &columns)
            {
                continue;
            }
            let list = columns
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let index = quote_ident(&format!("{}_{}_idx", table.name, columns.join("_")));
            let concurrently = if cx.is_new_table(table)
                || matches!(statement.kind, StatementKind::CreateTable(_))
            {
                ""
            } else {
                " CONCURRENTLY"
            };
            out.report(
                range,
                format!(
                    "no index of `{table}` starts with ({list}), the referencing side of this foreign key to `{references}`: every DELETE of a `{references}` row, and every UPDATE of its key, scans the whole of `{table}` to find the rows that reference it"
                ),
                format!("index the referencing columns:\n  CREATE INDEX{concurrently} {index} ON {table} ({list});"),
            );
        }
    }
}

/// Whether a later statement of the file indexes `table` by `columns`.
fn indexed_later(cx: &Context<'_>, table: &Name, columns: &[String]) -> bool {
    cx.statements[cx.index + 1..].iter().any(|s| match &s.kind {
        StatementKind::CreateIndex(index) => {
            cx.schema.same_relation(&index.table, table) && leads_with(&index.columns, columns)
        }
        StatementKind::AlterTable(alter) if cx.schema.same_relation(&alter.table, table) => {
            alter.actions.iter().any(|a| match &a.kind {
                ActionKind::AddConstraint { constraint, .. } => match &constraint.kind {
                    ConstraintKind::PrimaryKey { columns: c, .. }
                    | ConstraintKind::Unique { columns: c, .. } => leads_with(c, columns),
                    _ => false,
                },
                _ => false,
            })
        }
        _ => false,
    })
}

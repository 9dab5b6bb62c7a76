//! What the migrations so far have built: tables with their columns and `NOT NULL` checks,
//! and views. Rules ask it whether a table is new, a column's type, which views read a table.

use crate::model::{ActionKind, ConstraintKind, Name, ObjectKind, StatementKind, TypeName};

/// Knowledge of the schema, replayed from the migrations in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    tables: Vec<Table>,
    views: Vec<View>,
    dropped_views: Vec<DroppedView>,
}

/// A table and the migration file (ordinal) that created it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: Name,
    pub(crate) columns: Vec<Column>,
    /// The file that created it; `None` for a table that existed before the migrations checked
    /// (known only from what they did to it).
    pub(crate) file: Option<usize>,
    /// `CHECK (col IS NOT NULL)` constraints.
    pub(crate) not_null_checks: Vec<NotNullCheck>,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) data_type: TypeName,
}

#[derive(Debug, Clone)]
pub(crate) struct NotNullCheck {
    pub(crate) name: Option<String>,
    pub(crate) column: String,
    pub(crate) validated: bool,
}

/// A view and the relations its query reads.
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) name: Name,
    pub(crate) reads: Vec<Name>,
    pub(crate) file: usize,
}

/// A view dropped in file `file` by top-level statement `statement`.
#[derive(Debug, Clone)]
pub(crate) struct DroppedView {
    pub(crate) view: View,
    pub(crate) file: usize,
    pub(crate) statement: usize,
}

impl Schema {
    pub(crate) fn table(&self, name: &Name) -> Option<&Table> {
        self.tables.iter().rev().find(|t| t.name.matches(name))
    }

    fn table_mut(&mut self, name: &Name) -> Option<&mut Table> {
        self.tables.iter_mut().rev().find(|t| t.name.matches(name))
    }

    /// The views dropped so far, most recent first.
    pub(crate) fn dropped_views(&self) -> impl Iterator<Item = &DroppedView> {
        self.dropped_views.iter().rev()
    }

    /// Record the effect of a statement of file `file` (top-level statement `statement`).
    pub(crate) fn apply(&mut self, kind: &StatementKind, file: usize, statement: usize) {
        match kind {
            StatementKind::CreateTable(create) => {
                if create.if_not_exists && self.table(&create.table).is_some() {
                    return;
                }
                let mut not_null_checks = Vec::new();
                for constraint in &create.constraints {
                    if let ConstraintKind::Check {
                        not_null_column: Some(column),
                        ..
                    } = &constraint.kind
                    {
                        not_null_checks.push(NotNullCheck {
                            name: constraint.name.clone(),
                            column: column.clone(),
                            validated: true,
                        });
                    }
                }
                self.tables.push(Table {
                    name: create.table.clone(),
                    columns: create
                        .columns
                        .iter()
                        .map(|c| Column {
                            name: c.name.clone(),
                            data_type: c.data_type.clone(),
                        })
                        .collect(),
                    file: Some(file),
                    not_null_checks,
                });
            }
            StatementKind::AlterTable(alter) => {
                for action in &alter.actions {
                    self.apply_action(&alter.table, &action.kind);
                }
            }
            StatementKind::Drop { object, names } => match object {
                ObjectKind::Table => self
                    .tables
                    .retain(|t| !names.iter().any(|n| n.matches(&t.name))),
                ObjectKind::View | ObjectKind::MaterializedView => {
                    let (dropped, kept) = std::mem::take(&mut self.views)
                        .into_iter()
                        .partition(|v| names.iter().any(|n| n.matches(&v.name)));
                    self.views = kept;
                    self.dropped_views
                        .extend(dropped.into_iter().map(|view: View| DroppedView {
                            view,
                            file,
                            statement,
                        }));
                }
                _ => {}
            },
            StatementKind::CreateView { name, reads, .. } => {
                self.views.retain(|v| !v.name.matches(name));
                self.views.push(View {
                    name: name.clone(),
                    reads: reads.clone(),
                    file,
                });
            }
            StatementKind::Do { body } => {
                for inner in body {
                    self.apply(&inner.kind, file, statement);
                }
            }
            _ => {}
        }
    }

    fn apply_action(&mut self, table_name: &Name, action: &ActionKind) {
        if let ActionKind::RenameTable { to } = action {
            // Views keep reading the renamed table under its new name.
            for view in &mut self.views {
                for read in &mut view.reads {
                    if read.matches(table_name) {
                        *read = to.clone();
                    }
                }
            }
        }
        if self.table(table_name).is_none() {
            self.tables.push(Table {
                name: table_name.clone(),
                columns: Vec::new(),
                file: None,
                not_null_checks: Vec::new(),
            });
        }
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        match action {
            ActionKind::AddColumn(column) => table.columns.push(Column {
                name: column.name.clone(),
                data_type: column.data_type.clone(),
            }),
            ActionKind::DropColumn { column } => table.columns.retain(|c| &c.name != column),
            ActionKind::RenameColumn { from, to } => {
                for column in table.columns.iter_mut().filter(|c| &c.name == from) {
                    column.name.clone_from(to);
                }
                for check in table
                    .not_null_checks
                    .iter_mut()
                    .filter(|c| &c.column == from)
                {
                    check.column.clone_from(to);
                }
            }
            ActionKind::RenameTable { to } => table.name = to.clone(),
            ActionKind::SetSchema { schema } => table.name.schema = Some(schema.clone()),
            ActionKind::AlterColumnType {
                column, data_type, ..
            } => {
                for c in table.columns.iter_mut().filter(|c| &c.name == column) {
                    c.data_type = data_type.clone();
                }
            }
            ActionKind::AddConstraint {
                constraint,
                not_valid,
            } => {
                if let ConstraintKind::Check {
                    not_null_column: Some(column),
                    ..
                } = &constraint.kind
                {
                    table.not_null_checks.push(NotNullCheck {
                        name: constraint.name.clone(),
                        column: column.clone(),
                        validated: !not_valid,
                    });
                }
            }
            ActionKind::ValidateConstraint { name } => {
                for check in &mut table.not_null_checks {
                    if check.name.as_deref() == Some(name) {
                        check.validated = true;
                    }
                }
            }
            ActionKind::DropConstraint { name } => {
                table
                    .not_null_checks
                    .retain(|c| c.name.as_deref() != Some(name));
            }
            _ => {}
        }
    }
}

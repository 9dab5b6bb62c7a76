//! What the migrations so far have built: tables with their columns, nullability and
//! constraints (with their validation state), partitioned tables and their partitions, indexes,
//! views, enum types and domains. Rules ask it whether a table is new, a column's type, whether
//! a validated check proves a column non-null, which tables reference a key, and so on.

use crate::lexer::{TokenKind, tokenize};
use crate::model::{
    ActionKind, AlterDomainAction, AlterTypeAction, ColumnDef, Constraint, ConstraintKind,
    DomainConstraint, Name, ObjectKind, StatementKind, TypeName,
};

/// Knowledge of the schema, replayed from the migrations in order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Schema {
    tables: Vec<Table>,
    views: Vec<View>,
    dropped_views: Vec<DroppedView>,
    indexes: Vec<Index>,
    enums: Vec<EnumType>,
    domains: Vec<Domain>,
}

/// A table and the migration file (ordinal) that created it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: Name,
    pub(crate) columns: Vec<Column>,
    /// The file that created it; `None` for a table that existed before the migrations checked
    /// (known only from what they did to it).
    pub(crate) file: Option<usize>,
    /// Its constraints, with their validation state.
    pub(crate) constraints: Vec<TableConstraint>,
    /// `PARTITION BY`: a partitioned table.
    pub(crate) partitioned: bool,
    /// The partitioned table it is a partition of.
    pub(crate) partition_of: Option<Name>,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) data_type: TypeName,
    /// Known to be `NOT NULL` (declared, or set later).
    pub(crate) not_null: bool,
}

/// A table constraint as the catalog keeps it.
#[derive(Debug, Clone)]
pub(crate) struct TableConstraint {
    pub(crate) name: Option<String>,
    pub(crate) kind: ConstraintKind,
    /// `false` for a constraint added `NOT VALID` and not validated since.
    pub(crate) validated: bool,
    /// The table's columns the constraint involves (for a `CHECK`: those its expression names).
    pub(crate) columns: Vec<String>,
}

/// An index, by name.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    pub(crate) name: Name,
    pub(crate) table: Name,
    pub(crate) unique: bool,
    /// `false` for an index built `ON ONLY` a table that is (or may be) partitioned.
    pub(crate) valid: bool,
    /// The indexed columns in order (an expression as SQL).
    pub(crate) columns: Vec<String>,
}

/// An enum type and its labels.
#[derive(Debug, Clone)]
pub(crate) struct EnumType {
    pub(crate) name: Name,
    pub(crate) labels: Vec<String>,
}

/// A domain, its base type and its constraints.
#[derive(Debug, Clone)]
pub(crate) struct Domain {
    pub(crate) name: Name,
    pub(crate) base: TypeName,
    pub(crate) constraints: Vec<DomainConstraintState>,
}

/// A domain constraint and whether it is validated.
#[derive(Debug, Clone)]
pub(crate) struct DomainConstraintState {
    pub(crate) constraint: DomainConstraint,
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

/// A foreign key of `table` that references a given key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Referencing {
    pub(crate) table: Name,
    pub(crate) constraint: Option<String>,
}

impl Table {
    pub(crate) fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub(crate) fn constraint(&self, name: &str) -> Option<&TableConstraint> {
        self.constraints
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
    }

    /// Whether `column` is proven non-null: declared `NOT NULL`, or covered by a validated
    /// `CHECK (column IS NOT NULL)` or PostgreSQL 18 `NOT NULL` constraint.
    pub(crate) fn proves_not_null(&self, column: &str) -> bool {
        self.column(column).is_some_and(|c| c.not_null)
            || self.constraints.iter().any(|c| {
                c.validated
                    && match &c.kind {
                        ConstraintKind::Check {
                            not_null_column: Some(col),
                            ..
                        }
                        | ConstraintKind::NotNull { column: col } => col == column,
                        _ => false,
                    }
            })
    }

    /// The `CHECK` constraints whose expression names `column`.
    pub(crate) fn checks_on<'a>(
        &'a self,
        column: &'a str,
    ) -> impl Iterator<Item = &'a TableConstraint> {
        self.constraints.iter().filter(move |c| {
            matches!(c.kind, ConstraintKind::Check { .. }) && c.columns.iter().any(|x| x == column)
        })
    }

    /// The primary key's columns, when known.
    pub(crate) fn primary_key(&self) -> Option<&[String]> {
        self.constraints
            .iter()
            .find(|c| matches!(c.kind, ConstraintKind::PrimaryKey { .. }))
            .map(|c| c.columns.as_slice())
    }
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

    /// The indexes of `table` that involve `column` (by name or in an expression).
    pub(crate) fn indexes_on<'a>(
        &'a self,
        table: &'a Name,
        column: &'a str,
    ) -> impl Iterator<Item = &'a Index> + 'a {
        self.indexes.iter().filter(move |i| {
            i.table.matches(table)
                && i.columns
                    .iter()
                    .any(|c| c == column || names_column(c, column))
        })
    }

    pub(crate) fn index(&self, name: &Name) -> Option<&Index> {
        self.indexes.iter().rev().find(|i| i.name.matches(name))
    }

    pub(crate) fn enum_type(&self, name: &Name) -> Option<&EnumType> {
        self.enums.iter().rev().find(|e| e.name.matches(name))
    }

    pub(crate) fn domain(&self, name: &Name) -> Option<&Domain> {
        self.domains.iter().rev().find(|d| d.name.matches(name))
    }

    /// The domain a column type names, if it is a known domain.
    pub(crate) fn domain_of(&self, data_type: &TypeName) -> Option<&Domain> {
        if data_type.array {
            return None;
        }
        self.domain(&type_name(data_type))
    }

    /// The tables (and their columns) that have a column of the domain `name`.
    pub(crate) fn domain_users(&self, name: &Name) -> Vec<(Name, String)> {
        self.tables
            .iter()
            .flat_map(|t| {
                t.columns
                    .iter()
                    .filter(|c| !c.data_type.array && type_name(&c.data_type).matches(name))
                    .map(|c| (t.name.clone(), c.name.clone()))
            })
            .collect()
    }

    /// The partitions of `parent` known so far.
    pub(crate) fn partitions(&self, parent: &Name) -> Vec<&Table> {
        self.tables
            .iter()
            .filter(|t| t.partition_of.as_ref().is_some_and(|p| p.matches(parent)))
            .collect()
    }

    /// Foreign keys that reference `column` of `table` (naming it, or through the primary key).
    pub(crate) fn referencing(&self, table: &Name, column: &str) -> Vec<Referencing> {
        let primary_key = self.table(table).and_then(Table::primary_key);
        let mut out: Vec<Referencing> = Vec::new();
        for child in &self.tables {
            for constraint in &child.constraints {
                let ConstraintKind::ForeignKey {
                    references,
                    referenced_columns,
                    ..
                } = &constraint.kind
                else {
                    continue;
                };
                let hits = references.matches(table)
                    && if referenced_columns.is_empty() {
                        primary_key.is_some_and(|pk| pk.iter().any(|c| c == column))
                    } else {
                        referenced_columns.iter().any(|c| c == column)
                    };
                let found = Referencing {
                    table: child.name.clone(),
                    constraint: constraint.name.clone(),
                };
                if hits && !out.contains(&found) {
                    out.push(found);
                }
            }
        }
        out
    }

    /// Record the effect of a statement of file `file` (top-level statement `statement`).
    pub(crate) fn apply(&mut self, kind: &StatementKind, file: usize, statement: usize) {
        match kind {
            StatementKind::CreateTable(create) => {
                if create.if_not_exists && self.table(&create.table).is_some() {
                    return;
                }
                let mut columns: Vec<Column> = create.columns.iter().map(column).collect();
                if let Some(parent) = create.partition_of.as_ref().and_then(|p| self.table(p)) {
                    for inherited in &parent.columns {
                        if !columns.iter().any(|c| c.name == inherited.name) {
                            columns.push(inherited.clone());
                        }
                    }
                }
                let mut table = Table {
                    name: create.table.clone(),
                    columns,
                    file: Some(file),
                    constraints: Vec::new(),
                    partitioned: create.partition_by,
                    partition_of: create.partition_of.clone(),
                };
                for def in &create.columns {
                    table.add_column_constraints(def);
                }
                for constraint in &create.constraints {
                    table.add_constraint(constraint, true);
                }
                self.tables.push(table);
            }
            StatementKind::AlterTable(alter) => {
                for action in &alter.actions {
                    self.apply_action(&alter.table, &action.kind);
                }
            }
            StatementKind::CreateIndex(index) => {
                if let Some(name) = &index.name {
                    self.indexes.retain(|i| !i.name.matches(name));
                    // `ON ONLY` a partitioned table: invalid until every partition's index is attached.
                    let only = index.only
                        && self
                            .table(&index.table)
                            .is_none_or(|t| t.partitioned || t.file.is_none());
                    self.indexes.push(Index {
                        name: name.clone(),
                        table: index.table.clone(),
                        unique: index.unique,
                        valid: !only,
                        columns: index.columns.clone(),
                    });
                }
            }
            StatementKind::DropIndex { names, .. } => {
                self.indexes
                    .retain(|i| !names.iter().any(|n| n.matches(&i.name)));
            }
            StatementKind::CreateType {
                name,
                enum_labels: Some(labels),
            } => {
                self.enums.push(EnumType {
                    name: name.clone(),
                    labels: labels.clone(),
                });
            }
            StatementKind::AlterType { name, action } => {
                if let Some(e) = self.enums.iter_mut().rev().find(|e| e.name.matches(name)) {
                    match action {
                        AlterTypeAction::AddValue { value } => {
                            if !e.labels.contains(value) {
                                e.labels.push(value.clone());
                            }
                        }
                        AlterTypeAction::RenameValue { from, to } => {
                            for label in e.labels.iter_mut().filter(|l| *l == from) {
                                label.clone_from(to);
                            }
                        }
                        AlterTypeAction::Other => {}
                    }
                }
            }
            StatementKind::CreateDomain {
                name,
                base,
                constraints,
            } => self.domains.push(Domain {
                name: name.clone(),
                base: base.clone(),
                constraints: constraints
                    .iter()
                    .map(|c| DomainConstraintState {
                        constraint: c.clone(),
                        validated: true,
                    })
                    .collect(),
            }),
            StatementKind::AlterDomain { name, action } => {
                let Some(domain) = self.domains.iter_mut().rev().find(|d| d.name.matches(name))
                else {
                    return;
                };
                let constraints = &mut domain.constraints;
                match action {
                    AlterDomainAction::AddConstraint {
                        constraint,
                        not_valid,
                    } => constraints.push(DomainConstraintState {
                        constraint: constraint.clone(),
                        validated: !not_valid,
                    }),
                    AlterDomainAction::ValidateConstraint { name } => {
                        for c in constraints
                            .iter_mut()
                            .filter(|c| c.constraint.name.as_ref() == Some(name))
                        {
                            c.validated = true;
                        }
                    }
                    AlterDomainAction::DropConstraint { name } => {
                        constraints.retain(|c| c.constraint.name.as_ref() != Some(name));
                    }
                    AlterDomainAction::SetNotNull => constraints.push(DomainConstraintState {
                        constraint: DomainConstraint {
                            name: None,
                            not_null: true,
                        },
                        validated: true,
                    }),
                    AlterDomainAction::DropNotNull => {
                        constraints.retain(|c| !c.constraint.not_null);
                    }
                    AlterDomainAction::Other => {}
                }
            }
            StatementKind::Drop { object, names } => match object {
                ObjectKind::Table => {
                    self.tables
                        .retain(|t| !names.iter().any(|n| n.matches(&t.name)));
                    self.indexes
                        .retain(|i| !names.iter().any(|n| n.matches(&i.table)));
                }
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
                ObjectKind::Type => {
                    self.enums
                        .retain(|e| !names.iter().any(|n| n.matches(&e.name)));
                    self.domains
                        .retain(|d| !names.iter().any(|n| n.matches(&d.name)));
                }
                ObjectKind::Other(_) => {}
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
            self.rename_references(table_name, to);
        }
        if self.table(table_name).is_none() {
            self.tables.push(Table {
                name: table_name.clone(),
                columns: Vec::new(),
                file: None,
                constraints: Vec::new(),
                partitioned: false,
                partition_of: None,
            });
        }
        if let ActionKind::AttachPartition { partition }
        | ActionKind::DetachPartition { partition, .. } = action
        {
            let parent = self.table(table_name).map(|t| t.name.clone());
            if let Some(p) = self.table_mut(partition) {
                p.partition_of =
                    parent.filter(|_| matches!(action, ActionKind::AttachPartition { .. }));
            } else if matches!(action, ActionKind::AttachPartition { .. }) {
                self.tables.push(Table {
                    name: partition.clone(),
                    columns: Vec::new(),
                    file: None,
                    constraints: Vec::new(),
                    partitioned: false,
                    partition_of: parent,
                });
            }
            if let Some(t) = self.table_mut(table_name) {
                t.partitioned = true;
            }
            return;
        }
        let Some(table) = self.table_mut(table_name) else {
            return;
        };
        match action {
            ActionKind::AddColumn(def) => {
                table.columns.retain(|c| c.name != def.name);
                table.columns.push(column(def));
                table.add_column_constraints(def);
            }
            ActionKind::DropColumn { column } => {
                table.columns.retain(|c| &c.name != column);
                table.constraints.retain(|c| !c.columns.contains(column));
            }
            ActionKind::RenameColumn { from, to } => {
                for column in table.columns.iter_mut().filter(|c| &c.name == from) {
                    column.name.clone_from(to);
                }
                for constraint in &mut table.constraints {
                    for column in constraint.columns.iter_mut().filter(|c| *c == from) {
                        column.clone_from(to);
                    }
                    if let ConstraintKind::Check {
                        not_null_column: Some(column),
                        ..
                    }
                    | ConstraintKind::NotNull { column } = &mut constraint.kind
                        && column == from
                    {
                        column.clone_from(to);
                    }
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
            ActionKind::SetNotNull { column } => {
                for c in table.columns.iter_mut().filter(|c| &c.name == column) {
                    c.not_null = true;
                }
            }
            ActionKind::DropNotNull { column } => {
                for c in table.columns.iter_mut().filter(|c| &c.name == column) {
                    c.not_null = false;
                }
                table.constraints.retain(|c| {
                    !matches!(&c.kind, ConstraintKind::NotNull { column: col } if col == column)
                });
            }
            ActionKind::AddConstraint {
                constraint,
                not_valid,
            } => table.add_constraint(constraint, !not_valid),
            ActionKind::ValidateConstraint { name } => {
                for c in &mut table.constraints {
                    if c.name.as_deref() == Some(name) {
                        c.validated = true;
                    }
                }
            }
            ActionKind::DropConstraint { name } => {
                table
                    .constraints
                    .retain(|c| c.name.as_deref() != Some(name));
            }
            ActionKind::RenameConstraint { from, to } => {
                for c in &mut table.constraints {
                    if c.name.as_deref() == Some(from) {
                        c.name = Some(to.clone());
                    }
                }
            }
            _ => {}
        }
    }

    /// `from` is renamed `to`: views, indexes, partitions and foreign keys follow it.
    fn rename_references(&mut self, from: &Name, to: &Name) {
        for view in &mut self.views {
            for read in &mut view.reads {
                if read.matches(from) {
                    *read = to.clone();
                }
            }
        }
        for index in &mut self.indexes {
            if index.table.matches(from) {
                index.table = to.clone();
            }
        }
        for table in &mut self.tables {
            if let Some(parent) = &mut table.partition_of
                && parent.matches(from)
            {
                *parent = to.clone();
            }
            for constraint in &mut table.constraints {
                if let ConstraintKind::ForeignKey { references, .. } = &mut constraint.kind
                    && references.matches(from)
                {
                    *references = to.clone();
                }
            }
        }
    }
}

impl Table {
    /// Record a table constraint; `validated` is `false` for `NOT VALID`.
    fn add_constraint(&mut self, constraint: &Constraint, validated: bool) {
        let columns = match &constraint.kind {
            ConstraintKind::Check { expr, .. } => self.columns_named_in(expr),
            ConstraintKind::ForeignKey { columns, .. }
            | ConstraintKind::Unique { columns, .. }
            | ConstraintKind::PrimaryKey { columns, .. } => columns.clone(),
            ConstraintKind::NotNull { column } => vec![column.clone()],
            ConstraintKind::Exclude => Vec::new(),
        };
        if matches!(constraint.kind, ConstraintKind::PrimaryKey { .. }) {
            for c in self
                .columns
                .iter_mut()
                .filter(|c| columns.contains(&c.name))
            {
                c.not_null = true;
            }
        }
        self.constraints.push(TableConstraint {
            name: constraint.name.clone(),
            kind: constraint.kind.clone(),
            validated,
            columns,
        });
    }

    /// Record the inline constraints of a column definition.
    fn add_column_constraints(&mut self, def: &ColumnDef) {
        let on_column = vec![def.name.clone()];
        let mut add = |kind| {
            self.constraints.push(TableConstraint {
                name: None,
                kind,
                validated: true,
                columns: on_column.clone(),
            });
        };
        if def.primary_key {
            add(ConstraintKind::PrimaryKey {
                columns: on_column.clone(),
                using_index: None,
            });
        }
        if def.unique {
            add(ConstraintKind::Unique {
                columns: on_column.clone(),
                using_index: None,
            });
        }
        if let Some(references) = &def.references {
            add(ConstraintKind::ForeignKey {
                columns: on_column.clone(),
                references: references.clone(),
                referenced_columns: def.referenced_columns.clone(),
            });
        }
        if let Some(expr) = &def.check {
            add(ConstraintKind::Check {
                expr: expr.clone(),
                not_null_column: None,
            });
        }
    }

    /// The table's columns that an expression names.
    fn columns_named_in(&self, expr: &str) -> Vec<String> {
        let (tokens, _) = tokenize(expr);
        let mut out: Vec<String> = Vec::new();
        for token in tokens {
            let text = token.text(expr);
            let word = match token.kind {
                TokenKind::Word => text.to_lowercase(),
                TokenKind::QuotedIdent => text.trim_matches('"').replace("\"\"", "\""),
                _ => continue,
            };
            if self.column(&word).is_some() && !out.contains(&word) {
                out.push(word);
            }
        }
        out
    }
}

/// Whether an index expression names `column`.
fn names_column(expr: &str, column: &str) -> bool {
    let (tokens, _) = tokenize(expr);
    tokens.iter().any(|token| {
        let text = token.text(expr);
        match token.kind {
            TokenKind::Word => text.eq_ignore_ascii_case(column),
            TokenKind::QuotedIdent => text.trim_matches('"').replace("\"\"", "\"") == column,
            _ => false,
        }
    })
}

fn column(def: &ColumnDef) -> Column {
    Column {
        name: def.name.clone(),
        data_type: def.data_type.clone(),
        not_null: def.not_null,
    }
}

/// The type a column's type name refers to, as a (possibly qualified) name.
fn type_name(data_type: &TypeName) -> Name {
    let unquoted = data_type.name.replace('"', "");
    match unquoted.rsplit_once('.') {
        Some((schema, name)) => Name {
            schema: Some(schema.to_owned()),
            name: name.to_owned(),
        },
        None => Name::new(unquoted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::split;
    use crate::lower::lower_file;

    fn replay(migrations: &[&str]) -> Schema {
        let mut schema = Schema::default();
        for (file, sql) in migrations.iter().enumerate() {
            for (i, statement) in lower_file(sql, &split(sql)).iter().enumerate() {
                schema.apply(&statement.kind, file, i);
            }
        }
        schema
    }

    #[test]
    fn constraints_keep_their_validation_state() {
        let schema = replay(&[
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
        ]);
        let users = schema.table(&Name::new("users")).unwrap();
        assert!(!users.proves_not_null("email"));
        assert!(users.proves_not_null("id"));
        assert!(!users.constraint("email_nn").unwrap().validated);
        let schema = replay(&[
            "CREATE TABLE users (id bigint PRIMARY KEY, email text);",
            "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
            "ALTER TABLE users VALIDATE CONSTRAINT email_nn;",
        ]);
        assert!(
            schema
                .table(&Name::new("users"))
                .unwrap()
                .proves_not_null("email")
        );
    }

    #[test]
    fn checks_know_their_columns() {
        let schema = replay(&[
            "CREATE TABLE orders (id int, total numeric(10, 2) CHECK (total >= 0), code varchar(5), CHECK (length(code) > 1 AND total < 1e9));",
        ]);
        let orders = schema.table(&Name::new("orders")).unwrap();
        assert_eq!(orders.checks_on("total").count(), 2);
        assert_eq!(orders.checks_on("code").count(), 1);
        assert_eq!(orders.checks_on("id").count(), 0);
    }

    #[test]
    fn foreign_keys_reference_primary_keys() {
        let schema = replay(&[
            "CREATE TABLE users (id int PRIMARY KEY, code text UNIQUE);",
            "CREATE TABLE orders (id int, user_id int REFERENCES users);",
            "CREATE TABLE logins (user_code text, FOREIGN KEY (user_code) REFERENCES users (code));",
        ]);
        let users = Name::new("users");
        let refs = schema.referencing(&users, "id");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].table.name, "orders");
        assert_eq!(schema.referencing(&users, "code")[0].table.name, "logins");
    }

    #[test]
    fn partitions_indexes_enums_and_domains() {
        let schema = replay(&[
            "CREATE TABLE events (id bigint, at timestamptz) PARTITION BY RANGE (at);
             CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE INDEX events_at_idx ON events (at);
             CREATE TYPE mood AS ENUM ('happy', 'sad');
             CREATE DOMAIN positive AS int CHECK (VALUE > 0);
             CREATE DOMAIN label AS text;
             CREATE DOMAIN required AS text NOT NULL;",
            "ALTER TYPE mood ADD VALUE 'calm'; ALTER DOMAIN label ADD CONSTRAINT short CHECK (length(VALUE) < 9) NOT VALID;",
        ]);
        let events = schema.table(&Name::new("events")).unwrap();
        assert!(events.partitioned);
        assert_eq!(schema.partitions(&events.name).len(), 1);
        let index = schema.index(&Name::new("events_at_idx")).unwrap();
        assert!(index.valid && !index.unique && index.table.name == "events");
        assert_eq!(
            schema.enum_type(&Name::new("mood")).unwrap().labels,
            ["happy", "sad", "calm"]
        );
        let positive = schema.domain_of(&TypeName::parse("positive")).unwrap();
        assert_eq!(positive.base.name, "int4");
        assert_eq!(positive.constraints.len(), 1);
        let label = schema.domain(&Name::new("label")).unwrap();
        assert!(!label.constraints[0].validated);
        assert!(
            schema.domain(&Name::new("required")).unwrap().constraints[0]
                .constraint
                .not_null
        );
    }

    #[test]
    fn renames_follow_the_table() {
        let schema = replay(&[
            "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (user_id int REFERENCES users (id)); CREATE INDEX users_id_idx ON users (id);",
            "ALTER TABLE users RENAME TO accounts;",
        ]);
        assert_eq!(
            schema.referencing(&Name::new("accounts"), "id")[0]
                .table
                .name,
            "orders"
        );
        assert_eq!(
            schema.index(&Name::new("users_id_idx")).unwrap().table.name,
            "accounts"
        );
    }
}

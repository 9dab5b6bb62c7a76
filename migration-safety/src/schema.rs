//! What the migrations so far have built: tables with their columns, nullability and
//! constraints (with their validation state), partitioned tables and their partitions, indexes,
//! views, enum types and domains. Rules ask it whether a table is new, a column's type, whether
//! a validated check proves a column non-null, which tables reference a key, and so on.
//!
//! The catalog is keyed by schema-qualified name. An unqualified name is resolved the way
//! PostgreSQL resolves it: through the `search_path` in force (by default `public`), so a table
//! created as `app.t` is not the `t` that a later unqualified statement touches. Every lookup
//! is a hash lookup, and a down migration is checked against the schema its up migration left
//! by recording how to undo what it changes, not by copying the schema.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;

use crate::lexer::{TokenKind, tokenize};
use crate::model::{
    ActionKind, AlterDomainAction, AlterTypeAction, ColumnDef, Constraint, ConstraintKind,
    DomainConstraint, Name, ObjectKind, StatementKind, TypeName,
};

/// The schema that an unqualified name resolves to when `search_path` is not set.
pub(crate) const DEFAULT_SCHEMA: &str = "public";

/// A catalog key: a schema and an object's name, as PostgreSQL stores them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    schema: String,
    name: String,
}

impl Key {
    fn new(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
        }
    }
}

/// A map from catalog keys that can record how to undo its changes, and that keeps the order
/// its entries were created in (which is the order rules list them in).
#[derive(Debug, Clone)]
struct Catalog<V> {
    entries: HashMap<Key, (u64, V)>,
    next: u64,
    /// While recording: the value each changed key had before the first change (`None`: absent).
    undo: Option<HashMap<Key, Option<(u64, V)>>>,
}

impl<V> Default for Catalog<V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            next: 0,
            undo: None,
        }
    }
}

impl<V: Clone> Catalog<V> {
    fn get(&self, key: &Key) -> Option<&V> {
        self.entries.get(key).map(|(_, v)| v)
    }

    fn contains(&self, key: &Key) -> bool {
        self.entries.contains_key(key)
    }

    fn get_mut(&mut self, key: &Key) -> Option<&mut V> {
        self.remember(key);
        self.entries.get_mut(key).map(|(_, v)| v)
    }

    /// Insert a new entry (last in order), replacing any under the same key.
    fn insert(&mut self, key: Key, value: V) {
        self.remember(&key);
        self.next += 1;
        self.entries.insert(key, (self.next, value));
    }

    fn remove(&mut self, key: &Key) -> Option<V> {
        self.remember(key);
        self.entries.remove(key).map(|(_, v)| v)
    }

    /// Move an entry to another key, keeping its place in the order.
    fn rekey(&mut self, from: &Key, to: Key) {
        self.remember(from);
        self.remember(&to);
        if let Some(entry) = self.entries.remove(from) {
            self.entries.insert(to, entry);
        }
    }

    /// The entries that `keep` selects, in the order they were created. Selecting before
    /// sorting keeps a lookup linear in the catalog, not `n log n`.
    fn ordered_where(&self, keep: impl Fn(&V) -> bool) -> Vec<&V> {
        let mut entries: Vec<_> = self.entries.values().filter(|(_, v)| keep(v)).collect();
        entries.sort_unstable_by_key(|(order, _)| *order);
        entries.into_iter().map(|(_, v)| v).collect()
    }

    /// Change every entry that `wanted` selects.
    fn update_where(&mut self, wanted: impl Fn(&V) -> bool, mut change: impl FnMut(&mut V)) {
        let keys: Vec<Key> = self
            .entries
            .iter()
            .filter(|(_, (_, v))| wanted(v))
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            if let Some(v) = self.get_mut(&key) {
                change(v);
            }
        }
    }

    fn remember(&mut self, key: &Key) {
        if let Some(undo) = &mut self.undo
            && !undo.contains_key(key)
        {
            undo.insert(key.clone(), self.entries.get(key).cloned());
        }
    }

    fn record(&mut self) {
        self.undo = Some(HashMap::new());
    }

    fn rollback(&mut self) {
        for (key, before) in self.undo.take().into_iter().flatten() {
            match before {
                Some(entry) => self.entries.insert(key, entry),
                None => self.entries.remove(&key),
            };
        }
    }
}

/// The views, with an index from each relation to how many reads of the views name it, so
/// that whether any view reads a table is one lookup. A view's `reads` change only through
/// these methods, which keep the index in step (undo included).
#[derive(Debug, Clone, Default)]
struct Views {
    catalog: Catalog<View>,
    /// For each schema-qualified relation a view reads: how many of the views' reads name it
    /// (never zero: a relation no view reads has no entry).
    readers: HashMap<Name, usize>,
}

impl Views {
    fn get(&self, key: &Key) -> Option<&View> {
        self.catalog.get(key)
    }

    fn contains(&self, key: &Key) -> bool {
        self.catalog.contains(key)
    }

    /// Whether a view reads `relation` (schema-qualified).
    fn read(&self, relation: &Name) -> bool {
        self.readers.contains_key(relation)
    }

    /// Insert a new view (last in order), replacing any under the same key.
    fn insert(&mut self, key: Key, view: View) {
        self.forget_reads(&key);
        Self::count_reads(&mut self.readers, Some(&view), 1);
        self.catalog.insert(key, view);
    }

    fn remove(&mut self, key: &Key) -> Option<View> {
        self.forget_reads(key);
        self.catalog.remove(key)
    }

    /// Move a view to another key, keeping its place in the order (its reads are the same).
    fn rekey(&mut self, from: &Key, to: Key) {
        if *from != to && self.catalog.contains(from) {
            self.forget_reads(&to);
        }
        self.catalog.rekey(from, to);
    }

    /// Change the view under `key`, if there is one.
    fn update(&mut self, key: &Key, change: impl FnOnce(&mut View)) {
        self.forget_reads(key);
        if let Some(view) = self.catalog.get_mut(key) {
            change(view);
        }
        Self::count_reads(&mut self.readers, self.catalog.get(key), 1);
    }

    /// Make every view that reads `old` read `new` instead.
    fn rename_reads(&mut self, old: &Name, new: &Name) {
        if !self.read(old) {
            return;
        }
        self.catalog.update_where(
            |view| view.reads.contains(old),
            |view| {
                for read in &mut view.reads {
                    if read == old {
                        *read = new.clone();
                    }
                }
            },
        );
        if let Some(count) = self.readers.remove(old) {
            *self.readers.entry(new.clone()).or_default() += count;
        }
    }

    fn record(&mut self) {
        self.catalog.record();
    }

    /// Undo every change made since [`Views::record`], the index with it.
    fn rollback(&mut self) {
        let changed: Vec<Key> = self
            .catalog
            .undo
            .iter()
            .flat_map(HashMap::keys)
            .cloned()
            .collect();
        for key in &changed {
            self.forget_reads(key);
        }
        self.catalog.rollback();
        for key in &changed {
            Self::count_reads(&mut self.readers, self.catalog.get(key), 1);
        }
    }

    /// Take the reads of the view under `key` (if any) out of the index.
    fn forget_reads(&mut self, key: &Key) {
        Self::count_reads(&mut self.readers, self.catalog.get(key), -1);
    }

    /// Add `step` (1 or -1) to the count of each relation `view` reads, dropping counts that
    /// reach zero.
    fn count_reads(readers: &mut HashMap<Name, usize>, view: Option<&View>, step: isize) {
        for read in view.into_iter().flat_map(|v| &v.reads) {
            let count = readers.entry(read.clone()).or_default();
            *count = count.saturating_add_signed(step);
            if *count == 0 {
                readers.remove(read);
            }
        }
    }
}

/// Knowledge of the schema, replayed from the migrations in order.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    tables: Catalog<Table>,
    views: Views,
    dropped_views: Vec<DroppedView>,
    /// While recording: how many views had been dropped when recording began.
    dropped_views_mark: Option<usize>,
    indexes: Catalog<Index>,
    enums: Catalog<EnumType>,
    domains: Catalog<Domain>,
    /// The `search_path` in force for the statement being checked, schemas in order.
    search_path: Arc<[String]>,
}

impl Default for Schema {
    fn default() -> Self {
        Self {
            tables: Catalog::default(),
            views: Views::default(),
            dropped_views: Vec::new(),
            dropped_views_mark: None,
            indexes: Catalog::default(),
            enums: Catalog::default(),
            domains: Catalog::default(),
            search_path: default_search_path(),
        }
    }
}

/// `name` in the schema PostgreSQL creates it in under `search_path`: its own, or the first
/// of the path.
pub(crate) fn created_in(name: &Name, search_path: &[String]) -> Name {
    name.in_schema(search_path.first().map_or(DEFAULT_SCHEMA, String::as_str))
}

/// Whether two relation names of one statement denote the same relation when no schema
/// catalog is at hand (the lowered model): unqualified names resolve through the default
/// `search_path`. Rules compare with [`Schema::same_relation`], which knows the
/// `search_path` in force.
pub(crate) fn same_by_default(a: &Name, b: &Name) -> bool {
    a.in_schema(DEFAULT_SCHEMA) == b.in_schema(DEFAULT_SCHEMA)
}

/// The `search_path` of a session that has not set one.
pub(crate) fn default_search_path() -> Arc<[String]> {
    Arc::from([DEFAULT_SCHEMA.to_owned()])
}

/// A table and the migration file (ordinal) that created it.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    pub(crate) name: Name,
    columns: IndexMap<String, Column>,
    /// The file that created it; `None` for a table that existed before the migrations checked
    /// (known only from what they did to it).
    pub(crate) file: Option<usize>,
    /// Its constraints, with their validation state.
    pub(crate) constraints: Vec<TableConstraint>,
    /// `PARTITION BY`: a partitioned table.
    pub(crate) partitioned: bool,
    /// The partitioned table it is a partition of, schema-qualified.
    pub(crate) partition_of: Option<Name>,
    /// Whether it is its parent's default partition.
    pub(crate) default_partition: bool,
    /// The indexes created on it.
    indexes: Vec<Key>,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) data_type: TypeName,
    /// Known to be `NOT NULL` (declared, or set later).
    pub(crate) not_null: bool,
    /// Its default, as far as the migrations tell.
    pub(crate) default: ColumnDefault,
}

/// A column's default, as far as the migrations tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ColumnDefault {
    /// No default (or `DEFAULT NULL`).
    None,
    /// This expression, as written.
    Expr(String),
    /// Set by a statement whose expression is not kept.
    Unknown,
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
    /// The index's name as written when it was created.
    pub(crate) name: Name,
    pub(crate) table: Name,
    pub(crate) unique: bool,
    /// `false` for an index built `ON ONLY` a table that is (or may be) partitioned.
    pub(crate) valid: bool,
    /// The indexed columns in order (an expression as SQL).
    pub(crate) columns: Vec<String>,
    /// Whether an indexed element is an expression rather than a column.
    pub(crate) expressions: bool,
    /// `WHERE`: a partial index.
    pub(crate) partial: bool,
}

impl Index {
    /// Whether `REFRESH MATERIALIZED VIEW … CONCURRENTLY` can use it to match the view's old
    /// rows with the new ones: unique, valid, with no `WHERE` and only plain columns (measured
    /// on PostgreSQL 12, 14 and 18: a partial index, an expression among the columns or a
    /// non-unique index is refused; `INCLUDE`, `DESC`, `COLLATE` and an operator class are
    /// accepted).
    pub(crate) fn identifies_rows(&self) -> bool {
        self.unique && self.valid && !self.partial && !self.expressions && !self.columns.is_empty()
    }
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

/// A view and the relations its query reads (schema-qualified, as they resolved when it was
/// created).
#[derive(Debug, Clone)]
pub(crate) struct View {
    pub(crate) name: Name,
    pub(crate) reads: Vec<Name>,
    pub(crate) file: usize,
    /// A materialized view.
    pub(crate) materialized: bool,
    /// For a materialized view: whether it holds data (`false` after `WITH NO DATA`, until a
    /// refresh without it).
    pub(crate) populated: bool,
    /// The indexes created on a materialized view.
    indexes: Vec<Key>,
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
        self.columns.get(name)
    }

    /// Its columns, in order.
    pub(crate) fn columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.values()
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
    /// Set the `search_path` that unqualified names resolve through, for the statements that
    /// follow.
    pub(crate) fn set_search_path(&mut self, search_path: Arc<[String]>) {
        self.search_path = search_path;
    }

    /// The schema an unqualified new object is created in: the first of the `search_path`.
    fn creation_schema(&self) -> &str {
        self.search_path
            .first()
            .map_or(DEFAULT_SCHEMA, String::as_str)
    }

    /// The key `name` denotes in `catalog`: its own schema, or the first schema of the
    /// `search_path` that has it; for an object that no schema has, where it would be created.
    fn resolve<V: Clone>(&self, catalog: &Catalog<V>, name: &Name) -> Key {
        if let Some(schema) = &name.schema {
            return Key::new(schema, &name.name);
        }
        self.search_path
            .iter()
            .map(|schema| Key::new(schema, &name.name))
            .find(|key| catalog.contains(key))
            .unwrap_or_else(|| Key::new(self.creation_schema(), &name.name))
    }

    /// The schema-qualified relation (table, view or index) that `name` denotes under the
    /// `search_path` in force, as PostgreSQL resolves it: its own schema when qualified; else
    /// the first schema of the path where the migrations made a relation of that name; else
    /// the first schema of the path, where an unqualified relation is created (a relation the
    /// migrations do not know is taken to be there too: which schemas hold one on the database
    /// cannot be known here).
    pub(crate) fn qualified(&self, name: &Name) -> Name {
        if name.schema.is_some() {
            return name.clone();
        }
        let known = |key: &Key| {
            self.tables.contains(key) || self.views.contains(key) || self.indexes.contains(key)
        };
        let key = self
            .search_path
            .iter()
            .map(|schema| Key::new(schema, &name.name))
            .find(known)
            .unwrap_or_else(|| Key::new(self.creation_schema(), &name.name));
        Name {
            schema: Some(key.schema),
            name: key.name,
        }
    }

    /// Whether two relation names, written under the `search_path` in force, denote the same
    /// relation: `users` and `app.users` do only when `users` resolves to `app`.
    pub(crate) fn same_relation(&self, a: &Name, b: &Name) -> bool {
        a.name == b.name && self.qualified(a) == self.qualified(b)
    }

    /// The `(schema, name)` pairs a relation name can denote on the database, in the order
    /// PostgreSQL tries them: its own schema when qualified; else the schema of the
    /// `search_path` whose table or index of that name the migrations know; else each schema
    /// of the `search_path` (a relation that existed before the migrations, unknown here).
    pub(crate) fn relation_candidates(&self, name: &Name) -> Vec<(String, String)> {
        let known = |key: &Key| self.tables.contains(key) || self.indexes.contains(key);
        if let Some(schema) = &name.schema {
            return vec![(schema.clone(), name.name.clone())];
        }
        let keys = self
            .search_path
            .iter()
            .map(|schema| Key::new(schema, &name.name));
        match keys.clone().find(known) {
            Some(key) => vec![(key.schema, key.name)],
            None => keys.map(|key| (key.schema, key.name)).collect(),
        }
    }

    pub(crate) fn table(&self, name: &Name) -> Option<&Table> {
        self.tables.get(&self.resolve(&self.tables, name))
    }

    /// The view (plain or materialized) named `name`, if the migrations created it.
    pub(crate) fn view(&self, name: &Name) -> Option<&View> {
        self.views.get(&self.resolve(&self.views.catalog, name))
    }

    /// The views dropped so far, most recent first.
    pub(crate) fn dropped_views(&self) -> impl Iterator<Item = &DroppedView> {
        self.dropped_views.iter().rev()
    }

    /// Whether a known view reads `table`.
    pub(crate) fn views_reading(&self, table: &Name) -> bool {
        self.views.read(&self.qualified(table))
    }

    /// The known indexes of `table` that involve `column` (by name or in an expression).
    pub(crate) fn indexes_on(&self, table: &Name, column: &str) -> Vec<&Index> {
        self.table(table).map_or_else(Vec::new, |t| {
            t.indexes
                .iter()
                .filter_map(|key| self.indexes.get(key))
                .filter(|i| {
                    i.columns
                        .iter()
                        .any(|c| c == column || names_column(c, column))
                })
                .collect()
        })
    }

    /// Whether an index (or a primary key or unique constraint) of `table` starts with
    /// `columns`, in any order: PostgreSQL can then find the rows that hold given values.
    pub(crate) fn has_index_leading_with(&self, table: &Name, columns: &[String]) -> bool {
        use crate::rules::leads_with;
        self.table(table).is_some_and(|t| {
            t.indexes
                .iter()
                .filter_map(|key| self.indexes.get(key))
                .any(|i| leads_with(&i.columns, columns))
                || t.constraints.iter().any(|c| {
                    matches!(
                        c.kind,
                        ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                    ) && leads_with(&c.columns, columns)
                })
        })
    }

    /// The materialized view `name`, when the migrations created it.
    pub(crate) fn materialized_view(&self, name: &Name) -> Option<&View> {
        self.views
            .get(&self.resolve(&self.views.catalog, name))
            .filter(|v| v.materialized)
    }

    /// The known indexes of the relation `name`: a materialized view the migrations created,
    /// or else a table (or a relation that existed before them, known from its indexes).
    pub(crate) fn relation_indexes(&self, name: &Name) -> Vec<&Index> {
        let keys = match self.materialized_view(name) {
            Some(view) => &view.indexes,
            None => match self.table(name) {
                Some(table) => &table.indexes,
                None => return Vec::new(),
            },
        };
        keys.iter()
            .filter_map(|key| self.indexes.get(key))
            .collect()
    }

    pub(crate) fn index(&self, name: &Name) -> Option<&Index> {
        self.indexes.get(&self.resolve(&self.indexes, name))
    }

    pub(crate) fn enum_type(&self, name: &Name) -> Option<&EnumType> {
        self.enums.get(&self.resolve(&self.enums, name))
    }

    pub(crate) fn domain(&self, name: &Name) -> Option<&Domain> {
        self.domains.get(&self.resolve(&self.domains, name))
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
        let domain = self.resolve(&self.domains, name);
        let of_domain = |c: &Column| {
            !c.data_type.array && self.resolve(&self.domains, &type_name(&c.data_type)) == domain
        };
        self.tables
            .ordered_where(|t| t.columns().any(of_domain))
            .into_iter()
            .flat_map(|t| {
                t.columns()
                    .filter(|c| of_domain(c))
                    .map(|c| (t.name.clone(), c.name.clone()))
            })
            .collect()
    }

    /// The partitions of `parent` known so far.
    pub(crate) fn partitions(&self, parent: &Name) -> Vec<&Table> {
        let parent = Some(self.qualified(parent));
        self.tables.ordered_where(|t| t.partition_of == parent)
    }

    /// The default partition of `parent`, when the migrations gave it one.
    pub(crate) fn default_partition(&self, parent: &Name) -> Option<&Table> {
        self.partitions(parent)
            .into_iter()
            .find(|t| t.default_partition)
    }

    /// Foreign keys that reference `column` of `table` (naming it, or through the primary key).
    pub(crate) fn referencing(&self, table: &Name, column: &str) -> Vec<Referencing> {
        let primary_key = self.table(table).and_then(Table::primary_key);
        let target = self.qualified(table);
        let hits = |constraint: &TableConstraint| {
            let ConstraintKind::ForeignKey {
                references,
                referenced_columns,
                ..
            } = &constraint.kind
            else {
                return false;
            };
            references.name == table.name
                && self.qualified(references) == target
                && if referenced_columns.is_empty() {
                    primary_key.is_some_and(|pk| pk.iter().any(|c| c == column))
                } else {
                    referenced_columns.iter().any(|c| c == column)
                }
        };
        let mut out: Vec<Referencing> = Vec::new();
        for child in self
            .tables
            .ordered_where(|t| t.constraints.iter().any(hits))
        {
            for constraint in child.constraints.iter().filter(|c| hits(c)) {
                let found = Referencing {
                    table: child.name.clone(),
                    constraint: constraint.name.clone(),
                };
                if !out.contains(&found) {
                    out.push(found);
                }
            }
        }
        out
    }

    /// Start recording how to undo the changes that follow (for a down migration, which is
    /// checked against the schema its up migration left and undoes nothing for the later ones).
    pub(crate) fn record(&mut self) {
        self.tables.record();
        self.views.record();
        self.indexes.record();
        self.enums.record();
        self.domains.record();
        self.dropped_views_mark = Some(self.dropped_views.len());
    }

    /// Undo every change made since [`Schema::record`].
    pub(crate) fn rollback(&mut self) {
        self.tables.rollback();
        self.views.rollback();
        self.indexes.rollback();
        self.enums.rollback();
        self.domains.rollback();
        if let Some(mark) = self.dropped_views_mark.take() {
            self.dropped_views.truncate(mark);
        }
    }

    /// Record the effect of a statement of file `file` (top-level statement `statement`).
    pub(crate) fn apply(&mut self, kind: &StatementKind, file: usize, statement: usize) {
        match kind {
            StatementKind::CreateTable(create) => {
                if create.if_not_exists && self.table(&create.table).is_some() {
                    return;
                }
                let mut columns: IndexMap<String, Column> = create
                    .columns
                    .iter()
                    .map(|def| (def.name.clone(), column(def)))
                    .collect();
                if let Some(parent) = create.partition_of.as_ref().and_then(|p| self.table(p)) {
                    for inherited in parent.columns() {
                        columns
                            .entry(inherited.name.clone())
                            .or_insert_with(|| inherited.clone());
                    }
                }
                let mut table = Table {
                    name: create.table.clone(),
                    columns,
                    file: Some(file),
                    constraints: Vec::new(),
                    partitioned: create.partition_by,
                    partition_of: create.partition_of.as_ref().map(|p| self.qualified(p)),
                    default_partition: create.default_partition,
                    indexes: Vec::new(),
                };
                for def in &create.columns {
                    table.add_column_constraints(def);
                }
                for constraint in &create.constraints {
                    table.add_constraint(constraint, true);
                }
                let key = Key::new(
                    create
                        .table
                        .schema
                        .as_deref()
                        .unwrap_or(self.creation_schema()),
                    &create.table.name,
                );
                self.tables.insert(key, table);
            }
            StatementKind::AlterTable(alter) => {
                for action in &alter.actions {
                    self.apply_action(&alter.table, &action.kind);
                }
            }
            StatementKind::CreateIndex(index) => {
                let view = self.resolve(&self.views.catalog, &index.table);
                if let (Some(name), Some(_)) = (&index.name, self.materialized_view(&index.table)) {
                    // An index on a materialized view the migrations created.
                    let key = Key::new(&view.schema, &name.name);
                    self.views.update(&view, |v| v.indexes.push(key.clone()));
                    self.indexes.insert(key, index_of(name, index, true));
                } else if let Some(name) = &index.name {
                    // `ON ONLY` a partitioned table: invalid until every partition's index is attached.
                    let only = index.only
                        && self
                            .table(&index.table)
                            .is_none_or(|t| t.partitioned || t.file.is_none());
                    // An index lives in its table's schema.
                    let table = self.known_table(&index.table);
                    let key = Key::new(&table.schema, &name.name);
                    if let Some(t) = self.tables.get_mut(&table) {
                        t.indexes.push(key.clone());
                    }
                    self.indexes.insert(key, index_of(name, index, !only));
                }
            }
            StatementKind::DropIndex { names, .. } => {
                for name in names {
                    let key = self.resolve(&self.indexes, name);
                    self.drop_index(&key);
                }
            }
            StatementKind::CreateType {
                name,
                enum_labels: Some(labels),
            } => {
                let key = self.creation_key(name);
                self.enums.insert(
                    key,
                    EnumType {
                        name: name.clone(),
                        labels: labels.clone(),
                    },
                );
            }
            StatementKind::AlterType { name, action } => {
                let key = self.resolve(&self.enums, name);
                if let Some(e) = self.enums.get_mut(&key) {
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
                        // It fails on every version: the labels stay.
                        AlterTypeAction::DropValue { .. } | AlterTypeAction::Other => {}
                    }
                }
            }
            StatementKind::CreateDomain {
                name,
                base,
                constraints,
            } => {
                let key = self.creation_key(name);
                self.domains.insert(
                    key,
                    Domain {
                        name: name.clone(),
                        base: base.clone(),
                        constraints: constraints
                            .iter()
                            .map(|c| DomainConstraintState {
                                constraint: c.clone(),
                                validated: true,
                            })
                            .collect(),
                    },
                );
            }
            StatementKind::AlterDomain { name, action } => {
                let key = self.resolve(&self.domains, name);
                let Some(domain) = self.domains.get_mut(&key) else {
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
                    for name in names {
                        let key = self.resolve(&self.tables, name);
                        if let Some(table) = self.tables.remove(&key) {
                            for index in &table.indexes {
                                if self
                                    .indexes
                                    .get(index)
                                    .is_some_and(|i| i.table.name == table.name.name)
                                {
                                    self.indexes.remove(index);
                                }
                            }
                        }
                    }
                }
                ObjectKind::View | ObjectKind::MaterializedView => {
                    for name in names {
                        let key = self.resolve(&self.views.catalog, name);
                        if let Some(view) = self.views.remove(&key) {
                            for index in &view.indexes {
                                self.indexes.remove(index);
                            }
                            self.dropped_views.push(DroppedView {
                                view,
                                file,
                                statement,
                            });
                        }
                    }
                }
                ObjectKind::Type => {
                    for name in names {
                        let key = self.resolve(&self.enums, name);
                        self.enums.remove(&key);
                        let key = self.resolve(&self.domains, name);
                        self.domains.remove(&key);
                    }
                }
                ObjectKind::Other(_) => {}
            },
            StatementKind::CreateView {
                name,
                reads,
                materialized,
                populated,
                ..
            } => {
                let key = self.resolve(&self.views.catalog, name);
                // `CREATE OR REPLACE VIEW` keeps the view (a materialized view has no such form).
                let indexes = self
                    .views
                    .remove(&key)
                    .map(|v| v.indexes)
                    .unwrap_or_default();
                let key = self.creation_key(name);
                self.views.insert(
                    key,
                    View {
                        name: name.clone(),
                        reads: reads.iter().map(|r| self.qualified(r)).collect(),
                        file,
                        materialized: *materialized,
                        populated: *populated,
                        indexes,
                    },
                );
            }
            StatementKind::RefreshMaterializedView { name, no_data, .. } => {
                let key = self.resolve(&self.views.catalog, name);
                self.views.update(&key, |view| view.populated = !no_data);
            }
            StatementKind::RenameView { view, to, .. } => {
                let key = self.resolve(&self.views.catalog, view);
                let renamed = Key::new(&key.schema, &to.name);
                self.views.rekey(&key, renamed.clone());
                let mut indexes = Vec::new();
                self.views.update(&renamed, |v| {
                    v.name = to.clone();
                    indexes.clone_from(&v.indexes);
                });
                for index in &indexes {
                    if let Some(i) = self.indexes.get_mut(index) {
                        i.table = to.clone();
                    }
                }
            }
            StatementKind::Do { body } => {
                for inner in body {
                    self.apply(&inner.kind, file, statement);
                }
            }
            _ => {}
        }
    }

    /// Where a new object called `name` is created.
    fn creation_key(&self, name: &Name) -> Key {
        Key::new(
            name.schema.as_deref().unwrap_or(self.creation_schema()),
            &name.name,
        )
    }

    /// The key of the table `name` denotes, recording a table that existed before the
    /// migrations checked (known only from what they do to it) on first mention.
    fn known_table(&mut self, name: &Name) -> Key {
        let key = self.resolve(&self.tables, name);
        if !self.tables.contains(&key) {
            self.tables.insert(
                key.clone(),
                Table {
                    name: name.clone(),
                    columns: IndexMap::new(),
                    file: None,
                    constraints: Vec::new(),
                    partitioned: false,
                    partition_of: None,
                    default_partition: false,
                    indexes: Vec::new(),
                },
            );
        }
        key
    }

    fn apply_action(&mut self, table_name: &Name, action: &ActionKind) {
        if let ActionKind::RenameTable { to } = action {
            self.rename_references(table_name, to);
        }
        let key = self.known_table(table_name);
        if let ActionKind::AttachPartition { partition, .. }
        | ActionKind::DetachPartition { partition, .. } = action
        {
            let parent = self.tables.get(&key).map(|_| Name {
                schema: Some(key.schema.clone()),
                name: key.name.clone(),
            });
            let attach = matches!(action, ActionKind::AttachPartition { .. });
            let default = matches!(action, ActionKind::AttachPartition { default: true, .. });
            if attach || self.table(partition).is_some() {
                let partition = self.known_table(partition);
                if let Some(p) = self.tables.get_mut(&partition) {
                    p.partition_of = parent.filter(|_| attach);
                    p.default_partition = default;
                }
            }
            if let Some(t) = self.tables.get_mut(&key) {
                t.partitioned = true;
            }
            return;
        }
        match action {
            ActionKind::RenameTable { to } => {
                let renamed = Key::new(&key.schema, &to.name);
                self.tables.rekey(&key, renamed.clone());
                if let Some(table) = self.tables.get_mut(&renamed) {
                    table.name = to.clone();
                }
                return;
            }
            ActionKind::SetSchema { schema } => {
                let to = Name {
                    schema: Some(schema.clone()),
                    name: key.name.clone(),
                };
                self.rename_references(table_name, &to);
                // Its indexes move with it.
                let indexes = self.tables.get(&key).map(|t| t.indexes.clone());
                let mut moved_indexes = Vec::new();
                for index in indexes.unwrap_or_default() {
                    let moved = Key::new(schema, &index.name);
                    self.indexes.rekey(&index, moved.clone());
                    if let Some(i) = self.indexes.get_mut(&moved) {
                        i.name.schema = Some(schema.clone());
                    }
                    moved_indexes.push(moved);
                }
                let moved = Key::new(schema, &key.name);
                self.tables.rekey(&key, moved.clone());
                if let Some(table) = self.tables.get_mut(&moved) {
                    table.name = to;
                    table.indexes = moved_indexes;
                }
                return;
            }
            ActionKind::AddConstraint {
                constraint,
                not_valid,
            } if matches!(
                constraint.kind,
                ConstraintKind::PrimaryKey {
                    using_index: Some(_),
                    ..
                } | ConstraintKind::Unique {
                    using_index: Some(_),
                    ..
                }
            ) =>
            {
                self.add_constraint_using_index(&key, constraint, !not_valid);
                return;
            }
            ActionKind::RenameConstraint { from, to } => {
                // A primary key, unique or exclusion constraint's index is renamed with it.
                self.rename_index(&Key::new(&key.schema, from), to);
            }
            ActionKind::DropConstraint { name } => {
                // Dropping a primary key, unique or exclusion constraint drops its index.
                let index = Key::new(&key.schema, name);
                let owned = self.tables.get(&key).is_some_and(|t| {
                    t.constraint(name).is_some_and(|c| {
                        matches!(
                            c.kind,
                            ConstraintKind::PrimaryKey { .. } | ConstraintKind::Unique { .. }
                        )
                    })
                });
                if owned {
                    self.drop_index(&index);
                }
            }
            ActionKind::DropColumn { column } => {
                // PostgreSQL drops the indexes that involve the column.
                let dropped: Vec<Key> = self
                    .tables
                    .get(&key)
                    .map(|t| t.indexes.clone())
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|index| {
                        self.indexes.get(index).is_some_and(|i| {
                            i.columns
                                .iter()
                                .any(|c| c == column || names_column(c, column))
                        })
                    })
                    .collect();
                for index in &dropped {
                    self.drop_index(index);
                }
            }
            ActionKind::RenameColumn { from, to } => {
                // Indexes keep indexing the column under its new name.
                let indexes = self.tables.get(&key).map(|t| t.indexes.clone());
                for index in indexes.unwrap_or_default() {
                    if let Some(i) = self.indexes.get_mut(&index) {
                        for column in &mut i.columns {
                            *column = rename_in(column, from, to);
                        }
                    }
                }
            }
            _ => {}
        }
        let Some(table) = self.tables.get_mut(&key) else {
            return;
        };
        match action {
            ActionKind::AddColumn(def) => {
                table.columns.shift_remove(&def.name);
                table.columns.insert(def.name.clone(), column(def));
                table.add_column_constraints(def);
            }
            ActionKind::DropColumn { column } => {
                table.columns.shift_remove(column);
                table.constraints.retain(|c| !c.columns.contains(column));
            }
            ActionKind::RenameColumn { from, to } => {
                if let Some(index) = table.columns.get_index_of(from)
                    && let Some((_, mut renamed)) = table.columns.shift_remove_index(index)
                {
                    renamed.name.clone_from(to);
                    table.columns.shift_remove(to);
                    let index = index.min(table.columns.len());
                    table.columns.shift_insert(index, to.clone(), renamed);
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
            ActionKind::AlterColumnType {
                column, data_type, ..
            } => {
                if let Some(c) = table.columns.get_mut(column) {
                    c.data_type = data_type.clone();
                }
            }
            ActionKind::SetNotNull { column } => {
                if let Some(c) = table.columns.get_mut(column) {
                    c.not_null = true;
                }
            }
            ActionKind::SetDefault { column } | ActionKind::DropDefault { column } => {
                if let Some(c) = table.columns.get_mut(column) {
                    c.default = if matches!(action, ActionKind::SetDefault { .. }) {
                        ColumnDefault::Unknown
                    } else {
                        ColumnDefault::None
                    };
                }
            }
            ActionKind::DropNotNull { column } => {
                if let Some(c) = table.columns.get_mut(column) {
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

    /// Drop the index `key`, from the catalog and from its table's list.
    fn drop_index(&mut self, key: &Key) {
        if let Some(index) = self.indexes.remove(key) {
            let table = self.resolve(&self.tables, &index.table);
            if let Some(t) = self.tables.get_mut(&table) {
                t.indexes.retain(|k| k != key);
            }
            let view = self.resolve(&self.views.catalog, &index.table);
            self.views.update(&view, |v| v.indexes.retain(|k| k != key));
        }
    }

    /// Rename the index `key` to `to` (in the same schema), in the catalog and its table's list.
    fn rename_index(&mut self, key: &Key, to: &str) {
        if key.name == to || !self.indexes.contains(key) {
            return;
        }
        let renamed = Key::new(&key.schema, to);
        self.indexes.rekey(key, renamed.clone());
        let Some(index) = self.indexes.get_mut(&renamed) else {
            return;
        };
        to.clone_into(&mut index.name.name);
        let table = index.table.clone();
        let table = self.resolve(&self.tables, &table);
        if let Some(t) = self.tables.get_mut(&table) {
            for k in t.indexes.iter_mut().filter(|k| *k == key) {
                k.clone_from(&renamed);
            }
        }
    }

    /// `ADD [CONSTRAINT name] {PRIMARY KEY | UNIQUE} USING INDEX index` on the table `key`: the
    /// constraint has the index's columns (a primary key makes them `NOT NULL`), and the index
    /// is renamed after the constraint.
    fn add_constraint_using_index(&mut self, key: &Key, constraint: &Constraint, validated: bool) {
        let (ConstraintKind::PrimaryKey {
            using_index: Some(index),
            ..
        }
        | ConstraintKind::Unique {
            using_index: Some(index),
            ..
        }) = &constraint.kind
        else {
            return;
        };
        let index_key = Key::new(&key.schema, index);
        let columns = self
            .indexes
            .get(&index_key)
            .map(|i| i.columns.clone())
            .unwrap_or_default();
        let mut constraint = constraint.clone();
        if let ConstraintKind::PrimaryKey { columns: c, .. }
        | ConstraintKind::Unique { columns: c, .. } = &mut constraint.kind
        {
            c.clone_from(&columns);
        }
        if let Some(name) = &constraint.name {
            self.rename_index(&index_key, name);
        }
        if let Some(table) = self.tables.get_mut(key) {
            table.add_constraint(&constraint, validated);
        }
    }

    /// `from` is renamed `to` (unqualified: in the same schema; qualified: moved to another):
    /// views, indexes, partitions and foreign keys follow it.
    fn rename_references(&mut self, from: &Name, to: &Name) {
        let old = self.qualified(from);
        let new = to.in_schema(old.schema.as_deref().unwrap_or(DEFAULT_SCHEMA));
        // A foreign key names the table as written, resolved when it is compared.
        let creation_schema = self.creation_schema().to_owned();
        let references_from = |references: &Name| references.in_schema(&creation_schema) == old;
        self.views.rename_reads(&old, &new);
        let indexes = self
            .table(from)
            .map(|t| t.indexes.clone())
            .unwrap_or_default();
        for index in &indexes {
            if let Some(index) = self.indexes.get_mut(index) {
                index.table = to.clone();
            }
        }
        let references = |table: &Table| {
            table.partition_of.as_ref() == Some(&old)
                || table.constraints.iter().any(|c| {
                    matches!(&c.kind, ConstraintKind::ForeignKey { references, .. } if references_from(references))
                })
        };
        self.tables.update_where(references, |table| {
            if table.partition_of.as_ref() == Some(&old) {
                table.partition_of = Some(new.clone());
            }
            for constraint in &mut table.constraints {
                if let ConstraintKind::ForeignKey { references, .. } = &mut constraint.kind
                    && references_from(references)
                {
                    *references = to.clone();
                }
            }
        });
    }
}

/// The catalog entry of the index `name` that `index` creates.
fn index_of(name: &Name, index: &crate::model::CreateIndex, valid: bool) -> Index {
    Index {
        name: name.clone(),
        table: index.table.clone(),
        unique: index.unique,
        valid,
        columns: index.columns.clone(),
        expressions: index.expressions,
        partial: index.partial,
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
            for name in &columns {
                if let Some(c) = self.columns.get_mut(name) {
                    c.not_null = true;
                }
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
            add(ConstraintKind::check(expr.clone(), None));
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

/// An index column (a name, or an expression as SQL) with the column `from` renamed `to`.
fn rename_in(indexed: &str, from: &str, to: &str) -> String {
    if indexed == from {
        return to.to_owned();
    }
    let (tokens, _) = tokenize(indexed);
    let mut out = String::new();
    let mut at = 0;
    for token in tokens {
        let text = token.text(indexed);
        let names = match token.kind {
            TokenKind::Word => text.eq_ignore_ascii_case(from),
            TokenKind::QuotedIdent => text.trim_matches('"').replace("\"\"", "\"") == from,
            _ => false,
        };
        if names {
            out.push_str(&indexed[at..token.range.start]);
            out.push_str(&crate::model::quote_ident(to));
            at = token.range.end;
        }
    }
    out.push_str(&indexed[at..]);
    out
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
        default: match &def.default {
            Some(d) if !d.is_null => ColumnDefault::Expr(d.text.clone()),
            _ => ColumnDefault::None,
        },
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
    fn materialized_views_keep_their_indexes_and_whether_they_hold_data() {
        let usable = |schema: &Schema, view: &str| -> Vec<String> {
            schema
                .relation_indexes(&Name::new(view))
                .into_iter()
                .filter(|i| i.identifies_rows())
                .map(|i| i.name.name.clone())
                .collect()
        };
        let populated = |schema: &Schema, view: &str| {
            schema
                .materialized_view(&Name::new(view))
                .unwrap()
                .populated
        };
        let created = "CREATE MATERIALIZED VIEW totals AS SELECT region, month, sum(n) AS n FROM sales GROUP BY 1, 2 WITH NO DATA;";
        let schema = replay(&[
            created,
            "CREATE UNIQUE INDEX totals_partial ON totals (region) WHERE n > 0;
             CREATE UNIQUE INDEX totals_expr ON totals (lower(region), month);
             CREATE INDEX totals_region ON totals (region);
             CREATE UNIQUE INDEX totals_key ON totals (region, month DESC) INCLUDE (n);",
        ]);
        assert_eq!(usable(&schema, "totals"), ["totals_key"]);
        assert!(!populated(&schema, "totals"));
        // A materialized view is no table.
        assert!(schema.table(&Name::new("totals")).is_none());

        let schema = replay(&[
            created,
            "CREATE UNIQUE INDEX totals_key ON totals (region, month);",
            "REFRESH MATERIALIZED VIEW totals;",
            "ALTER MATERIALIZED VIEW totals RENAME TO monthly_totals;",
        ]);
        assert!(schema.materialized_view(&Name::new("totals")).is_none());
        assert_eq!(usable(&schema, "monthly_totals"), ["totals_key"]);
        assert!(populated(&schema, "monthly_totals"));
        assert_eq!(
            schema.index(&Name::new("totals_key")).unwrap().table,
            Name::new("monthly_totals")
        );

        let schema = replay(&[
            created,
            "CREATE UNIQUE INDEX totals_key ON totals (region, month);",
            "REFRESH MATERIALIZED VIEW totals; REFRESH MATERIALIZED VIEW totals WITH NO DATA;",
            "DROP INDEX totals_key;",
        ]);
        assert!(usable(&schema, "totals").is_empty());
        assert!(!populated(&schema, "totals"));

        let schema = replay(&[
            created,
            "CREATE UNIQUE INDEX totals_key ON totals (region, month);",
            "DROP MATERIALIZED VIEW totals;",
        ]);
        assert!(schema.index(&Name::new("totals_key")).is_none());
        assert!(schema.materialized_view(&Name::new("totals")).is_none());

        // A materialized view that existed before the migrations: known by its indexes.
        let schema = replay(&["CREATE UNIQUE INDEX CONCURRENTLY old_key ON old_totals (id);"]);
        assert_eq!(usable(&schema, "old_totals"), ["old_key"]);
    }

    #[test]
    fn default_partitions_are_known_until_detached() {
        let default = |schema: &Schema| {
            schema
                .default_partition(&Name::new("logs"))
                .map(|t| t.name.name.clone())
        };
        let created = "CREATE TABLE logs (id bigint, at date) PARTITION BY RANGE (at);
            CREATE TABLE logs_2023 PARTITION OF logs FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');";
        assert_eq!(default(&replay(&[created])), None);
        let schema = replay(&[
            created,
            "CREATE TABLE logs_other PARTITION OF logs DEFAULT;",
        ]);
        assert_eq!(default(&schema).as_deref(), Some("logs_other"));
        let attached = "CREATE TABLE logs_rest (id bigint, at date);
            ALTER TABLE logs ATTACH PARTITION logs_rest DEFAULT;";
        assert_eq!(
            default(&replay(&[created, attached])).as_deref(),
            Some("logs_rest")
        );
        let detached = "ALTER TABLE logs DETACH PARTITION logs_rest;";
        assert_eq!(default(&replay(&[created, attached, detached])), None);
    }

    #[test]
    fn relations_resolve_through_the_search_path() {
        let mut schema = replay(&["CREATE TABLE app.users (id int); CREATE TABLE users (id int);"]);
        let (users, app_users, public_users) = (
            Name::new("users"),
            Name::new("users").in_schema("app"),
            Name::new("users").in_schema("public"),
        );
        // The default search_path: `users` is `public.users`, not `app.users`.
        assert_eq!(schema.qualified(&users), public_users);
        assert!(schema.same_relation(&users, &public_users));
        assert!(!schema.same_relation(&users, &app_users));
        assert!(!schema.same_relation(&users, &Name::new("orders")));
        // The first schema of the path that has one; else where it would be created.
        schema.set_search_path(Arc::from(["app".to_owned(), "public".to_owned()]));
        assert!(schema.same_relation(&users, &app_users));
        schema.set_search_path(Arc::from(["billing".to_owned(), "public".to_owned()]));
        assert!(schema.same_relation(&users, &public_users));
        assert_eq!(
            schema.qualified(&Name::new("invoices")),
            Name::new("invoices").in_schema("billing")
        );
    }

    #[test]
    fn views_and_partitions_keep_the_relation_they_resolved_to() {
        let mut schema = Schema::default();
        for (i, sql) in [
            "CREATE TABLE app.events (id int) PARTITION BY RANGE (id)",
            "SET search_path = app",
            "CREATE VIEW recent AS SELECT * FROM events",
            "CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM (0) TO (10)",
        ]
        .iter()
        .enumerate()
        {
            if i == 1 {
                schema.set_search_path(Arc::from(["app".to_owned()]));
                continue;
            }
            for statement in lower_file(sql, &split(sql)) {
                schema.apply(&statement.kind, 0, i);
            }
        }
        schema.set_search_path(default_search_path());
        let (events, app_events) = (Name::new("events"), Name::new("events").in_schema("app"));
        assert!(schema.views_reading(&app_events) && !schema.views_reading(&events));
        assert_eq!(schema.partitions(&app_events).len(), 1);
        assert!(schema.partitions(&events).is_empty());
    }

    #[test]
    fn which_tables_views_read_follows_creates_drops_renames_and_undo() {
        let reads = |schema: &Schema, table: &str| schema.views_reading(&Name::new(table));
        let mut schema = replay(&[
            "CREATE TABLE a (id int); CREATE TABLE b (id int);",
            "CREATE VIEW v AS SELECT * FROM a JOIN a AS again USING (id);",
            "CREATE VIEW w AS SELECT * FROM b;",
        ]);
        assert!(reads(&schema, "a") && reads(&schema, "b"));
        let apply = |schema: &mut Schema, sql: &str| {
            for statement in lower_file(sql, &split(sql)) {
                schema.apply(&statement.kind, 3, 0);
            }
        };
        schema.record();
        apply(&mut schema, "ALTER TABLE a RENAME TO c;");
        assert!(!reads(&schema, "a") && reads(&schema, "c"));
        apply(&mut schema, "CREATE OR REPLACE VIEW v AS SELECT * FROM b;");
        apply(&mut schema, "ALTER VIEW v RENAME TO v2;");
        assert!(!reads(&schema, "c") && reads(&schema, "b"));
        apply(&mut schema, "DROP VIEW v2; DROP VIEW w;");
        assert!(!reads(&schema, "b"));
        schema.rollback();
        assert!(reads(&schema, "a") && reads(&schema, "b") && !reads(&schema, "c"));
        apply(&mut schema, "DROP VIEW v;");
        assert!(!reads(&schema, "a") && reads(&schema, "b"));
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
    fn primary_keys_using_an_index_take_its_columns_and_name() {
        let schema = replay(&[
            "CREATE TABLE users (id int, email text, code int); CREATE UNIQUE INDEX users_id_idx ON users (id); CREATE UNIQUE INDEX users_code_idx ON users (code);",
            "ALTER TABLE users ADD CONSTRAINT users_pkey PRIMARY KEY USING INDEX users_id_idx, ADD UNIQUE USING INDEX users_code_idx;",
        ]);
        let users = schema.table(&Name::new("users")).unwrap();
        assert!(users.column("id").unwrap().not_null);
        assert!(!users.column("code").unwrap().not_null);
        assert_eq!(users.primary_key(), Some(&["id".to_owned()][..]));
        assert!(schema.has_index_leading_with(&Name::new("users"), &["code".to_owned()]));
        // The index now goes by the constraint's name.
        assert!(schema.index(&Name::new("users_id_idx")).is_none());
        assert_eq!(
            schema.index(&Name::new("users_pkey")).unwrap().columns,
            ["id"]
        );
        assert!(schema.index(&Name::new("users_code_idx")).is_some());
    }

    #[test]
    fn index_columns_follow_column_renames_and_drops() {
        let schema = replay(&[
            "CREATE TABLE users (id int, email text, name text); CREATE INDEX users_email_idx ON users (email); CREATE INDEX users_lower_email_idx ON users (lower(email), id); CREATE INDEX users_name_idx ON users (name);",
            "ALTER TABLE users RENAME COLUMN email TO \"E-mail\"; ALTER TABLE users DROP COLUMN name;",
        ]);
        let users = Name::new("users");
        assert_eq!(
            schema.index(&Name::new("users_email_idx")).unwrap().columns,
            ["E-mail"]
        );
        assert_eq!(
            schema
                .index(&Name::new("users_lower_email_idx"))
                .unwrap()
                .columns,
            ["lower(\"E-mail\")", "id"]
        );
        assert_eq!(schema.indexes_on(&users, "E-mail").len(), 2);
        assert!(schema.indexes_on(&users, "email").is_empty());
        // Dropping a column drops the indexes that involve it.
        assert!(schema.index(&Name::new("users_name_idx")).is_none());
        assert!(schema.indexes_on(&users, "name").is_empty());
    }

    #[test]
    fn constraint_indexes_follow_renames_drops_and_schema_moves() {
        let schema = replay(&[
            "CREATE TABLE users (id int, email text); CREATE UNIQUE INDEX users_email_idx ON users (email);",
            "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx; ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_email_unique;",
        ]);
        assert!(schema.index(&Name::new("users_email_key")).is_none());
        assert!(schema.index(&Name::new("users_email_unique")).is_some());
        let schema = replay(&[
            "CREATE TABLE users (id int, email text); CREATE UNIQUE INDEX users_email_idx ON users (email); ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_idx;",
            "ALTER TABLE users DROP CONSTRAINT users_email_key;",
        ]);
        assert!(schema.index(&Name::new("users_email_key")).is_none());
        let schema = replay(&[
            "CREATE TABLE users (id int PRIMARY KEY); CREATE TABLE orders (user_id int REFERENCES users (id)); CREATE INDEX users_id_idx ON users (id);",
            "ALTER TABLE users SET SCHEMA archive;",
        ]);
        let moved = Name {
            schema: Some("archive".to_owned()),
            name: "users".to_owned(),
        };
        assert!(schema.table(&Name::new("users")).is_none());
        assert!(schema.table(&moved).is_some());
        assert_eq!(schema.referencing(&moved, "id")[0].table.name, "orders");
        let index = Name {
            schema: Some("archive".to_owned()),
            name: "users_id_idx".to_owned(),
        };
        assert_eq!(schema.index(&index).unwrap().table, moved);
        assert_eq!(schema.indexes_on(&moved, "id").len(), 1);
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

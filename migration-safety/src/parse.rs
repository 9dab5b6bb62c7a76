//! The sqlparser boundary: parse one statement with the PostgreSQL dialect and lower its AST
//! into [`crate::model`]. No other module imports sqlparser.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, AlterTypeOperation, ColumnOption, Expr,
    FromTable, GeneratedAs, ObjectName, ObjectNamePart, ObjectType, RenameTableNameKind, Set,
    TableConstraint, TableFactor, TableObject,
};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::lexer::Token;
use crate::model::{
    Action, ActionKind, AlterTable, AlterTypeAction, ColumnDef, Constraint, ConstraintKind,
    CreateIndex, CreateTable, DefaultExpr, Generated, LockMode, Name, ObjectKind, Part, Reference,
    StatementKind, TypeName, WrittenAction,
};
use crate::recognize;

/// sqlparser could not parse the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseFailure {
    /// sqlparser's message, without its position suffix.
    pub(crate) message: String,
    /// Byte offset of the error in the file, when sqlparser gave one.
    pub(crate) offset: Option<usize>,
}

/// Parse and lower one statement. `range` is the statement's byte range in `source`, and
/// `tokens` its tokens (from the migration-safety lexer, with file offsets).
pub(crate) fn parse_statement(
    source: &str,
    range: &Range<usize>,
    tokens: &[Token],
) -> Result<StatementKind, ParseFailure> {
    let text = source[range.clone()]
        .strip_suffix(';')
        .unwrap_or(&source[range.clone()]);
    let statement = parse_one(text).map_err(|e| failure(&e, text, range.start))?;
    Ok(Lowering { source, tokens }.statement(statement))
}

/// Parse one `ALTER TABLE` action on its own, as `ALTER TABLE <table> <action>`.
pub(crate) fn parse_alter_action(table: &str, action: &str) -> Option<ActionKind> {
    let statement = parse_one(&format!("ALTER TABLE {table} {action}")).ok()?;
    let ast::Statement::AlterTable(alter) = statement else {
        return None;
    };
    match alter.operations.as_slice() {
        [operation] => action_kind(operation, &name(&alter.name)),
        _ => None,
    }
}

fn parse_one(text: &str) -> Result<ast::Statement, ParserError> {
    let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, text)?;
    if statements.len() == 1 {
        Ok(statements.remove(0))
    } else {
        Err(ParserError::ParserError(format!(
            "expected one statement, found {}",
            statements.len()
        )))
    }
}

static POSITION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s*at Line: (\d+), Column: (\d+)").expect("valid regex"));

fn failure(error: &ParserError, text: &str, start: usize) -> ParseFailure {
    let raw = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "the statement is nested too deeply".to_owned(),
    };
    let offset = POSITION.captures(&raw).and_then(|c| {
        let line: usize = c[1].parse().ok()?;
        let column: usize = c[2].parse().ok()?;
        let line_start = if line <= 1 {
            0
        } else {
            text.match_indices('\n').nth(line - 2)?.0 + 1
        };
        let within = text[line_start..]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(text.len(), |(i, _)| line_start + i);
        Some(start + within)
    });
    ParseFailure {
        message: POSITION.replace(&raw, "").trim().to_owned(),
        offset,
    }
}

/// A name as PostgreSQL resolves it: unquoted identifiers fold to lower case.
fn ident(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

fn name(object: &ObjectName) -> Name {
    let mut parts: Vec<String> = object
        .0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(i) => ident(i),
            ObjectNamePart::Function(f) => ident(&f.name),
        })
        .collect();
    let last = parts.pop().unwrap_or_default();
    Name {
        schema: parts.pop(),
        name: last,
    }
}

fn data_type(data_type: &ast::DataType) -> TypeName {
    // sqlparser prints keywords in upper case; PostgreSQL folds unquoted type names anyway.
    let text = data_type.to_string();
    if text.contains('"') {
        TypeName::parse(&text)
    } else {
        TypeName::parse(&text.to_lowercase())
    }
}

fn default_expr(expr: &Expr) -> DefaultExpr {
    DefaultExpr::from_sql(&expr.to_string())
}

fn is_not_null_column(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Nested(inner) => is_not_null_column(inner),
        Expr::IsNotNull(inner) => match inner.as_ref() {
            Expr::Identifier(i) => Some(ident(i)),
            Expr::Nested(n) => match n.as_ref() {
                Expr::Identifier(i) => Some(ident(i)),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    }
}

fn column_def(def: &ast::ColumnDef) -> ColumnDef {
    let mut column = ColumnDef {
        name: ident(&def.name),
        data_type: data_type(&def.data_type),
        not_null: false,
        default: None,
        generated: None,
        primary_key: false,
        unique: false,
        references: None,
        referenced_columns: Vec::new(),
        check: None,
    };
    for option in &def.options {
        match &option.option {
            ColumnOption::NotNull => column.not_null = true,
            ColumnOption::Default(expr) => column.default = Some(default_expr(expr)),
            ColumnOption::PrimaryKey(_) => {
                column.primary_key = true;
                column.not_null = true;
            }
            ColumnOption::Unique(_) => column.unique = true,
            ColumnOption::ForeignKey(fk) => {
                column.references = Some(name(&fk.foreign_table));
                column.referenced_columns = fk.referred_columns.iter().map(ident).collect();
            }
            ColumnOption::Check(check) => column.check = Some(check.expr.to_string()),
            ColumnOption::Generated {
                generated_as,
                generation_expr,
                generation_expr_mode,
                ..
            } => {
                column.generated = Some(match (generated_as, generation_expr) {
                    (GeneratedAs::ExpStored, _) => Generated::Stored,
                    (_, Some(_)) => match generation_expr_mode {
                        Some(ast::GeneratedExpressionMode::Stored) => Generated::Stored,
                        _ => Generated::Virtual,
                    },
                    _ => Generated::Identity,
                });
            }
            ColumnOption::Identity(_) => column.generated = Some(Generated::Identity),
            _ => {}
        }
    }
    column
}

fn index_columns(columns: &[ast::IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .map(|c| match &c.column.expr {
            Expr::Identifier(i) => ident(i),
            other => other.to_string(),
        })
        .collect()
}

fn constraint(constraint: &TableConstraint) -> Constraint {
    let (name, kind) = match constraint {
        TableConstraint::Check(c) => (
            c.name.as_ref(),
            ConstraintKind::check(c.expr.to_string(), is_not_null_column(&c.expr)),
        ),
        TableConstraint::ForeignKey(fk) => (
            fk.name.as_ref(),
            ConstraintKind::ForeignKey {
                columns: fk.columns.iter().map(ident).collect(),
                references: name(&fk.foreign_table),
                referenced_columns: fk.referred_columns.iter().map(ident).collect(),
            },
        ),
        TableConstraint::Unique(u) => (
            u.name.as_ref(),
            ConstraintKind::Unique {
                columns: index_columns(&u.columns),
                using_index: None,
            },
        ),
        TableConstraint::PrimaryKey(pk) => (
            pk.name.as_ref(),
            ConstraintKind::PrimaryKey {
                columns: index_columns(&pk.columns),
                using_index: None,
            },
        ),
        TableConstraint::UniqueUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::Unique {
                columns: Vec::new(),
                using_index: Some(ident(&u.index_name)),
            },
        ),
        TableConstraint::PrimaryKeyUsingIndex(u) => (
            u.name.as_ref(),
            ConstraintKind::PrimaryKey {
                columns: Vec::new(),
                using_index: Some(ident(&u.index_name)),
            },
        ),
        TableConstraint::Exclude(e) => (e.name.as_ref(), ConstraintKind::Exclude),
        // MySQL-only forms; the PostgreSQL dialect does not produce them.
        TableConstraint::Index(_) | TableConstraint::FulltextOrSpatial(_) => {
            (None, ConstraintKind::Exclude)
        }
    };
    Constraint {
        name: name.map(ident),
        kind,
    }
}

/// Lower one `ALTER TABLE` operation; `None` for forms PostgreSQL does not have.
fn action_kind(operation: &AlterTableOperation, table: &Name) -> Option<ActionKind> {
    let other = |lock| ActionKind::Other {
        clause: operation.to_string(),
        lock,
    };
    Some(match operation {
        AlterTableOperation::AddColumn { column_def: c, .. } => {
            ActionKind::AddColumn(column_def(c))
        }
        AlterTableOperation::DropColumn { column_names, .. } => match column_names.as_slice() {
            [column] => ActionKind::DropColumn {
                column: ident(column),
            },
            _ => return None,
        },
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => ActionKind::RenameColumn {
            from: ident(old_column_name),
            to: ident(new_column_name),
        },
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::To(new) | RenameTableNameKind::As(new)) = table_name;
            let mut to = name(new);
            if to.schema.is_none() {
                to.schema.clone_from(&table.schema);
            }
            ActionKind::RenameTable { to }
        }
        AlterTableOperation::RenameConstraint { old_name, new_name } => {
            ActionKind::RenameConstraint {
                from: ident(old_name),
                to: ident(new_name),
            }
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let column = ident(column_name);
            match op {
                AlterColumnOperation::SetNotNull => ActionKind::SetNotNull { column },
                AlterColumnOperation::DropNotNull => ActionKind::DropNotNull { column },
                AlterColumnOperation::SetDefault { .. } => ActionKind::SetDefault { column },
                AlterColumnOperation::DropDefault => ActionKind::DropDefault { column },
                AlterColumnOperation::SetDataType {
                    data_type: t,
                    using,
                    ..
                } => ActionKind::AlterColumnType {
                    column,
                    data_type: data_type(t),
                    using: using.as_ref().map(ToString::to_string),
                },
                AlterColumnOperation::AddGenerated { .. } => other(LockMode::AccessExclusive),
            }
        }
        AlterTableOperation::AddConstraint {
            constraint: c,
            not_valid,
        } => ActionKind::AddConstraint {
            constraint: constraint(c),
            not_valid: *not_valid,
        },
        AlterTableOperation::ValidateConstraint { name } => {
            ActionKind::ValidateConstraint { name: ident(name) }
        }
        AlterTableOperation::DropConstraint { name, .. } => {
            ActionKind::DropConstraint { name: ident(name) }
        }
        AlterTableOperation::SetLogged | AlterTableOperation::SetUnlogged => ActionKind::Rewrite {
            clause: operation.to_string(),
        },
        AlterTableOperation::EnableTrigger { .. }
        | AlterTableOperation::DisableTrigger { .. }
        | AlterTableOperation::EnableAlwaysTrigger { .. }
        | AlterTableOperation::EnableReplicaTrigger { .. } => other(LockMode::ShareRowExclusive),
        AlterTableOperation::SetOptionsParens { .. } => other(LockMode::ShareUpdateExclusive),
        AlterTableOperation::DisableRowLevelSecurity
        | AlterTableOperation::EnableRowLevelSecurity
        | AlterTableOperation::ForceRowLevelSecurity
        | AlterTableOperation::NoForceRowLevelSecurity
        | AlterTableOperation::EnableRule { .. }
        | AlterTableOperation::DisableRule { .. }
        | AlterTableOperation::EnableAlwaysRule { .. }
        | AlterTableOperation::EnableReplicaRule { .. }
        | AlterTableOperation::ReplicaIdentity { .. }
        | AlterTableOperation::OwnerTo { .. } => other(LockMode::AccessExclusive),
        _ => return None,
    })
}

struct Lowering<'s> {
    source: &'s str,
    tokens: &'s [Token],
}

impl Lowering<'_> {
    fn statement(&self, statement: ast::Statement) -> StatementKind {
        use ast::Statement as S;
        let harmless = |command: &str| StatementKind::Harmless {
            command: command.to_owned(),
        };
        match statement {
            S::StartTransaction { statements, .. } if statements.is_empty() => StatementKind::Begin,
            S::Commit { .. } => StatementKind::Commit,
            S::Rollback {
                savepoint: None, ..
            } => StatementKind::Rollback,
            S::Rollback { .. } => harmless("ROLLBACK TO SAVEPOINT"),
            S::Savepoint { .. } => harmless("SAVEPOINT"),
            S::ReleaseSavepoint { .. } => harmless("RELEASE SAVEPOINT"),
            S::Set(set) => self.set(set),
            S::Reset(reset) => StatementKind::Reset {
                name: match reset.reset {
                    ast::Reset::ConfigurationParameter(n) => Some(setting_name(&n)),
                    ast::Reset::ALL | ast::Reset::SessionAuthorization => None,
                },
            },
            S::CreateTable(create) => self.create_table(&create),
            S::AlterTable(alter) => self.alter_table(&alter),
            S::CreateIndex(index) => StatementKind::CreateIndex(CreateIndex {
                name: index.name.as_ref().map(name),
                table: name(&index.table_name),
                unique: index.unique,
                concurrently: index.concurrently,
                only: false,
                if_not_exists: index.if_not_exists,
                columns: index_columns(&index.columns),
                expressions: index
                    .columns
                    .iter()
                    .any(|c| !matches!(c.column.expr, Expr::Identifier(_))),
                partial: index.predicate.is_some(),
                index_keyword_end: recognize::index_keyword_end(self.source, self.tokens),
            }),
            S::Drop {
                object_type, names, ..
            } => {
                let names = names.iter().map(name).collect();
                match object_type {
                    ObjectType::Index => StatementKind::DropIndex {
                        names,
                        concurrently: false,
                    },
                    object_type => StatementKind::Drop {
                        object: match object_type {
                            ObjectType::Table => ObjectKind::Table,
                            ObjectType::View => ObjectKind::View,
                            ObjectType::MaterializedView => ObjectKind::MaterializedView,
                            ObjectType::Type => ObjectKind::Type,
                            other => ObjectKind::Other(other.to_string()),
                        },
                        names,
                    },
                }
            }
            S::DropDomain(domain) => StatementKind::Drop {
                object: ObjectKind::Type,
                names: vec![name(&domain.name)],
            },
            S::CreateView(view) => StatementKind::CreateView {
                name: name(&view.name),
                materialized: view.materialized,
                or_replace: view.or_replace,
                reads: recognize::relations_read(self.source, self.tokens),
                populated: !recognize::with_no_data(self.source, self.tokens),
            },
            S::AlterType(alter) => StatementKind::AlterType {
                name: name(&alter.name),
                action: match alter.operation {
                    AlterTypeOperation::AddValue(add) => AlterTypeAction::AddValue {
                        value: add.value.value,
                    },
                    AlterTypeOperation::RenameValue(rename) => AlterTypeAction::RenameValue {
                        from: rename.from.value,
                        to: rename.to.value,
                    },
                    AlterTypeOperation::Rename(_) => AlterTypeAction::Other,
                },
            },
            S::AlterSchema(alter) => match alter.operations.as_slice() {
                [ast::AlterSchemaOperation::Rename { name: to }] => StatementKind::RenameSchema {
                    from: name(&alter.name).name,
                    to: name(to).name,
                },
                [ast::AlterSchemaOperation::OwnerTo { .. }] => harmless("ALTER SCHEMA … OWNER TO"),
                _ => StatementKind::Unanalyzed {
                    reason: format!("`{alter}` is not analysed"),
                },
            },
            S::Truncate(truncate) => StatementKind::Truncate {
                tables: truncate.table_names.iter().map(|t| name(&t.name)).collect(),
            },
            S::Update(update) => match &update.table.relation {
                TableFactor::Table { name: table, .. } => StatementKind::Dml {
                    command: "UPDATE",
                    table: name(table),
                    filtered: update.selection.is_some(),
                },
                _ => harmless("UPDATE"),
            },
            S::Delete(delete) => {
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                match from.first().map(|t| &t.relation) {
                    Some(TableFactor::Table { name: table, .. }) => StatementKind::Dml {
                        command: "DELETE",
                        table: name(table),
                        filtered: delete.selection.is_some(),
                    },
                    _ => harmless("DELETE"),
                }
            }
            S::Insert(insert) => StatementKind::Insert {
                table: match &insert.table {
                    TableObject::TableName(table) => Some(name(table)),
                    _ => None,
                },
            },
            S::Lock(lock) => StatementKind::LockTable {
                tables: lock.tables.iter().map(|t| name(&t.name)).collect(),
                mode: lock.lock_mode.map_or(LockMode::AccessExclusive, lock_mode),
            },
            S::CreatePolicy(policy) => policy_lock("CREATE POLICY", &policy.table_name),
            S::AlterPolicy(policy) => policy_lock("ALTER POLICY", &policy.table_name),
            S::DropPolicy(policy) => policy_lock("DROP POLICY", &policy.table_name),
            S::Copy {
                source: ast::CopySource::Table { table_name, .. },
                to: false,
                ..
            } => StatementKind::Insert {
                table: Some(name(&table_name)),
            },
            S::Copy { .. } => harmless("COPY"),
            S::CreateTrigger(trigger) => StatementKind::Trigger {
                table: name(&trigger.table_name),
                command: "CREATE TRIGGER",
            },
            S::DropTrigger(trigger) => match &trigger.table_name {
                Some(table) => StatementKind::Trigger {
                    table: name(table),
                    command: "DROP TRIGGER",
                },
                None => StatementKind::SyntaxError {
                    message: "DROP TRIGGER needs `ON table`".to_owned(),
                    offset: self.tokens.first().map_or(0, |t| t.range.start),
                },
            },
            S::Vacuum(vacuum) if vacuum.full => StatementKind::Rewrite {
                command: "VACUUM FULL".to_owned(),
                tables: vacuum.table_name.iter().map(name).collect(),
            },
            S::Vacuum(_) | S::Analyze(_) => StatementKind::Vacuum,
            S::Query(query) => match self.data_modifying(&query) {
                Some(kind) => kind,
                None => recognize::set_config(self.source, self.tokens)
                    .unwrap_or_else(|| harmless("SELECT")),
            },
            S::AlterIndex {
                operation: ast::AlterIndexOperation::RenameIndex { .. },
                ..
            } => harmless("ALTER INDEX … RENAME"),
            S::Comment { .. } => harmless("COMMENT"),
            S::Grant(_) => harmless("GRANT"),
            S::Revoke(_) => harmless("REVOKE"),
            // Renaming a function or moving it to another schema breaks its running callers,
            // which no rule checks yet; every other form only changes the function's properties.
            S::AlterFunction(alter) => match alter.operation {
                ast::AlterFunctionOperation::RenameTo { .. }
                | ast::AlterFunctionOperation::SetSchema { .. } => StatementKind::Unanalyzed {
                    reason: "renaming a function or moving it to another schema breaks the code that calls it by name, which is not analysed".to_owned(),
                },
                _ => harmless(&format!("ALTER {}", alter.kind)),
            },
            S::CreateFunction(_) => harmless("CREATE FUNCTION"),
            S::CreateProcedure { .. } => harmless("CREATE PROCEDURE"),
            S::DropFunction(drop) => StatementKind::Drop {
                object: ObjectKind::Other("FUNCTION".to_owned()),
                names: drop.func_desc.iter().map(|f| name(&f.name)).collect(),
            },
            S::DropProcedure { proc_desc, .. } => StatementKind::Drop {
                object: ObjectKind::Other("PROCEDURE".to_owned()),
                names: proc_desc.iter().map(|f| name(&f.name)).collect(),
            },
            S::CreateExtension(create) => StatementKind::Extension {
                name: ident(&create.name),
                create: true,
            },
            S::DropExtension(drop) => StatementKind::Extension {
                name: drop.names.iter().map(ident).collect::<Vec<_>>().join(", "),
                create: false,
            },
            S::CreateSchema { .. } => harmless("CREATE SCHEMA"),
            S::CreateSequence { .. } => harmless("CREATE SEQUENCE"),
            S::CreateType {
                name: type_name,
                representation,
            } => StatementKind::CreateType {
                name: name(&type_name),
                enum_labels: match representation {
                    Some(ast::UserDefinedTypeRepresentation::Enum { labels }) => {
                        Some(labels.into_iter().map(|l| l.value).collect())
                    }
                    _ => None,
                },
            },
            S::CreateDomain(_) => recognize::create_domain(self.source, self.tokens)
                .unwrap_or_else(|| harmless("CREATE DOMAIN")),
            S::CreateRole(_) | S::CreateUser(_) => harmless("CREATE ROLE"),
            S::AlterRole { .. } | S::AlterUser(_) => harmless("ALTER ROLE"),
            S::CreateCollation(_) => harmless("CREATE COLLATION"),
            S::Discard { .. } => harmless("DISCARD"),
            S::NOTIFY { .. } => harmless("NOTIFY"),
            S::Explain { .. } | S::ExplainTable { .. } => harmless("EXPLAIN"),
            S::ShowVariable { .. } => harmless("SHOW"),
            _ => StatementKind::Unanalyzed {
                reason: format!(
                    "`{}` statements are not analysed yet",
                    recognize::command_words(self.source, self.tokens)
                ),
            },
        }
    }

    /// The write of a query with data-modifying parts: `WITH … UPDATE/DELETE/INSERT …`, or a
    /// `WITH w AS (UPDATE …)` in front of any query. A statement with several writes is
    /// reported as its riskiest: an `UPDATE`/`DELETE` without `WHERE`, then any
    /// `UPDATE`/`DELETE`, then an `INSERT`.
    fn data_modifying(&self, query: &ast::Query) -> Option<StatementKind> {
        fn writes<'q>(query: &'q ast::Query, out: &mut Vec<&'q ast::Statement>) {
            for cte in query.with.iter().flat_map(|w| &w.cte_tables) {
                writes(&cte.query, out);
            }
            body(&query.body, out);
        }
        fn body<'q>(set: &'q ast::SetExpr, out: &mut Vec<&'q ast::Statement>) {
            match set {
                ast::SetExpr::Update(s) | ast::SetExpr::Delete(s) | ast::SetExpr::Insert(s) => {
                    out.push(s)
                }
                ast::SetExpr::Query(q) => writes(q, out),
                ast::SetExpr::SetOperation { left, right, .. } => {
                    body(left, out);
                    body(right, out);
                }
                _ => {}
            }
        }
        let mut found = Vec::new();
        writes(query, &mut found);
        let kinds: Vec<StatementKind> = found
            .into_iter()
            .map(|s| self.statement(s.clone()))
            .collect();
        let rank = |kind: &StatementKind| match kind {
            StatementKind::Dml {
                filtered: false, ..
            } => 0,
            StatementKind::Dml { .. } => 1,
            _ => 2,
        };
        kinds.into_iter().min_by_key(rank)
    }

    fn set(&self, set: Set) -> StatementKind {
        let value_text = |v: &Expr| match v {
            Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            other => other.to_string(),
        };
        match set {
            Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let value = match values.as_slice() {
                    [Expr::Identifier(i)] if i.value.eq_ignore_ascii_case("default") => None,
                    values => Some(values.iter().map(value_text).collect::<Vec<_>>().join(", ")),
                };
                StatementKind::Set {
                    name: setting_name(&variable),
                    value,
                    local: matches!(scope, Some(ast::ContextModifier::Local)),
                }
            }
            // `SET TIME ZONE x` is `SET timezone = x`.
            Set::SetTimeZone { local, value } => StatementKind::Set {
                name: "timezone".to_owned(),
                value: match &value {
                    Expr::Identifier(i) if i.value.eq_ignore_ascii_case("default") => None,
                    Expr::Identifier(i) if i.value.eq_ignore_ascii_case("local") => None,
                    value => Some(value_text(value)),
                },
                local,
            },
            _ => StatementKind::Harmless {
                command: "SET".to_owned(),
            },
        }
    }

    fn create_table(&self, create: &ast::CreateTable) -> StatementKind {
        StatementKind::CreateTable(CreateTable {
            table: name(&create.name),
            columns: create.columns.iter().map(column_def).collect(),
            constraints: create.constraints.iter().map(constraint).collect(),
            partition_of: create.partition_of.as_ref().map(name),
            default_partition: matches!(create.for_values, Some(ast::ForValues::Default)),
            partition_by: create.partition_by.is_some(),
            if_not_exists: create.if_not_exists,
        })
    }

    fn alter_table(&self, alter: &ast::AlterTable) -> StatementKind {
        let table = name(&alter.name);
        let ranges = recognize::alter_table_action_ranges(self.source, self.tokens);
        let mut actions = Vec::with_capacity(alter.operations.len());
        for (i, operation) in alter.operations.iter().enumerate() {
            let range = match &ranges {
                Some(r) if r.len() == alter.operations.len() => r[i].clone(),
                _ => self.statement_range(),
            };
            match action_kind(operation, &table) {
                Some(kind) => actions.push(Action {
                    range,
                    kind,
                    written: WrittenAction::default(),
                }),
                None => {
                    return StatementKind::Unanalyzed {
                        reason: format!("the ALTER TABLE action `{operation}` is not analysed"),
                    };
                }
            }
        }
        StatementKind::AlterTable(AlterTable {
            table,
            only: alter.only,
            actions,
        })
    }

    fn statement_range(&self) -> Range<usize> {
        match (self.tokens.first(), self.tokens.last()) {
            (Some(first), Some(last)) => first.range.start..last.range.end,
            _ => 0..0,
        }
    }
}

/// A setting's name, lower case; a custom setting keeps its prefix (`foo.lock_timeout` is not
/// `lock_timeout`).
fn setting_name(variable: &ObjectName) -> String {
    let variable = name(variable);
    match variable.schema {
        Some(prefix) => format!("{prefix}.{}", variable.name),
        None => variable.name,
    }
}

/// `CREATE/ALTER/DROP POLICY` take an `ACCESS EXCLUSIVE` lock on the table (PostgreSQL 15, measured).
fn policy_lock(command: &str, table: &ObjectName) -> StatementKind {
    StatementKind::RelationLock {
        command: command.to_owned(),
        relation: name(table),
        mode: LockMode::AccessExclusive,
    }
}

fn lock_mode(mode: ast::LockTableMode) -> LockMode {
    use ast::LockTableMode as M;
    match mode {
        M::AccessShare => LockMode::AccessShare,
        M::RowShare => LockMode::RowShare,
        M::RowExclusive => LockMode::RowExclusive,
        M::ShareUpdateExclusive => LockMode::ShareUpdateExclusive,
        M::Share => LockMode::Share,
        M::ShareRowExclusive => LockMode::ShareRowExclusive,
        M::Exclusive => LockMode::Exclusive,
        M::AccessExclusive => LockMode::AccessExclusive,
    }
}

/// The tables and columns an application's query (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, with
/// their CTEs and subqueries) uses, or sqlparser's complaint. A column written without its table
/// may belong to any table of the statement, and is returned with all of them; names of CTEs are
/// not tables.
pub(crate) fn query_references(sql: &str) -> Result<Vec<Reference>, String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).map_err(|e| {
        let message = match e {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
            ParserError::RecursionLimitExceeded => "the query is nested too deeply".to_owned(),
        };
        POSITION.replace(&message, "").into_owned()
    })?;
    let mut out = Vec::new();
    for statement in &statements {
        let mut walk = References::default();
        walk.statement(statement);
        out.extend(walk.finish());
    }
    Ok(out)
}

/// One statement's tables (with their aliases) and the column names it mentions, resolved once
/// every table is known.
#[derive(Default)]
struct References {
    /// Tables, in order of appearance.
    tables: Vec<Name>,
    /// Alias (or bare table name) → table.
    aliases: Vec<(String, Name)>,
    /// Names of CTEs and derived tables: not tables of the database.
    local: Vec<String>,
    /// `(qualifier, column)`; `column` `None` for `qualifier.*`, or every column for `*`.
    columns: Vec<(Option<String>, Option<String>)>,
}

impl References {
    fn finish(self) -> Vec<Reference> {
        let mut out: Vec<Reference> = Vec::new();
        let mut push = |reference: Reference| {
            if !out.contains(&reference) {
                out.push(reference);
            }
        };
        for table in &self.tables {
            push(Reference {
                tables: vec![table.clone()],
                part: Part::Table,
            });
        }
        for (qualifier, column) in &self.columns {
            let part = column.clone().map_or(Part::AllColumns, Part::Column);
            let tables: Vec<Name> = match qualifier {
                Some(q) if self.local.contains(q) => continue,
                Some(q) => match self.aliases.iter().rev().find(|(alias, _)| alias == q) {
                    Some((_, table)) => vec![table.clone()],
                    // `schema.table.column`, or a qualifier the walk did not see.
                    None => self
                        .tables
                        .iter()
                        .filter(|t| t.name == *q)
                        .cloned()
                        .collect(),
                },
                None => self.tables.clone(),
            };
            if !tables.is_empty() {
                push(Reference { tables, part });
            }
        }
        out
    }

    fn statement(&mut self, statement: &ast::Statement) {
        match statement {
            ast::Statement::Query(query) => self.query(query),
            ast::Statement::Insert(insert) => {
                if let TableObject::TableName(table) = &insert.table {
                    let table = self.table(table, None);
                    let qualifier = Some(table.name.clone());
                    for column in &insert.columns {
                        let column = name(column).name;
                        self.columns.push((qualifier.clone(), Some(column)));
                    }
                }
                if let Some(source) = &insert.source {
                    self.query(source);
                }
                self.assignments(&insert.assignments);
                if let Some(ast::OnInsert::OnConflict(conflict)) = &insert.on
                    && let ast::OnConflictAction::DoUpdate(update) = &conflict.action
                {
                    self.assignments(&update.assignments);
                    self.maybe_expr(update.selection.as_ref());
                }
                self.select_items(insert.returning.iter().flatten());
            }
            ast::Statement::Update(update) => {
                self.table_with_joins(&update.table);
                if let Some(
                    ast::UpdateTableFromKind::BeforeSet(from)
                    | ast::UpdateTableFromKind::AfterSet(from),
                ) = &update.from
                {
                    from.iter().for_each(|t| self.table_with_joins(t));
                }
                self.assignments(&update.assignments);
                self.maybe_expr(update.selection.as_ref());
                self.select_items(update.returning.iter().flatten());
            }
            ast::Statement::Delete(delete) => {
                let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) =
                    &delete.from;
                from.iter().for_each(|t| self.table_with_joins(t));
                delete
                    .using
                    .iter()
                    .flatten()
                    .for_each(|t| self.table_with_joins(t));
                self.maybe_expr(delete.selection.as_ref());
                self.select_items(delete.returning.iter().flatten());
            }
            _ => {}
        }
    }

    /// Record a table and its alias; returns its name.
    fn table(&mut self, object: &ObjectName, alias: Option<&ast::TableAlias>) -> Name {
        let table = name(object);
        if table.schema.is_none() && self.local.contains(&table.name) {
            return table;
        }
        let alias = alias.map_or_else(|| table.name.clone(), |a| ident(&a.name));
        self.aliases.push((alias, table.clone()));
        if !self.tables.contains(&table) {
            self.tables.push(table.clone());
        }
        table
    }

    fn assignments(&mut self, assignments: &[ast::Assignment]) {
        for assignment in assignments {
            let targets = match &assignment.target {
                ast::AssignmentTarget::ColumnName(column) => std::slice::from_ref(column),
                ast::AssignmentTarget::Tuple(columns) => columns.as_slice(),
            };
            for target in targets {
                let target = name(target);
                self.columns.push((target.schema, Some(target.name)));
            }
            self.expr(&assignment.value);
        }
    }

    fn query(&mut self, query: &ast::Query) {
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                self.local.push(ident(&cte.alias.name));
                self.query(&cte.query);
            }
        }
        self.set_expr(&query.body);
        if let Some(ast::OrderBy {
            kind: ast::OrderByKind::Expressions(exprs),
            ..
        }) = &query.order_by
        {
            exprs.iter().for_each(|e| self.expr(&e.expr));
        }
    }

    fn set_expr(&mut self, body: &ast::SetExpr) {
        match body {
            ast::SetExpr::Select(select) => {
                select.from.iter().for_each(|t| self.table_with_joins(t));
                self.select_items(select.projection.iter());
                self.maybe_expr(select.selection.as_ref());
                if let ast::GroupByExpr::Expressions(exprs, _) = &select.group_by {
                    exprs.iter().for_each(|e| self.expr(e));
                }
                self.maybe_expr(select.having.as_ref());
            }
            ast::SetExpr::Query(query) => self.query(query),
            ast::SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left);
                self.set_expr(right);
            }
            ast::SetExpr::Values(values) => values
                .rows
                .iter()
                .flat_map(|row| &row.content)
                .for_each(|e| self.expr(e)),
            ast::SetExpr::Insert(statement)
            | ast::SetExpr::Update(statement)
            | ast::SetExpr::Delete(statement) => self.statement(statement),
            _ => {}
        }
    }

    fn table_with_joins(&mut self, table: &ast::TableWithJoins) {
        self.table_factor(&table.relation);
        for join in &table.joins {
            self.table_factor(&join.relation);
            use ast::JoinOperator as J;
            let constraint = match &join.join_operator {
                J::Join(c)
                | J::Inner(c)
                | J::Left(c)
                | J::LeftOuter(c)
                | J::Right(c)
                | J::RightOuter(c)
                | J::FullOuter(c)
                | J::CrossJoin(c)
                | J::Semi(c)
                | J::LeftSemi(c)
                | J::RightSemi(c)
                | J::Anti(c)
                | J::LeftAnti(c)
                | J::RightAnti(c) => Some(c),
                _ => None,
            };
            match constraint {
                Some(ast::JoinConstraint::On(on)) => self.expr(on),
                Some(ast::JoinConstraint::Using(columns)) => {
                    for column in columns {
                        self.columns.push((None, Some(name(column).name)));
                    }
                }
                _ => {}
            }
        }
    }

    fn table_factor(&mut self, factor: &TableFactor) {
        match factor {
            TableFactor::Table { name, alias, .. } => {
                self.table(name, alias.as_ref());
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                if let Some(alias) = alias {
                    self.local.push(ident(&alias.name));
                }
                self.query(subquery);
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => self.table_with_joins(table_with_joins),
            _ => {}
        }
    }

    fn select_items<'a>(&mut self, items: impl Iterator<Item = &'a ast::SelectItem>) {
        for item in items {
            match item {
                ast::SelectItem::UnnamedExpr(expr)
                | ast::SelectItem::ExprWithAlias { expr, .. } => self.expr(expr),
                ast::SelectItem::QualifiedWildcard(
                    ast::SelectItemQualifiedWildcardKind::ObjectName(table),
                    _,
                ) => self.columns.push((Some(name(table).name), None)),
                ast::SelectItem::Wildcard(_) => self.columns.push((None, None)),
                _ => {}
            }
        }
    }

    fn maybe_expr(&mut self, expr: Option<&Expr>) {
        if let Some(expr) = expr {
            self.expr(expr);
        }
    }

    fn expr(&mut self, expr: &Expr) {
        match expr {
            Expr::Identifier(column) => self.columns.push((None, Some(ident(column)))),
            Expr::CompoundIdentifier(parts) => {
                let mut parts: Vec<String> = parts.iter().map(ident).collect();
                let column = parts.pop();
                self.columns.push((parts.pop(), column));
            }
            Expr::Value(_) | Expr::TypedString { .. } => {}
            Expr::BinaryOp { left, right, .. }
            | Expr::AnyOp { left, right, .. }
            | Expr::AllOp { left, right, .. }
            | Expr::IsDistinctFrom(left, right)
            | Expr::IsNotDistinctFrom(left, right) => {
                self.expr(left);
                self.expr(right);
            }
            Expr::UnaryOp { expr, .. }
            | Expr::Nested(expr)
            | Expr::IsNull(expr)
            | Expr::IsNotNull(expr)
            | Expr::IsTrue(expr)
            | Expr::IsNotTrue(expr)
            | Expr::IsFalse(expr)
            | Expr::IsNotFalse(expr)
            | Expr::Cast { expr, .. } => self.expr(expr),
            Expr::InList { expr, list, .. } => {
                self.expr(expr);
                list.iter().for_each(|e| self.expr(e));
            }
            Expr::InSubquery { expr, subquery, .. } => {
                self.expr(expr);
                self.query(subquery);
            }
            Expr::Between {
                expr, low, high, ..
            } => {
                self.expr(expr);
                self.expr(low);
                self.expr(high);
            }
            Expr::Like { expr, pattern, .. } | Expr::ILike { expr, pattern, .. } => {
                self.expr(expr);
                self.expr(pattern);
            }
            Expr::Exists { subquery, .. } | Expr::Subquery(subquery) => self.query(subquery),
            Expr::Tuple(items) => items.iter().for_each(|e| self.expr(e)),
            Expr::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                self.maybe_expr(operand.as_deref());
                for when in conditions {
                    self.expr(&when.condition);
                    self.expr(&when.result);
                }
                self.maybe_expr(else_result.as_deref());
            }
            Expr::Function(function) => {
                if let ast::FunctionArguments::List(list) = &function.args {
                    for arg in &list.args {
                        let (ast::FunctionArg::Named { arg, .. }
                        | ast::FunctionArg::ExprNamed { arg, .. }
                        | ast::FunctionArg::Unnamed(arg)) = arg;
                        match arg {
                            ast::FunctionArgExpr::Expr(e) => self.expr(e),
                            ast::FunctionArgExpr::QualifiedWildcard(table) => {
                                self.columns.push((Some(name(table).name), None))
                            }
                            ast::FunctionArgExpr::Wildcard
                            | ast::FunctionArgExpr::WildcardWithOptions(_) => {}
                        }
                    }
                }
                if let ast::FunctionArguments::Subquery(query) = &function.args {
                    self.query(query);
                }
                self.maybe_expr(function.filter.as_deref());
            }
            other => self.words(&other.to_string()),
        }
    }

    /// The columns of an expression the walk does not know, from its text: every identifier
    /// chain that is not a keyword or a function name. This can only add uses, never hide one.
    fn words(&mut self, text: &str) {
        let (tokens, _) = crate::lexer::tokenize(text);
        let mut i = 0;
        while i < tokens.len() {
            let mut chain: Vec<String> = Vec::new();
            while let Some(part) = tokens.get(i).and_then(|t| t.ident(text)) {
                chain.push(part);
                if tokens.get(i + 1).is_some_and(|t| t.is_punct(text, ".")) {
                    i += 2;
                } else {
                    i += 1;
                    break;
                }
            }
            if chain.is_empty() {
                i += 1;
                continue;
            }
            let call = tokens.get(i).is_some_and(|t| t.is_punct(text, "("));
            let keyword = chain.len() == 1
                && sqlparser::keywords::ALL_KEYWORDS
                    .binary_search(&chain[0].to_uppercase().as_str())
                    .is_ok();
            if !call && !keyword {
                let column = chain.pop();
                self.columns.push((chain.pop(), column));
            }
        }
    }
}

//! The lowered statement model that rules work on.
//!
//! [`crate::parse`] lowers sqlparser's AST (and, for what sqlparser rejects, the token
//! recogniser) into these small types, so that a sqlparser upgrade touches one module and rules
//! read like the PostgreSQL documentation rather than like an AST walk.

use std::fmt;
use std::ops::Range;

/// A relation or type name, as PostgreSQL resolves it: unquoted parts folded to lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Name {
    /// The schema, when the name was qualified.
    pub schema: Option<String>,
    /// The object's own name.
    pub name: String,
}

impl Name {
    /// An unqualified name.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            schema: None,
            name: name.into(),
        }
    }

    /// This name in `schema`, unless it names its own.
    pub fn in_schema(&self, schema: &str) -> Self {
        Self {
            schema: Some(self.schema.clone().unwrap_or_else(|| schema.to_owned())),
            name: self.name.clone(),
        }
    }
}

/// Quote an identifier for SQL when PostgreSQL would otherwise fold or reject it.
pub fn quote_ident(ident: &str) -> String {
    let plain = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain && !is_reserved(ident) {
        ident.to_owned()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

fn is_reserved(word: &str) -> bool {
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ];
    RESERVED.contains(&word)
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{}.", quote_ident(schema))?;
        }
        f.write_str(&quote_ident(&self.name))
    }
}

/// PostgreSQL's table-level lock modes, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    /// `ACCESS SHARE`: taken by `SELECT`.
    AccessShare,
    /// `ROW SHARE`: `SELECT … FOR UPDATE`.
    RowShare,
    /// `ROW EXCLUSIVE`: `INSERT`, `UPDATE`, `DELETE`.
    RowExclusive,
    /// `SHARE UPDATE EXCLUSIVE`: `VACUUM`, `CREATE INDEX CONCURRENTLY`, `VALIDATE CONSTRAINT`.
    ShareUpdateExclusive,
    /// `SHARE`: `CREATE INDEX`.
    Share,
    /// `SHARE ROW EXCLUSIVE`: `CREATE TRIGGER`, adding a foreign key.
    ShareRowExclusive,
    /// `EXCLUSIVE`: `REFRESH MATERIALIZED VIEW CONCURRENTLY`.
    Exclusive,
    /// `ACCESS EXCLUSIVE`: most `ALTER TABLE` forms, `DROP`, `TRUNCATE`.
    AccessExclusive,
}

impl LockMode {
    /// The mode as PostgreSQL spells it.
    pub fn sql(self) -> &'static str {
        match self {
            Self::AccessShare => "ACCESS SHARE",
            Self::RowShare => "ROW SHARE",
            Self::RowExclusive => "ROW EXCLUSIVE",
            Self::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            Self::Share => "SHARE",
            Self::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            Self::Exclusive => "EXCLUSIVE",
            Self::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// Every mode, weakest first.
    pub const ALL: [LockMode; 8] = [
        Self::AccessShare,
        Self::RowShare,
        Self::RowExclusive,
        Self::ShareUpdateExclusive,
        Self::Share,
        Self::ShareRowExclusive,
        Self::Exclusive,
        Self::AccessExclusive,
    ];

    /// The mode PostgreSQL spells `sql` ([`LockMode::sql`]).
    ///
    /// ```
    /// use migration_safety::LockMode;
    /// assert_eq!(LockMode::from_sql("SHARE ROW EXCLUSIVE"), Some(LockMode::ShareRowExclusive));
    /// assert_eq!(LockMode::from_sql("SHARE ROW"), None);
    /// ```
    pub fn from_sql(sql: &str) -> Option<LockMode> {
        Self::ALL.into_iter().find(|mode| mode.sql() == sql)
    }

    /// What ordinary application traffic this lock blocks while it is held or queued.
    pub fn blocks(self) -> &'static str {
        match self {
            Self::AccessExclusive => "every read and write",
            Self::Exclusive | Self::ShareRowExclusive | Self::Share => {
                "every INSERT, UPDATE and DELETE"
            }
            Self::ShareUpdateExclusive => {
                "other schema changes and VACUUM, but not reads or writes"
            }
            Self::RowExclusive | Self::RowShare | Self::AccessShare => "only schema changes",
        }
    }

    /// Whether the lock conflicts with ordinary writes (`SHARE` or stronger).
    pub fn blocks_writes(self) -> bool {
        self >= Self::Share
    }
}

/// A lock a statement takes on a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableLock {
    /// The relation locked.
    pub table: Name,
    /// The mode.
    pub mode: LockMode,
}

/// A data type, normalised to PostgreSQL's internal names (`int4`, `varchar`, `timestamptz`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeName {
    /// Canonical lower-case name, for example `varchar` or `public.my_domain`.
    pub name: String,
    /// Type modifiers, such as the `255` of `varchar(255)`.
    pub modifiers: Vec<String>,
    /// Whether this is an array of the type.
    pub array: bool,
    /// The type as written (for messages).
    pub text: String,
}

impl TypeName {
    /// Parse a type as written in SQL.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        let lower = text.to_ascii_lowercase();
        let (base, array) = match lower.find('[') {
            Some(i) => (lower[..i].trim().to_owned(), true),
            None => match lower.strip_suffix(" array") {
                Some(base) => (base.trim().to_owned(), true),
                None => (lower.clone(), false),
            },
        };
        let (mut head, modifiers) = match (base.find('('), base.rfind(')')) {
            (Some(open), Some(close)) if close > open => {
                let modifiers = base[open + 1..close]
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
                // `timestamp(3) with time zone`: keep what follows the modifiers.
                let head = format!("{} {}", base[..open].trim(), base[close + 1..].trim());
                (head.trim().to_owned(), modifiers)
            }
            _ => (base, Vec::new()),
        };
        head = head.split_whitespace().collect::<Vec<_>>().join(" ");
        let name = canonical_type(head.trim_matches('"')).to_owned();
        let name = if name.is_empty() { head } else { name };
        Self {
            name,
            modifiers,
            array,
            text: text.to_owned(),
        }
    }

    /// `serial`, `bigserial` or `smallserial`: a column backed by a new sequence.
    pub fn is_serial(&self) -> bool {
        matches!(self.name.as_str(), "serial2" | "serial4" | "serial8")
    }
}

fn canonical_type(head: &str) -> &str {
    match head {
        "int" | "integer" | "int4" => "int4",
        "smallint" | "int2" => "int2",
        "bigint" | "int8" => "int8",
        "serial" | "serial4" => "serial4",
        "bigserial" | "serial8" => "serial8",
        "smallserial" | "serial2" => "serial2",
        "real" | "float4" => "float4",
        "double precision" | "float8" | "float" => "float8",
        "decimal" | "numeric" => "numeric",
        "bool" | "boolean" => "bool",
        "varchar" | "character varying" | "char varying" => "varchar",
        "char" | "character" | "bpchar" => "bpchar",
        "varbit" | "bit varying" => "varbit",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "timetz" | "time with time zone" => "timetz",
        other => other,
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a default expression behaves when PostgreSQL fills existing rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Volatility {
    /// Constants and stable expressions such as `now()`: stored once (PostgreSQL 11+).
    NonVolatile,
    /// A volatile function: every existing row gets its own value, so the table is rewritten.
    Volatile {
        /// The volatile function, for the message.
        function: String,
    },
    /// A function the linter does not know; user-defined functions are volatile unless declared otherwise.
    Unknown {
        /// The unknown function, for the message.
        function: String,
    },
}

/// A `DEFAULT` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultExpr {
    /// The expression as SQL.
    pub text: String,
    /// Whether it can be stored once for all existing rows.
    pub volatility: Volatility,
    /// `DEFAULT NULL` (or a cast of `NULL`).
    pub is_null: bool,
}

impl DefaultExpr {
    /// Classify a default expression from its SQL text.
    ///
    /// A function call is anything written `name(`; `CURRENT_TIMESTAMP`-style keywords are
    /// stable. Functions not known to be immutable or stable make the default [`Volatility::Unknown`].
    pub fn from_sql(text: &str) -> Self {
        let (tokens, _) = crate::lexer::tokenize(text);
        let mut volatility = Volatility::NonVolatile;
        for pair in tokens.windows(2) {
            if !(pair[0].kind == crate::lexer::TokenKind::Word && pair[1].is_punct(text, "(")) {
                continue;
            }
            let function = pair[0].text(text).to_ascii_lowercase();
            let function = function.rsplit('.').next().unwrap_or_default().to_owned();
            if VOLATILE_FUNCTIONS.contains(&function.as_str()) {
                volatility = Volatility::Volatile { function };
                break;
            }
            if !NON_VOLATILE_FUNCTIONS.contains(&function.as_str())
                && volatility == Volatility::NonVolatile
            {
                volatility = Volatility::Unknown { function };
            }
        }
        let bare = text.trim().trim_start_matches('(').trim_end_matches(')');
        let is_null = bare.eq_ignore_ascii_case("null")
            || bare.to_ascii_lowercase().starts_with("null::")
            || bare.to_ascii_lowercase().starts_with("cast(null ");
        Self {
            text: text.trim().to_owned(),
            volatility,
            is_null,
        }
    }
}

/// Built-in functions that return a different value for every row.
const VOLATILE_FUNCTIONS: &[&str] = &[
    "random",
    "random_normal",
    "gen_random_uuid",
    "uuidv4",
    "uuidv7",
    "uuid_generate_v1",
    "uuid_generate_v1mc",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "setval",
    "currval",
    "lastval",
    "txid_current",
    "pg_current_xact_id",
    "gen_random_bytes",
    "gen_salt",
];

/// Built-in immutable or stable functions and function-like keywords: evaluated once for `ADD COLUMN`.
const NON_VOLATILE_FUNCTIONS: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "current_schema",
    "current_database",
    "current_setting",
    "cast",
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "lower",
    "upper",
    "concat",
    "length",
    "array",
    "row",
    "to_jsonb",
    "to_json",
    "jsonb_build_object",
    "json_build_object",
    "jsonb_build_array",
    "json_build_array",
    "array_fill",
    "make_interval",
    "make_date",
    "make_timestamp",
    "make_timestamptz",
    "date_trunc",
    "timezone",
    "to_timestamp",
    "to_date",
    "to_char",
    "abs",
    "round",
    "trim",
    "replace",
    "substring",
    "format",
    "md5",
    "interval",
    "numeric",
    "int4",
    "int8",
    "text",
    "varchar",
    "timestamp",
    "timestamptz",
    "date",
    "time",
    "decimal",
    "char",
    "character",
    "bit",
    "varbit",
    "float",
    "float4",
    "float8",
    "any",
    "some",
    "all",
    "exists",
    "in",
    "extract",
    "position",
    "overlay",
    "collate",
];

/// How a generated column is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generated {
    /// `GENERATED … AS IDENTITY`.
    Identity,
    /// `GENERATED ALWAYS AS (…) STORED`.
    Stored,
    /// `GENERATED ALWAYS AS (…) [VIRTUAL]` (PostgreSQL 18).
    Virtual,
}

/// A column definition (in `CREATE TABLE` or `ADD COLUMN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// The column name.
    pub name: String,
    /// Its type.
    pub data_type: TypeName,
    /// `NOT NULL` (or `PRIMARY KEY`).
    pub not_null: bool,
    /// `DEFAULT …`.
    pub default: Option<DefaultExpr>,
    /// `GENERATED …`.
    pub generated: Option<Generated>,
    /// Inline `PRIMARY KEY`.
    pub primary_key: bool,
    /// Inline `UNIQUE`.
    pub unique: bool,
    /// Inline `REFERENCES other(…)`.
    pub references: Option<Name>,
    /// The columns named in an inline `REFERENCES other(columns)` (empty: the primary key).
    pub referenced_columns: Vec<String>,
    /// Inline `CHECK (…)`: the expression as SQL.
    pub check: Option<String>,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// `CONSTRAINT name`, when given.
    pub name: Option<String>,
    /// What it constrains.
    pub kind: ConstraintKind,
}

/// The kinds of table constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintKind {
    /// `CHECK (expr)`; `not_null_column` is set when the expression is exactly `col IS NOT NULL`.
    /// Built by [`ConstraintKind::check`].
    Check {
        /// The expression as SQL.
        expr: String,
        /// The column of a `col IS NOT NULL` check.
        not_null_column: Option<String>,
        /// The first column the expression names, after which PostgreSQL names the check when
        /// it is not named.
        first_column: Option<String>,
    },
    /// `FOREIGN KEY (columns) REFERENCES table`.
    ForeignKey {
        /// Referencing columns.
        columns: Vec<String>,
        /// The referenced table.
        references: Name,
        /// The referenced columns (empty: the referenced table's primary key).
        referenced_columns: Vec<String>,
    },
    /// `UNIQUE (columns)` or `UNIQUE USING INDEX i`.
    Unique {
        /// Constrained columns (empty with `USING INDEX`).
        columns: Vec<String>,
        /// `USING INDEX i`.
        using_index: Option<String>,
    },
    /// `PRIMARY KEY (columns)` or `PRIMARY KEY USING INDEX i`.
    PrimaryKey {
        /// Key columns (empty with `USING INDEX`).
        columns: Vec<String>,
        /// `USING INDEX i`.
        using_index: Option<String>,
    },
    /// `EXCLUDE USING …`.
    Exclude,
    /// PostgreSQL 18's named `NOT NULL col` constraint.
    NotNull {
        /// The column.
        column: String,
    },
}

impl ConstraintKind {
    /// `CHECK (expr)`, with the first column `expr` names.
    pub fn check(expr: String, not_null_column: Option<String>) -> Self {
        Self::Check {
            first_column: first_column(&expr),
            expr,
            not_null_column,
        }
    }
}

/// The first column an expression names, as PostgreSQL uses it for a check's default name:
/// the first identifier that is not a keyword, a function called or a type cast to.
fn first_column(expr: &str) -> Option<String> {
    const NOT_COLUMNS: &[&str] = &[
        "and", "or", "not", "is", "null", "true", "false", "in", "between", "like", "ilike",
        "similar", "to", "any", "all", "some", "case", "when", "then", "else", "end", "value",
        "distinct", "from", "array", "cast", "as", "collate",
    ];
    let (tokens, _) = crate::lexer::tokenize(expr);
    tokens.iter().enumerate().find_map(|(i, t)| {
        let word = match t.kind {
            crate::lexer::TokenKind::Word => t.text(expr).to_lowercase(),
            crate::lexer::TokenKind::QuotedIdent => t.text(expr).trim_matches('"').to_owned(),
            _ => return None,
        };
        let call = tokens.get(i + 1).is_some_and(|n| n.is_punct(expr, "("));
        let cast = i > 0 && tokens[i - 1].is_punct(expr, "::");
        (!call && !cast && !NOT_COLUMNS.contains(&word.as_str())).then_some(word)
    })
}

/// What a statement's text shows beyond its kind: where the pieces that a message quotes or a
/// fix edits are (byte ranges in the file), and how it is written. Found once while lowering,
/// from the statement's tokens (in `written.rs`). For a statement lowered from a copy of its
/// text (an `EXECUTE` string, a quoted `DO` body), whose pieces are not in the file, only how it
/// is written is kept: no range points into the copy, and a `NULLS [NOT] DISTINCT` is at the
/// statement's range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    /// Where `CONCURRENTLY` goes: just after `DROP INDEX`, `REFRESH MATERIALIZED VIEW` or
    /// `REINDEX <target>` (`None` for a `REINDEX` whose option list names `CONCURRENTLY`).
    pub concurrently_at: Option<usize>,
    /// The `IF NOT EXISTS` of a `CREATE INDEX`.
    pub if_not_exists: Option<Range<usize>>,
    /// A `CREATE INDEX`'s column list and what follows it: from the `(` after `ON table` to
    /// the end of the statement.
    pub index_columns: Option<Range<usize>>,
    /// The bound of a `CREATE TABLE … PARTITION OF` (`FOR VALUES …` or `DEFAULT`), to the end
    /// of the statement.
    pub partition_bound: Option<Range<usize>>,
    /// The definition of each column of a `CREATE TABLE`, in the order of its columns (`None`
    /// for one not found in the text).
    pub columns: Vec<Option<Range<usize>>>,
    /// A `DROP` that ends with `CASCADE`.
    pub cascade: bool,
    /// A `VACUUM` (rather than an `ANALYZE` or a `CLUSTER`).
    pub vacuum: bool,
    /// Each `NULLS [NOT] DISTINCT` (PostgreSQL 15 syntax).
    pub nulls_distinct: Vec<NullsDistinct>,
    /// The clauses of an `UPDATE` or `DELETE` that begins with its command word (boxed: few
    /// statements have them).
    pub dml: Option<Box<DmlClauses>>,
}

/// A `NULLS [NOT] DISTINCT` in a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NullsDistinct {
    /// From `NULLS` to `DISTINCT`.
    pub range: Range<usize>,
    /// `NULLS NOT DISTINCT`.
    pub not: bool,
}

/// Where the clauses of an `UPDATE` or `DELETE` are (not known, `None`, for one lowered from a
/// copy of its text), and what its `WHERE` selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmlClauses {
    /// The target as written (`users`, `ONLY users AS u`), when there is one.
    pub target: Option<Range<usize>>,
    /// The target's last word: its alias, or its name.
    pub qualifier: Option<Range<usize>>,
    /// The `SET` assignments of an `UPDATE` (possibly empty).
    pub set: Option<Range<usize>>,
    /// Each `SET` assignment as `(column, value)`, when every one is that simple.
    pub assignments: Option<Vec<(Range<usize>, Range<usize>)>>,
    /// `FROM` (`UPDATE`) or `USING` (`DELETE`): the statement joins other tables.
    pub joins: bool,
    /// The `WHERE` condition.
    pub filter: Option<Range<usize>>,
    /// Whether the condition bounds the rows to a batch or a targeted few: it compares with
    /// a constant or a parameter, or selects through a `LIMIT` subquery, in every disjunct.
    pub bounded: bool,
    /// A `RETURNING` clause.
    pub returning: bool,
    /// Part of a data-modifying `WITH`: it may name the `WITH`'s other queries, so it cannot
    /// be rewritten to run alone.
    pub in_with: bool,
}

/// What an `ALTER TABLE` action's text shows beyond its kind (no `definition` for an action
/// lowered from a copy of its text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenAction {
    /// For `ADD …`: the definition after `ADD [CONSTRAINT name]` (`CHECK (…)`,
    /// `FOREIGN KEY (…) REFERENCES …`).
    pub definition: Option<Range<usize>>,
    /// The definition is one keyword (two for `PRIMARY KEY`) and one parenthesised list
    /// without nested parentheses, and nothing else: no option a plan would drop, such as
    /// `NULLS NOT DISTINCT`, `INCLUDE (…)` or `DEFERRABLE`.
    pub bare: bool,
    /// The action names a collation (`COLLATE`).
    pub collate: bool,
    /// The action is written `IF [NOT] EXISTS`.
    pub if_exists: bool,
}

impl Action {
    /// The definition of an `ADD …` action, cut from `source` ([`WrittenAction::definition`]).
    pub fn definition<'s>(&self, source: &'s str) -> Option<&'s str> {
        let text = source.get(self.written.definition.clone()?)?;
        Some(text.trim_end_matches(';').trim_end())
    }
}

/// A statement's range in the source and its lowered form.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Byte range in the file, from the first token to the `;`.
    pub range: Range<usize>,
    /// What the statement does.
    pub kind: StatementKind,
    /// The string constants the statement's own tokens hold (`'shipped'`, `$$x$$`), unquoted,
    /// in order (none for a `DO` block: its body's statements hold theirs).
    pub constants: Vec<String>,
    /// What its text shows beyond its kind.
    pub written: Written,
}

/// `ALTER TABLE` with its actions.
#[derive(Debug, Clone, PartialEq)]
pub struct AlterTable {
    /// The table.
    pub table: Name,
    /// `ONLY`: not applied to partitions or children.
    pub only: bool,
    /// The comma-separated actions, each with its own range.
    pub actions: Vec<Action>,
}

/// One action of an `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Byte range of the action in the file.
    pub range: Range<usize>,
    /// What it does.
    pub kind: ActionKind,
    /// What its text shows beyond its kind.
    pub written: WrittenAction,
}

/// The `ALTER TABLE` actions rules care about.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionKind {
    /// `ADD COLUMN`.
    AddColumn(ColumnDef),
    /// `DROP COLUMN`.
    DropColumn {
        /// The column.
        column: String,
    },
    /// `RENAME COLUMN from TO to`.
    RenameColumn {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `RENAME TO`.
    RenameTable {
        /// The new name.
        to: Name,
    },
    /// `RENAME CONSTRAINT`.
    RenameConstraint {
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// `ALTER COLUMN c TYPE t`.
    AlterColumnType {
        /// The column.
        column: String,
        /// The new type.
        data_type: TypeName,
        /// The `USING` expression, as SQL.
        using: Option<String>,
    },
    /// `ALTER COLUMN c SET NOT NULL`.
    SetNotNull {
        /// The column.
        column: String,
    },
    /// `ALTER COLUMN c DROP NOT NULL`.
    DropNotNull {
        /// The column.
        column: String,
    },
    /// `ALTER COLUMN c SET DEFAULT`.
    SetDefault {
        /// The column.
        column: String,
    },
    /// `ALTER COLUMN c DROP DEFAULT`.
    DropDefault {
        /// The column.
        column: String,
    },
    /// `ADD [CONSTRAINT n] …`.
    AddConstraint {
        /// The constraint.
        constraint: Constraint,
        /// `NOT VALID`.
        not_valid: bool,
    },
    /// `VALIDATE CONSTRAINT`.
    ValidateConstraint {
        /// The constraint.
        name: String,
    },
    /// `DROP CONSTRAINT`.
    DropConstraint {
        /// The constraint.
        name: String,
    },
    /// `SET SCHEMA s`.
    SetSchema {
        /// The new schema.
        schema: String,
    },
    /// `SET TABLESPACE`, `SET LOGGED`, `SET UNLOGGED`, `SET ACCESS METHOD`: a full rewrite.
    Rewrite {
        /// The clause, for messages.
        clause: String,
    },
    /// `ATTACH PARTITION p …`.
    AttachPartition {
        /// The partition.
        partition: Name,
        /// `DEFAULT`: it becomes the default partition.
        default: bool,
    },
    /// `DETACH PARTITION p [CONCURRENTLY | FINALIZE]`.
    DetachPartition {
        /// The partition.
        partition: Name,
        /// `CONCURRENTLY` (PostgreSQL 14+).
        concurrently: bool,
    },
    /// Any other action, with the lock it takes.
    Other {
        /// The clause, for messages.
        clause: String,
        /// The lock it takes on the table.
        lock: LockMode,
    },
}

/// `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    /// The new table.
    pub table: Name,
    /// Its columns.
    pub columns: Vec<ColumnDef>,
    /// Its table constraints.
    pub constraints: Vec<Constraint>,
    /// `PARTITION OF parent`.
    pub partition_of: Option<Name>,
    /// `PARTITION OF parent DEFAULT`: the parent's default partition.
    pub default_partition: bool,
    /// `PARTITION BY …`: a partitioned table, which holds no rows itself.
    pub partition_by: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
}

/// `CREATE [UNIQUE] INDEX`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateIndex {
    /// The index name, when given.
    pub name: Option<Name>,
    /// The indexed table.
    pub table: Name,
    /// `UNIQUE`.
    pub unique: bool,
    /// `CONCURRENTLY`.
    pub concurrently: bool,
    /// `ON ONLY`.
    pub only: bool,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// The indexed columns, in order (an expression is kept as SQL).
    pub columns: Vec<String>,
    /// Whether an indexed element is an expression rather than a column name.
    pub expressions: bool,
    /// `WHERE`: a partial index.
    pub partial: bool,
    /// Byte offset in the file just after the `INDEX` keyword, where `CONCURRENTLY` goes (the
    /// statement's start for one lowered from a copy of its text, where it cannot go).
    pub index_keyword_end: usize,
}

/// The kind of object a `DROP` removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKind {
    /// A table.
    Table,
    /// A view.
    View,
    /// A materialized view.
    MaterializedView,
    /// A type (enum, composite, …) or domain.
    Type,
    /// Anything else (schema, sequence, function, …), named as in SQL.
    Other(String),
}

impl ObjectKind {
    /// The kind as SQL names it after `DROP`: `TABLE`, `MATERIALIZED VIEW`, `SCHEMA`, ….
    pub fn keyword(&self) -> &str {
        match self {
            Self::Table => "TABLE",
            Self::View => "VIEW",
            Self::MaterializedView => "MATERIALIZED VIEW",
            Self::Type => "TYPE",
            Self::Other(other) => other,
        }
    }
}

/// `ALTER TYPE` actions.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterTypeAction {
    /// `ADD VALUE 'v'`.
    AddValue {
        /// The new label.
        value: String,
    },
    /// `RENAME VALUE 'a' TO 'b'`.
    RenameValue {
        /// Old label.
        from: String,
        /// New label.
        to: String,
    },
    /// `DROP VALUE 'v'`, which PostgreSQL cannot run (a syntax error before 17, not
    /// implemented on 17 and 18).
    DropValue {
        /// The label.
        value: String,
    },
    /// Other forms (`RENAME TO`, `OWNER TO`, …).
    Other,
}

/// A constraint of a domain (`CREATE DOMAIN … CHECK (…)`, `ALTER DOMAIN … ADD CONSTRAINT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConstraint {
    /// `CONSTRAINT name`, when given.
    pub name: Option<String>,
    /// `NOT NULL` rather than `CHECK (…)`.
    pub not_null: bool,
}

/// `ALTER DOMAIN` actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterDomainAction {
    /// `ADD [CONSTRAINT name] CHECK (…) | NOT NULL [NOT VALID]`.
    AddConstraint {
        /// The constraint.
        constraint: DomainConstraint,
        /// `NOT VALID`: existing values are not checked.
        not_valid: bool,
    },
    /// `VALIDATE CONSTRAINT name`.
    ValidateConstraint {
        /// The constraint.
        name: String,
    },
    /// `DROP CONSTRAINT [IF EXISTS] name`.
    DropConstraint {
        /// The constraint.
        name: String,
    },
    /// `SET NOT NULL`: checks every column of the domain type.
    SetNotNull,
    /// `DROP NOT NULL`.
    DropNotNull,
    /// Other forms (`SET DEFAULT`, `RENAME`, `OWNER TO`, …), which check no data.
    Other,
}

/// What a statement does.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementKind {
    /// `BEGIN` / `START TRANSACTION`.
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// `SET [LOCAL | SESSION] name = value` (also `set_config(…)`).
    Set {
        /// The setting, lower case.
        name: String,
        /// The value as written; `None` for `DEFAULT`.
        value: Option<String>,
        /// `SET LOCAL` (or `set_config(…, true)`).
        local: bool,
    },
    /// `RESET name` / `RESET ALL` (`None`).
    Reset {
        /// The setting, lower case.
        name: Option<String>,
    },
    /// `CREATE TABLE`.
    CreateTable(CreateTable),
    /// `ALTER TABLE`.
    AlterTable(AlterTable),
    /// `CREATE INDEX`.
    CreateIndex(CreateIndex),
    /// `DROP INDEX`.
    DropIndex {
        /// The indexes.
        names: Vec<Name>,
        /// `CONCURRENTLY`.
        concurrently: bool,
    },
    /// `DROP TABLE | VIEW | TYPE | …`.
    Drop {
        /// What kind of object.
        object: ObjectKind,
        /// The objects.
        names: Vec<Name>,
    },
    /// `CREATE [OR REPLACE] [MATERIALIZED] VIEW`.
    CreateView {
        /// The view.
        name: Name,
        /// `MATERIALIZED`.
        materialized: bool,
        /// `OR REPLACE`.
        or_replace: bool,
        /// Relations read by the view's query.
        reads: Vec<Name>,
        /// `false` for a materialized view created `WITH NO DATA` (not populated).
        populated: bool,
    },
    /// `CREATE TYPE`.
    CreateType {
        /// The type.
        name: Name,
        /// The labels of an enum type (`None` for composite, range and base types).
        enum_labels: Option<Vec<String>>,
    },
    /// `CREATE DOMAIN`.
    CreateDomain {
        /// The domain.
        name: Name,
        /// The underlying type.
        base: TypeName,
        /// Its `CHECK` and `NOT NULL` constraints.
        constraints: Vec<DomainConstraint>,
    },
    /// `ALTER DOMAIN`.
    AlterDomain {
        /// The domain.
        name: Name,
        /// What changes.
        action: AlterDomainAction,
    },
    /// `ALTER TYPE`.
    AlterType {
        /// The type.
        name: Name,
        /// What changes.
        action: AlterTypeAction,
    },
    /// `REINDEX`.
    Reindex {
        /// `INDEX`, `TABLE`, `SCHEMA`, `DATABASE` or `SYSTEM`.
        target: String,
        /// The object reindexed.
        name: Name,
        /// `CONCURRENTLY`.
        concurrently: bool,
    },
    /// `REFRESH MATERIALIZED VIEW`.
    RefreshMaterializedView {
        /// The view.
        name: Name,
        /// `CONCURRENTLY`.
        concurrently: bool,
        /// `WITH NO DATA`: the view is left unpopulated.
        no_data: bool,
    },
    /// `ALTER [MATERIALIZED] VIEW view RENAME TO to`.
    RenameView {
        /// The view.
        view: Name,
        /// Its new name.
        to: Name,
        /// `MATERIALIZED`.
        materialized: bool,
    },
    /// `CREATE EXTENSION` or `DROP EXTENSION`.
    Extension {
        /// The extension.
        name: String,
        /// `CREATE` rather than `DROP`.
        create: bool,
    },
    /// `ALTER SCHEMA from RENAME TO to`.
    RenameSchema {
        /// The schema's current name.
        from: String,
        /// Its new name.
        to: String,
    },
    /// `CLUSTER` (a table rewrite), or `VACUUM FULL`.
    Rewrite {
        /// `CLUSTER` or `VACUUM FULL`.
        command: String,
        /// The tables (empty: all the tables it applies to).
        tables: Vec<Name>,
    },
    /// `VACUUM` / `ANALYZE` without `FULL`.
    Vacuum,
    /// `LOCK TABLE`.
    LockTable {
        /// The tables.
        tables: Vec<Name>,
        /// The mode (default `ACCESS EXCLUSIVE`).
        mode: LockMode,
    },
    /// `TRUNCATE`.
    Truncate {
        /// The tables.
        tables: Vec<Name>,
    },
    /// `UPDATE`, `DELETE`.
    Dml {
        /// `UPDATE` or `DELETE`.
        command: &'static str,
        /// The table written.
        table: Name,
        /// Whether a `WHERE` clause restricts the rows.
        filtered: bool,
    },
    /// `INSERT`.
    Insert {
        /// The table written.
        table: Option<Name>,
    },
    /// `CREATE TRIGGER` (`SHARE ROW EXCLUSIVE`) or `DROP TRIGGER` (`ACCESS EXCLUSIVE`).
    Trigger {
        /// The table.
        table: Name,
        /// `CREATE TRIGGER` or `DROP TRIGGER`.
        command: &'static str,
    },
    /// A `DO` block: the statements found in its body.
    Do {
        /// Statements inside the body, with ranges in the file.
        body: Vec<Statement>,
    },
    /// A statement whose only effect that matters for availability is one lock on one
    /// relation: `CREATE/ALTER/DROP POLICY` and `ALTER VIEW` take `ACCESS EXCLUSIVE` (measured
    /// on PostgreSQL 15).
    RelationLock {
        /// The command, for messages.
        command: String,
        /// The relation locked.
        relation: Name,
        /// The lock taken.
        mode: LockMode,
    },
    /// A statement understood to take no lock that matters for availability
    /// (`COMMENT`, `GRANT`, `CREATE FUNCTION`, `SELECT`, …).
    Harmless {
        /// The command, for messages.
        command: String,
    },
    /// A valid-looking statement the engine could not analyse; it is reported, never trusted.
    Unanalyzed {
        /// Why it could not be analysed.
        reason: String,
    },
    /// A statement that is not valid PostgreSQL.
    SyntaxError {
        /// What is wrong.
        message: String,
        /// Byte offset in the file where the error is.
        offset: usize,
    },
}

impl StatementKind {
    /// The objects of a `DROP` of kind `object` (its keyword, as [`ObjectKind::keyword`] names
    /// it, in any case): `Some(names)` for `DROP SCHEMA a, b` and `"schema"`, `None` for any
    /// other statement or kind.
    pub fn drop_of(&self, object: &str) -> Option<&[Name]> {
        match self {
            Self::Drop {
                object: kind,
                names,
            } if kind.keyword().eq_ignore_ascii_case(object) => Some(names),
            _ => None,
        }
    }

    /// The SQL command, for messages (`ALTER TABLE`, `CREATE INDEX`, …).
    pub fn command(&self) -> String {
        match self {
            Self::Begin => "BEGIN".into(),
            Self::Commit => "COMMIT".into(),
            Self::Rollback => "ROLLBACK".into(),
            Self::Set { .. } => "SET".into(),
            Self::Reset { .. } => "RESET".into(),
            Self::CreateTable(_) => "CREATE TABLE".into(),
            Self::AlterTable(_) => "ALTER TABLE".into(),
            Self::CreateIndex(i) if i.concurrently => "CREATE INDEX CONCURRENTLY".into(),
            Self::CreateIndex(_) => "CREATE INDEX".into(),
            Self::DropIndex {
                concurrently: true, ..
            } => "DROP INDEX CONCURRENTLY".into(),
            Self::DropIndex { .. } => "DROP INDEX".into(),
            Self::Drop { object, .. } => format!("DROP {}", object.keyword()),
            Self::CreateView {
                materialized: true, ..
            } => "CREATE MATERIALIZED VIEW".into(),
            Self::CreateView {
                or_replace: true, ..
            } => "CREATE OR REPLACE VIEW".into(),
            Self::CreateView { .. } => "CREATE VIEW".into(),
            Self::CreateType { .. } => "CREATE TYPE".into(),
            Self::CreateDomain { .. } => "CREATE DOMAIN".into(),
            Self::AlterDomain { .. } => "ALTER DOMAIN".into(),
            Self::AlterType { .. } => "ALTER TYPE".into(),
            Self::Reindex {
                concurrently: true, ..
            } => "REINDEX CONCURRENTLY".into(),
            Self::Reindex { .. } => "REINDEX".into(),
            Self::RefreshMaterializedView {
                concurrently: true, ..
            } => "REFRESH MATERIALIZED VIEW CONCURRENTLY".into(),
            Self::RefreshMaterializedView { .. } => "REFRESH MATERIALIZED VIEW".into(),
            Self::RenameSchema { .. } => "ALTER SCHEMA … RENAME".into(),
            Self::RenameView {
                materialized: true, ..
            } => "ALTER MATERIALIZED VIEW … RENAME".into(),
            Self::RenameView { .. } => "ALTER VIEW … RENAME".into(),
            Self::Extension { create: true, .. } => "CREATE EXTENSION".into(),
            Self::Extension { .. } => "DROP EXTENSION".into(),
            Self::Rewrite { command, .. } => command.clone(),
            Self::Vacuum => "VACUUM".into(),
            Self::LockTable { .. } => "LOCK TABLE".into(),
            Self::Truncate { .. } => "TRUNCATE".into(),
            Self::Dml { command, .. } | Self::Trigger { command, .. } => (*command).into(),
            Self::Insert { .. } => "INSERT".into(),
            Self::Do { .. } => "DO".into(),
            Self::Harmless { command } | Self::RelationLock { command, .. } => command.clone(),
            Self::Unanalyzed { .. } | Self::SyntaxError { .. } => "statement".into(),
        }
    }

    /// The table-level locks the statement takes on existing relations.
    ///
    /// New objects the statement itself creates are not listed (nobody else can be waiting on them).
    pub fn locks(&self) -> Vec<TableLock> {
        let lock = |table: &Name, mode| TableLock {
            table: table.clone(),
            mode,
        };
        match self {
            Self::AlterTable(alter) => {
                let mut locks: Vec<TableLock> = Vec::new();
                for action in &alter.actions {
                    for l in action.kind.locks(&alter.table) {
                        match locks.iter_mut().find(|x| x.table == l.table) {
                            Some(existing) => existing.mode = existing.mode.max(l.mode),
                            None => locks.push(l),
                        }
                    }
                }
                locks
            }
            Self::CreateIndex(index) => {
                let mode = if index.concurrently {
                    LockMode::ShareUpdateExclusive
                } else {
                    LockMode::Share
                };
                vec![lock(&index.table, mode)]
            }
            Self::CreateTable(create) => {
                let mut locks = Vec::new();
                if let Some(parent) = &create.partition_of {
                    locks.push(lock(parent, LockMode::AccessExclusive));
                }
                let references = create
                    .columns
                    .iter()
                    .filter_map(|c| c.references.as_ref())
                    .chain(create.constraints.iter().filter_map(|c| match &c.kind {
                        ConstraintKind::ForeignKey { references, .. } => Some(references),
                        _ => None,
                    }));
                for referenced in references {
                    if !crate::schema::same_by_default(referenced, &create.table) {
                        locks.push(lock(referenced, LockMode::ShareRowExclusive));
                    }
                }
                locks
            }
            Self::DropIndex {
                names,
                concurrently,
            } => {
                let mode = if *concurrently {
                    LockMode::ShareUpdateExclusive
                } else {
                    LockMode::AccessExclusive
                };
                names.iter().map(|n| lock(n, mode)).collect()
            }
            Self::Drop {
                object: ObjectKind::Table | ObjectKind::View | ObjectKind::MaterializedView,
                names,
            } => names
                .iter()
                .map(|n| lock(n, LockMode::AccessExclusive))
                .collect(),
            // A sequence is a relation too (measured on PostgreSQL 12–18).
            Self::Drop {
                object: ObjectKind::Other(object),
                names,
            } if object == "SEQUENCE" => names
                .iter()
                .map(|n| lock(n, LockMode::AccessExclusive))
                .collect(),
            Self::CreateView {
                name, or_replace, ..
            } if *or_replace => vec![lock(name, LockMode::AccessExclusive)],
            Self::Reindex {
                target,
                name,
                concurrently,
            } if target == "TABLE" || target == "INDEX" => {
                let mode = if *concurrently {
                    LockMode::ShareUpdateExclusive
                } else {
                    LockMode::Share
                };
                vec![lock(name, mode)]
            }
            Self::RefreshMaterializedView {
                name, concurrently, ..
            } => {
                let mode = if *concurrently {
                    LockMode::Exclusive
                } else {
                    LockMode::AccessExclusive
                };
                vec![lock(name, mode)]
            }
            Self::Rewrite { tables, .. } | Self::Truncate { tables } => tables
                .iter()
                .map(|n| lock(n, LockMode::AccessExclusive))
                .collect(),
            Self::LockTable { tables, mode } => tables.iter().map(|n| lock(n, *mode)).collect(),
            Self::Dml { table, .. } => vec![lock(table, LockMode::RowExclusive)],
            Self::Insert { table: Some(table) } => vec![lock(table, LockMode::RowExclusive)],
            Self::RelationLock { relation, mode, .. } => vec![lock(relation, *mode)],
            Self::RenameView { view, .. } => vec![lock(view, LockMode::AccessExclusive)],
            Self::Trigger { table, command } => {
                let mode = if *command == "CREATE TRIGGER" {
                    LockMode::ShareRowExclusive
                } else {
                    LockMode::AccessExclusive
                };
                vec![lock(table, mode)]
            }
            Self::Do { body } => body.iter().flat_map(|s| s.kind.locks()).collect(),
            _ => Vec::new(),
        }
    }
}

impl ActionKind {
    /// Locks this action takes: on the altered table and, for foreign keys, on the referenced one.
    pub fn locks(&self, table: &Name) -> Vec<TableLock> {
        let on = |table: &Name, mode| TableLock {
            table: table.clone(),
            mode,
        };
        match self {
            Self::AddColumn(column) => {
                let mut locks = vec![on(table, LockMode::AccessExclusive)];
                if let Some(referenced) = &column.references
                    && !crate::schema::same_by_default(referenced, table)
                {
                    locks.push(on(referenced, LockMode::ShareRowExclusive));
                }
                locks
            }
            Self::AddConstraint { constraint, .. } => match &constraint.kind {
                ConstraintKind::ForeignKey { references, .. } => {
                    let mut locks = vec![on(table, LockMode::ShareRowExclusive)];
                    if !crate::schema::same_by_default(references, table) {
                        locks.push(on(references, LockMode::ShareRowExclusive));
                    }
                    locks
                }
                _ => vec![on(table, LockMode::AccessExclusive)],
            },
            Self::ValidateConstraint { .. } => vec![on(table, LockMode::ShareUpdateExclusive)],
            Self::AttachPartition { partition, .. } => vec![
                on(table, LockMode::ShareUpdateExclusive),
                on(partition, LockMode::AccessExclusive),
            ],
            Self::DetachPartition {
                partition,
                concurrently,
            } => {
                // CONCURRENTLY: its second transaction still requests ACCESS EXCLUSIVE on the
                // partition (PostgreSQL 14–18, measured). Without it the partition gets ACCESS
                // EXCLUSIVE from 14 on (SHARE UPDATE EXCLUSIVE on 12–13), the strongest case.
                let parent = if *concurrently {
                    LockMode::ShareUpdateExclusive
                } else {
                    LockMode::AccessExclusive
                };
                vec![on(table, parent), on(partition, LockMode::AccessExclusive)]
            }
            Self::Other { lock, .. } => vec![on(table, *lock)],
            _ => vec![on(table, LockMode::AccessExclusive)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_canonical() {
        let t = TypeName::parse("CHARACTER VARYING(255)");
        assert_eq!(
            (t.name.as_str(), t.modifiers.as_slice()),
            ("varchar", &["255".to_owned()][..])
        );
        assert_eq!(
            TypeName::parse("timestamp(3) with time zone").name,
            "timestamptz"
        );
        assert_eq!(TypeName::parse("NUMERIC(10, 2)").modifiers, ["10", "2"]);
        assert!(TypeName::parse("int[]").array);
        assert_eq!(TypeName::parse("integer").name, "int4");
        assert!(TypeName::parse("BIGSERIAL").is_serial());
    }

    #[test]
    fn identifiers_are_quoted_when_needed() {
        assert_eq!(quote_ident("users"), "users");
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident("user"), "\"user\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let name = Name {
            schema: Some("app".into()),
            name: "order".into(),
        };
        assert_eq!(name.to_string(), "app.\"order\"");
    }

    #[test]
    fn a_name_takes_a_schema_only_when_it_has_none() {
        let qualified = Name {
            schema: Some("app".into()),
            name: "users".into(),
        };
        assert_eq!(Name::new("users").in_schema("app"), qualified);
        assert_eq!(qualified.in_schema("public"), qualified);
    }
}

/// What an application query touches: a table, every column of one (`*`), or a column that
/// belongs to one of the tables in scope (one when the query qualifies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// The table, or the tables of the query an unqualified column can belong to.
    pub(crate) tables: Vec<Name>,
    /// What of it.
    pub(crate) part: Part,
}

/// The part of a table a query or a declaration uses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Part {
    /// The table itself (it is read from, written to, or declared).
    Table,
    /// Every column: `SELECT *`, `SELECT t.*`.
    AllColumns,
    /// One column.
    Column(String),
}

//! Recognising statements from tokens: the forms sqlparser rejects (`DROP INDEX CONCURRENTLY`,
//! `REINDEX`, `REFRESH MATERIALIZED VIEW`, `CLUSTER`, `VACUUM (…)`, `ATTACH/DETACH PARTITION`, …),
//! PL/pgSQL `DO` bodies, and the few facts the sqlparser AST does not keep (byte ranges of
//! `ALTER TABLE` actions, where the `INDEX` keyword ends, which relations a view reads).

use std::ops::Range;

use crate::lexer::{Token, TokenKind};
use crate::model::{
    ActionKind, AlterDomainAction, AlterTypeAction, Constraint, ConstraintKind, CreateIndex,
    DomainConstraint, LockMode, Name, ObjectKind, StatementKind, TypeName,
};

/// A cursor over a statement's tokens.
pub(crate) struct Cursor<'a> {
    source: &'a str,
    tokens: &'a [Token],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(source: &'a str, tokens: &'a [Token]) -> Self {
        Self {
            source,
            tokens,
            pos: 0,
        }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.pos)
    }

    fn at_end(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn is(&self, keyword: &str) -> bool {
        self.peek().is_some_and(|t| t.is_word(self.source, keyword))
    }

    /// Consume `keyword` if it is next.
    fn eat(&mut self, keyword: &str) -> bool {
        let found = self.is(keyword);
        self.pos += usize::from(found);
        found
    }

    /// Consume the keywords if they all come next, in order.
    fn eat_all(&mut self, keywords: &[&str]) -> bool {
        let start = self.pos;
        if keywords.iter().all(|k| self.eat(k)) {
            true
        } else {
            self.pos = start;
            false
        }
    }

    fn eat_punct(&mut self, punct: &str) -> bool {
        let found = self.peek().is_some_and(|t| t.is_punct(self.source, punct));
        self.pos += usize::from(found);
        found
    }

    /// Skip a parenthesised group if one is next.
    fn skip_parens(&mut self) -> bool {
        if !self.peek().is_some_and(|t| t.is_punct(self.source, "(")) {
            return false;
        }
        let mut depth = 0usize;
        while let Some(token) = self.peek() {
            self.pos += 1;
            if token.is_punct(self.source, "(") {
                depth += 1;
            } else if token.is_punct(self.source, ")") {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
        }
        true
    }

    fn ident(&mut self) -> Option<String> {
        let token = self.peek()?;
        let text = token.text(self.source);
        let ident = match token.kind {
            TokenKind::Word => text.to_lowercase(),
            TokenKind::QuotedIdent => {
                let inner = text.strip_prefix("U&").unwrap_or(text);
                inner[1..inner.len() - 1].replace("\"\"", "\"")
            }
            _ => return None,
        };
        self.pos += 1;
        Some(ident)
    }

    /// A possibly qualified name: `a`, `s.a`, `"S"."A"`.
    pub(crate) fn name(&mut self) -> Option<Name> {
        let mut parts = vec![self.ident()?];
        while self.peek().is_some_and(|t| t.is_punct(self.source, ".")) {
            self.pos += 1;
            parts.push(self.ident()?);
        }
        let name = parts.pop()?;
        Some(Name {
            schema: parts.pop(),
            name,
        })
    }

    /// Comma-separated names.
    fn names(&mut self) -> Option<Vec<Name>> {
        let mut names = vec![self.name()?];
        while self.eat_punct(",") {
            names.push(self.name()?);
        }
        Some(names)
    }

    /// The source text from the cursor to the end.
    fn rest(&self) -> &'a str {
        match (self.tokens.get(self.pos), self.tokens.last()) {
            (Some(first), Some(last)) => &self.source[first.range.start..last.range.end],
            _ => "",
        }
    }
}

/// The first words of a statement, upper case (`ALTER SEQUENCE`), for messages.
pub(crate) fn command_words(source: &str, tokens: &[Token]) -> String {
    tokens
        .iter()
        .take_while(|t| t.kind == TokenKind::Word)
        .take(3)
        .map(|t| t.text(source).to_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Byte offset just after the first `INDEX` keyword (where `CONCURRENTLY` goes).
pub(crate) fn index_keyword_end(source: &str, tokens: &[Token]) -> usize {
    tokens
        .iter()
        .find(|t| t.is_word(source, "INDEX"))
        .map_or(0, |t| t.range.end)
}

/// Relations named after `FROM` or `JOIN` anywhere in the statement.
pub(crate) fn relations_read(source: &str, tokens: &[Token]) -> Vec<Name> {
    let mut names: Vec<Name> = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.is_word(source, "FROM") || token.is_word(source, "JOIN") {
            let mut cursor = Cursor::new(source, &tokens[i + 1..]);
            cursor.eat("ONLY");
            if let Some(name) = cursor.name()
                && !names.contains(&name)
            {
                names.push(name);
            }
        }
    }
    names
}

/// `SELECT set_config('name', 'value', is_local)` as a `SET`.
pub(crate) fn set_config(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    if !(c.eat("SELECT") && c.eat("set_config") && c.eat_punct("(")) {
        return None;
    }
    let mut args = Vec::new();
    while let Some(token) = c.peek() {
        c.pos += 1;
        match token.kind {
            TokenKind::String => args.push(unquote(token.text(source))?),
            TokenKind::Word => args.push(token.text(source).to_lowercase()),
            TokenKind::Punct if token.is_punct(source, ",") => {}
            TokenKind::Punct if token.is_punct(source, ")") => break,
            _ => return None,
        }
    }
    match args.as_slice() {
        [name, value, local] => Some(StatementKind::Set {
            name: name.to_lowercase(),
            value: Some(value.clone()),
            local: local == "true",
        }),
        _ => None,
    }
}

/// The content of a plain or dollar-quoted string constant.
pub(crate) fn unquote(text: &str) -> Option<String> {
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(inner.replace("''", "'"));
    }
    if let Some(after) = text.strip_prefix('$') {
        let tag_end = after.find('$')? + 2;
        return Some(text[tag_end..text.len() - tag_end].to_owned());
    }
    None
}

/// Byte ranges of each comma-separated action of an `ALTER TABLE`.
pub(crate) fn alter_table_action_ranges(
    source: &str,
    tokens: &[Token],
) -> Option<Vec<Range<usize>>> {
    let (_, start) = alter_table_header(source, tokens)?;
    let mut ranges = Vec::new();
    for action in split_top_level(source, &tokens[start..]) {
        let (first, last) = (action.first()?, action.last()?);
        ranges.push(first.range.start..last.range.end);
    }
    Some(ranges)
}

/// `ALTER TABLE [IF EXISTS] [ONLY] name [*]`: the table, its text, and the index of the first action token.
pub(crate) fn alter_table_header(source: &str, tokens: &[Token]) -> Option<(Name, usize)> {
    let mut c = Cursor::new(source, tokens);
    if !c.eat_all(&["ALTER", "TABLE"]) {
        return None;
    }
    c.eat_all(&["IF", "EXISTS"]);
    c.eat("ONLY");
    let name = c.name()?;
    c.eat_punct("*");
    Some((name, c.pos))
}

/// Whether a `CREATE MATERIALIZED VIEW … AS query` statement ends `WITH NO DATA`.
pub(crate) fn with_no_data(source: &str, tokens: &[Token]) -> bool {
    let words: Vec<&Token> = tokens
        .iter()
        .rev()
        .skip_while(|t| t.is_punct(source, ";"))
        .take(3)
        .collect();
    matches!(words.as_slice(), [data, no, with]
        if data.is_word(source, "DATA") && no.is_word(source, "NO") && with.is_word(source, "WITH"))
}

/// The tokens outside parentheses, with their positions (the parentheses left out; a stray
/// `)` closes nothing).
pub(crate) fn top_level<'t>(
    source: &'t str,
    tokens: &'t [Token],
) -> impl Iterator<Item = (usize, &'t Token)> + 't {
    let mut depth = 0usize;
    tokens.iter().enumerate().filter(move |(_, token)| {
        if token.is_punct(source, "(") {
            depth += 1;
            false
        } else if token.is_punct(source, ")") {
            depth = depth.saturating_sub(1);
            false
        } else {
            depth == 0
        }
    })
}

/// Split tokens at commas outside parentheses.
pub(crate) fn split_top_level<'t>(source: &str, tokens: &'t [Token]) -> Vec<&'t [Token]> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, token) in top_level(source, tokens) {
        if token.is_punct(source, ",") {
            parts.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    parts.push(&tokens[start..]);
    parts
}

/// The words that can begin an `ALTER TABLE` action.
pub(crate) const ALTER_TABLE_ACTION_KEYWORDS: &[&str] = &[
    "ADD", "DROP", "ALTER", "RENAME", "VALIDATE", "SET", "RESET", "CLUSTER", "OWNER", "ENABLE",
    "DISABLE", "FORCE", "NO", "INHERIT", "OF", "NOT", "REPLICA", "ATTACH", "DETACH", "SPLIT",
    "MERGE",
];

/// Recognise one `ALTER TABLE` action sqlparser could not parse.
pub(crate) fn alter_action(source: &str, tokens: &[Token]) -> Option<ActionKind> {
    let mut c = Cursor::new(source, tokens);
    let clause = c.rest().to_owned();
    let other = |lock| {
        Some(ActionKind::Other {
            clause: clause.clone(),
            lock,
        })
    };
    if c.eat_all(&["ATTACH", "PARTITION"]) {
        let partition = c.name()?;
        return Some(ActionKind::AttachPartition {
            partition,
            default: c.eat("DEFAULT"),
        });
    }
    if c.eat_all(&["DETACH", "PARTITION"]) {
        let partition = c.name()?;
        let concurrently = c.eat("CONCURRENTLY");
        let finalize = c.eat("FINALIZE");
        return if finalize {
            other(LockMode::ShareUpdateExclusive)
        } else {
            Some(ActionKind::DetachPartition {
                partition,
                concurrently,
            })
        };
    }
    if c.eat_all(&["SET", "SCHEMA"]) {
        return Some(ActionKind::SetSchema { schema: c.ident()? });
    }
    // `DROP [COLUMN] [IF EXISTS] name`, where the name may be a keyword sqlparser reads as an
    // object kind (`DROP index` drops the column `index`); `CONSTRAINT` is reserved.
    let mut drop = Cursor::new(source, tokens);
    if drop.eat("DROP") && !drop.is("CONSTRAINT") {
        drop.eat("COLUMN");
        drop.eat_all(&["IF", "EXISTS"]);
        if let Some(column) = drop.ident() {
            let _ = drop.eat("CASCADE") || drop.eat("RESTRICT");
            if drop.at_end() {
                return Some(ActionKind::DropColumn { column });
            }
        }
    }
    if c.is("SET")
        && ["TABLESPACE", "LOGGED", "UNLOGGED"]
            .iter()
            .any(|k| tokens.get(1).is_some_and(|t| t.is_word(source, k)))
        || c.eat_all(&["SET", "ACCESS", "METHOD"])
    {
        return Some(ActionKind::Rewrite { clause });
    }
    if c.eat("ADD") {
        // PostgreSQL 18: ADD [CONSTRAINT name] NOT NULL column [NO INHERIT] [NOT VALID]
        let name = if c.eat("CONSTRAINT") {
            Some(c.ident()?)
        } else {
            None
        };
        if c.eat_all(&["NOT", "NULL"]) {
            let column = c.ident()?;
            c.eat_all(&["NO", "INHERIT"]);
            let not_valid = c.eat_all(&["NOT", "VALID"]);
            return c.at_end().then_some(ActionKind::AddConstraint {
                constraint: Constraint {
                    name,
                    kind: ConstraintKind::NotNull { column },
                },
                not_valid,
            });
        }
        return None;
    }
    if c.eat_all(&["ALTER", "CONSTRAINT"]) {
        return other(LockMode::AccessExclusive);
    }
    if c.eat("ALTER") {
        c.eat("COLUMN");
        c.ident()?;
        if c.eat("SET") && (c.is("STATISTICS") || c.skip_parens()) {
            return other(LockMode::ShareUpdateExclusive);
        }
        if c.eat("RESET") && c.skip_parens() {
            return other(LockMode::ShareUpdateExclusive);
        }
        return other(LockMode::AccessExclusive);
    }
    if c.eat("CLUSTER") || c.eat_all(&["SET", "WITHOUT", "CLUSTER"]) || c.eat("RESET") {
        return other(LockMode::ShareUpdateExclusive);
    }
    if c.eat("INHERIT") || c.eat_all(&["NO", "INHERIT"]) || c.eat("OF") || c.eat_all(&["NOT", "OF"])
    {
        return other(LockMode::AccessExclusive);
    }
    if c.eat("SET") && (c.eat("WITH") || c.eat("WITHOUT")) && c.eat("OIDS") {
        return other(LockMode::AccessExclusive);
    }
    None
}

/// Recognise a statement sqlparser rejects. `None` when the form is not known.
pub(crate) fn statement(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    let harmless = |command: &str| {
        Some(StatementKind::Harmless {
            command: command.to_owned(),
        })
    };
    if c.eat_all(&["DROP", "INDEX"]) {
        let concurrently = c.eat("CONCURRENTLY");
        c.eat_all(&["IF", "EXISTS"]);
        let names = c.names()?;
        c.eat("CASCADE");
        c.eat("RESTRICT");
        return c.at_end().then_some(StatementKind::DropIndex {
            names,
            concurrently,
        });
    }
    if c.eat("REINDEX") {
        // `REINDEX (CONCURRENTLY [boolean], …)` is the option-list spelling (PostgreSQL 14+).
        let options = option_enabled(source, &tokens[c.pos..], "CONCURRENTLY");
        c.skip_parens();
        let target = ["INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM"]
            .into_iter()
            .find(|k| c.eat(k))?;
        let concurrently = c.eat("CONCURRENTLY") || options;
        // Only `REINDEX DATABASE` and `REINDEX SYSTEM` may omit the name (PostgreSQL 16+).
        let name = match c.name() {
            Some(name) => name,
            None if matches!(target, "DATABASE" | "SYSTEM") => Name::new(""),
            None => return None,
        };
        return c.at_end().then(|| StatementKind::Reindex {
            target: target.to_owned(),
            name,
            concurrently,
        });
    }
    if c.eat_all(&["REFRESH", "MATERIALIZED", "VIEW"]) {
        let concurrently = c.eat("CONCURRENTLY");
        let name = c.name()?;
        let mut no_data = false;
        if c.eat("WITH") {
            no_data = c.eat("NO");
            c.eat("DATA").then_some(())?;
        }
        return c
            .at_end()
            .then_some(StatementKind::RefreshMaterializedView {
                name,
                concurrently,
                no_data,
            });
    }
    if c.eat("CLUSTER") {
        c.skip_parens();
        c.eat("VERBOSE");
        let tables = if c.at_end() {
            Vec::new()
        } else {
            let first = c.name()?;
            // The pre-8.3 spelling, still accepted: `CLUSTER index ON table`.
            if c.eat("ON") {
                vec![c.name()?]
            } else {
                vec![first]
            }
        };
        if c.eat("USING") {
            c.ident()?;
        }
        return c.at_end().then(|| StatementKind::Rewrite {
            command: "CLUSTER".to_owned(),
            tables,
        });
    }
    if c.is("VACUUM") || c.is("ANALYZE") || c.is("ANALYSE") {
        return vacuum(source, tokens);
    }
    if c.eat("CREATE") {
        let unique = c.eat("UNIQUE");
        if c.eat("INDEX") {
            let index_keyword_end = tokens[c.pos - 1].range.end;
            let concurrently = c.eat("CONCURRENTLY");
            let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
            let name = if c.is("ON") { None } else { Some(c.name()?) };
            c.eat("ON").then_some(())?;
            let only = c.eat("ONLY");
            let table = c.name()?;
            if c.eat("USING") {
                c.ident()?;
            }
            let (columns, expressions) = index_columns(source, &tokens[c.pos..]);
            let partial =
                top_level(source, &tokens[c.pos..]).any(|(_, t)| t.is_word(source, "WHERE"));
            return Some(StatementKind::CreateIndex(CreateIndex {
                name,
                table,
                unique,
                concurrently,
                only,
                if_not_exists,
                columns,
                expressions,
                partial,
                index_keyword_end,
            }));
        }
        if !unique && let Some(create) = create_table_fallback(&mut c) {
            return Some(create);
        }
        if !unique && c.eat_all(&["MATERIALIZED", "VIEW"]) {
            c.eat_all(&["IF", "NOT", "EXISTS"]);
            let name = c.name()?;
            return Some(StatementKind::CreateView {
                name,
                materialized: true,
                or_replace: false,
                reads: relations_read(source, tokens),
                populated: !with_no_data(source, tokens),
            });
        }
    }
    if let Some(domain) = create_domain(source, tokens).or_else(|| alter_domain(source, tokens)) {
        return Some(domain);
    }
    if let Some(kind) =
        routine_or_extension(source, tokens).or_else(|| enum_drop_value(source, tokens))
    {
        return Some(kind);
    }
    let words = command_words(source, tokens);
    HARMLESS_PREFIXES
        .iter()
        .find(|prefix| {
            let n = prefix.split(' ').count();
            words.split(' ').take(n).collect::<Vec<_>>().join(" ") == **prefix
        })
        .and_then(|prefix| harmless(prefix))
        .or_else(|| alter_index(source, tokens))
        .or_else(|| alter_view(source, tokens))
        .or_else(|| alter_trigger(source, tokens))
        .or_else(|| alter_schema(source, tokens))
}

/// Whether the parenthesised option list that `tokens` starts with turns `option` on
/// (`(option)`, `(option true)`, `(VERBOSE, option on)`).
fn option_enabled(source: &str, tokens: &[Token], option: &str) -> bool {
    let Some(close) = matching_paren(source, tokens) else {
        return false;
    };
    split_top_level(source, &tokens[1..close])
        .into_iter()
        .any(|element| match element {
            [name] => name.is_word(source, option),
            [name, value] => {
                name.is_word(source, option)
                    && !["false", "off", "0", "'false'", "'off'", "'0'"]
                        .iter()
                        .any(|v| value.text(source).eq_ignore_ascii_case(v))
            }
            _ => false,
        })
}

/// The elements of an index's parenthesised column list, which `tokens` starts with: a column
/// by its name, an expression as SQL.
fn index_columns(source: &str, tokens: &[Token]) -> (Vec<String>, bool) {
    let Some(close) = matching_paren(source, tokens) else {
        return (Vec::new(), false);
    };
    let mut expressions = false;
    let columns = split_top_level(source, &tokens[1..close])
        .into_iter()
        .filter_map(|element| {
            let first = element.first()?;
            let column = element.get(1).is_none_or(|t| !t.is_punct(source, "("))
                && matches!(first.kind, TokenKind::Word | TokenKind::QuotedIdent);
            expressions |= !column;
            Some(if column {
                Cursor::new(source, element).ident()?
            } else {
                source[first.range.start..element.last()?.range.end].to_owned()
            })
        })
        .collect();
    (columns, expressions)
}

/// The position of the `)` closing the `(` that `tokens` starts with.
pub(crate) fn matching_paren(source: &str, tokens: &[Token]) -> Option<usize> {
    if !tokens.first()?.is_punct(source, "(") {
        return None;
    }
    let mut depth = 0usize;
    tokens.iter().position(|t| {
        if t.is_punct(source, "(") {
            depth += 1;
        } else if t.is_punct(source, ")") {
            depth -= 1;
        }
        depth == 0
    })
}

/// `CREATE [OR REPLACE] <object> [IF NOT EXISTS] name …` for `object` = `TYPE`, `SCHEMA`,
/// `MATERIALIZED VIEW`, …: the name created.
pub(crate) fn created_object(source: &str, tokens: &[Token], object: &str) -> Option<Name> {
    let mut c = Cursor::new(source, tokens);
    c.eat("CREATE").then_some(())?;
    c.eat_all(&["OR", "REPLACE"]);
    c.eat_all(&object.split(' ').collect::<Vec<_>>())
        .then_some(())?;
    c.eat_all(&["IF", "NOT", "EXISTS"]);
    c.name()
}

/// `ALTER SCHEMA s RENAME TO t` (running code loses every object in it) and `OWNER TO`.
fn alter_schema(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["ALTER", "SCHEMA"]).then_some(())?;
    let from = c.ident()?;
    let kind = if c.eat_all(&["RENAME", "TO"]) {
        StatementKind::RenameSchema {
            from,
            to: c.ident()?,
        }
    } else if c.eat_all(&["OWNER", "TO"]) {
        c.ident()?;
        StatementKind::Harmless {
            command: "ALTER SCHEMA … OWNER TO".to_owned(),
        }
    } else {
        return None;
    };
    c.at_end().then_some(kind)
}

/// `DROP FUNCTION | PROCEDURE | ROUTINE [IF EXISTS] name [(args)], …`, `CREATE EXTENSION
/// [IF NOT EXISTS] name …` and `DROP EXTENSION [IF EXISTS] name, …`.
fn routine_or_extension(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    if c.eat_all(&["CREATE", "EXTENSION"]) {
        c.eat_all(&["IF", "NOT", "EXISTS"]);
        return Some(StatementKind::Extension {
            name: c.ident()?,
            create: true,
        });
    }
    c.eat("DROP").then_some(())?;
    if c.eat("EXTENSION") {
        c.eat_all(&["IF", "EXISTS"]);
        let names = c.names()?;
        let _ = c.eat("CASCADE") || c.eat("RESTRICT");
        return c.at_end().then(|| StatementKind::Extension {
            name: names
                .iter()
                .map(|n| n.name.clone())
                .collect::<Vec<_>>()
                .join(", "),
            create: false,
        });
    }
    let object = ["FUNCTION", "PROCEDURE", "ROUTINE"]
        .into_iter()
        .find(|k| c.eat(k))?;
    c.eat_all(&["IF", "EXISTS"]);
    let mut names = vec![c.name()?];
    c.skip_parens();
    while c.eat_punct(",") {
        names.push(c.name()?);
        c.skip_parens();
    }
    let _ = c.eat("CASCADE") || c.eat("RESTRICT");
    c.at_end().then(|| StatementKind::Drop {
        object: ObjectKind::Other(object.to_owned()),
        names,
    })
}

/// `ALTER TYPE name DROP VALUE [IF EXISTS] 'label'`: a syntax error before PostgreSQL 17, and
/// parsed but not implemented on 17 and 18 (measured), so recognised on every version.
fn enum_drop_value(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["ALTER", "TYPE"]).then_some(())?;
    let name = c.name()?;
    c.eat_all(&["DROP", "VALUE"]).then_some(())?;
    c.eat_all(&["IF", "EXISTS"]);
    let label = c.peek().filter(|t| t.kind == TokenKind::String)?;
    c.pos += 1;
    let value = unquote(label.text(source))?;
    c.at_end().then_some(StatementKind::AlterType {
        name,
        action: AlterTypeAction::DropValue { value },
    })
}

/// Statements that take no lock an application would notice, recognised by their first words.
const HARMLESS_PREFIXES: &[&str] = &[
    "ALTER SEQUENCE",
    "CREATE SEQUENCE",
    "ALTER DEFAULT PRIVILEGES",
    "GRANT",
    "REVOKE",
    "COMMENT ON",
    "SECURITY LABEL",
    "CREATE EVENT",
    "DROP EVENT",
    "ALTER EVENT",
    "CREATE STATISTICS",
    "DROP STATISTICS",
    "ALTER STATISTICS",
    "CREATE ROLE",
    "CREATE USER",
    "CREATE GROUP",
    "ALTER ROLE",
    "ALTER USER",
    "ALTER GROUP",
    "DROP ROLE",
    "DROP USER",
    "DROP GROUP",
    "CREATE PUBLICATION",
    "ALTER PUBLICATION",
    "DROP PUBLICATION",
    "CREATE FUNCTION",
    "CREATE OR REPLACE",
    "CREATE PROCEDURE",
    "ALTER FUNCTION",
    "ALTER PROCEDURE",
    "ALTER ROUTINE",
    "CREATE AGGREGATE",
    "CREATE OPERATOR",
    "CREATE CAST",
    "CREATE COLLATION",
    "CREATE TEXT",
    "ALTER EXTENSION",
    "CREATE SCHEMA",
    "CREATE TYPE",
    "CREATE DOMAIN",
    "CREATE LANGUAGE",
    "CREATE TRUSTED",
    "ALTER LANGUAGE",
    "ALTER DATABASE",
    "SELECT",
    "SHOW",
    "SET",
    "NOTIFY",
    "LISTEN",
    "UNLISTEN",
    "CHECKPOINT",
    "DISCARD",
];

/// `CREATE [TEMP | UNLOGGED] TABLE [IF NOT EXISTS] name (…) …` or `… PARTITION OF parent …` in
/// forms sqlparser rejects (`LIKE … INCLUDING …`, storage options, …); the cursor is just after
/// `CREATE`. A new table has no readers, so what matters is kept: its columns and types, the
/// tables its foreign keys reference (locked `SHARE ROW EXCLUSIVE`), and its partition parent.
fn create_table_fallback(c: &mut Cursor<'_>) -> Option<StatementKind> {
    let start = c.pos;
    while ["GLOBAL", "LOCAL", "TEMP", "TEMPORARY", "UNLOGGED"]
        .iter()
        .any(|k| c.eat(k))
    {}
    if !c.eat("TABLE") {
        c.pos = start;
        return None;
    }
    let if_not_exists = c.eat_all(&["IF", "NOT", "EXISTS"]);
    let table = c.name()?;
    let partition_of = if c.eat_all(&["PARTITION", "OF"]) {
        Some(c.name()?)
    } else {
        None
    };
    let mut columns = Vec::new();
    let mut constraints = Vec::new();
    let open = c.pos;
    if c.skip_parens() {
        let inside = &c.tokens[open + 1..c.pos - 1];
        // `CREATE TABLE t ()` is valid; an empty element (`(a int,)`) is not.
        if !inside.is_empty() {
            for element in split_top_level(c.source, inside) {
                table_element(c.source, element, &mut columns, &mut constraints)?;
            }
        }
    } else if partition_of.is_none() {
        return None;
    }
    let rest = &c.tokens[c.pos..];
    let default_partition =
        partition_of.is_some() && rest.first().is_some_and(|t| t.is_word(c.source, "DEFAULT"));
    let partition_by = rest
        .windows(2)
        .any(|w| w[0].is_word(c.source, "PARTITION") && w[1].is_word(c.source, "BY"));
    Some(StatementKind::CreateTable(crate::model::CreateTable {
        table,
        columns,
        constraints,
        partition_of,
        default_partition,
        partition_by,
        if_not_exists,
    }))
}

/// Words that begin a table constraint in a `CREATE TABLE` list.
const TABLE_CONSTRAINT_WORDS: &[&str] = &[
    "CONSTRAINT",
    "CHECK",
    "UNIQUE",
    "PRIMARY",
    "FOREIGN",
    "EXCLUDE",
];

/// One element of a `CREATE TABLE` list: `LIKE …`, a table constraint, or a column definition.
fn table_element(
    source: &str,
    element: &[Token],
    columns: &mut Vec<crate::model::ColumnDef>,
    constraints: &mut Vec<Constraint>,
) -> Option<()> {
    /// Words that end a column's type: table-constraint and column-option keywords.
    const COLUMN_OPTION_WORDS: &[&str] = &[
        "NOT",
        "NULL",
        "DEFAULT",
        "REFERENCES",
        "GENERATED",
        "COLLATE",
    ];
    let ends_type = |c: &Cursor<'_>| {
        TABLE_CONSTRAINT_WORDS
            .iter()
            .chain(COLUMN_OPTION_WORDS)
            .any(|k| c.is(k))
    };
    let references = |tokens: &[Token]| {
        let at = tokens
            .iter()
            .position(|t| t.is_word(source, "REFERENCES"))?;
        Cursor::new(source, &tokens[at + 1..]).name()
    };
    let first = element.first()?;
    if first.is_word(source, "LIKE") {
        return Some(());
    }
    if TABLE_CONSTRAINT_WORDS
        .iter()
        .any(|k| first.is_word(source, k))
    {
        if let Some(referenced) = references(element) {
            constraints.push(Constraint {
                name: None,
                kind: ConstraintKind::ForeignKey {
                    columns: Vec::new(),
                    references: referenced,
                    referenced_columns: Vec::new(),
                },
            });
        }
        return Some(());
    }
    let mut c = Cursor::new(source, element);
    let name = c.ident()?;
    let type_start = c.pos;
    while !c.at_end() && !ends_type(&c) {
        if !c.skip_parens() {
            c.pos += 1;
        }
    }
    let type_tokens = &element[type_start..c.pos];
    let data_type = match (type_tokens.first(), type_tokens.last()) {
        (Some(first), Some(last)) => {
            crate::model::TypeName::parse(&source[first.range.start..last.range.end])
        }
        _ => return None,
    };
    let options = &element[c.pos..];
    let has = |a: &str, b: &str| {
        options
            .windows(2)
            .any(|w| w[0].is_word(source, a) && w[1].is_word(source, b))
    };
    let primary_key = has("PRIMARY", "KEY");
    columns.push(crate::model::ColumnDef {
        name,
        data_type,
        not_null: has("NOT", "NULL") || primary_key,
        default: None,
        generated: None,
        primary_key,
        unique: options.iter().any(|t| t.is_word(source, "UNIQUE")),
        references: references(options),
        referenced_columns: Vec::new(),
        check: None,
    });
    Some(())
}

/// `CREATE DOMAIN name [AS] type [COLLATE c] [DEFAULT e] [[CONSTRAINT n] NOT NULL | NULL | CHECK (…)]…`
pub(crate) fn create_domain(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["CREATE", "DOMAIN"]).then_some(())?;
    let name = c.name()?;
    c.eat("AS");
    const CLAUSES: &[&str] = &["COLLATE", "DEFAULT", "CONSTRAINT", "NOT", "NULL", "CHECK"];
    let type_start = c.pos;
    while !c.at_end() && !CLAUSES.iter().any(|k| c.is(k)) {
        if !c.skip_parens() {
            c.pos += 1;
        }
    }
    let (first, last) = (tokens.get(type_start)?, tokens.get(c.pos.checked_sub(1)?)?);
    if c.pos == type_start {
        return None;
    }
    let base = TypeName::parse(&source[first.range.start..last.range.end]);
    let mut constraints = Vec::new();
    let mut pending_name = None;
    while !c.at_end() {
        if c.skip_parens() {
            continue;
        }
        let after_is = c.pos > 0 && tokens[c.pos - 1].is_word(source, "IS");
        if c.eat("CONSTRAINT") {
            pending_name = Some(c.ident()?);
        } else if !after_is && c.eat_all(&["NOT", "NULL"]) {
            constraints.push(DomainConstraint {
                name: pending_name.take(),
                not_null: true,
            });
        } else if c.eat("CHECK") {
            constraints.push(DomainConstraint {
                name: pending_name.take(),
                not_null: false,
            });
        } else {
            c.pos += 1;
        }
    }
    Some(StatementKind::CreateDomain {
        name,
        base,
        constraints,
    })
}

/// `ALTER DOMAIN name …`.
fn alter_domain(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["ALTER", "DOMAIN"]).then_some(())?;
    let name = c.name()?;
    let action = if c.eat("ADD") {
        let constraint_name = if c.eat("CONSTRAINT") {
            Some(c.ident()?)
        } else {
            None
        };
        let not_null = if c.eat_all(&["NOT", "NULL"]) {
            true
        } else if c.eat("CHECK") && c.skip_parens() {
            false
        } else {
            return None;
        };
        let not_valid = c.eat_all(&["NOT", "VALID"]);
        c.at_end().then_some(())?;
        AlterDomainAction::AddConstraint {
            constraint: DomainConstraint {
                name: constraint_name,
                not_null,
            },
            not_valid,
        }
    } else if c.eat_all(&["VALIDATE", "CONSTRAINT"]) {
        let name = c.ident()?;
        c.at_end().then_some(())?;
        AlterDomainAction::ValidateConstraint { name }
    } else if c.eat_all(&["DROP", "CONSTRAINT"]) {
        c.eat_all(&["IF", "EXISTS"]);
        let name = c.ident()?;
        AlterDomainAction::DropConstraint { name }
    } else if c.eat_all(&["SET", "NOT", "NULL"]) {
        AlterDomainAction::SetNotNull
    } else if c.eat_all(&["DROP", "NOT", "NULL"]) {
        AlterDomainAction::DropNotNull
    } else if ["SET", "DROP", "RENAME", "OWNER"].iter().any(|k| c.is(k)) {
        AlterDomainAction::Other
    } else {
        return None;
    };
    Some(StatementKind::AlterDomain { name, action })
}

/// `ALTER [MATERIALIZED] VIEW [IF EXISTS] v …` takes `ACCESS EXCLUSIVE` on the view (measured on
/// PostgreSQL 15 for `RENAME TO`; every other form is at least as strong or harmless).
fn alter_view(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat("ALTER").then_some(())?;
    let materialized = c.eat("MATERIALIZED");
    c.eat("VIEW").then_some(())?;
    c.eat_all(&["IF", "EXISTS"]);
    let relation = c.name()?;
    let rename = c.pos;
    if c.eat_all(&["RENAME", "TO"]) {
        let mut to = c.name()?;
        if to.schema.is_none() {
            to.schema.clone_from(&relation.schema);
        }
        if c.at_end() {
            return Some(StatementKind::RenameView {
                view: relation,
                to,
                materialized,
            });
        }
    }
    c.pos = rename;
    (!c.at_end()).then(|| StatementKind::RelationLock {
        command: if materialized {
            "ALTER MATERIALIZED VIEW"
        } else {
            "ALTER VIEW"
        }
        .to_owned(),
        relation,
        mode: LockMode::AccessExclusive,
    })
}

/// `ALTER TRIGGER t ON table …` takes `ACCESS EXCLUSIVE` on the table (measured on PostgreSQL 15
/// for `RENAME TO`).
fn alter_trigger(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["ALTER", "TRIGGER"]).then_some(())?;
    c.ident()?;
    c.eat("ON").then_some(())?;
    let relation = c.name()?;
    (!c.at_end()).then(|| StatementKind::RelationLock {
        command: "ALTER TRIGGER".to_owned(),
        relation,
        mode: LockMode::AccessExclusive,
    })
}

/// `ALTER INDEX [IF EXISTS] i RENAME TO …` and `SET (…)`/`RESET (…)`: `SHARE UPDATE EXCLUSIVE`.
fn alter_index(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    c.eat_all(&["ALTER", "INDEX"]).then_some(())?;
    c.eat_all(&["IF", "EXISTS"]);
    c.name()?;
    let harmless = c.eat_all(&["RENAME", "TO"])
        || (c.eat("SET") || c.eat("RESET")) && c.skip_parens()
        || c.eat_all(&["ATTACH", "PARTITION"]);
    harmless.then(|| StatementKind::Harmless {
        command: "ALTER INDEX".to_owned(),
    })
}

/// `VACUUM [(options)] [FULL] [FREEZE] [VERBOSE] [ANALYZE] [tables]` and `ANALYZE [tables]`.
fn vacuum(source: &str, tokens: &[Token]) -> Option<StatementKind> {
    let mut c = Cursor::new(source, tokens);
    let mut full = false;
    if c.eat("VACUUM") {
        if c.peek().is_some_and(|t| t.is_punct(source, "(")) {
            let start = c.pos;
            c.skip_parens();
            // FULL [true|on|1] inside the option list.
            let options = split_top_level(source, &tokens[start + 1..c.pos.saturating_sub(1)]);
            full = options.iter().any(|o| {
                o.first().is_some_and(|t| t.is_word(source, "FULL"))
                    && o.get(1).is_none_or(|v| {
                        !["false", "off", "0"].contains(&v.text(source).to_lowercase().as_str())
                    })
            });
        }
        for keyword in ["FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE"] {
            full |= c.eat(keyword) && keyword == "FULL";
        }
    } else {
        c.eat("ANALYZE");
        c.eat("ANALYSE");
        c.skip_parens();
        c.eat("VERBOSE");
    }
    let mut tables = Vec::new();
    while !c.at_end() {
        tables.push(c.name()?);
        c.skip_parens(); // column list
        if !c.eat_punct(",") {
            break;
        }
    }
    if !c.at_end() {
        return None;
    }
    Some(if full {
        StatementKind::Rewrite {
            command: "VACUUM FULL".to_owned(),
            tables,
        }
    } else {
        StatementKind::Vacuum
    })
}

/// The words that can begin a PostgreSQL command.
pub(crate) const COMMAND_KEYWORDS: &[&str] = &[
    "ABORT",
    "ALTER",
    "ANALYZE",
    "ANALYSE",
    "BEGIN",
    "CALL",
    "CHECKPOINT",
    "CLOSE",
    "CLUSTER",
    "COMMENT",
    "COMMIT",
    "COPY",
    "CREATE",
    "DEALLOCATE",
    "DECLARE",
    "DELETE",
    "DISCARD",
    "DO",
    "DROP",
    "END",
    "EXECUTE",
    "EXPLAIN",
    "FETCH",
    "GRANT",
    "IMPORT",
    "INSERT",
    "LISTEN",
    "LOAD",
    "LOCK",
    "MERGE",
    "MOVE",
    "NOTIFY",
    "PREPARE",
    "REASSIGN",
    "REFRESH",
    "REINDEX",
    "RELEASE",
    "RESET",
    "REVOKE",
    "ROLLBACK",
    "SAVEPOINT",
    "SECURITY",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TABLE",
    "TRUNCATE",
    "UNLISTEN",
    "UPDATE",
    "VACUUM",
    "VALUES",
    "WITH",
];

/// The object kinds that can follow `CREATE`, `ALTER` or `DROP` (after `OR REPLACE`, `TEMP`, …).
const OBJECT_KEYWORDS: &[&str] = &[
    "ACCESS",
    "AGGREGATE",
    "CAST",
    "COLLATION",
    "CONVERSION",
    "DATABASE",
    "DEFAULT",
    "DOMAIN",
    "EVENT",
    "EXTENSION",
    "FOREIGN",
    "FUNCTION",
    "GROUP",
    "INDEX",
    "LANGUAGE",
    "LARGE",
    "MATERIALIZED",
    "OPERATOR",
    "POLICY",
    "PROCEDURE",
    "PUBLICATION",
    "ROLE",
    "ROUTINE",
    "RULE",
    "SCHEMA",
    "SEQUENCE",
    "SERVER",
    "STATISTICS",
    "SUBSCRIPTION",
    "SYSTEM",
    "TABLE",
    "TABLESPACE",
    "TEXT",
    "TRANSFORM",
    "TRIGGER",
    "TYPE",
    "USER",
    "VIEW",
    "OWNED",
    "CONSTRAINT",
];

/// Modifiers that may stand between `CREATE` and the object kind.
const CREATE_MODIFIERS: &[&str] = &[
    "OR",
    "REPLACE",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "GLOBAL",
    "LOCAL",
    "UNIQUE",
    "RECURSIVE",
    "TRUSTED",
    "PROCEDURAL",
];

/// Why a statement nobody could parse is certainly not PostgreSQL, if it is certain.
pub(crate) fn certain_syntax_error(source: &str, tokens: &[Token]) -> Option<(String, usize)> {
    let first = tokens.first()?;
    let word = first.text(source);
    if first.kind != TokenKind::Word
        || !COMMAND_KEYWORDS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(word))
    {
        if first.is_punct(source, "(") {
            return None; // a parenthesised query
        }
        return Some((
            format!("`{word}` does not begin a PostgreSQL command"),
            first.range.start,
        ));
    }
    let mut depth = 0isize;
    for token in tokens {
        if token.is_punct(source, "(") {
            depth += 1;
        } else if token.is_punct(source, ")") {
            depth -= 1;
            if depth < 0 {
                return Some(("unmatched `)`".to_owned(), token.range.start));
            }
        }
    }
    // PostgreSQL's grammar has no empty list elements anywhere: `,)`, `(,` and `,,` are errors.
    for pair in tokens.windows(2) {
        let (a, b) = (pair[0].text(source), pair[1].text(source));
        let kinds = (pair[0].kind, pair[1].kind);
        if kinds == (TokenKind::Punct, TokenKind::Punct)
            && matches!((a, b), (",", ")") | ("(", ",") | (",", ","))
        {
            return Some((format!("empty list element: `{a}{b}`"), pair[1].range.start));
        }
    }
    if depth > 0 {
        let last = tokens.last().map_or(first.range.start, |t| t.range.end);
        return Some((
            "unclosed `(`: the statement ends before it is closed".to_owned(),
            last,
        ));
    }
    if ["CREATE", "ALTER", "DROP"]
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
    {
        let object = tokens[1..]
            .iter()
            .find(|t| !CREATE_MODIFIERS.iter().any(|m| t.is_word(source, m)));
        match object {
            Some(t)
                if t.kind == TokenKind::Word
                    && OBJECT_KEYWORDS.iter().any(|k| t.is_word(source, k)) => {}
            Some(t) => {
                return Some((
                    format!(
                        "`{}` is not something PostgreSQL can {}",
                        t.text(source),
                        word.to_lowercase()
                    ),
                    t.range.start,
                ));
            }
            None => {
                return Some((format!("`{word}` needs an object"), first.range.end));
            }
        }
    }
    if let Some((_, start)) = alter_table_header(source, tokens) {
        for action in split_top_level(source, &tokens[start..]) {
            match action.first() {
                None => {
                    let at = tokens.get(start).map_or(first.range.end, |t| t.range.start);
                    return Some(("ALTER TABLE needs an action".to_owned(), at));
                }
                Some(t)
                    if !ALTER_TABLE_ACTION_KEYWORDS
                        .iter()
                        .any(|k| t.is_word(source, k)) =>
                {
                    return Some((
                        format!("`{}` is not an ALTER TABLE action", t.text(source)),
                        t.range.start,
                    ));
                }
                Some(_) => {
                    if let Some(error) = rejected_alter_action(source, action) {
                        return Some(error);
                    }
                }
            }
        }
    }
    None
}

/// ALTER TABLE action forms PostgreSQL's grammar rejects (each checked on PostgreSQL 15): a
/// second command run on without its `;`, `IF NOT EXISTS` after a new column's name, and a
/// column's `UNIQUE` or `PRIMARY KEY` given a column list.
fn rejected_alter_action(source: &str, action: &[Token]) -> Option<(String, usize)> {
    let mut depth = 0usize;
    let top: Vec<&Token> = action
        .iter()
        .filter(|t| {
            let at_top = depth == 0;
            if t.is_punct(source, "(") {
                depth += 1;
            } else if t.is_punct(source, ")") {
                depth = depth.saturating_sub(1);
            }
            at_top
        })
        .collect();
    // `TABLE` is a reserved word: after ALTER/CREATE/DROP inside an action it starts a command.
    for pair in top.windows(2) {
        if pair[1].is_word(source, "TABLE")
            && ["ALTER", "CREATE", "DROP"]
                .iter()
                .any(|k| pair[0].is_word(source, k))
        {
            return Some((
                format!(
                    "a `;` is missing before `{} {}`: a new command cannot start inside an ALTER TABLE action",
                    pair[0].text(source),
                    pair[1].text(source)
                ),
                pair[0].range.start,
            ));
        }
    }
    let mut c = Cursor::new(source, action);
    c.eat("ADD").then_some(())?;
    let column = c.eat("COLUMN");
    if !column && TABLE_CONSTRAINT_WORDS.iter().any(|k| c.is(k)) {
        return None;
    }
    c.eat_all(&["IF", "NOT", "EXISTS"]);
    c.ident()?;
    let name_end = c.pos;
    let rest: Vec<&Token> = top
        .iter()
        .copied()
        .filter(|t| t.range.start >= action.get(name_end).map_or(usize::MAX, |n| n.range.start))
        .collect();
    for (i, token) in rest.iter().enumerate() {
        let is = |at: usize, k: &str| rest.get(at).is_some_and(|t| t.is_word(source, k));
        if is(i, "IF") && is(i + 1, "NOT") && is(i + 2, "EXISTS") {
            return Some((
                "`IF NOT EXISTS` goes before the column name: ADD COLUMN IF NOT EXISTS name type"
                    .to_owned(),
                token.range.start,
            ));
        }
        let list_after = |at: usize| {
            action
                .iter()
                .position(|t| t.range == rest[at].range)
                .and_then(|p| action.get(p + 1))
                .is_some_and(|t| t.is_punct(source, "("))
        };
        if (is(i, "UNIQUE") && list_after(i))
            || (is(i, "PRIMARY") && is(i + 1, "KEY") && list_after(i + 1))
        {
            return Some((
                format!(
                    "a column's `{}` constraint takes no column list: it constrains the column it is declared on (for a list, use ADD CONSTRAINT … {} (…))",
                    token.text(source),
                    if is(i, "UNIQUE") {
                        "UNIQUE"
                    } else {
                        "PRIMARY KEY"
                    }
                ),
                token.range.start,
            ));
        }
    }
    None
}

/// A `DO` block: its language and the string constant that is its body.
pub(crate) struct DoBlock<'t> {
    /// The body token (a string constant).
    pub(crate) body: &'t Token,
    /// The `LANGUAGE`, lower case (default `plpgsql`).
    pub(crate) language: String,
}

/// Recognise `DO [LANGUAGE l] 'body' [LANGUAGE l]`.
pub(crate) fn do_block<'t>(source: &str, tokens: &'t [Token]) -> Option<DoBlock<'t>> {
    let mut c = Cursor::new(source, tokens);
    c.eat("DO").then_some(())?;
    let mut language = "plpgsql".to_owned();
    let mut body = None;
    while !c.at_end() {
        if c.eat("LANGUAGE") {
            // The language may be a name or a string constant: `LANGUAGE 'plpgsql'`.
            language = match c.peek()? {
                t if t.kind == TokenKind::String => {
                    c.pos += 1;
                    unquote(t.text(source))?
                }
                _ => c.ident()?,
            };
        } else if body.is_none() && c.peek()?.kind == TokenKind::String {
            body = tokens.get(c.pos);
            c.pos += 1;
        } else {
            return None;
        }
    }
    Some(DoBlock {
        body: body?,
        language,
    })
}

/// The SQL of `format('template', 'arg', …)` when the template and every argument are string
/// constants: `%I` quotes an identifier, `%L` a literal, `%s` inserts the text, `%%` is `%`.
fn constant_format(source: &str, tokens: &[Token]) -> Option<String> {
    let [function, open, inner @ .., close] = tokens else {
        return None;
    };
    if !(function.is_word(source, "format")
        && open.is_punct(source, "(")
        && close.is_punct(source, ")"))
    {
        return None;
    }
    let mut args = split_top_level(source, inner)
        .into_iter()
        .map(|arg| match arg {
            [string] if string.kind == TokenKind::String => unquote(string.text(source)),
            _ => None,
        });
    let template = args.next()??;
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            '%' => out.push('%'),
            'I' => out.push_str(&crate::model::quote_ident(&args.next()??)),
            'L' => out.push_str(&format!("'{}'", args.next()??.replace('\'', "''"))),
            's' => out.push_str(&args.next()??),
            _ => return None,
        }
    }
    args.next().is_none().then_some(out)
}

/// PL/pgSQL's `INSERT/UPDATE/DELETE … RETURNING … INTO [STRICT] target`: the SQL without the
/// trailing `INTO` clause, which stores the result in variables.
fn without_into_target<'t>(source: &str, tokens: &'t [Token]) -> &'t [Token] {
    let mut returning = false;
    for (i, token) in top_level(source, tokens) {
        if token.is_word(source, "RETURNING") {
            returning = true;
        } else if returning && token.is_word(source, "INTO") {
            return &tokens[..i];
        }
    }
    tokens
}

/// One statement found in a PL/pgSQL body.
pub(crate) enum PlpgsqlStatement<'t> {
    /// An SQL command, with the tokens that make it up.
    Sql(&'t [Token]),
    /// `EXECUTE 'constant'`: SQL in a string (the token is the string).
    ExecuteConstant(&'t Token),
    /// `EXECUTE format('…', 'constant', …)`: SQL built from constants only, with the SQL it builds.
    ExecuteFormat {
        /// The SQL `format` returns.
        sql: String,
        /// The `EXECUTE` statement.
        tokens: &'t [Token],
    },
    /// `EXECUTE expression`: SQL built at run time.
    ExecuteDynamic(&'t [Token]),
}

/// Walk a PL/pgSQL body's `;`-separated pieces and keep what runs as SQL: control structure
/// (`BEGIN`, `IF … THEN`, `LOOP`, `EXCEPTION WHEN … THEN`, `END IF`…), declarations,
/// assignments, `RAISE` and `PERFORM` are not schema changes.
pub(crate) fn plpgsql_statements<'t>(
    source: &str,
    pieces: Vec<&'t [Token]>,
) -> Vec<PlpgsqlStatement<'t>> {
    const SQL_COMMANDS: &[&str] = &[
        "ALTER", "CREATE", "DROP", "UPDATE", "DELETE", "INSERT", "TRUNCATE", "LOCK", "REINDEX",
        "REFRESH", "CLUSTER", "VACUUM", "COMMENT", "GRANT", "REVOKE", "SET", "RESET", "MERGE",
        "COMMIT", "ROLLBACK", "DO", "WITH",
    ];
    let mut out = Vec::new();
    for piece in pieces {
        let mut rest = piece;
        while let Some(first) = rest.first() {
            let is = |k: &str| first.is_word(source, k);
            if is("BEGIN") || is("DECLARE") || is("ELSE") || is("LOOP") || is("EXCEPTION") {
                rest = &rest[1..];
            } else if first.is_punct(source, "<") {
                // a <<label>>
                let end = rest
                    .iter()
                    .position(|t| t.is_punct(source, ">"))
                    .map_or(rest.len(), |i| i + 2);
                rest = &rest[end.min(rest.len())..];
            } else if is("IF") || is("ELSIF") || is("ELSEIF") || is("WHEN") || is("CASE") {
                // `CASE x WHEN v THEN …` and `CASE WHEN cond THEN …` alike: the statement
                // follows the first THEN.
                let then = rest.iter().position(|t| t.is_word(source, "THEN"));
                rest = then.map_or(&[][..], |i| &rest[i + 1..]);
            } else if is("WHILE") || is("FOR") || is("FOREACH") {
                let lp = rest.iter().position(|t| t.is_word(source, "LOOP"));
                rest = lp.map_or(&[][..], |i| &rest[i + 1..]);
            } else {
                break;
            }
        }
        let Some(first) = rest.first() else { continue };
        if first.is_word(source, "EXECUTE") {
            // `EXECUTE 'sql' [INTO [STRICT] target] [USING expr, …]`: the clauses after the
            // string do not change the SQL it runs.
            let string_end = rest
                .iter()
                .skip(2)
                .position(|t| t.is_word(source, "INTO") || t.is_word(source, "USING"))
                .map_or(rest.len(), |i| i + 2);
            match &rest[1..string_end] {
                [string] if string.kind == TokenKind::String => {
                    out.push(PlpgsqlStatement::ExecuteConstant(string));
                }
                expr => out.push(match constant_format(source, expr) {
                    Some(sql) => PlpgsqlStatement::ExecuteFormat {
                        sql,
                        tokens: &rest[..string_end],
                    },
                    None => PlpgsqlStatement::ExecuteDynamic(rest),
                }),
            }
        } else if SQL_COMMANDS.iter().any(|k| first.is_word(source, k)) {
            out.push(PlpgsqlStatement::Sql(without_into_target(source, rest)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::tokenize;

    fn recognise(sql: &str) -> Option<StatementKind> {
        let (tokens, _) = tokenize(sql);
        statement(sql, &tokens)
    }

    #[test]
    fn drop_index_concurrently() {
        assert_eq!(
            recognise("DROP INDEX CONCURRENTLY IF EXISTS app.users_email_idx"),
            Some(StatementKind::DropIndex {
                names: vec![Name {
                    schema: Some("app".into()),
                    name: "users_email_idx".into()
                }],
                concurrently: true
            })
        );
    }

    #[test]
    fn reindex_forms() {
        let kind = recognise("REINDEX (VERBOSE) TABLE CONCURRENTLY users").unwrap();
        assert!(
            matches!(kind, StatementKind::Reindex { concurrently: true, ref target, .. } if target == "TABLE")
        );
        for (sql, concurrently) in [
            ("REINDEX (CONCURRENTLY) TABLE users", true),
            (
                "REINDEX (VERBOSE, CONCURRENTLY true) INDEX users_pkey",
                true,
            ),
            ("REINDEX (CONCURRENTLY off) TABLE users", false),
            ("REINDEX (VERBOSE) TABLE users", false),
        ] {
            assert!(
                matches!(recognise(sql), Some(StatementKind::Reindex { concurrently: c, .. }) if c == concurrently),
                "{sql}"
            );
        }
        assert!(matches!(
            recognise("CLUSTER users_pkey ON users"),
            Some(StatementKind::Rewrite { tables, .. }) if tables == [Name::new("users")]
        ));
        assert!(recognise("REINDEX FOO bar").is_none());
        assert!(recognise("REINDEX INDEX").is_none());
        assert!(recognise("REINDEX DATABASE").is_some());
    }

    #[test]
    fn domain_forms() {
        let Some(StatementKind::CreateDomain {
            base, constraints, ..
        }) = recognise(
            "CREATE DOMAIN email AS varchar(255) COLLATE \"C\" DEFAULT '' CONSTRAINT email_nn NOT NULL CHECK (VALUE ~ '@')",
        )
        else {
            panic!("not a domain")
        };
        assert_eq!(base.name, "varchar");
        assert_eq!(constraints.len(), 2);
        assert_eq!(constraints[0].name.as_deref(), Some("email_nn"));
        assert!(constraints[0].not_null && !constraints[1].not_null);
        assert!(matches!(
            recognise("CREATE DOMAIN flag AS boolean DEFAULT (x IS NOT NULL)"),
            Some(StatementKind::CreateDomain { ref constraints, .. }) if constraints.is_empty()
        ));
        assert_eq!(
            recognise("ALTER DOMAIN price ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID"),
            Some(StatementKind::AlterDomain {
                name: Name::new("price"),
                action: AlterDomainAction::AddConstraint {
                    constraint: DomainConstraint {
                        name: Some("positive".into()),
                        not_null: false
                    },
                    not_valid: true
                }
            })
        );
        assert!(matches!(
            recognise("ALTER DOMAIN price SET NOT NULL"),
            Some(StatementKind::AlterDomain {
                action: AlterDomainAction::SetNotNull,
                ..
            })
        ));
        assert!(recognise("ALTER DOMAIN price FROB").is_none());
    }

    #[test]
    fn create_table_like() {
        assert!(matches!(
            recognise("CREATE TABLE events_2025 (LIKE events INCLUDING ALL EXCLUDING COMMENTS)"),
            Some(StatementKind::CreateTable(ref t)) if t.table.name == "events_2025"
        ));
        let Some(StatementKind::CreateTable(t)) = recognise(
            "CREATE UNLOGGED TABLE IF NOT EXISTS t (LIKE s INCLUDING DEFAULTS, id int NOT NULL, owner bigint REFERENCES users (id)) WITH (fillfactor = 70)",
        ) else {
            panic!("not recognised")
        };
        assert!(t.if_not_exists);
        assert_eq!(t.columns.len(), 2);
        assert!(t.columns[0].not_null && t.columns[0].data_type.name == "int4");
        assert_eq!(t.columns[1].references, Some(Name::new("users")));
        let Some(StatementKind::CreateTable(p)) = recognise(
            "CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') WITH (fillfactor = 70)",
        ) else {
            panic!("not recognised")
        };
        assert_eq!(p.partition_of, Some(Name::new("m")));
    }

    #[test]
    fn created_objects() {
        let created = |sql: &str, object: &str| {
            let (tokens, _) = tokenize(sql);
            created_object(sql, &tokens, object)
        };
        assert_eq!(
            created("CREATE TYPE app.status AS ENUM ('a')", "TYPE"),
            Some(Name {
                schema: Some("app".into()),
                name: "status".into()
            })
        );
        assert_eq!(
            created("CREATE SCHEMA IF NOT EXISTS billing", "SCHEMA"),
            Some(Name::new("billing"))
        );
        assert_eq!(
            created(
                "CREATE MATERIALIZED VIEW mv AS SELECT 1",
                "MATERIALIZED VIEW"
            ),
            Some(Name::new("mv"))
        );
        assert_eq!(created("CREATE TABLE t (id int)", "TYPE"), None);
    }

    #[test]
    fn alter_schema_forms() {
        assert_eq!(
            recognise("ALTER SCHEMA \"App\" RENAME TO app2"),
            Some(StatementKind::RenameSchema {
                from: "App".into(),
                to: "app2".into()
            })
        );
        assert!(matches!(
            recognise("ALTER SCHEMA app OWNER TO admin"),
            Some(StatementKind::Harmless { .. })
        ));
        assert!(recognise("ALTER SCHEMA app FROB").is_none());
    }

    #[test]
    fn vacuum_forms() {
        assert_eq!(
            recognise("VACUUM (ANALYZE, VERBOSE) users"),
            Some(StatementKind::Vacuum)
        );
        assert_eq!(
            recognise("ANALYZE users, orders"),
            Some(StatementKind::Vacuum)
        );
        assert!(matches!(
            recognise("VACUUM (FULL, ANALYZE) users"),
            Some(StatementKind::Rewrite { .. })
        ));
        assert_eq!(
            recognise("VACUUM (FULL false) users"),
            Some(StatementKind::Vacuum)
        );
    }

    #[test]
    fn rejected_alter_table_forms() {
        for (sql, at) in [
            ("ALTER TABLE t ADD COLUMN w int UNIQUE (w)", "UNIQUE"),
            (
                "ALTER TABLE t ADD w int NOT NULL PRIMARY KEY (w)",
                "PRIMARY",
            ),
            ("ALTER TABLE t ADD COLUMN v IF NOT EXISTS int", "IF"),
            ("ALTER TABLE t ADD v int IF NOT EXISTS", "IF"),
            (
                "ALTER TABLE t ADD COLUMN q int ALTER TABLE t ADD COLUMN r int",
                "ALTER",
            ),
            (
                "ALTER TABLE t DROP COLUMN id CREATE TABLE x (a int)",
                "CREATE",
            ),
        ] {
            let (tokens, _) = tokenize(sql);
            let (_, offset) = certain_syntax_error(sql, &tokens).unwrap_or_else(|| panic!("{sql}"));
            assert!(sql[offset..].starts_with(at), "{sql}: at {offset}");
        }
        for sql in [
            "ALTER TABLE t ADD COLUMN if int",
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS v int UNIQUE NULLS NOT DISTINCT",
            "ALTER TABLE t ADD CONSTRAINT u UNIQUE (a)",
            "ALTER TABLE t ADD UNIQUE (a)",
            "ALTER TABLE t ADD COLUMN x int REFERENCES u (id) CHECK (x > 0)",
            "ALTER TABLE t DROP index",
        ] {
            let (tokens, _) = tokenize(sql);
            assert_eq!(certain_syntax_error(sql, &tokens), None, "{sql}");
        }
    }

    #[test]
    fn certain_syntax_errors() {
        let check = |sql: &str| {
            let (tokens, _) = tokenize(sql);
            certain_syntax_error(sql, &tokens).map(|(m, _)| m)
        };
        assert_eq!(
            check("SELEC 1").unwrap(),
            "`SELEC` does not begin a PostgreSQL command"
        );
        assert!(
            check("CREATE TABEL t (id int)")
                .unwrap()
                .contains("`TABEL`")
        );
        assert!(
            check("ALTER TABLE t FROB x")
                .unwrap()
                .contains("not an ALTER TABLE action")
        );
        assert!(
            check("CREATE TABLE t (id int")
                .unwrap()
                .starts_with("unclosed")
        );
        assert!(check("ALTER SEQUENCE s RESTART").is_none());
        assert!(check("CREATE OR REPLACE FUNCTION f() RETURNS int").is_none());
    }

    #[test]
    fn plpgsql_control_structure_is_stripped() {
        let body = "BEGIN IF NOT EXISTS (SELECT 1) THEN CREATE TYPE s AS ENUM ('a'); END IF; \
                    EXECUTE 'DROP TABLE x'; EXECUTE format('x %s', 1); x := 1; \
                    EXECUTE 'SELECT 1' INTO n USING 2; EXECUTE format('DROP TABLE %I.%I', 'S', 't'); \
                    UPDATE t SET a = 1 RETURNING a INTO n; END";
        let lexed = crate::lexer::split(body);
        let pieces = lexed
            .statements
            .iter()
            .map(|s| lexed.statement_tokens(s))
            .collect();
        let found: Vec<String> = plpgsql_statements(body, pieces)
            .iter()
            .map(|s| match s {
                PlpgsqlStatement::Sql(t) => command_words(body, t),
                PlpgsqlStatement::ExecuteConstant(t) => t.text(body).to_owned(),
                PlpgsqlStatement::ExecuteDynamic(_) => "dynamic".to_owned(),
                PlpgsqlStatement::ExecuteFormat { sql, .. } => sql.clone(),
            })
            .collect();
        assert_eq!(
            found,
            [
                "CREATE TYPE S",
                "'DROP TABLE x'",
                "dynamic",
                "'SELECT 1'",
                "DROP TABLE \"S\".t",
                "UPDATE T SET"
            ]
        );
    }
}

//! A PostgreSQL lexer that splits a migration into statements with exact byte ranges.
//!
//! It understands everything that can hide a `;`: single-quoted strings (with the `E`, `B`, `X`,
//! `N` and `U&` prefixes and `E'…'` backslash escapes), quoted identifiers, dollar quotes
//! (`$$`, `$tag$`), line comments and nested block comments, parentheses, and SQL-standard
//! `BEGIN ATOMIC … END` function bodies. Comments are kept aside with their ranges, for
//! suppression directives. A psql meta-command (`\set ON_ERROR_STOP 1`, `\echo …`) that begins
//! a statement runs, as in psql, to the end of its line, and is a statement of its own: it never
//! swallows the SQL statement that follows it.

use std::ops::Range;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A keyword or unquoted identifier.
    Word,
    /// A `"quoted identifier"`.
    QuotedIdent,
    /// A string constant: `'…'`, `E'…'`, `$$…$$`, …
    String,
    /// A numeric constant.
    Number,
    /// A positional parameter such as `$1`.
    Param,
    /// Any other single character (or `::`), including `(`, `)`, `,`, `;`, `.`.
    Punct,
    /// A psql meta-command: from a `\` that begins a statement to the end of its line.
    PsqlCommand,
}

/// A token with its byte range in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) range: Range<usize>,
}

impl Token {
    pub(crate) fn text<'s>(&self, source: &'s str) -> &'s str {
        &source[self.range.clone()]
    }

    /// Whether this is the unquoted word `keyword` (ASCII case-insensitive).
    pub(crate) fn is_word(&self, source: &str, keyword: &str) -> bool {
        self.kind == TokenKind::Word && self.text(source).eq_ignore_ascii_case(keyword)
    }

    pub(crate) fn is_punct(&self, source: &str, punct: &str) -> bool {
        self.kind == TokenKind::Punct && self.text(source) == punct
    }

    /// The identifier this token denotes, folded as PostgreSQL folds it (`None` for a token
    /// that is not a word or a quoted identifier).
    pub(crate) fn ident(&self, source: &str) -> Option<String> {
        let raw = self.text(source);
        match self.kind {
            TokenKind::Word => Some(raw.to_lowercase()),
            TokenKind::QuotedIdent => Some(raw[1..raw.len() - 1].replace("\"\"", "\"")),
            _ => None,
        }
    }
}

/// A comment with its byte range (including the `--` or `/* */` markers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Comment {
    pub(crate) range: Range<usize>,
    /// The text inside the markers.
    pub(crate) body: Range<usize>,
}

/// An input the lexer could not read to its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexError {
    pub(crate) message: String,
    pub(crate) offset: usize,
}

/// One statement as found in the source: from its first token to its `;` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RawStatement {
    pub(crate) range: Range<usize>,
    /// Indexes into [`Lexed::tokens`]; the terminating `;` is not included.
    pub(crate) tokens: Range<usize>,
}

/// A lexed and split source.
#[derive(Debug, Clone, Default)]
pub(crate) struct Lexed {
    pub(crate) tokens: Vec<Token>,
    pub(crate) comments: Vec<Comment>,
    pub(crate) statements: Vec<RawStatement>,
    /// A lexical error ends the token stream; the statement it is in is the last one.
    pub(crate) error: Option<LexError>,
}

impl Lexed {
    pub(crate) fn statement_tokens(&self, statement: &RawStatement) -> &[Token] {
        &self.tokens[statement.tokens.clone()]
    }
}

/// Lex `source` and split it into statements.
pub(crate) fn split(source: &str) -> Lexed {
    let mut lexer = Lexer {
        src: source,
        bytes: source.as_bytes(),
        pos: 0,
        out: Lexed::default(),
    };
    lexer.run();
    let mut out = lexer.out;
    out.statements = group_statements(source, &out.tokens, out.error.as_ref());
    out
}

/// Tokens of a fragment (for example a function body), without splitting.
pub(crate) fn tokenize(source: &str) -> (Vec<Token>, Option<LexError>) {
    let out = split(source);
    (out.tokens, out.error)
}

struct Lexer<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    out: Lexed,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == b'$'
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        self.out.tokens.push(Token {
            kind,
            range: start..self.pos,
        });
    }

    fn fail(&mut self, message: impl Into<String>, offset: usize) {
        self.out.error = Some(LexError {
            message: message.into(),
            offset,
        });
        self.pos = self.bytes.len();
    }

    fn run(&mut self) {
        while let Some(c) = self.peek(0) {
            let start = self.pos;
            match c {
                c if c.is_ascii_whitespace() => self.pos += 1,
                b'-' if self.peek(1) == Some(b'-') => self.line_comment(),
                b'/' if self.peek(1) == Some(b'*') => self.block_comment(),
                b'\'' => self.quoted(b'\'', false, TokenKind::String, start),
                b'"' => self.quoted(b'"', false, TokenKind::QuotedIdent, start),
                b'$' => self.dollar(),
                b'0'..=b'9' => self.number(),
                b'.' if self.peek(1).is_some_and(|c| c.is_ascii_digit()) => self.number(),
                c if is_ident_start(c) => self.word(),
                b'\\' if self.at_statement_start() => self.psql_command(),
                b':' if self.peek(1) == Some(b':') => {
                    self.pos += 2;
                    self.push(TokenKind::Punct, start);
                }
                _ => {
                    // One character, which may be multi-byte (a stray non-ASCII symbol).
                    let len = self.src[start..].chars().next().map_or(1, char::len_utf8);
                    self.pos += len;
                    self.push(TokenKind::Punct, start);
                }
            }
        }
    }

    /// Whether the next token begins a statement: nothing but `;` and psql meta-commands
    /// precede it.
    fn at_statement_start(&self) -> bool {
        let source = self.src;
        self.out
            .tokens
            .last()
            .is_none_or(|t| t.is_punct(source, ";") || t.kind == TokenKind::PsqlCommand)
    }

    /// A psql meta-command, to the end of the line (psql reads its arguments itself).
    fn psql_command(&mut self) {
        let start = self.pos;
        let end = self.src[start..]
            .find(['\n', '\r'])
            .map_or(self.bytes.len(), |i| start + i);
        self.pos = end;
        self.push(TokenKind::PsqlCommand, start);
    }

    /// `--` to the end of the line. PostgreSQL (its scanner and psql's) ends the comment at a
    /// carriage return as well as a line feed, so text after a bare CR is SQL.
    fn line_comment(&mut self) {
        let start = self.pos;
        let end = self.src[start..]
            .find(['\n', '\r'])
            .map_or(self.bytes.len(), |i| start + i);
        self.out.comments.push(Comment {
            range: start..end,
            body: start + 2..end,
        });
        self.pos = end;
    }

    fn block_comment(&mut self) {
        let start = self.pos;
        let mut depth = 0usize;
        while self.pos < self.bytes.len() {
            if self.bytes[self.pos] == b'/' && self.peek(1) == Some(b'*') {
                depth += 1;
                self.pos += 2;
            } else if self.bytes[self.pos] == b'*' && self.peek(1) == Some(b'/') {
                depth -= 1;
                self.pos += 2;
                if depth == 0 {
                    self.out.comments.push(Comment {
                        range: start..self.pos,
                        body: start + 2..self.pos - 2,
                    });
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        self.fail(
            "unterminated block comment: `/*` is never closed by `*/`",
            start,
        );
    }

    /// A quoted string or identifier starting at `self.pos` (the opening quote).
    /// `backslash` enables `E'…'` escapes. The token starts at `start` (before any prefix).
    fn quoted(&mut self, quote: u8, backslash: bool, kind: TokenKind, start: usize) {
        self.pos += 1;
        while let Some(c) = self.peek(0) {
            if backslash && c == b'\\' {
                self.pos += 2;
            } else if c == quote {
                if self.peek(1) == Some(quote) {
                    self.pos += 2;
                } else {
                    self.pos += 1;
                    self.push(kind, start);
                    return;
                }
            } else {
                self.pos += 1;
            }
        }
        let what = if kind == TokenKind::String {
            "unterminated string: the quote `'` is never closed"
        } else {
            "unterminated quoted identifier: the quote `\"` is never closed"
        };
        self.fail(what, start);
    }

    fn dollar(&mut self) {
        let start = self.pos;
        let rest = &self.bytes[start + 1..];
        if rest.first().is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
            while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            self.push(TokenKind::Param, start);
            return;
        }
        let tag_len = rest
            .iter()
            .take_while(|&&c| is_ident_char(c) && c != b'$')
            .count();
        let tag_ok = tag_len == 0 || rest.first().is_some_and(|&c| is_ident_start(c));
        if !tag_ok || rest.get(tag_len) != Some(&b'$') {
            self.pos += 1;
            self.push(TokenKind::Punct, start);
            return;
        }
        let delimiter = &self.src[start..start + tag_len + 2];
        let body_start = start + delimiter.len();
        match self.src[body_start..].find(delimiter) {
            Some(i) => {
                self.pos = body_start + i + delimiter.len();
                self.push(TokenKind::String, start);
            }
            None => self.fail(
                format!("unterminated dollar-quoted string: `{delimiter}` is never closed"),
                start,
            ),
        }
    }

    fn number(&mut self) {
        let start = self.pos;
        while let Some(c) = self.peek(0) {
            let exponent_sign = (c == b'+' || c == b'-')
                && self.pos > start
                && matches!(self.bytes[self.pos - 1], b'e' | b'E')
                && self.bytes[start..self.pos]
                    .iter()
                    .all(|b| !b.is_ascii_alphabetic() || b.eq_ignore_ascii_case(&b'e'));
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exponent_sign {
                // `1..2` is not a number; stop before a second dot used as punctuation.
                if c == b'.' && self.peek(1) == Some(b'.') {
                    break;
                }
                self.pos += 1;
            } else {
                break;
            }
        }
        self.push(TokenKind::Number, start);
    }

    fn word(&mut self) {
        let start = self.pos;
        while self.peek(0).is_some_and(is_ident_char) {
            self.pos += 1;
        }
        let word = &self.src[start..self.pos];
        match (self.peek(0), word.len()) {
            (Some(b'\''), 1) if matches!(word, "e" | "E") => {
                self.quoted(b'\'', true, TokenKind::String, start);
            }
            (Some(b'\''), 1) if matches!(word, "b" | "B" | "x" | "X" | "n" | "N") => {
                self.quoted(b'\'', false, TokenKind::String, start);
            }
            (Some(b'&'), 1) if matches!(word, "u" | "U") => match self.peek(1) {
                Some(b'\'') => {
                    self.pos += 1;
                    self.quoted(b'\'', false, TokenKind::String, start);
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.quoted(b'"', false, TokenKind::QuotedIdent, start);
                }
                _ => self.push(TokenKind::Word, start),
            },
            _ => self.push(TokenKind::Word, start),
        }
    }
}

/// Group tokens into statements at top-level `;`.
fn group_statements(source: &str, tokens: &[Token], error: Option<&LexError>) -> Vec<RawStatement> {
    let mut statements = Vec::new();
    let mut first: Option<usize> = None;
    let mut parens = 0usize;
    let mut atomic = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        let Some(start) = first else {
            if token.is_punct(source, ";") {
                continue; // an empty statement
            }
            if token.kind == TokenKind::PsqlCommand {
                statements.push(RawStatement {
                    range: token.range.clone(),
                    tokens: i..i + 1,
                });
                continue;
            }
            first = Some(i);
            parens = usize::from(token.is_punct(source, "("));
            atomic = 0;
            continue;
        };
        match token.kind {
            TokenKind::Punct => match token.text(source) {
                "(" | "[" => parens += 1,
                ")" | "]" => parens = parens.saturating_sub(1),
                ";" if parens == 0 && atomic == 0 => {
                    statements.push(RawStatement {
                        range: tokens[start].range.start..token.range.end,
                        tokens: start..i,
                    });
                    first = None;
                }
                _ => {}
            },
            TokenKind::Word if tokens[start].is_word(source, "CREATE") => {
                let opens_atomic = token.is_word(source, "ATOMIC")
                    && tokens[i - 1].is_word(source, "BEGIN")
                    && i - 1 > start;
                if opens_atomic || (atomic > 0 && token.is_word(source, "CASE")) {
                    atomic += 1;
                } else if atomic > 0 && token.is_word(source, "END") {
                    atomic -= 1;
                }
            }
            _ => {}
        }
    }
    if let Some(start) = first {
        let end = match error {
            Some(_) => source.len(),
            None => tokens[tokens.len() - 1].range.end,
        };
        statements.push(RawStatement {
            range: tokens[start].range.start..end,
            tokens: start..tokens.len(),
        });
    } else if let Some(error) = error {
        // The error is in a token that never started (an unterminated quote or comment).
        statements.push(RawStatement {
            range: error.offset..source.len(),
            tokens: tokens.len()..tokens.len(),
        });
    }
    statements
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<&str> {
        split(source)
            .statements
            .iter()
            .map(|s| &source[s.range.clone()])
            .collect()
    }

    #[test]
    fn splits_on_top_level_semicolons() {
        assert_eq!(
            texts("select 1; select 2 ;\n\n  select (3);"),
            ["select 1;", "select 2 ;", "select (3);"]
        );
    }

    #[test]
    fn trailing_statement_without_semicolon() {
        assert_eq!(texts("select 1;\nselect 2\n"), ["select 1;", "select 2"]);
    }

    #[test]
    fn empty_statements_are_skipped() {
        assert_eq!(texts(";;select 1;;"), ["select 1;"]);
    }

    #[test]
    fn strings_hide_semicolons() {
        assert_eq!(
            texts("select 'a;b''c;'; select 2;"),
            ["select 'a;b''c;';", "select 2;"]
        );
    }

    #[test]
    fn escape_strings_hide_escaped_quotes() {
        assert_eq!(
            texts(r"select E'it\'s;'; select e'\\'; select 2;"),
            [r"select E'it\'s;';", r"select e'\\';", "select 2;"]
        );
    }

    #[test]
    fn standard_strings_treat_backslash_literally() {
        assert_eq!(
            texts(r"select 'a\'; select 2;"),
            [r"select 'a\';", "select 2;"]
        );
    }

    #[test]
    fn prefixed_strings() {
        assert_eq!(
            texts("select B'1;', X'ff;', N'x;', U&'d;'; select 2;"),
            ["select B'1;', X'ff;', N'x;', U&'d;';", "select 2;"]
        );
    }

    #[test]
    fn quoted_identifiers_hide_semicolons() {
        assert_eq!(
            texts(r#"create table "a;""b" (x int); select 2;"#),
            [r#"create table "a;""b" (x int);"#, "select 2;"]
        );
    }

    #[test]
    fn dollar_quotes_hide_semicolons() {
        let sql = "do $$ begin perform 1; end $$; do $body$ x; $$ y; $body$; select $1;";
        assert_eq!(
            texts(sql),
            [
                "do $$ begin perform 1; end $$;",
                "do $body$ x; $$ y; $body$;",
                "select $1;"
            ]
        );
    }

    #[test]
    fn identifiers_may_contain_dollar_signs() {
        assert_eq!(texts("select a$b; select 2;"), ["select a$b;", "select 2;"]);
    }

    #[test]
    fn comments_hide_semicolons_and_are_kept() {
        let sql = "-- a; b\nselect 1 /* c; /* nested; */ d; */ + 1; -- tail;\n";
        let lexed = split(sql);
        assert_eq!(texts(sql), ["select 1 /* c; /* nested; */ d; */ + 1;"]);
        let bodies: Vec<_> = lexed
            .comments
            .iter()
            .map(|c| &sql[c.body.clone()])
            .collect();
        assert_eq!(bodies, [" a; b", " c; /* nested; */ d; ", " tail;"]);
    }

    #[test]
    fn crlf_line_comments_exclude_the_carriage_return() {
        let sql = "-- x\r\nselect 1;\r\n";
        let lexed = split(sql);
        assert_eq!(&sql[lexed.comments[0].range.clone()], "-- x");
        assert_eq!(texts(sql), ["select 1;"]);
    }

    #[test]
    fn parentheses_hide_semicolons() {
        assert_eq!(
            texts("select (1;2); select 3;"),
            ["select (1;2);", "select 3;"]
        );
    }

    #[test]
    fn begin_atomic_bodies_are_one_statement() {
        let sql = "create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end; select 3;";
        assert_eq!(
            texts(sql),
            [
                "create function f() returns int language sql begin atomic select 1; select case when true then 2 end; end;",
                "select 3;"
            ]
        );
    }

    #[test]
    fn transaction_begin_is_not_atomic() {
        assert_eq!(
            texts("begin; select 1; commit;"),
            ["begin;", "select 1;", "commit;"]
        );
    }

    #[test]
    fn unterminated_forms_are_errors() {
        for (sql, message) in [
            ("select 'abc", "unterminated string"),
            ("select \"abc", "unterminated quoted identifier"),
            ("select $$abc", "unterminated dollar-quoted string"),
            ("select 1 /* abc /* */", "unterminated block comment"),
            ("select E'abc\\'", "unterminated string"),
        ] {
            let lexed = split(sql);
            let error = lexed.error.expect(sql);
            assert!(
                error.message.starts_with(message),
                "{sql}: {}",
                error.message
            );
            assert_eq!(lexed.statements.len(), 1, "{sql}");
            assert_eq!(lexed.statements[0].range, 0..sql.len(), "{sql}");
        }
    }

    #[test]
    fn psql_meta_commands_are_statements_of_their_own() {
        assert_eq!(
            texts(
                "\\set ON_ERROR_STOP 1\nCREATE TABLE t (id int);\n\\echo don't; \\quit\r\nSELECT E'\\n';"
            ),
            [
                "\\set ON_ERROR_STOP 1",
                "CREATE TABLE t (id int);",
                "\\echo don't; \\quit",
                "SELECT E'\\n';"
            ]
        );
        // Only at the start of a statement: elsewhere a backslash is a character.
        assert_eq!(texts("SELECT 1 \\ 2;"), ["SELECT 1 \\ 2;"]);
    }

    #[test]
    fn numbers_and_casts() {
        let sql = "select 1.5e-3::numeric, .5";
        let (tokens, error) = tokenize(sql);
        assert!(error.is_none());
        let texts: Vec<_> = tokens.iter().map(|t| t.text(sql)).collect();
        assert_eq!(texts, ["select", "1.5e-3", "::", "numeric", ",", ".5"]);
    }
}

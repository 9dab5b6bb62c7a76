//! From split statements to the lowered model: sqlparser first, the token recogniser for what
//! sqlparser rejects, PL/pgSQL `DO` bodies analysed statement by statement, and a verdict for
//! the rest: a certain syntax error, or a statement reported as not analysed.

use std::ops::Range;

use crate::lexer::{self, Lexed, Token, TokenKind};
use crate::model::{
    Action, ActionKind, AlterTable, Generated, Statement, StatementKind, Written, WrittenAction,
};
use crate::{parse, recognize, written};

/// Lower every statement of a lexed file.
pub(crate) fn lower_file(source: &str, lexed: &Lexed) -> Vec<Statement> {
    lexed
        .statements
        .iter()
        .map(|raw| {
            let tokens = lexed.statement_tokens(raw);
            let mut kind = match &lexed.error {
                Some(error)
                    if raw.range.contains(&error.offset) || error.offset == raw.range.end =>
                {
                    StatementKind::SyntaxError {
                        message: error.message.clone(),
                        offset: error.offset,
                    }
                }
                _ => lower_tokens(source, tokens, raw.range.clone()),
            };
            Statement {
                range: raw.range.clone(),
                constants: constants(source, tokens, &kind),
                written: written::written(source, tokens, &raw.range, &mut kind),
                kind,
            }
        })
        .collect()
}

/// The string constants of a statement's tokens, unquoted (a `DO` body is not one).
fn constants(source: &str, tokens: &[Token], kind: &StatementKind) -> Vec<String> {
    if matches!(kind, StatementKind::Do { .. }) {
        return Vec::new();
    }
    tokens
        .iter()
        .filter(|t| t.kind == TokenKind::String)
        .filter_map(|t| recognize::unquote(t.text(source)))
        .collect()
}

fn lower_tokens(source: &str, tokens: &[Token], range: Range<usize>) -> StatementKind {
    if let [command] = tokens
        && command.kind == TokenKind::PsqlCommand
    {
        let text = command.text(source);
        let name = text.split_whitespace().next().unwrap_or(text);
        return StatementKind::SyntaxError {
            message: format!(
                "`{name}` is a psql meta-command, not SQL: only psql runs it, PostgreSQL and the migration tools that send SQL to it reject it"
            ),
            offset: command.range.start,
        };
    }
    if let Some(block) = recognize::do_block(source, tokens) {
        return lower_do(source, &block, &range);
    }
    let failure = match parse::parse_statement(source, &range, tokens) {
        Ok(kind) => return kind,
        Err(failure) => failure,
    };
    // A token stream that is certainly not PostgreSQL (unbalanced parentheses, an unknown
    // command, …) is an error whatever the recogniser could make of it.
    if let Some((message, offset)) = recognize::certain_syntax_error(source, tokens) {
        return StatementKind::SyntaxError { message, offset };
    }
    if let Some(kind) = recognize::statement(source, tokens) {
        return kind;
    }
    let alter = match alter_table_by_action(source, tokens) {
        Some(Ok(kind)) => return kind,
        Some(Err(reason)) => Some(reason),
        None => None,
    };
    if failure.message.contains("found: EOF") {
        return StatementKind::SyntaxError {
            message: format!("the statement ends too early ({})", failure.message),
            offset: tokens.last().map_or(range.end, |t| t.range.end),
        };
    }
    StatementKind::Unanalyzed {
        reason: alter.unwrap_or_else(|| format!("the SQL parser rejects it: {}", failure.message)),
    }
}

/// Lower an `ALTER TABLE` sqlparser rejects one action at a time, so that one unsupported
/// action (`ATTACH PARTITION`, PostgreSQL 18's `ADD CONSTRAINT … NOT NULL`, …) does not hide
/// the others. `Some(Err(reason))` names the action that could not be analysed.
fn alter_table_by_action(source: &str, tokens: &[Token]) -> Option<Result<StatementKind, String>> {
    let (table, start) = recognize::alter_table_header(source, tokens)?;
    let header = &source[tokens[2].range.start..tokens[start - 1].range.end];
    let mut actions = Vec::new();
    for action in recognize::split_top_level(source, &tokens[start..]) {
        let (Some(first), Some(last)) = (action.first(), action.last()) else {
            return Some(Err("an ALTER TABLE action is empty".to_owned()));
        };
        let range = first.range.start..last.range.end;
        let text = &source[range.clone()];
        let kind = parse::parse_alter_action(header, text)
            .or_else(|| recognize::alter_action(source, action))
            .or_else(|| virtual_generated_column(source, header, action));
        match kind {
            Some(kind) => actions.push(Action {
                range,
                kind,
                written: WrittenAction::default(),
            }),
            None => {
                return Some(Err(format!(
                    "the ALTER TABLE action `{text}` is not understood by migration-safety"
                )));
            }
        }
    }
    let only = tokens[2..start].iter().any(|t| t.is_word(source, "ONLY"));
    Some(Ok(StatementKind::AlterTable(AlterTable {
        table,
        only,
        actions,
    })))
}

/// PostgreSQL 18's virtual generated column, `ADD COLUMN … GENERATED ALWAYS AS (…) [VIRTUAL]`,
/// which sqlparser's PostgreSQL dialect rejects (it requires `STORED`): parse the action with
/// `STORED` in place and record the column as virtual.
fn virtual_generated_column(source: &str, header: &str, action: &[Token]) -> Option<ActionKind> {
    if !action.first()?.is_word(source, "ADD") {
        return None;
    }
    let generated = action.iter().position(|t| t.is_word(source, "GENERATED"))?;
    let [always, as_, open] = action.get(generated + 1..generated + 4)? else {
        return None;
    };
    if !(always.is_word(source, "ALWAYS")
        && as_.is_word(source, "AS")
        && open.is_punct(source, "("))
    {
        return None;
    }
    let mut depth = 0usize;
    let close = action[generated + 3..].iter().position(|t| {
        if t.is_punct(source, "(") {
            depth += 1;
        } else if t.is_punct(source, ")") {
            depth -= 1;
        }
        depth == 0
    })? + generated
        + 3;
    let start = action[0].range.start;
    let end = action.last()?.range.end;
    let text = match action.get(close + 1) {
        Some(t) if t.is_word(source, "STORED") => return None,
        Some(t) if t.is_word(source, "VIRTUAL") => format!(
            "{}STORED{}",
            &source[start..t.range.start],
            &source[t.range.end..end]
        ),
        _ => {
            let at = action[close].range.end;
            format!("{} STORED{}", &source[start..at], &source[at..end])
        }
    };
    match parse::parse_alter_action(header, &text)? {
        ActionKind::AddColumn(mut column) if column.generated == Some(Generated::Stored) => {
            column.generated = Some(Generated::Virtual);
            Some(ActionKind::AddColumn(column))
        }
        _ => None,
    }
}

fn lower_do(source: &str, block: &recognize::DoBlock<'_>, range: &Range<usize>) -> StatementKind {
    if block.language != "plpgsql" {
        return StatementKind::Unanalyzed {
            reason: format!("DO blocks in LANGUAGE {} are not analysed", block.language),
        };
    }
    let text = block.body.text(source);
    if let Some(after) = text.strip_prefix('$') {
        // A dollar-quoted body is verbatim source: keep exact positions.
        let tag = after.find('$').map_or(1, |i| i + 2);
        let body = block.body.range.start + tag..block.body.range.end - tag;
        StatementKind::Do {
            body: lower_plpgsql(source, body),
        }
    } else {
        // A quoted body has escapes: analyse it on its own and point at the DO statement.
        let body = recognize::unquote(text).unwrap_or_default();
        let mut statements = lower_plpgsql(&body, 0..body.len());
        relocate(&mut statements, range);
        StatementKind::Do { body: statements }
    }
}

/// Lower the SQL statements of the PL/pgSQL body at `body` in `source`.
fn lower_plpgsql(source: &str, body: Range<usize>) -> Vec<Statement> {
    let lexed = lexer::split(&source[body.clone()]);
    let shift = |r: &Range<usize>| r.start + body.start..r.end + body.start;
    let tokens: Vec<Token> = lexed
        .tokens
        .iter()
        .map(|t| Token {
            kind: t.kind,
            range: shift(&t.range),
        })
        .collect();
    if let Some(error) = &lexed.error {
        return vec![Statement {
            constants: Vec::new(),
            written: Written::default(),
            range: body.clone(),
            kind: StatementKind::SyntaxError {
                message: format!("in the DO body: {}", error.message),
                offset: error.offset + body.start,
            },
        }];
    }
    let pieces = lexed
        .statements
        .iter()
        .map(|s| &tokens[s.tokens.clone()])
        .collect();
    recognize::plpgsql_statements(source, pieces)
        .into_iter()
        .map(|statement| match statement {
            recognize::PlpgsqlStatement::Sql(tokens) => {
                let range = span(tokens);
                let mut kind = lower_tokens(source, tokens, range.clone());
                Statement {
                    constants: constants(source, tokens, &kind),
                    written: written::written(source, tokens, &range, &mut kind),
                    kind,
                    range,
                }
            }
            recognize::PlpgsqlStatement::ExecuteConstant(string) => {
                let Some(sql) = recognize::unquote(string.text(source)) else {
                    return Statement {
                        constants: Vec::new(),
                        written: Written::default(),
                        range: string.range.clone(),
                        kind: StatementKind::Unanalyzed {
                            reason: "EXECUTE of an escape or prefixed string is not analysed"
                                .to_owned(),
                        },
                    };
                };
                let inner = lexer::split(&sql);
                let mut statements = lower_file(&sql, &inner);
                relocate(&mut statements, &string.range);
                Statement {
                    constants: Vec::new(),
                    written: Written::default(),
                    range: string.range.clone(),
                    kind: StatementKind::Do { body: statements },
                }
            }
            recognize::PlpgsqlStatement::ExecuteFormat { sql, tokens } => {
                let range = span(tokens);
                let mut statements = lower_file(&sql, &lexer::split(&sql));
                relocate(&mut statements, &range);
                Statement {
                    constants: Vec::new(),
                    written: Written::default(),
                    range,
                    kind: StatementKind::Do { body: statements },
                }
            }
            recognize::PlpgsqlStatement::ExecuteDynamic(tokens) => Statement {
                constants: Vec::new(),
                written: Written::default(),
                range: span(tokens),
                kind: StatementKind::Unanalyzed {
                    reason: "EXECUTE runs SQL built at run time, which cannot be checked"
                        .to_owned(),
                },
            },
        })
        .collect()
}

fn span(tokens: &[Token]) -> Range<usize> {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => first.range.start..last.range.end,
        _ => 0..0,
    }
}

/// Point statements lowered from a copy of the text (an unescaped string) at `range`: where
/// their pieces are is not in the file, so it is forgotten; how they are written is kept
/// ([`written::copied`]).
fn relocate(statements: &mut [Statement], range: &Range<usize>) {
    for statement in statements {
        statement.range = range.clone();
        statement.written = written::copied(std::mem::take(&mut statement.written), range);
        match &mut statement.kind {
            StatementKind::AlterTable(alter) => {
                for action in &mut alter.actions {
                    action.range = range.clone();
                    action.written = written::copied_action(std::mem::take(&mut action.written));
                }
            }
            StatementKind::CreateIndex(index) => index.index_keyword_end = range.start,
            StatementKind::SyntaxError { offset, .. } => *offset = range.start,
            StatementKind::Do { body } => relocate(body, range),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConstraintKind;

    fn lower(sql: &str) -> Vec<StatementKind> {
        lower_file(sql, &lexer::split(sql))
            .into_iter()
            .map(|s| s.kind)
            .collect()
    }

    #[test]
    fn sqlparser_statements_are_lowered() {
        let kinds = lower("BEGIN; CREATE INDEX i ON t (c); COMMIT;");
        assert_eq!(kinds[0], StatementKind::Begin);
        assert!(
            matches!(&kinds[1], StatementKind::CreateIndex(i) if !i.concurrently && i.table.name == "t")
        );
        assert_eq!(kinds[2], StatementKind::Commit);
    }

    #[test]
    fn unparsed_alter_table_actions_are_recognised_one_by_one() {
        let kinds = lower(
            "ALTER TABLE orders ADD COLUMN note text, ATTACH PARTITION orders_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
        );
        let StatementKind::AlterTable(alter) = &kinds[0] else {
            panic!("{kinds:?}")
        };
        assert!(matches!(alter.actions[0].kind, ActionKind::AddColumn(_)));
        assert!(
            matches!(&alter.actions[1].kind, ActionKind::AttachPartition { partition, .. } if partition.name == "orders_2024")
        );
    }

    #[test]
    fn postgres_18_named_not_null() {
        let kinds =
            lower("ALTER TABLE users ADD CONSTRAINT users_email_nn NOT NULL email NOT VALID;");
        let StatementKind::AlterTable(alter) = &kinds[0] else {
            panic!("{kinds:?}")
        };
        assert!(matches!(
            &alter.actions[0].kind,
            ActionKind::AddConstraint { constraint, not_valid: true } if constraint.kind == ConstraintKind::NotNull { column: "email".into() }
        ));
    }

    #[test]
    fn postgres_18_virtual_generated_columns() {
        for sql in [
            "ALTER TABLE orders ADD COLUMN cents bigint GENERATED ALWAYS AS (total * 100) VIRTUAL;",
            "ALTER TABLE orders ADD COLUMN cents bigint GENERATED ALWAYS AS (total * 100);",
        ] {
            let kinds = lower(sql);
            let StatementKind::AlterTable(alter) = &kinds[0] else {
                panic!("{kinds:?}")
            };
            assert!(
                matches!(&alter.actions[0].kind, ActionKind::AddColumn(c) if c.generated == Some(Generated::Virtual)),
                "{sql}: {kinds:?}"
            );
        }
    }

    #[test]
    fn do_bodies_are_analysed_with_exact_ranges() {
        let sql = "DO $$\nBEGIN\n  IF true THEN\n    CREATE INDEX i ON t (c);\n  END IF;\nEND\n$$;";
        let statements = lower_file(sql, &lexer::split(sql));
        let StatementKind::Do { body } = &statements[0].kind else {
            panic!("{statements:?}")
        };
        assert_eq!(&sql[body[0].range.clone()], "CREATE INDEX i ON t (c)");
        assert!(matches!(body[0].kind, StatementKind::CreateIndex(_)));
    }

    #[test]
    fn dynamic_sql_is_reported_not_trusted() {
        let kinds = lower("DO $$ BEGIN EXECUTE format('DROP TABLE %I', name); END $$;");
        let StatementKind::Do { body } = &kinds[0] else {
            panic!()
        };
        assert!(matches!(body[0].kind, StatementKind::Unanalyzed { .. }));
    }

    #[test]
    fn verdicts_for_what_nobody_parses() {
        assert!(matches!(
            lower("SELEC 1;")[0],
            StatementKind::SyntaxError { .. }
        ));
        assert!(matches!(
            lower("CREATE TABLE t (id int;")[0],
            StatementKind::SyntaxError { .. }
        ));
        assert!(matches!(
            lower("ALTER TABLE t ADD COLUMN;")[0],
            StatementKind::SyntaxError { .. }
        ));
        // A psql meta-command is not SQL, and does not hide the statement after it.
        let kinds = lower("\\set ON_ERROR_STOP 1\nCREATE INDEX i ON t (c);");
        assert!(
            matches!(&kinds[0], StatementKind::SyntaxError { message, offset: 0 } if message.starts_with("`\\set` is a psql meta-command")),
            "{kinds:?}"
        );
        assert!(matches!(kinds[1], StatementKind::CreateIndex(_)));
        assert!(matches!(
            lower(
                "CREATE POLICY p ON t USING (true) WITH CHECK (x ~~ 'a' OPERATOR(pg_catalog.=) 1);"
            )[0],
            StatementKind::RelationLock { .. }
        ));
    }
}

//! What a statement's text shows beyond its kind ([`Written`], [`WrittenAction`]): where the
//! pieces that a message quotes or a fix edits are, and how the statement is written. Found
//! once while lowering, from the tokens the lexer already produced, so that rules read the
//! model instead of lexing the text again.

use std::collections::HashMap;
use std::ops::Range;

use crate::lexer::{Token, TokenKind};
use crate::model::{DmlClauses, NullsDistinct, StatementKind, Written, WrittenAction};
use crate::recognize::{matching_paren, split_top_level, top_level};

/// What the text of the statement at `range`, of `tokens` (without its `;`), shows beyond its
/// `kind`; the facts of its `ALTER TABLE` actions go to the actions.
pub(crate) fn written(
    source: &str,
    tokens: &[Token],
    range: &Range<usize>,
    kind: &mut StatementKind,
) -> Written {
    let mut written = Written {
        nulls_distinct: nulls_distinct(source, tokens),
        ..Written::default()
    };
    let to_end = |start: usize| start..range.end;
    match kind {
        StatementKind::DropIndex { .. } => {
            written.concurrently_at = after_words(source, tokens, &["DROP", "INDEX"]);
        }
        // An option list that names CONCURRENTLY already (`(CONCURRENTLY false)`) takes no
        // second one.
        StatementKind::Reindex { target, .. }
            if !tokens.iter().any(|t| t.is_word(source, "CONCURRENTLY")) =>
        {
            written.concurrently_at = after_words(source, tokens, &["REINDEX", target])
                .or_else(|| after_words(source, tokens, &[target]));
        }
        StatementKind::RefreshMaterializedView { .. } => {
            written.concurrently_at = match tokens {
                [refresh, materialized, view, ..]
                    if refresh.is_word(source, "REFRESH")
                        && materialized.is_word(source, "MATERIALIZED")
                        && view.is_word(source, "VIEW") =>
                {
                    Some(view.range.end)
                }
                _ => None,
            };
        }
        StatementKind::CreateIndex(_) => {
            written.if_not_exists = tokens
                .windows(3)
                .find(|w| {
                    w[0].is_word(source, "IF")
                        && w[1].is_word(source, "NOT")
                        && w[2].is_word(source, "EXISTS")
                })
                .map(|w| w[0].range.start..w[2].range.end);
            written.index_columns = tokens
                .iter()
                .position(|t| t.is_word(source, "ON"))
                .and_then(|on| tokens[on..].iter().find(|t| t.is_punct(source, "(")))
                .map(|open| to_end(open.range.start));
        }
        StatementKind::CreateTable(create) => {
            let elements = table_elements(source, tokens);
            written.columns = create
                .columns
                .iter()
                .map(|c| elements.get(c.name.as_str()).cloned())
                .collect();
            if create.partition_of.is_some() {
                written.partition_bound = partition_bound(source, tokens).map(to_end);
            }
        }
        StatementKind::Drop { .. } => {
            written.cascade = tokens.last().is_some_and(|t| t.is_word(source, "CASCADE"));
        }
        StatementKind::Vacuum | StatementKind::Rewrite { .. } => {
            written.vacuum = tokens.first().is_some_and(|t| t.is_word(source, "VACUUM"));
        }
        StatementKind::Dml { command, .. } => {
            written.dml = if tokens.first().is_some_and(|t| t.is_word(source, command)) {
                Some(Box::new(dml_clauses(source, tokens)))
            } else {
                data_modifying_part(source, tokens, command).map(Box::new)
            };
        }
        StatementKind::AlterTable(alter) => {
            for action in &mut alter.actions {
                action.written =
                    written_action(source, within(tokens, &action.range), &action.range);
            }
        }
        _ => {}
    }
    written
}

/// What stays true of a statement lowered from a copy of its text (an `EXECUTE` string, a
/// quoted `DO` body), now at `range` in the file: how it is written (`CASCADE`, `VACUUM`, a
/// `NULLS [NOT] DISTINCT`, what its `WHERE` selects), but not where its pieces are, since they
/// are in the copy. A piece a message points at (`NULLS [NOT] DISTINCT`) becomes `range`.
pub(crate) fn copied(written: Written, range: &Range<usize>) -> Written {
    Written {
        cascade: written.cascade,
        vacuum: written.vacuum,
        nulls_distinct: written
            .nulls_distinct
            .into_iter()
            .map(|nulls| NullsDistinct {
                range: range.clone(),
                ..nulls
            })
            .collect(),
        dml: written.dml.map(|dml| {
            Box::new(DmlClauses {
                target: None,
                qualifier: None,
                set: None,
                assignments: None,
                filter: None,
                ..*dml
            })
        }),
        ..Written::default()
    }
}

/// What stays true of an `ALTER TABLE` action lowered from a copy of its text: how it is
/// written, without where its definition is ([`copied`]).
pub(crate) fn copied_action(written: WrittenAction) -> WrittenAction {
    WrittenAction {
        definition: None,
        ..written
    }
}

/// The tokens inside `range`.
fn within<'t>(tokens: &'t [Token], range: &Range<usize>) -> &'t [Token] {
    let start = tokens.partition_point(|t| t.range.start < range.start);
    let end = tokens.partition_point(|t| t.range.end <= range.end);
    &tokens[start..end.max(start)]
}

/// Byte offset just after the first run of the words `words` (the other tokens skipped).
fn after_words(source: &str, tokens: &[Token], words: &[&str]) -> Option<usize> {
    let found: Vec<&Token> = tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Word)
        .collect();
    found.windows(words.len()).find_map(|w| {
        w.iter()
            .zip(words)
            .all(|(t, k)| t.is_word(source, k))
            .then(|| w[words.len() - 1].range.end)
    })
}

fn nulls_distinct(source: &str, tokens: &[Token]) -> Vec<NullsDistinct> {
    let mut found = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !token.is_word(source, "NULLS") {
            continue;
        }
        let next =
            |n: usize, word: &str| tokens.get(i + n).is_some_and(|t| t.is_word(source, word));
        let (last, not) = if next(1, "DISTINCT") {
            (i + 1, false)
        } else if next(1, "NOT") && next(2, "DISTINCT") {
            (i + 2, true)
        } else {
            continue;
        };
        found.push(NullsDistinct {
            range: token.range.start..tokens[last].range.end,
            not,
        });
    }
    found
}

/// The elements of a `CREATE TABLE`'s first parenthesised list, by the identifier they begin
/// with (the first of each name).
fn table_elements(source: &str, tokens: &[Token]) -> HashMap<String, Range<usize>> {
    let mut elements = HashMap::new();
    let Some(open) = tokens.iter().position(|t| t.is_punct(source, "(")) else {
        return elements;
    };
    let Some(close) = matching_paren(source, &tokens[open..]) else {
        return elements;
    };
    for element in split_top_level(source, &tokens[open + 1..open + close]) {
        if let (Some(first), Some(last)) = (element.first(), element.last())
            && let Some(name) = first.ident(source)
        {
            elements
                .entry(name)
                .or_insert(first.range.start..last.range.end);
        }
    }
    elements
}

/// Where the bound of a `CREATE TABLE … PARTITION OF` begins: `FOR VALUES`, else the last
/// `DEFAULT`.
fn partition_bound(source: &str, tokens: &[Token]) -> Option<usize> {
    tokens
        .windows(2)
        .find_map(|w| {
            (w[0].is_word(source, "FOR") && w[1].is_word(source, "VALUES"))
                .then_some(w[0].range.start)
        })
        .or_else(|| {
            tokens
                .iter()
                .rev()
                .find(|t| t.is_word(source, "DEFAULT"))
                .map(|t| t.range.start)
        })
}

/// The facts of the `ALTER TABLE` action at `range`, from its tokens.
fn written_action(source: &str, tokens: &[Token], range: &Range<usize>) -> WrittenAction {
    let definition = tokens
        .first()
        .filter(|t| t.is_word(source, "ADD"))
        .and_then(|_| {
            let named = tokens
                .get(1)
                .is_some_and(|t| t.is_word(source, "CONSTRAINT"));
            tokens.get(if named { 3 } else { 1 }..)
        })
        .filter(|d| !d.is_empty());
    WrittenAction {
        definition: definition.map(|d| d[0].range.start..range.end),
        bare: definition.is_some_and(|d| bare(source, d)),
        collate: tokens.iter().any(|t| t.is_word(source, "COLLATE")),
        if_exists: tokens.iter().any(|t| t.is_word(source, "EXISTS")),
    }
}

/// One keyword (two for `PRIMARY KEY`), one parenthesised list without nested parentheses,
/// and nothing else.
fn bare(source: &str, definition: &[Token]) -> bool {
    let words = usize::from(
        definition
            .first()
            .is_some_and(|t| t.is_word(source, "PRIMARY")),
    ) + 1;
    definition
        .get(words)
        .is_some_and(|t| t.is_punct(source, "("))
        && definition.last().is_some_and(|t| t.is_punct(source, ")"))
        && !definition[words + 1..definition.len() - 1]
            .iter()
            .any(|t| t.is_punct(source, "(") || t.is_punct(source, ")"))
}

fn span(tokens: &[Token]) -> Option<Range<usize>> {
    Some(tokens.first()?.range.start..tokens.last()?.range.end)
}

/// The clauses of the `command` part of a data-modifying `WITH`: a `WITH w AS (UPDATE …)`
/// part, or the `UPDATE …` the `WITH` list leads to. With several, the riskiest: the first
/// whose `WHERE` does not bound a batch, else the first.
fn data_modifying_part(source: &str, tokens: &[Token], command: &str) -> Option<DmlClauses> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate() {
        if token.is_punct(source, "(") {
            depth += 1;
        } else if token.is_punct(source, ")") {
            depth = depth.saturating_sub(1);
        }
        if i == 0 || !token.is_word(source, command) {
            continue;
        }
        let before = &tokens[i - 1];
        if before.is_punct(source, "(") {
            // `AS (UPDATE …)`: up to the parenthesis that closes it.
            let Some(close) = matching_paren(source, &tokens[i - 1..]) else {
                continue;
            };
            parts.push(dml_clauses(source, &tokens[i..i - 1 + close]));
        } else if depth == 0 && before.is_punct(source, ")") {
            // `WITH … AS (…) UPDATE …`: to the end of the statement.
            parts.push(dml_clauses(source, &tokens[i..]));
        }
    }
    let riskiest = parts.iter().position(|p| !p.bounded).unwrap_or(0);
    (riskiest < parts.len()).then(|| DmlClauses {
        in_with: true,
        ..parts.swap_remove(riskiest)
    })
}

/// Where the clauses of an `UPDATE` or `DELETE` are, from its tokens (which begin with the
/// command word).
fn dml_clauses(source: &str, tokens: &[Token]) -> DmlClauses {
    let mut depth = 0usize;
    let mut at = |word: &str| {
        depth = 0;
        tokens.iter().position(|t| {
            if t.is_punct(source, "(") {
                depth += 1;
            } else if t.is_punct(source, ")") {
                depth = depth.saturating_sub(1);
            }
            depth == 0 && t.is_word(source, word)
        })
    };
    let set = at("SET");
    let from = at("FROM").filter(|&i| i > 1);
    let using = at("USING");
    let filter = at("WHERE");
    let returning = at("RETURNING").unwrap_or(tokens.len());
    let target_start = if tokens.get(1).is_some_and(|t| t.is_word(source, "FROM")) {
        2
    } else {
        1
    };
    let target_end = [set, from, using, filter, Some(returning)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(tokens.len());
    let set_end = [from, filter, Some(returning)]
        .into_iter()
        .flatten()
        .filter(|&i| set.is_some_and(|s| i > s))
        .min()
        .unwrap_or(tokens.len());
    let target = &tokens[target_start.min(target_end)..target_end];
    let filter = filter
        .map(|w| &tokens[w + 1..returning.max(w + 1)])
        .filter(|f| !f.is_empty());
    DmlClauses {
        target: span(target),
        qualifier: target.last().map(|t| t.range.clone()),
        // An empty `SET` is where it would be: just after the keyword.
        set: set.map(|s| {
            span(&tokens[s + 1..set_end]).unwrap_or(tokens[s].range.end..tokens[s].range.end)
        }),
        assignments: set.and_then(|s| assignments(source, &tokens[s + 1..set_end])),
        joins: from.is_some() || using.is_some(),
        filter: filter.and_then(span),
        bounded: filter.is_some_and(|f| is_bounded(source, f)),
        returning: tokens.iter().any(|t| t.is_word(source, "RETURNING")),
        in_with: false,
    }
}

/// `a = x, b = y` as `(a, x), (b, y)`; `None` when an assignment is not `column = value`.
fn assignments(source: &str, set: &[Token]) -> Option<Vec<(Range<usize>, Range<usize>)>> {
    split_top_level(source, set)
        .into_iter()
        .map(|assignment| match assignment {
            [column, eq, value @ ..]
                if !column.is_punct(source, "=")
                    && eq.is_punct(source, "=")
                    && !value.is_empty() =>
            {
                Some((column.range.clone(), span(value)?))
            }
            _ => None,
        })
        .collect()
}

/// Whether a `WHERE` condition bounds the rows to a batch or a targeted few.
fn is_bounded(source: &str, condition: &[Token]) -> bool {
    split_at_word(source, condition, "OR")
        .iter()
        .all(|disjunct| {
            split_at_word(source, disjunct, "AND")
                .iter()
                .any(|c| conjunct_bounded(source, c))
        })
}

fn conjunct_bounded(source: &str, tokens: &[Token]) -> bool {
    let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
        return false;
    };
    if first.is_punct(source, "(")
        && last.is_punct(source, ")")
        && matching_paren(source, tokens) == Some(tokens.len() - 1)
    {
        return is_bounded(source, &tokens[1..tokens.len() - 1]);
    }
    if tokens
        .iter()
        .any(|t| t.is_word(source, "LIMIT") || t.is_word(source, "FETCH"))
    {
        return true;
    }
    if first.is_word(source, "NOT") {
        return false;
    }
    let top: Vec<&Token> = top_level(source, tokens).map(|(_, t)| t).collect();
    let negated_comparison = top.windows(2).any(|w| {
        (w[0].is_punct(source, "<") && w[1].is_punct(source, ">"))
            || (w[0].is_punct(source, "!") && w[1].is_punct(source, "="))
    });
    let is_test = top.iter().enumerate().any(|(i, t)| {
        t.is_word(source, "IS")
            && !(top.get(i + 1).is_some_and(|t| t.is_word(source, "NOT"))
                && top
                    .get(i + 2)
                    .is_some_and(|t| t.is_word(source, "DISTINCT")))
    });
    if negated_comparison || is_test {
        return false;
    }
    tokens.iter().any(|t| {
        matches!(
            t.kind,
            TokenKind::String | TokenKind::Number | TokenKind::Param
        )
    })
}

/// Split at a keyword outside parentheses (the `AND` of `BETWEEN … AND …` does not split).
fn split_at_word<'t>(source: &str, tokens: &'t [Token], word: &str) -> Vec<&'t [Token]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut between = false;
    for (i, t) in top_level(source, tokens) {
        if t.is_word(source, "BETWEEN") {
            between = true;
        } else if t.is_word(source, word) {
            if word == "AND" && between {
                between = false;
            } else {
                parts.push(&tokens[start..i]);
                start = i + 1;
            }
        }
    }
    parts.push(&tokens[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::{split, tokenize};
    use crate::lower::lower_file;
    use crate::model::Statement;

    fn bounded(condition: &str) -> bool {
        let (tokens, _) = tokenize(condition);
        is_bounded(condition, &tokens)
    }

    #[test]
    fn batches_and_targeted_fixes_are_bounded() {
        assert!(bounded("id BETWEEN 1 AND 10000"));
        assert!(bounded("id >= 1 AND id < 10000 AND plan IS NULL"));
        assert!(bounded(
            "ctid IN (SELECT ctid FROM users WHERE plan IS NULL LIMIT 1000)"
        ));
        assert!(bounded("email = 'a@example.com'"));
        assert!(bounded("id = ANY($1)"));
        assert!(bounded("(id IN (1, 2, 3))"));
    }

    #[test]
    fn whole_table_conditions_are_not_bounded() {
        assert!(!bounded("plan IS NULL"));
        assert!(!bounded("plan IS NOT NULL AND archived"));
        assert!(!bounded("status <> 'done'"));
        assert!(!bounded("status != 'done'"));
        assert!(!bounded(
            "NOT EXISTS (SELECT 1 FROM orders WHERE orders.user_id = users.id)"
        ));
        assert!(!bounded("orders.user_id = users.id"));
        assert!(!bounded("migrated = false"));
        assert!(!bounded("id = 1 OR plan IS NULL"));
        assert!(!bounded("plan IS DISTINCT FROM 'free'"));
    }

    #[test]
    fn set_assignments_are_column_value_pairs() {
        let set = "plan = 'free', seats = 1";
        let (tokens, _) = tokenize(set);
        let pairs: Vec<(&str, &str)> = assignments(set, &tokens)
            .unwrap()
            .into_iter()
            .map(|(column, value)| (&set[column], &set[value]))
            .collect();
        assert_eq!(pairs, [("plan", "'free'"), ("seats", "1")]);
        let (tokens, _) = tokenize("(a, b) = (1, 2)");
        assert_eq!(assignments("(a, b) = (1, 2)", &tokens), None);
    }

    fn written_of(sql: &str) -> Vec<Written> {
        lower_file(sql, &split(sql))
            .into_iter()
            .map(|s| s.written)
            .collect()
    }

    #[test]
    fn pieces_are_located_in_the_file() {
        let sql = "SELECT 1;\nDROP INDEX i;\nREINDEX (VERBOSE) TABLE t;\nREINDEX (CONCURRENTLY false) TABLE t;\nCREATE INDEX IF NOT EXISTS i ON t (a) WHERE b;";
        let written = written_of(sql);
        let after = |w: &Written| w.concurrently_at.map(|at| &sql[..at]);
        assert!(after(&written[1]).is_some_and(|t| t.ends_with("DROP INDEX")));
        assert!(after(&written[2]).is_some_and(|t| t.ends_with("(VERBOSE) TABLE")));
        assert_eq!(written[3].concurrently_at, None);
        let index = &written[4];
        assert_eq!(&sql[index.if_not_exists.clone().unwrap()], "IF NOT EXISTS");
        assert_eq!(&sql[index.index_columns.clone().unwrap()], "(a) WHERE b;");
    }

    /// The one statement of the `EXECUTE` string in the `DO` body of `sql`.
    fn executed(sql: &str) -> Statement {
        let statements = lower_file(sql, &split(sql));
        let StatementKind::Do { body } = &statements[0].kind else {
            panic!("{statements:?}")
        };
        let StatementKind::Do { body } = &body[0].kind else {
            panic!("{body:?}")
        };
        body[0].clone()
    }

    #[test]
    fn a_statement_lowered_from_a_copy_keeps_how_it_is_written_but_no_range_into_the_copy() {
        let sql = "DO $$ BEGIN EXECUTE 'DROP SCHEMA s CASCADE'; END $$;";
        let statement = executed(sql);
        assert_eq!(&sql[statement.range.clone()], "'DROP SCHEMA s CASCADE'");
        assert!(statement.written.cascade);

        let sql = "DO $$ BEGIN EXECUTE 'VACUUM t'; END $$;";
        assert!(executed(sql).written.vacuum);

        // `é` before the string: its range is in bytes of the file, not of the copy.
        let sql = "-- é\nDO $$ BEGIN EXECUTE 'CREATE UNIQUE INDEX i ON t (a) NULLS NOT DISTINCT'; END $$;";
        let statement = executed(sql);
        let string = &sql[statement.range.clone()];
        assert!(string.starts_with("'CREATE") && string.ends_with("DISTINCT'"));
        assert!(matches!(
            statement.written.nulls_distinct.as_slice(),
            [NullsDistinct { range, not: true }] if *range == statement.range
        ));

        let sql = "DO $$ BEGIN EXECUTE 'UPDATE t SET a = 1 WHERE a IS NULL RETURNING a'; END $$;";
        let dml = executed(sql)
            .written
            .dml
            .expect("the clauses of the UPDATE");
        assert!(!dml.bounded && dml.returning && !dml.joins);
        assert_eq!(
            (
                dml.target,
                dml.qualifier,
                dml.set,
                dml.assignments,
                dml.filter
            ),
            (None, None, None, None, None)
        );

        let sql = "DO $$ BEGIN EXECUTE 'CREATE INDEX IF NOT EXISTS i ON t (a)'; END $$;";
        let written = executed(sql).written;
        assert_eq!((written.if_not_exists, written.index_columns), (None, None));

        let sql = "DO $$ BEGIN EXECUTE 'ALTER TABLE t ADD CONSTRAINT c UNIQUE (a)'; END $$;";
        let StatementKind::AlterTable(alter) = executed(sql).kind else {
            panic!("an ALTER TABLE")
        };
        let action = &alter.actions[0].written;
        assert!(action.bare);
        assert_eq!(action.definition, None);

        let direct = written_of("DROP SCHEMA s CASCADE;");
        assert!(direct[0].cascade);
    }
}

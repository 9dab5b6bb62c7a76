use crate::context::Context;
use crate::lexer::{Token, TokenKind};
use crate::model::{Name, Statement, StatementKind, TableLock};
use crate::recognize::{split_top_level, top_level};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::statement_tokens;

declare_rule! {
    /// ## What it does
    /// Flags `UPDATE` and `DELETE` of a table that existed before this migration when the
    /// statement is not bounded to a batch: it has no `WHERE`, or a `WHERE` that selects rows
    /// only by `IS [NOT] NULL`, `IS [NOT] DISTINCT FROM`, `<>`, `NOT …`, a boolean column, or
    /// comparisons between columns (a join). A `WHERE` that compares with a constant (`=`,
    /// `IN (…)`, `BETWEEN`, `<`, …), with a parameter, or selects rows through a `LIMIT`
    /// subquery is taken as a batch or a targeted fix and is not flagged. The finding says so
    /// when the statement runs in the same transaction as a statement that took a strong lock
    /// (DDL), which then stays held for the whole backfill.
    ///
    /// ## Why is this bad?
    /// One statement is one transaction: it takes a `ROW EXCLUSIVE` lock on the table and a
    /// lock on every row it changes until it ends, blocking every concurrent update of those
    /// rows, writes a burst of WAL that replicas must replay, and leaves as many dead rows
    /// behind. In the same transaction as an `ALTER TABLE`, the `ACCESS EXCLUSIVE` lock the
    /// `ALTER TABLE` took is held until the backfill commits, blocking every read and write on
    /// the table for the whole backfill.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// ALTER TABLE users ADD COLUMN plan text;
    /// UPDATE users SET plan = 'free' WHERE plan IS NULL;
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Commit the DDL first, then backfill in small batches, each in its own transaction:
    /// ```sql
    /// ALTER TABLE users ADD COLUMN plan text;
    /// -- then, outside the DDL's transaction, repeat until it updates 0 rows:
    /// UPDATE users SET plan = 'free'
    ///   WHERE ctid IN (SELECT ctid FROM users WHERE plan IS NULL LIMIT 10000);
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [Explicit locking](https://www.postgresql.org/docs/current/explicit-locking.html)
    /// - [Routine vacuuming](https://www.postgresql.org/docs/current/routine-vacuuming.html)
    pub(crate) struct UnbatchedBackfill {
        name: "unbatched-backfill",
        category: Locking,
        severity: Error,
        summary: "an UPDATE or DELETE over a whole existing table runs as one long transaction",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(RowExclusive).scan()),
            Claim::takes(12..=18).table(Effect::lock(RowExclusive).scan()).referenced(Effect::lock(AccessShare)),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for UnbatchedBackfill {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Dml {
            command,
            table,
            filtered,
        } = &statement.kind
        else {
            return;
        };
        if cx.is_new_table(table) {
            return;
        }
        let (text, tokens) = statement_tokens(cx, statement);
        let shape = tokens
            .first()
            .is_some_and(|t| t.is_word(text, command))
            .then(|| Shape::of(text, &tokens));
        let bounded = match &shape {
            Some(shape) => shape.filter.is_some_and(|f| is_bounded(text, f)),
            // A statement of a quoted DO body: only its model is known.
            None => *filtered,
        };
        if bounded {
            return;
        }
        let rows = match shape.as_ref().and_then(|s| s.filter) {
            Some(filter) => format!("every row of `{table}` where {}", span(text, filter)),
            None => format!("every row of `{table}`"),
        };
        let mut message = format!(
            "this {command} changes {rows} in one transaction: it locks each row it changes until it ends, blocking concurrent updates of them, writes a burst of WAL that replicas must replay, and leaves as many dead rows"
        );
        if let Some((held, line)) = strong_lock_held(cx, statement, table) {
            message.push_str(&format!(
                "; and it runs in the same transaction as `{}` on line {line}, which holds {} {} lock on `{}` until commit, so {} on `{}` stays blocked for the whole backfill",
                held.command,
                article(held.mode.sql()),
                held.mode.sql(),
                held.table,
                held.mode.blocks(),
                held.table
            ));
        }
        out.report(
            statement.range.clone(),
            message,
            help(text, &tokens, shape.as_ref(), command, table),
        );
    }
}

/// Where the clauses of an `UPDATE` or `DELETE` are.
struct Shape<'t> {
    /// The target as written (`users`, `ONLY users AS u`).
    target: &'t [Token],
    /// `SET` assignments (for `UPDATE`).
    set: Option<&'t [Token]>,
    /// `FROM` (`UPDATE`) or `USING` (`DELETE`): the statement joins other tables.
    joins: bool,
    /// The `WHERE` condition.
    filter: Option<&'t [Token]>,
}

impl<'t> Shape<'t> {
    fn of(text: &str, tokens: &'t [Token]) -> Self {
        let mut depth = 0usize;
        let mut at = |word: &str| {
            depth = 0;
            tokens.iter().position(|t| {
                if t.is_punct(text, "(") {
                    depth += 1;
                } else if t.is_punct(text, ")") {
                    depth = depth.saturating_sub(1);
                }
                depth == 0 && t.is_word(text, word)
            })
        };
        let set = at("SET");
        let from = at("FROM").filter(|&i| i > 1);
        let using = at("USING");
        let filter = at("WHERE");
        let returning = at("RETURNING").unwrap_or(tokens.len());
        let target_start = if tokens.get(1).is_some_and(|t| t.is_word(text, "FROM")) {
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
        Self {
            target: &tokens[target_start.min(target_end)..target_end],
            set: set.map(|s| &tokens[s + 1..set_end]),
            joins: from.is_some() || using.is_some(),
            filter: filter
                .map(|w| &tokens[w + 1..returning.max(w + 1)])
                .filter(|f| !f.is_empty()),
        }
    }
}

fn span(text: &str, tokens: &[Token]) -> String {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => text[first.range.start..last.range.end].to_owned(),
        _ => String::new(),
    }
}

fn article(mode: &str) -> &'static str {
    if mode.starts_with('A') || mode.starts_with('E') {
        "an"
    } else {
        "a"
    }
}

/// Whether a `WHERE` condition bounds the rows to a batch or a targeted few.
fn is_bounded(text: &str, condition: &[Token]) -> bool {
    split_at_word(text, condition, "OR").iter().all(|disjunct| {
        split_at_word(text, disjunct, "AND")
            .iter()
            .any(|c| conjunct_bounded(text, c))
    })
}

fn conjunct_bounded(text: &str, tokens: &[Token]) -> bool {
    let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
        return false;
    };
    if first.is_punct(text, "(")
        && last.is_punct(text, ")")
        && matching_paren(text, tokens) == Some(tokens.len() - 1)
    {
        return is_bounded(text, &tokens[1..tokens.len() - 1]);
    }
    if tokens
        .iter()
        .any(|t| t.is_word(text, "LIMIT") || t.is_word(text, "FETCH"))
    {
        return true;
    }
    if first.is_word(text, "NOT") {
        return false;
    }
    let top: Vec<&Token> = top_level(text, tokens).map(|(_, t)| t).collect();
    let negated_comparison = top.windows(2).any(|w| {
        (w[0].is_punct(text, "<") && w[1].is_punct(text, ">"))
            || (w[0].is_punct(text, "!") && w[1].is_punct(text, "="))
    });
    let is_test = top.iter().enumerate().any(|(i, t)| {
        t.is_word(text, "IS")
            && !(top.get(i + 1).is_some_and(|t| t.is_word(text, "NOT"))
                && top.get(i + 2).is_some_and(|t| t.is_word(text, "DISTINCT")))
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

/// The index of the `)` matching the `(` at the start of `tokens`.
fn matching_paren(text: &str, tokens: &[Token]) -> Option<usize> {
    let mut depth = 0usize;
    tokens.iter().position(|t| {
        if t.is_punct(text, "(") {
            depth += 1;
        } else if t.is_punct(text, ")") {
            depth = depth.saturating_sub(1);
        }
        depth == 0
    })
}

/// Split at a keyword outside parentheses (the `AND` of `BETWEEN … AND …` does not split).
fn split_at_word<'t>(text: &str, tokens: &'t [Token], word: &str) -> Vec<&'t [Token]> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut between = false;
    for (i, t) in top_level(text, tokens) {
        if t.is_word(text, "BETWEEN") {
            between = true;
        } else if t.is_word(text, word) {
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

/// A statement earlier in the same transaction that took a strong lock still held now,
/// preferring one on `table`; with its line.
fn strong_lock_held(
    cx: &Context<'_>,
    statement: &Statement,
    table: &Name,
) -> Option<(Held, usize)> {
    // Earlier top-level statements of the transaction: the first lock on the table (if any)
    // comes first, then the strongest.
    let (on_table, strongest) = cx.held_locks(table);
    let mut candidates: Vec<(&Statement, TableLock)> = on_table
        .or(strongest)
        .map(|(i, lock)| (&cx.statements[*i], lock.clone()))
        .into_iter()
        .collect();
    if cx.in_do_block
        && let StatementKind::Do { body } = &cx.statements[cx.index].kind
    {
        candidates.extend(
            body.iter()
                .filter(|s| s.range.end <= statement.range.start)
                .flat_map(|s| {
                    s.kind
                        .locks()
                        .into_iter()
                        .filter(|l| l.mode.blocks_writes() && !cx.is_new_table(&l.table))
                        .map(move |l| (s, l))
                }),
        );
    }
    let on_table = candidates
        .iter()
        .position(|(_, l)| cx.schema.same_relation(&l.table, table));
    let strongest = candidates
        .iter()
        .enumerate()
        .max_by_key(|(_, (_, l))| l.mode)
        .map(|(i, _)| i);
    let (s, lock) = candidates.into_iter().nth(on_table.or(strongest)?)?;
    Some((
        Held {
            command: s.kind.command(),
            table: lock.table,
            mode: lock.mode,
        },
        cx.line(s.range.start),
    ))
}

struct Held {
    command: String,
    table: Name,
    mode: crate::model::LockMode,
}

fn help(
    text: &str,
    tokens: &[Token],
    shape: Option<&Shape<'_>>,
    command: &str,
    table: &Name,
) -> String {
    let repeat = "repeat it until it affects 0 rows, each batch in its own transaction, after the transaction with any DDL on the table has committed";
    let Some(shape) = shape.filter(|s| !s.joins && !s.target.is_empty()) else {
        // The target's alias, or its name: what the WHERE clause can qualify columns with.
        let qualifier = shape
            .and_then(|s| s.target.last())
            .map_or_else(|| table.to_string(), |t| t.text(text).to_owned());
        return format!(
            "process it in batches by key range instead: add a bound on the primary key of `{table}` to the WHERE clause, such as `AND {qualifier}.id >= :start AND {qualifier}.id < :start + 10000`, and {repeat}"
        );
    };
    let target = span(text, shape.target);
    let from = target.strip_prefix("ONLY ").unwrap_or(&target);
    let only = if target.starts_with("ONLY ") {
        "ONLY "
    } else {
        ""
    };
    let pending = match (shape.filter, shape.set) {
        (Some(filter), _) => span(text, filter),
        (None, Some(set)) => pending_from_set(text, set),
        (None, None) => String::new(),
    };
    let select = if pending.is_empty() {
        format!("SELECT ctid FROM {only}{from} LIMIT 10000")
    } else {
        format!("SELECT ctid FROM {only}{from} WHERE {pending} LIMIT 10000")
    };
    let batched = if command == "UPDATE" {
        let set = shape.set.map(|s| span(text, s)).unwrap_or_default();
        format!("UPDATE {target} SET {set} WHERE ctid IN ({select});")
    } else {
        format!("DELETE FROM {target} WHERE ctid IN ({select});")
    };
    let returning = if tokens.iter().any(|t| t.is_word(text, "RETURNING")) {
        " (add back the RETURNING clause if you need it)"
    } else {
        ""
    };
    format!("change the rows in small batches instead{returning}:\n  {batched}\n{repeat}")
}

/// `a = x, b = y` → `a IS DISTINCT FROM x OR b IS DISTINCT FROM y`: the rows not yet updated.
fn pending_from_set(text: &str, set: &[Token]) -> String {
    let mut pending = Vec::new();
    for assignment in split_top_level(text, set) {
        let eq = assignment.iter().position(|t| t.is_punct(text, "="));
        match eq {
            Some(eq) if eq == 1 && assignment.len() > 2 => pending.push(format!(
                "{} IS DISTINCT FROM ({})",
                span(text, &assignment[..1]),
                span(text, &assignment[2..])
            )),
            _ => return "<rows not yet updated>".to_owned(),
        }
    }
    pending.join(" OR ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::tokenize;

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
    fn pending_rows_follow_the_assignments() {
        let set = "plan = 'free', seats = 1";
        let (tokens, _) = tokenize(set);
        assert_eq!(
            pending_from_set(set, &tokens),
            "plan IS DISTINCT FROM ('free') OR seats IS DISTINCT FROM (1)"
        );
    }
}

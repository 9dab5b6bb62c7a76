use std::ops::Range;

use crate::context::Context;
use crate::model::{DmlClauses, Name, Statement, StatementKind, TableLock};
use crate::rule::{Findings, Rule, declare_rule};

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
        let text = |range: &Range<usize>| cx.source.get(range.clone()).unwrap_or_default();
        let shape = statement.written.dml.as_deref();
        let bounded = match shape {
            Some(shape) => shape.bounded,
            // Its text is not known (a statement of an `EXECUTE` string whose clauses were
            // not found): only its model is.
            None => *filtered,
        };
        if bounded {
            return;
        }
        let rows = match shape.and_then(|s| s.filter.as_ref()) {
            Some(filter) => format!("every row of `{table}` where {}", text(filter)),
            // A statement of an `EXECUTE` string: its condition is in the copy, not the file.
            None if *filtered => format!("every row of `{table}` its WHERE condition selects"),
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
            // A part of a `WITH` may name its other queries: no rewrite of it alone.
            help(cx.source, shape.filter(|s| !s.in_with), command, table),
        );
    }
}

fn article(mode: &str) -> &'static str {
    if mode.starts_with('A') || mode.starts_with('E') {
        "an"
    } else {
        "a"
    }
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

fn help(source: &str, shape: Option<&DmlClauses>, command: &str, table: &Name) -> String {
    let text = |range: &Range<usize>| source.get(range.clone()).unwrap_or_default();
    let repeat = "repeat it until it affects 0 rows, each batch in its own transaction, after the transaction with any DDL on the table has committed";
    let Some((shape, target)) = shape
        .filter(|s| !s.joins)
        .and_then(|s| Some((s, text(s.target.as_ref()?))))
    else {
        // The target's alias, or its name: what the WHERE clause can qualify columns with.
        let qualifier = shape
            .and_then(|s| s.qualifier.as_ref())
            .map_or_else(|| table.to_string(), |t| text(t).to_owned());
        return format!(
            "process it in batches by key range instead: add a bound on the primary key of `{table}` to the WHERE clause, such as `AND {qualifier}.id >= :start AND {qualifier}.id < :start + 10000`, and {repeat}"
        );
    };
    let from = target.strip_prefix("ONLY ").unwrap_or(target);
    let only = if target.starts_with("ONLY ") {
        "ONLY "
    } else {
        ""
    };
    let pending = match (&shape.filter, &shape.set) {
        (Some(filter), _) => text(filter).to_owned(),
        // `a = x, b = y` → `a IS DISTINCT FROM x OR b IS DISTINCT FROM y`: the rows not yet
        // updated.
        (None, Some(_)) => shape.assignments.as_ref().map_or_else(
            || "<rows not yet updated>".to_owned(),
            |assignments| {
                assignments
                    .iter()
                    .map(|(column, value)| {
                        format!("{} IS DISTINCT FROM ({})", text(column), text(value))
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ")
            },
        ),
        (None, None) => String::new(),
    };
    let select = if pending.is_empty() {
        format!("SELECT ctid FROM {only}{from} LIMIT 10000")
    } else {
        format!("SELECT ctid FROM {only}{from} WHERE {pending} LIMIT 10000")
    };
    let batched = if command == "UPDATE" {
        let set = shape.set.as_ref().map(text).unwrap_or_default();
        format!("UPDATE {target} SET {set} WHERE ctid IN ({select});")
    } else {
        format!("DELETE FROM {target} WHERE ctid IN ({select});")
    };
    let returning = if shape.returning {
        " (add back the RETURNING clause if you need it)"
    } else {
        ""
    };
    format!("change the rows in small batches instead{returning}:\n  {batched}\n{repeat}")
}

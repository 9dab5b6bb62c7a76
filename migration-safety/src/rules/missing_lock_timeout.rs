use crate::context::Context;
use crate::fix::{Fix, insert_before};
use crate::model::{
    ActionKind, ConstraintKind, LockMode, Name, ObjectKind, Statement, StatementKind, TableLock,
};
use crate::rule::{Described, Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags a statement that takes an `ACCESS EXCLUSIVE`, `EXCLUSIVE`, `SHARE ROW EXCLUSIVE`
    /// or `SHARE` lock on an existing table while no `lock_timeout` is in force. Statements
    /// that take weaker locks (such as `CREATE INDEX CONCURRENTLY`) and tables created in the
    /// same migration are not flagged. The message names every table locked in the strongest
    /// mode, including, when earlier migrations show the foreign keys, the tables referenced
    /// by a foreign key that is dropped (directly, or with its column or table).
    ///
    /// ## Why is this bad?
    /// A lock request waits behind every transaction already using the table, however long
    /// it runs, and while it waits every later query on the table queues behind it. An
    /// `ALTER TABLE` that would take milliseconds can so stall all traffic for as long as the
    /// slowest running query. A `lock_timeout` makes the migration give up instead, so it
    /// can be retried at a quieter moment.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// SET lock_timeout = '5s';
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [lock_timeout](https://www.postgresql.org/docs/current/runtime-config-client.html#GUC-LOCK-TIMEOUT)
    /// - [Table-level locks](https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-TABLES)
    pub(crate) struct MissingLockTimeout {
        name: "missing-lock-timeout",
        category: Locking,
        severity: Warning,
        summary: "a strong lock requested without lock_timeout can queue all traffic behind it",
        since: "0.1.0",
        fix: true,
    }
}

impl Rule for MissingLockTimeout {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        // A DO block's statements are checked one by one.
        if matches!(statement.kind, StatementKind::Do { .. }) || cx.session().lock_timeout.is_some()
        {
            return;
        }
        // `DROP INDEX` and `REINDEX INDEX` name an index and lock its table: the table, when
        // the schema knows the index, is named; otherwise "the table of index …".
        let on_indexes = match &statement.kind {
            StatementKind::DropIndex { .. } => true,
            StatementKind::Reindex { target, .. } => target == "INDEX",
            _ => false,
        };
        let mut locks: Vec<(TableLock, String)> = Vec::new();
        for mut lock in statement.kind.locks() {
            let label = match cx.schema.index(&lock.table).filter(|_| on_indexes) {
                Some(index) => {
                    lock.table = index.table.clone();
                    format!("`{}`", lock.table)
                }
                None if on_indexes => format!("the table of index `{}`", lock.table),
                None => format!("`{}`", lock.table),
            };
            locks.push((lock, label));
        }
        locks.extend(
            referenced_table_locks(cx, statement)
                .into_iter()
                .map(|lock| {
                    let label = format!("`{}`", lock.table);
                    (lock, label)
                }),
        );
        let Some(mode) = locks
            .iter()
            .filter(|(l, _)| l.mode.blocks_writes() && !cx.is_new_table(&l.table))
            .map(|(l, _)| l.mode)
            .max()
        else {
            return;
        };
        let mut tables: Vec<&str> = Vec::new();
        for (_, label) in locks
            .iter()
            .filter(|(l, _)| l.mode == mode && !cx.is_new_table(&l.table))
        {
            if !tables.contains(&label.as_str()) {
                tables.push(label);
            }
        }
        let on = match tables.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => tables.concat(),
        };
        let article = if tables.len() > 1 {
            ""
        } else if mode == LockMode::AccessExclusive || mode == LockMode::Exclusive {
            "an "
        } else {
            "a "
        };
        let locks_word = if tables.len() > 1 { "locks" } else { "lock" };
        // A table known only as "the table of index …" is named once, then referred back to.
        let (again, last) = match (tables.iter().any(|t| !t.starts_with('`')), tables.len() > 1) {
            (false, _) => (on.clone(), on.clone()),
            (true, false) => ("that table".to_owned(), "it".to_owned()),
            (true, true) => ("those tables".to_owned(), "them".to_owned()),
        };
        let set = set_lock_timeout(cx);
        let note = if cx.session().transaction.is_some() {
            "inside the transaction, before this statement"
        } else if cx.in_do_block {
            "before the DO block"
        } else {
            "before this statement"
        };
        out.report_fix(
            statement.range.clone(),
            format!(
                "`{}` requests {article}{} {locks_word} on {on} with no lock_timeout in force: while it waits behind running transactions, every later query on {again} queues behind it, so {} on {last} stalls",
                statement.kind.command(),
                mode.sql(),
                mode.blocks(),
            ),
            format!("give up instead of stalling traffic, and retry the migration later:\n  {set}  -- {note}"),
            cx.builds_fixes().then(|| Fix {
                rule: self.meta().name,
                title: format!("set lock_timeout: {set}"),
                edits: vec![insert_before(cx, first_without_timeout(cx), &[set])],
                new_files: Vec::new(),
            }),
        );
    }
}

/// The timeout the fix sets, and the help recommends.
const LOCK_TIMEOUT: &str = "5s";

/// `SET lock_timeout`, or `SET LOCAL lock_timeout` in a transaction (a session setting would
/// outlive it).
fn set_lock_timeout(cx: &Context<'_>) -> String {
    lock_timeout_statement(cx.session().transaction.is_some())
}

/// `SET [LOCAL] lock_timeout` to the timeout the fixes set: `LOCAL` for a statement that runs
/// in a transaction.
pub(crate) fn lock_timeout_statement(local: bool) -> String {
    let local = if local { "LOCAL " } else { "" };
    format!("SET {local}lock_timeout = '{LOCK_TIMEOUT}';")
}

/// Where the statement's run without a `lock_timeout` begins (see
/// [`Session::untimed_since`](crate::context::Session)): a `SET` there covers every statement
/// of the run, so every finding of the run has the same fix.
fn first_without_timeout(cx: &Context<'_>) -> usize {
    cx.statements[cx.session().untimed_since].range.start
}

/// Locks the statement takes on tables that its foreign keys reference, known from the schema:
/// dropping a foreign key (or the column or table that has one) takes an `ACCESS EXCLUSIVE`
/// lock on the referenced table too.
fn referenced_table_locks(cx: &Context<'_>, statement: &Statement) -> Vec<TableLock> {
    let constraints = |table: &Name| {
        cx.schema
            .table(table)
            .map(|t| t.constraints.iter().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let referenced = |constraint: &crate::schema::TableConstraint| match &constraint.kind {
        ConstraintKind::ForeignKey { references, .. } => Some(TableLock {
            table: references.clone(),
            mode: LockMode::AccessExclusive,
        }),
        _ => None,
    };
    let mut out = Vec::new();
    match &statement.kind {
        StatementKind::AlterTable(alter) => {
            for action in &alter.actions {
                let dropped: Vec<_> = match &action.kind {
                    ActionKind::DropConstraint { name } => cx
                        .schema
                        .table(&alter.table)
                        .and_then(|t| t.constraint(name))
                        .into_iter()
                        .collect(),
                    ActionKind::DropColumn { column } => constraints(&alter.table)
                        .into_iter()
                        .filter(|c| c.columns.contains(column))
                        .collect(),
                    _ => Vec::new(),
                };
                out.extend(dropped.into_iter().filter_map(referenced));
            }
        }
        StatementKind::Drop {
            object: ObjectKind::Table,
            names,
        } => {
            for name in names {
                out.extend(constraints(name).into_iter().filter_map(referenced));
            }
        }
        _ => {}
    }
    out
}

//! What a rule knows about the statement it checks: the settings, the schema built so far, the
//! transaction it runs in, the `lock_timeout` and `search_path` in force, and its neighbours in
//! the file (what they created, the locks they hold), with the file's line index.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::Plan;
use crate::layout::Framework;
use crate::lexer::Lexed;
use crate::model::{LockMode, Name, Statement, StatementKind, TableLock};
use crate::recognize;
use crate::schema::{Schema, created_in, default_search_path};
use crate::settings::Settings;
use crate::source::SourceFile;

/// Who opened the transaction a statement runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapper {
    /// An explicit `BEGIN` in the file.
    Block,
    /// The migration framework, around the file (or the section of it).
    Framework,
    /// PostgreSQL: the framework sends several statements as one query.
    SingleQuery,
}

/// The state in force when a top-level statement runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The transaction block the statement runs in, if any (an id unique within the file).
    pub(crate) transaction: Option<usize>,
    /// Who opened that transaction.
    pub(crate) wrapper: Option<Wrapper>,
    /// The `lock_timeout` in force, when it is set and not zero.
    pub(crate) lock_timeout: Option<String>,
    /// The `search_path` in force: the schemas unqualified names resolve through, in order.
    pub(crate) search_path: Arc<[String]>,
    /// The transaction that was open when the statement began, if any (for `BEGIN` and
    /// `COMMIT`: the one they found).
    pub(crate) enclosing: Option<Wrapper>,
    /// The `TimeZone` the file sets (`SET TIME ZONE`, `SET timezone`), when it sets one.
    pub(crate) time_zone: Option<String>,
    /// The first top-level statement of the run this one belongs to that has no
    /// `lock_timeout` in force: the statements before it in the same transaction (or, outside
    /// one, since the last transaction) with none, after the last `BEGIN`, `SET` or `RESET` of
    /// `lock_timeout`. A `SET` placed there covers the whole run.
    pub(crate) untimed_since: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            transaction: None,
            wrapper: None,
            lock_timeout: None,
            search_path: default_search_path(),
            enclosing: None,
            time_zone: None,
            untimed_since: 0,
        }
    }
}

/// A setting's value in force: the session's, overridden by `SET LOCAL` until the transaction
/// ends. As in PostgreSQL, a session-level `SET` or `RESET` in a transaction lasts past its
/// `COMMIT` and is undone by its `ROLLBACK`.
#[derive(Debug, Clone, Default)]
struct Scoped<T> {
    session: T,
    local: Option<T>,
    /// The session's value before the open transaction first changed it.
    saved: Option<T>,
}

impl<T: Clone> Scoped<T> {
    fn new(session: T) -> Self {
        Self {
            session,
            local: None,
            saved: None,
        }
    }

    fn set(&mut self, value: T, local: bool, in_transaction: bool) {
        if !local {
            self.reset(value, in_transaction);
        } else if in_transaction {
            self.local = Some(value);
        }
    }

    fn reset(&mut self, value: T, in_transaction: bool) {
        if in_transaction && self.saved.is_none() {
            self.saved = Some(self.session.clone());
        }
        self.session = value;
        self.local = None;
    }

    fn end_transaction(&mut self, rolled_back: bool) {
        self.local = None;
        if let Some(saved) = self.saved.take()
            && rolled_back
        {
            self.session = saved;
        }
    }

    fn current(&self) -> T {
        self.local.clone().unwrap_or_else(|| self.session.clone())
    }
}

/// The settings a file can change, as they stand before a statement.
struct InForce {
    lock_timeout: Scoped<Option<String>>,
    search_path: Scoped<Arc<[String]>>,
    time_zone: Scoped<Option<String>>,
}

impl InForce {
    fn end_transaction(&mut self, rolled_back: bool) {
        self.lock_timeout.end_transaction(rolled_back);
        self.search_path.end_transaction(rolled_back);
        self.time_zone.end_transaction(rolled_back);
    }
}

/// Numbers the transaction blocks of a file as they open.
#[derive(Default)]
struct Blocks(usize);

impl Blocks {
    /// Open a block for `wrapper` (none: no transaction until a `BEGIN`).
    fn open(&mut self, wrapper: Option<Wrapper>) -> Option<(usize, Wrapper)> {
        wrapper.map(|w| {
            self.0 += 1;
            (self.0, w)
        })
    }
}

/// Walk the top-level statements and record each one's session state, given how the framework
/// runs the parts of the file.
/// `assumed_lock_timeout` is in force before the first statement (set by the runner or the
/// role), and `RESET` returns to it.
pub(crate) fn sessions(
    statements: &[Statement],
    plan: &Plan,
    assumed_lock_timeout: Option<&str>,
) -> Vec<Session> {
    let assumed = assumed_lock_timeout
        .filter(|v| !is_zero(v))
        .map(str::to_owned);
    // The statements and the units are both in file order: one pass over each.
    let mut units = plan.units.iter().enumerate().peekable();
    let unit_of: Vec<usize> = statements
        .iter()
        .map(|statement| {
            while let Some((_, u)) = units.peek()
                && u.range.end <= statement.range.start
                && u.range.start <= statement.range.start
            {
                units.next();
            }
            units
                .peek()
                .filter(|(_, u)| u.range.contains(&statement.range.start))
                .map_or(0, |(i, _)| *i)
        })
        .collect();
    let mut per_unit = vec![0usize; plan.units.len().max(1)];
    for &unit in &unit_of {
        per_unit[unit] += 1;
    }
    let mut blocks = Blocks::default();
    let mut unit = None;
    let mut implicit: Option<Wrapper> = None;
    let mut current: Option<(usize, Wrapper)> = None;
    let mut in_force = InForce {
        lock_timeout: Scoped::new(assumed.clone()),
        search_path: Scoped::new(default_search_path()),
        time_zone: Scoped::default(),
    };
    let mut out = Vec::with_capacity(statements.len());
    for (statement, &index) in statements.iter().zip(&unit_of) {
        if unit != Some(index) {
            unit = Some(index);
            implicit = plan.units.get(index).and_then(|u| {
                if u.transaction {
                    Some(Wrapper::Framework)
                } else {
                    (u.single_query && per_unit[index] > 1).then_some(Wrapper::SingleQuery)
                }
            });
            // The framework commits each unit's transaction (a failed one stops the run).
            in_force.end_transaction(false);
            current = blocks.open(implicit);
        }
        let enclosing = current.map(|(_, w)| w);
        let transaction = match &statement.kind {
            StatementKind::Begin => {
                if current.is_none() {
                    current = blocks.open(Some(Wrapper::Block));
                }
                None
            }
            StatementKind::Commit | StatementKind::Rollback => {
                let ended = current;
                in_force.end_transaction(matches!(statement.kind, StatementKind::Rollback));
                current = blocks.open(implicit);
                ended
            }
            _ => current,
        };
        match &statement.kind {
            StatementKind::Set { name, value, local } if name == "lock_timeout" => {
                let value = value.clone().filter(|v| !is_zero(v));
                in_force.lock_timeout.set(value, *local, current.is_some());
            }
            StatementKind::Set { name, value, local } if name == "search_path" => {
                let value = value
                    .as_deref()
                    .map_or_else(default_search_path, parse_search_path);
                in_force.search_path.set(value, *local, current.is_some());
            }
            StatementKind::Set { name, value, local } if name == "timezone" => {
                in_force
                    .time_zone
                    .set(value.clone(), *local, current.is_some());
            }
            StatementKind::Reset { name } => {
                if name.as_deref().is_none_or(|n| n == "lock_timeout") {
                    in_force
                        .lock_timeout
                        .reset(assumed.clone(), current.is_some());
                }
                if name.as_deref().is_none_or(|n| n == "search_path") {
                    in_force
                        .search_path
                        .reset(default_search_path(), current.is_some());
                }
                if name.as_deref().is_none_or(|n| n == "timezone") {
                    in_force.time_zone.reset(None, current.is_some());
                }
            }
            _ => {}
        }
        out.push(Session {
            transaction: transaction.map(|(id, _)| id),
            wrapper: transaction.map(|(_, w)| w),
            lock_timeout: in_force.lock_timeout.current(),
            search_path: in_force.search_path.current(),
            enclosing,
            time_zone: in_force.time_zone.current(),
            untimed_since: out.len(),
        });
    }
    // One pass, so that every statement's run is found in constant time.
    for i in 1..out.len() {
        let ends_run = match &statements[i - 1].kind {
            StatementKind::Set { name, .. } => name == "lock_timeout",
            StatementKind::Reset { name } => name.as_deref().is_none_or(|n| n == "lock_timeout"),
            kind => matches!(kind, StatementKind::Begin),
        };
        if !ends_run
            && out[i - 1].transaction == out[i].transaction
            && out[i - 1].lock_timeout.is_none()
        {
            out[i].untimed_since = out[i - 1].untimed_since;
        }
    }
    out
}

/// The schemas of a `search_path` value as written (`app, "My Schema", public`), in order;
/// `$user` is left out (the role running the migrations is not known).
fn parse_search_path(value: &str) -> Arc<[String]> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(
            |s| match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => s.trim_matches('\'').to_lowercase(),
            },
        )
        .filter(|s| !s.starts_with('$'))
        .collect()
}

/// Time zones whose offset from UTC is always zero.
fn is_utc(zone: &str) -> bool {
    let zone = zone.trim().trim_matches('\'').to_ascii_lowercase();
    let zone = zone.strip_prefix("etc/").unwrap_or(&zone);
    matches!(
        zone,
        "utc" | "uct" | "gmt" | "gmt0" | "gmt+0" | "gmt-0" | "zulu" | "universal" | "greenwich"
    ) || zone.parse::<f64>().is_ok_and(|offset| offset == 0.0)
}

/// `0`, `'0'`, `0s`, `0ms`… mean "no timeout".
fn is_zero(value: &str) -> bool {
    let digits: String = value
        .trim()
        .trim_matches('\'')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    digits.parse::<f64>().is_ok_and(|v| v == 0.0)
}

/// The kinds of object whose creation earlier in the same migration rules ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Created {
    Schema,
    View,
    MaterializedView,
    Type,
    Domain,
    Function,
    Procedure,
    Sequence,
}

impl Created {
    const ALL: [Self; 8] = [
        Self::Schema,
        Self::View,
        Self::MaterializedView,
        Self::Type,
        Self::Domain,
        Self::Function,
        Self::Procedure,
        Self::Sequence,
    ];

    fn words(self) -> &'static str {
        match self {
            Self::Schema => "SCHEMA",
            Self::View => "VIEW",
            Self::MaterializedView => "MATERIALIZED VIEW",
            Self::Type => "TYPE",
            Self::Domain => "DOMAIN",
            Self::Function => "FUNCTION",
            Self::Procedure => "PROCEDURE",
            Self::Sequence => "SEQUENCE",
        }
    }
}

/// The objects the top-level statements of a file create, found once per file.
#[derive(Debug, Default)]
pub(crate) struct CreatedObjects {
    /// By kind and unqualified name: the statements that create one, and the name as written.
    by_name: HashMap<(Created, String), Vec<(usize, Name)>>,
}

impl CreatedObjects {
    pub(crate) fn find(source: &str, lexed: &Lexed) -> Self {
        let mut by_name: HashMap<_, Vec<_>> = HashMap::new();
        for (index, raw) in lexed.statements.iter().enumerate() {
            let tokens = lexed.statement_tokens(raw);
            for kind in Created::ALL {
                if let Some(name) = recognize::created_object(source, tokens, kind.words()) {
                    by_name
                        .entry((kind, name.name.clone()))
                        .or_default()
                        .push((index, name));
                }
            }
        }
        Self { by_name }
    }

    /// The top-level statements that create `kind` `name`, as written at `index`: each object
    /// is created in the first schema of the `search_path` in force where it is written.
    fn creating<'s>(
        &'s self,
        kind: Created,
        name: &Name,
        index: usize,
        sessions: &'s [Session],
    ) -> impl Iterator<Item = usize> + 's {
        // A schema's own name has no schema.
        let at = move |name: &Name, i: usize| match kind {
            Created::Schema => name.clone(),
            _ => created_in(name, &sessions[i].search_path),
        };
        let wanted = at(name, index);
        self.by_name
            .get(&(kind, name.name.clone()))
            .into_iter()
            .flatten()
            .filter(move |(i, n)| at(n, *i) == wanted)
            .map(|(i, _)| *i)
    }
}

/// The identifiers the top-level statements of a file name (as PostgreSQL folds them), each
/// with the last statement that names it: indexed once per file, on first use (only plans
/// that move a column's change into later migrations ask).
pub(crate) struct NamedIdentifiers<'a> {
    source: &'a str,
    lexed: &'a Lexed,
    last: OnceCell<HashMap<String, usize>>,
}

impl<'a> NamedIdentifiers<'a> {
    /// The identifiers of the statements `lexed` split `source` into, not indexed yet.
    pub(crate) fn new(source: &'a str, lexed: &'a Lexed) -> Self {
        Self {
            source,
            lexed,
            last: OnceCell::new(),
        }
    }

    /// The last top-level statement that names `ident`.
    fn last_naming(&self, ident: &str) -> Option<usize> {
        let last = self.last.get_or_init(|| {
            let mut last = HashMap::new();
            for (index, raw) in self.lexed.statements.iter().enumerate() {
                for token in self.lexed.statement_tokens(raw) {
                    if let Some(ident) = token.ident(self.source) {
                        last.insert(ident, index);
                    }
                }
            }
            last
        });
        last.get(ident).copied()
    }
}

/// Where the statements of a file use a string constant as a value, found once per file so
/// that looking up the first use after a statement costs a binary search, not a scan of the
/// rest of the file.
#[derive(Debug, Default)]
pub(crate) struct ConstantUses<'s> {
    /// By constant: `(top-level statement, position among the statements it runs)`, in order,
    /// with the statement.
    by_value: HashMap<&'s str, Vec<ConstantUse<'s>>>,
}

/// `(top-level statement, position among the statements it runs)`, and the statement.
type ConstantUse<'s> = ((usize, usize), &'s Statement);

impl<'s> ConstantUses<'s> {
    /// Naming a label (`ALTER TYPE … ADD VALUE 'b' AFTER 'a'`) or commenting is no use.
    pub(crate) fn find(statements: &'s [Statement]) -> Self {
        let mut by_value: HashMap<&str, Vec<_>> = HashMap::new();
        for (index, statement) in statements.iter().enumerate() {
            let runs = match &statement.kind {
                StatementKind::Do { body } => crate::engine::flatten(body),
                _ => vec![statement],
            };
            for (position, run) in runs.into_iter().enumerate() {
                let is_use = match &run.kind {
                    StatementKind::AlterType { .. } => false,
                    StatementKind::Harmless { command } => !command.starts_with("COMMENT"),
                    _ => true,
                };
                for value in run.constants.iter().filter(|_| is_use) {
                    let uses = by_value.entry(value.as_str()).or_default();
                    if uses.last().is_none_or(|(at, _)| *at != (index, position)) {
                        uses.push(((index, position), run));
                    }
                }
            }
        }
        Self { by_value }
    }

    /// The first use of `value` at or after `(index, position)`, with where it is.
    fn first_from(&self, value: &str, from: (usize, usize)) -> Option<(usize, &'s Statement)> {
        let uses = self.by_value.get(value)?;
        let ((index, _), statement) = uses.get(uses.partition_point(|(at, _)| *at < from))?;
        Some((*index, statement))
    }
}

/// A lock, with the top-level statement that took it.
pub(crate) type HeldLock = (usize, TableLock);

/// The write-blocking locks that the earlier top-level statements of the current transaction
/// hold on tables that existed before the migration, kept up to date as the file is checked.
#[derive(Debug, Default)]
pub(crate) struct HeldLocks {
    transaction: Option<usize>,
    /// The strongest lock (the latest of equals), with the statement that took it.
    strongest: Option<HeldLock>,
    /// By unqualified table name, in statement order.
    by_table: HashMap<String, Vec<HeldLock>>,
}

impl HeldLocks {
    /// Enter the transaction of the next statement (forgetting the locks of an ended one).
    pub(crate) fn enter(&mut self, session: &Session) {
        if session.transaction != self.transaction {
            *self = Self {
                transaction: session.transaction,
                ..Self::default()
            };
        }
    }

    /// Record the locks of top-level statement `index`, which ran in the entered transaction.
    pub(crate) fn record(
        &mut self,
        index: usize,
        statement: &Statement,
        is_new_table: impl Fn(&Name) -> bool,
    ) {
        if self.transaction.is_none() {
            return;
        }
        for lock in statement.kind.locks() {
            if !lock.mode.blocks_writes() || is_new_table(&lock.table) {
                continue;
            }
            if self
                .strongest
                .as_ref()
                .is_none_or(|(_, s)| lock.mode >= s.mode)
            {
                self.strongest = Some((index, lock.clone()));
            }
            self.by_table
                .entry(lock.table.name.clone())
                .or_default()
                .push((index, lock));
        }
    }
}

/// What a rule sees.
pub(crate) struct Context<'a> {
    pub(crate) settings: &'a Settings,
    /// The file, as it is reported (the path of the edits of a fix).
    pub(crate) path: &'a str,
    /// The framework that runs this file.
    pub(crate) framework: Framework,
    pub(crate) schema: &'a Schema,
    pub(crate) source: &'a str,
    /// Ordinal of the file among the migrations linted together.
    pub(crate) file: usize,
    pub(crate) statements: &'a [Statement],
    pub(crate) sessions: &'a [Session],
    /// The top-level statement (for a statement in a `DO` body: the `DO`).
    pub(crate) index: usize,
    /// Whether the statement is inside a `DO` body (which always runs as one transaction).
    pub(crate) in_do_block: bool,
    /// In a `DO` body: the statement's position among the statements the body runs, nested
    /// bodies flattened.
    pub(crate) position: usize,
    /// The file's line index.
    pub(crate) lines: &'a SourceFile,
    pub(crate) created: &'a CreatedObjects,
    pub(crate) constants: &'a ConstantUses<'a>,
    pub(crate) held: &'a HeldLocks,
    pub(crate) identifiers: &'a NamedIdentifiers<'a>,
}

impl Context<'_> {
    /// Whether fixes are wanted (see [`Settings::fixes`]): the functions that plan one return
    /// `None` at once when they are not.
    pub(crate) fn builds_fixes(&self) -> bool {
        self.settings.builds_fixes()
    }

    pub(crate) fn pg_version(&self) -> u32 {
        self.settings.target_pg_version()
    }

    pub(crate) fn session(&self) -> &Session {
        &self.sessions[self.index]
    }

    /// Whether the session `TimeZone` is known to be UTC (or another zone always at offset 0):
    /// set by `SET TIME ZONE` / `SET timezone` earlier in the file, or else assumed by the
    /// settings.
    pub(crate) fn time_zone_is_utc(&self) -> bool {
        self.session()
            .time_zone
            .as_deref()
            .or_else(|| self.settings.assumed("timezone"))
            .is_some_and(is_utc)
    }

    /// Whether the statement runs inside a transaction block.
    pub(crate) fn in_transaction(&self) -> bool {
        self.in_do_block || self.session().transaction.is_some()
    }

    /// The 1-based line of a byte offset.
    pub(crate) fn line(&self, offset: usize) -> usize {
        self.lines.line(offset)
    }

    /// Whether a top-level statement of this file before the current one created `kind`
    /// `name` (an object created by the same migration is new: no running code uses it yet).
    pub(crate) fn created_earlier_in_file(&self, kind: Created, name: &Name) -> bool {
        self.created
            .creating(kind, name, self.index, self.sessions)
            .any(|i| i < self.index)
    }

    /// Whether a top-level statement of this file after the current one names `ident` (an
    /// identifier, as PostgreSQL folds it).
    pub(crate) fn named_later(&self, ident: &str) -> bool {
        self.identifiers
            .last_naming(ident)
            .is_some_and(|last| last > self.index)
    }

    /// Whether a top-level statement of this file after the current one creates `kind` `name`
    /// (a drop followed by the object created again).
    pub(crate) fn created_later_in_file(&self, kind: Created, name: &Name) -> bool {
        self.created
            .creating(kind, name, self.index, self.sessions)
            .any(|i| i > self.index)
    }

    /// Write-blocking locks that earlier top-level statements of this transaction hold on
    /// tables that existed before the migration: the first on `table`, and the strongest.
    pub(crate) fn held_locks(&self, table: &Name) -> (Option<&HeldLock>, Option<&HeldLock>) {
        let held = self.held;
        if held.transaction.is_none() || held.transaction != self.session().transaction {
            return (None, None);
        }
        let on_table = held.by_table.get(&table.name).and_then(|locks| {
            locks
                .iter()
                .find(|(_, l)| self.schema.same_relation(&l.table, table))
        });
        (on_table, held.strongest.as_ref())
    }

    /// The lock `statement` holds on the relation it names first while it runs: the one the
    /// statement model says it takes, or a stronger one an earlier statement of the
    /// transaction holds there. `None` for a statement that names an index (`DROP INDEX`,
    /// `REINDEX INDEX`), whose table it locks without naming it.
    pub(crate) fn statement_lock(&self, statement: &Statement) -> Option<LockMode> {
        match &statement.kind {
            StatementKind::DropIndex { .. } => return None,
            StatementKind::Reindex { target, .. } if target == "INDEX" => return None,
            _ => {}
        }
        let first = statement.kind.locks().into_iter().next()?;
        let held = self.held_locks(&first.table).0.map(|(_, l)| l.mode);
        Some(first.mode.max(held.unwrap_or(first.mode)))
    }

    /// Whether `name` is a table created earlier in this same migration (new and empty).
    pub(crate) fn is_new_table(&self, name: &Name) -> bool {
        self.schema
            .table(name)
            .is_some_and(|t| t.file == Some(self.file))
    }

    /// Top-level statements after this one in the same transaction block.
    pub(crate) fn later_in_transaction(&self) -> impl Iterator<Item = &Statement> {
        let transaction = self.session().transaction;
        self.statements[self.index + 1..]
            .iter()
            .zip(&self.sessions[self.index + 1..])
            .take_while(move |(_, s)| transaction.is_some() && s.transaction == transaction)
            .map(|(statement, _)| statement)
    }

    /// The first statement after the checked one (this top-level statement, or the statement
    /// at `position` of its `DO` body) in the same `DO` body or transaction block that uses
    /// `value` as a string constant.
    pub(crate) fn first_use_after(&self, value: &str) -> Option<&Statement> {
        if self.in_do_block
            && let Some((index, statement)) = self
                .constants
                .first_from(value, (self.index, self.position + 1))
            && index == self.index
        {
            return Some(statement);
        }
        let (index, statement) = self.constants.first_from(value, (self.index + 1, 0))?;
        (self.session().transaction.is_some() && self.same_transaction(index)).then_some(statement)
    }

    /// Whether top-level statement `index` of this file ran in the same transaction block as this one.
    pub(crate) fn same_transaction(&self, index: usize) -> bool {
        let transaction = self.session().transaction;
        transaction.is_some()
            && self
                .sessions
                .get(index)
                .is_some_and(|s| s.transaction == transaction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::split;
    use crate::lower::lower_file;

    #[test]
    fn identifiers_are_indexed_by_the_last_statement_naming_them() {
        let sql =
            "ALTER TABLE t RENAME COLUMN a TO b;\nSELECT \"B\", b FROM t;\nDO $$ SELECT c $$;";
        let lexed = split(sql);
        let identifiers = NamedIdentifiers::new(sql, &lexed);
        assert_eq!(identifiers.last_naming("b"), Some(1));
        assert_eq!(identifiers.last_naming("B"), Some(1));
        assert_eq!(identifiers.last_naming("a"), Some(0));
        // A DO body is a string: the identifiers in it are not the statement's.
        assert_eq!(identifiers.last_naming("c"), None);
    }

    fn sessions_of(sql: &str) -> Vec<Session> {
        sessions_assuming(sql, None)
    }

    fn sessions_assuming(sql: &str, lock_timeout: Option<&str>) -> Vec<Session> {
        sessions(
            &lower_file(sql, &split(sql)),
            &crate::framework::plan(
                Framework::Plain,
                crate::layout::Direction::Up,
                sql,
                false,
                &Default::default(),
            ),
            lock_timeout,
        )
    }

    /// The `enum-value-in-transaction` messages of `sql`.
    fn enum_uses(sql: &str) -> Vec<String> {
        crate::lint_sql(sql, &Settings::default())
            .files
            .remove(0)
            .diagnostics
            .into_iter()
            .filter(|d| d.rule == "enum-value-in-transaction")
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn the_first_use_of_a_constant_is_looked_up_in_the_transaction_or_do_body() {
        let found = enum_uses(
            "BEGIN;\nALTER TYPE mood ADD VALUE 'calm';\nCOMMENT ON TYPE mood IS 'calm';\nALTER TYPE mood ADD VALUE 'calmer' AFTER 'calm';\nUPDATE t SET m = 'calm';\nCOMMIT;",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("used by `UPDATE` on line 5"), "{found:?}");
        // Used before it is added, and after the commit: no use in the transaction.
        assert!(
            enum_uses(
                "BEGIN;\nUPDATE t SET m = 'calm';\nALTER TYPE mood ADD VALUE 'calm';\nCOMMIT;\nUPDATE t SET m = 'calm';"
            )
            .is_empty()
        );
        // In a DO body, a later statement of the body, even one run by EXECUTE, uses it.
        let found = enum_uses(
            "DO $$ BEGIN\n  UPDATE t SET m = 'calm';\n  ALTER TYPE mood ADD VALUE 'calm';\n  EXECUTE 'UPDATE t SET m = ''calm''';\nEND $$;",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("on line 4"), "{found:?}");
    }

    #[test]
    fn transaction_blocks() {
        let s = sessions_of("select 1; begin; select 2; commit; select 3;");
        let blocks: Vec<_> = s.iter().map(|s| s.transaction).collect();
        assert_eq!(blocks, [None, None, Some(1), Some(1), None]);
    }

    #[test]
    fn lock_timeout_scopes() {
        let s = sessions_of(
            "set lock_timeout = '5s'; select 1; set lock_timeout = 0; select 2; \
             begin; set local lock_timeout = '1s'; select 3; commit; select 4; \
             select set_config('lock_timeout', '2s', false); reset lock_timeout; select 5;",
        );
        let t: Vec<_> = s.iter().map(|s| s.lock_timeout.as_deref()).collect();
        assert_eq!(
            t,
            [
                Some("5s"),
                Some("5s"),
                None,
                None,
                None,
                Some("1s"),
                Some("1s"),
                None,
                None,
                Some("2s"),
                None,
                None
            ]
        );
    }

    #[test]
    fn an_assumed_lock_timeout_is_the_default_that_reset_returns_to() {
        let s = sessions_assuming(
            "select 1; set lock_timeout = 0; select 2; reset lock_timeout; select 3;",
            Some("5s"),
        );
        let t: Vec<_> = s.iter().map(|s| s.lock_timeout.as_deref()).collect();
        assert_eq!(t, [Some("5s"), None, None, Some("5s"), Some("5s")]);
        let zero = sessions_assuming("select 1;", Some("0"));
        assert_eq!(zero[0].lock_timeout, None);
    }

    #[test]
    fn framework_and_single_query_transactions() {
        use crate::framework::{Sidecar, plan};
        use crate::layout::Direction;
        let of = |framework, sql: &str| {
            let plan = plan(framework, Direction::Up, sql, false, &Sidecar::default());
            sessions(&lower_file(sql, &split(sql)), &plan, None)
                .into_iter()
                .map(|s| s.wrapper)
                .collect::<Vec<_>>()
        };
        assert_eq!(of(Framework::Sqlx, "select 1;"), [Some(Wrapper::Framework)]);
        assert_eq!(of(Framework::Sqlx, "-- no-transaction\nselect 1;"), [None]);
        assert_eq!(
            of(Framework::Sqlx, "-- no-transaction\nselect 1; select 2;"),
            [Some(Wrapper::SingleQuery), Some(Wrapper::SingleQuery)]
        );
        assert_eq!(
            of(
                Framework::Goose,
                "-- +goose NO TRANSACTION\n-- +goose Up\nselect 1; select 2;"
            ),
            [None, None]
        );
    }

    #[test]
    fn time_zone_scopes() {
        let s = sessions_of(
            "set time zone 'UTC'; select 1; begin; set local timezone = 'Europe/Paris'; select 2; \
             commit; select 3; reset all; select 4; set foo.timezone = 'x'; select 5;",
        );
        let zones: Vec<_> = s.iter().map(|s| s.time_zone.as_deref()).collect();
        assert_eq!(
            zones,
            [
                Some("UTC"),
                Some("UTC"),
                Some("UTC"),
                Some("Europe/Paris"),
                Some("Europe/Paris"),
                Some("UTC"),
                Some("UTC"),
                None,
                None,
                None,
                None
            ]
        );
        assert!(is_utc("'Etc/UTC'") && is_utc("0") && is_utc("GMT") && !is_utc("Europe/London"));
    }

    #[test]
    fn search_path_scopes_follow_postgresql() {
        // Measured on PostgreSQL 15: SET LOCAL ends with the transaction; a session SET in a
        // transaction lasts past COMMIT and is undone by ROLLBACK.
        let s = sessions_of(
            "set search_path = app; begin; set local search_path = other; commit; \
             begin; set search_path = gone; rollback; \
             begin; set search_path = kept; commit; \
             begin; reset search_path; rollback; reset search_path;",
        );
        let paths: Vec<String> = s.iter().map(|s| s.search_path.join(",")).collect();
        assert_eq!(
            paths,
            [
                "app", "app", "other", "app", "app", "gone", "app", "app", "kept", "kept", "kept",
                "public", "kept", "public"
            ]
        );
    }

    #[test]
    fn custom_settings_are_not_lock_timeout() {
        let s = sessions_of("set foo.lock_timeout = '5s'; select 1;");
        assert_eq!(s[1].lock_timeout, None);
    }

    #[test]
    fn zero_means_no_timeout() {
        assert!(is_zero("0"));
        assert!(is_zero("'0ms'"));
        assert!(!is_zero("10s"));
    }
}

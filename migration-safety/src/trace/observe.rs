//! Running one statement on a server and observing what it did: the locks it took on
//! relations that existed before (from `pg_locks` joined with `pg_class`), the relations it
//! rewrote (their file node changed), the tables it scanned (`pg_stat_xact_user_tables`), its
//! duration and its error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::{Duration, Instant};

use postgres::{Client, Config};

use crate::pg::Endpoint;

use super::TraceError;
use crate::model::LockMode;

/// A relation (table, index, view…) as the catalog names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Relation {
    /// Its `pg_class` oid.
    pub oid: u32,
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: RelationKind,
}

impl fmt::Display for Relation {
    /// `schema.name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.name)
    }
}

/// What a relation is (`pg_class.relkind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RelationKind {
    /// An ordinary table (`r`).
    Table,
    /// A partitioned table (`p`).
    PartitionedTable,
    /// An index (`i`).
    Index,
    /// A partitioned index (`I`).
    PartitionedIndex,
    /// A materialized view (`m`).
    MaterializedView,
    /// A view (`v`).
    View,
    /// A sequence (`S`).
    Sequence,
    /// A foreign table (`f`).
    ForeignTable,
    /// A composite type or TOAST table (`c`, `t`).
    Other,
}

impl RelationKind {
    fn from_relkind(relkind: &str) -> Self {
        match relkind {
            "r" => Self::Table,
            "p" => Self::PartitionedTable,
            "i" => Self::Index,
            "I" => Self::PartitionedIndex,
            "m" => Self::MaterializedView,
            "v" => Self::View,
            "S" => Self::Sequence,
            "f" => Self::ForeignTable,
            _ => Self::Other,
        }
    }

    /// `table`, `partitioned table`, `index`…
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::PartitionedTable => "partitioned table",
            Self::Index => "index",
            Self::PartitionedIndex => "partitioned index",
            Self::MaterializedView => "materialized view",
            Self::View => "view",
            Self::Sequence => "sequence",
            Self::ForeignTable => "foreign table",
            Self::Other => "relation",
        }
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lock a statement held on a relation that existed before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedLock {
    /// The relation.
    pub relation: Relation,
    /// The lock mode.
    pub mode: LockMode,
    /// Whether the transaction held this mode before the statement: an earlier statement of
    /// the same transaction took it, and it is held until the transaction ends. A relation can
    /// have two entries: the strongest mode the statement took, and a stronger one held before.
    pub held_before: bool,
}

impl ObservedLock {
    /// Whether the lock blocks reads of the relation (`ACCESS EXCLUSIVE` only).
    pub fn blocks_reads(&self) -> bool {
        self.mode == LockMode::AccessExclusive
    }

    /// Whether the lock blocks `INSERT`, `UPDATE` and `DELETE` (`SHARE` or stronger).
    pub fn blocks_writes(&self) -> bool {
        self.mode.blocks_writes()
    }
}

/// How a statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// It succeeded.
    Succeeded,
    /// The server rejected it.
    Failed {
        /// The SQLSTATE, such as `25001`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// It was not run, for this reason.
    NotRun(String),
}

/// How the locks of a statement were observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The statement ran inside a transaction and `pg_locks` was read in that transaction right
    /// after it: every lock it took is seen, with its mode.
    InTransaction,
    /// The statement cannot run inside a transaction (`CREATE INDEX CONCURRENTLY`, `VACUUM`…),
    /// or it ends transactions of its own (a `DO` block that commits each batch), so it ran
    /// alone and a second session sampled `pg_locks` while it ran (for the latter, the locks
    /// of each of its transactions, the strongest mode per relation). That session first holds
    /// `SHARE UPDATE EXCLUSIVE` on every pre-existing table (what every statement of the first
    /// kind takes at least), so a statement that asks for that mode or a stronger one is seen
    /// waiting for its first table lock, with the mode it asks for; then the session lets it go
    /// and samples until it ends, so a lock taken later (or a weaker one, which does not wait)
    /// and held only between two samples can be missed. A statement whose `lock_timeout` runs
    /// out while it waits for that session runs again, only sampled. Scans are not observed.
    Sampled,
    /// The statement did not run.
    NotObserved,
}

/// What one statement did on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// How it ended.
    pub status: Status,
    /// How the locks were observed.
    pub method: Method,
    /// Locks on pre-existing relations: per relation, the strongest mode the statement took
    /// (PostgreSQL records each mode a transaction holds, so a mode requested again while a
    /// stronger one is held still shows), and a stronger mode held before it if any.
    pub locks: Vec<ObservedLock>,
    /// Pre-existing tables, indexes and materialized views whose file node changed: their data
    /// was rewritten.
    pub rewrites: Vec<Relation>,
    /// Pre-existing tables read by a sequential scan (`pg_stat_xact_user_tables.seq_scan`
    /// grew); `None` when it could not be observed.
    pub scans: Option<Vec<Relation>>,
    /// Wall-clock time of the statement.
    pub duration: Duration,
}

impl Observation {
    fn not_run(reason: String) -> Self {
        Self {
            status: Status::NotRun(reason),
            method: Method::NotObserved,
            locks: Vec::new(),
            rewrites: Vec::new(),
            scans: None,
            duration: Duration::ZERO,
        }
    }

    /// The strongest lock the statement took on a relation named `name` (`users` or
    /// `public.users`), not counting modes held before it.
    pub fn lock_on(&self, name: &str) -> Option<LockMode> {
        self.locks
            .iter()
            .filter(|l| {
                !l.held_before && (l.relation.name == name || l.relation.to_string() == name)
            })
            .map(|l| l.mode)
            .max()
    }

    /// Whether a lock the statement took (not one held before it) blocks reads or writes.
    pub fn blocks_traffic(&self) -> bool {
        self.locks
            .iter()
            .any(|l| !l.held_before && l.blocks_writes())
    }
}

/// What happens to the changes the statements make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changes {
    /// They are committed as the statements' own transactions say (a throwaway cluster).
    Kept,
    /// Everything runs inside one transaction that [`Observer::finish`] (or dropping the
    /// connection) rolls back: transactions become savepoints, and a statement that cannot
    /// run inside a transaction is not run.
    RolledBack,
}

/// A connection that runs statements and observes them.
///
/// ```no_run
/// use migration_safety::trace::{Changes, Observer};
/// use migration_safety::LockMode;
///
/// let mut observer = Observer::connect("postgresql://postgres@127.0.0.1:5432/postgres", Changes::RolledBack)?;
/// observer.execute("CREATE TABLE users (id bigint, email text)")?;
/// observer.mark_existing()?;
/// let observation = observer.observe("CREATE INDEX users_email_idx ON users (email)");
/// assert_eq!(observation.lock_on("users"), Some(LockMode::Share));
/// observer.finish()?; // rolls everything back
/// # Ok::<(), migration_safety::trace::TraceError>(())
/// ```
pub struct Observer {
    client: Client,
    endpoint: Endpoint,
    changes: Changes,
    pid: i32,
    database: u32,
    existing: BTreeMap<u32, Relation>,
    /// In `RolledBack` mode, the locks held when the current transaction (a savepoint) began:
    /// the earlier statements', which the one transaction keeps and a real run would have
    /// released. They are not reported as held before.
    inherited: BTreeMap<u32, BTreeSet<LockMode>>,
    /// Open transaction of the statements (a savepoint in `RolledBack` mode).
    in_transaction: bool,
}

const SAVEPOINT: &str = "migration_safety_trace";

/// SQLSTATE of a statement refused inside a transaction block (`CREATE INDEX CONCURRENTLY`…).
const NOT_IN_A_TRANSACTION_BLOCK: &str = "25001";

/// SQLSTATE of a `COMMIT` or `ROLLBACK` refused inside a `DO` block or procedure run in a
/// transaction block ("invalid transaction termination"): run alone, it ends transactions of its
/// own, such as a backfill that commits each batch.
const ENDS_ITS_TRANSACTION: &str = "2D000";

impl Observer {
    /// Connect to `url` (a libpq connection string or URL).
    pub fn connect(url: &str, changes: Changes) -> Result<Self, TraceError> {
        let (client, endpoint) = crate::pg::connect(url)?;
        Self::on(client, endpoint, changes)
    }

    /// Observe on an existing connection; `config` opens the second session that watches
    /// statements which cannot run in a transaction.
    pub fn new(client: Client, config: Config, changes: Changes) -> Result<Self, TraceError> {
        Self::on(client, Endpoint::from_config(config), changes)
    }

    fn on(mut client: Client, endpoint: Endpoint, changes: Changes) -> Result<Self, TraceError> {
        let row = client.query_one(
            "SELECT pg_backend_pid(), (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )?;
        if changes == Changes::RolledBack {
            client.batch_execute("BEGIN")?;
        }
        let mut observer = Self {
            client,
            endpoint,
            changes,
            pid: row.get(0),
            database: row.get(1),
            existing: BTreeMap::new(),
            inherited: BTreeMap::new(),
            in_transaction: false,
        };
        observer.mark_existing()?;
        Ok(observer)
    }

    /// The server's major version, such as 15.
    pub fn server_major(&mut self) -> Result<u32, TraceError> {
        Ok(crate::pg::server_major(&mut self.client)?)
    }

    /// What happens to the changes.
    pub fn changes(&self) -> Changes {
        self.changes
    }

    /// The connection, for queries of the caller's own.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Take the relations that exist now as the pre-existing ones, whose locks and rewrites
    /// are reported (relations created later are new: nobody else uses them yet). Call it
    /// before each migration file.
    ///
    /// In [`Changes::RolledBack`] mode the one transaction keeps every lock taken so far until
    /// it is rolled back; those are not reported again, and a later statement that takes one
    /// of those modes again on the same relation shows no lock for it (PostgreSQL records a
    /// mode once per transaction).
    pub fn mark_existing(&mut self) -> Result<(), TraceError> {
        let rows = self.client.query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'",
            &[],
        )?;
        self.existing = rows
            .iter()
            .map(|row| {
                let oid: u32 = row.get(0);
                let relation = Relation {
                    oid,
                    schema: row.get(1),
                    name: row.get(2),
                    kind: RelationKind::from_relkind(row.get(3)),
                };
                (oid, relation)
            })
            .collect();
        Ok(())
    }

    /// The relations taken as pre-existing.
    pub fn existing(&self) -> impl Iterator<Item = &Relation> {
        self.existing.values()
    }

    /// Run SQL without observing it (setup). Several statements may be given.
    pub fn execute(&mut self, sql: &str) -> Result<(), TraceError> {
        self.client.batch_execute(sql)?;
        Ok(())
    }

    /// Whether a transaction opened with [`Observer::begin`] is open.
    pub fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    /// Open the transaction the next statements run in.
    pub fn begin(&mut self) -> Result<(), TraceError> {
        let sql = match self.changes {
            Changes::Kept => "BEGIN".to_owned(),
            Changes::RolledBack => {
                // What the earlier statements hold would be released in a real run.
                self.inherited = own_locks(&mut self.client, self.database)?;
                format!("SAVEPOINT {SAVEPOINT}")
            }
        };
        self.client.batch_execute(&sql)?;
        self.in_transaction = true;
        Ok(())
    }

    /// Commit the transaction opened with [`Observer::begin`] (release the savepoint in
    /// [`Changes::RolledBack`] mode).
    pub fn commit(&mut self) -> Result<(), TraceError> {
        let sql = match self.changes {
            Changes::Kept => "COMMIT".to_owned(),
            Changes::RolledBack => format!("RELEASE SAVEPOINT {SAVEPOINT}"),
        };
        self.in_transaction = false;
        self.client.batch_execute(&sql)?;
        Ok(())
    }

    /// Roll back the transaction opened with [`Observer::begin`].
    pub fn rollback(&mut self) -> Result<(), TraceError> {
        let sql = match self.changes {
            Changes::Kept => "ROLLBACK".to_owned(),
            Changes::RolledBack => {
                format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")
            }
        };
        self.in_transaction = false;
        self.client.batch_execute(&sql)?;
        Ok(())
    }

    /// End the session: in [`Changes::RolledBack`] mode, roll everything back; in
    /// [`Changes::Kept`] mode, roll back a transaction left open.
    pub fn finish(mut self) -> Result<(), TraceError> {
        if self.changes == Changes::RolledBack || self.in_transaction {
            self.client.batch_execute("ROLLBACK")?;
        }
        Ok(())
    }

    /// Run one statement and observe it.
    ///
    /// Inside [`Observer::begin`] it runs in that transaction (after a failure, roll it back).
    /// Otherwise it runs alone: in a transaction of its own, which is what a statement sent on
    /// its own does; when the server answers that it cannot run inside a transaction block
    /// (SQLSTATE 25001), or that it ends transactions of its own (a `DO` block or procedure
    /// that commits, SQLSTATE 2D000, such as a backfill that commits each batch), it runs again
    /// alone, outside any transaction block, and is [`Method::Sampled`]; in
    /// [`Changes::RolledBack`] mode it is not run. A `LOCK` sent alone is refused by the server
    /// outside a transaction block, so it is sent alone, outside one (in
    /// [`Changes::RolledBack`] mode on a second session), and reported as the server answers.
    ///
    /// The statement is sent with the extended protocol, which refuses several statements in
    /// one query: nothing can slip a `COMMIT` past the observer.
    pub fn observe(&mut self, sql: &str) -> Observation {
        if is_transaction_control(sql) {
            return Observation::not_run(
                "transaction control is applied by the observer (Observer::begin, commit and rollback), not sent".to_owned(),
            );
        }
        if self.in_transaction {
            return self.observe_in_transaction(sql);
        }
        if needs_transaction_block(sql) {
            // Wrapped in a transaction of its own it would succeed; sent alone, as a migration
            // tool sends it, the server refuses it. Send it alone.
            return match self.changes {
                Changes::Kept => self.observe_outside_transaction(sql, false),
                Changes::RolledBack => self.observe_on_a_session_of_its_own(sql),
            };
        }
        if let Err(error) = self.begin() {
            return failed(&error, Duration::ZERO);
        }
        let observation = self.observe_in_transaction(sql);
        let end = match observation.status {
            Status::Succeeded => self.commit(),
            _ => self.rollback(),
        };
        if let Err(error) = end {
            return failed(&error, observation.duration);
        }
        match (&observation.status, self.changes) {
            (Status::Failed { code, .. }, Changes::Kept)
                if code == NOT_IN_A_TRANSACTION_BLOCK || code == ENDS_ITS_TRANSACTION =>
            {
                self.observe_outside_transaction(sql, true)
            }
            (Status::Failed { code, .. }, Changes::RolledBack)
                if code == NOT_IN_A_TRANSACTION_BLOCK =>
            {
                Observation::not_run(
                    "it cannot run inside a transaction block, and every statement runs inside the transaction that is rolled back at the end (so a real database is never changed)".to_owned(),
                )
            }
            (Status::Failed { code, .. }, Changes::RolledBack) if code == ENDS_ITS_TRANSACTION => {
                Observation::not_run(
                    "it commits or rolls back transactions of its own (a DO block or procedure), and every statement runs inside the transaction that is rolled back at the end (so a real database is never changed)".to_owned(),
                )
            }
            _ => observation,
        }
    }

    fn observe_in_transaction(&mut self, sql: &str) -> Observation {
        let before = match self.state(true) {
            Ok(state) => state,
            Err(error) => return failed(&error, Duration::ZERO),
        };
        let start = Instant::now();
        let result = self.client.execute(sql, &[]);
        let duration = start.elapsed();
        if let Err(error) = result {
            return failed(&TraceError::from(error), duration);
        }
        let after = match self.state(true) {
            Ok(state) => state,
            Err(error) => return failed(&error, duration),
        };
        let mut locks = Vec::new();
        for (oid, modes) in &after.locks {
            let Some(relation) = self.existing.get(oid) else {
                continue;
            };
            let held = before.locks.get(oid);
            let inherited = self.inherited.get(oid);
            let new = modes
                .iter()
                .filter(|m| held.is_none_or(|h| !h.contains(m)))
                .max();
            let old = held.and_then(|h| {
                h.iter()
                    .filter(|m| inherited.is_none_or(|i| !i.contains(m)))
                    .max()
            });
            if let Some(mode) = new {
                locks.push(ObservedLock {
                    relation: relation.clone(),
                    mode: *mode,
                    held_before: false,
                });
            }
            if let Some(mode) = old.filter(|o| new.is_none_or(|n| n < *o)) {
                locks.push(ObservedLock {
                    relation: relation.clone(),
                    mode: *mode,
                    held_before: true,
                });
            }
        }
        let scans = after
            .scans
            .iter()
            .filter(|(oid, n)| before.scans.get(oid).is_none_or(|b| b < n))
            .filter_map(|(oid, _)| self.existing.get(oid).cloned())
            .collect();
        Observation {
            status: Status::Succeeded,
            method: Method::InTransaction,
            locks,
            rewrites: self.rewrites(&before.filenodes, &after.filenodes),
            scans: Some(scans),
            duration,
        }
    }

    /// A statement sent alone on a new session, outside any transaction block, for the
    /// [`Changes::RolledBack`] mode, whose own session is always inside its transaction. Only
    /// for `LOCK` (see [`needs_transaction_block`]): PostgreSQL refuses it there before it looks
    /// a table up, and a `LOCK` changes no data in any case.
    fn observe_on_a_session_of_its_own(&mut self, sql: &str) -> Observation {
        let start = Instant::now();
        let result = self
            .endpoint
            .connect()
            .and_then(|mut session| session.execute(sql, &[]));
        let duration = start.elapsed();
        match result {
            Err(error) => failed(&TraceError::from(error), duration),
            // Outside a transaction block a lock ends with its statement: nothing to observe.
            Ok(_) => Observation {
                status: Status::Succeeded,
                duration,
                ..Observation::not_run(String::new())
            },
        }
    }

    /// `hold`: the watcher holds the pre-existing tables until the statement waits for them.
    fn observe_outside_transaction(&mut self, sql: &str, hold: bool) -> Observation {
        let before = match self.state(false) {
            Ok(state) => state,
            Err(error) => return failed(&error, Duration::ZERO),
        };
        let mut watcher = match self.watcher(hold) {
            Ok(watcher) => Some(watcher),
            Err(error) => return failed(&error, Duration::ZERO),
        };
        let pid = self.pid;
        let database = self.database;
        let client = &mut self.client;
        let mut seen: BTreeMap<u32, LockMode> = BTreeMap::new();
        let (result, duration) = std::thread::scope(|scope| {
            let statement = scope.spawn(move || {
                let start = Instant::now();
                let result = client.execute(sql, &[]);
                (result, start.elapsed())
            });
            let mut holding = hold;
            while !statement.is_finished() {
                let Some(session) = watcher.as_mut() else {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                };
                match sample(session, pid, database) {
                    Ok((locks, waiting)) => {
                        for (oid, mode) in locks {
                            let entry = seen.entry(oid).or_insert(mode);
                            *entry = (*entry).max(mode);
                        }
                        if waiting && holding {
                            holding = false;
                            if session.batch_execute("COMMIT").is_err() {
                                watcher = None;
                            }
                        }
                    }
                    // Closing the session releases what it holds.
                    Err(_) => watcher = None,
                }
            }
            statement
                .join()
                .unwrap_or_else(|payload| std::panic::resume_unwind(payload))
        });
        drop(watcher);
        if let Err(error) = result {
            // A `lock_timeout` shorter than the watcher's reaction: run it again, only sampled.
            let lock_timeout = error.code().is_some_and(|c| c.code() == "55P03");
            if hold && lock_timeout {
                return self.observe_outside_transaction(sql, false);
            }
            return failed(&TraceError::from(error), duration);
        }
        let after = match self.state(false) {
            Ok(state) => state,
            Err(error) => return failed(&error, duration),
        };
        let locks = seen
            .into_iter()
            .filter_map(|(oid, mode)| {
                Some(ObservedLock {
                    relation: self.existing.get(&oid)?.clone(),
                    mode,
                    held_before: false,
                })
            })
            .collect();
        Observation {
            status: Status::Succeeded,
            method: Method::Sampled,
            locks,
            rewrites: self.rewrites(&before.filenodes, &after.filenodes),
            scans: None,
            duration,
        }
    }

    /// A second session, holding (with `hold`) `SHARE UPDATE EXCLUSIVE` on every pre-existing
    /// table, so that a statement outside a transaction waits for it at its first table lock.
    fn watcher(&self, hold: bool) -> Result<Client, TraceError> {
        let mut watcher = self.endpoint.connect()?;
        if !hold {
            return Ok(watcher);
        }
        let tables: Vec<String> = self
            .existing
            .values()
            .filter(|r| matches!(r.kind, RelationKind::Table | RelationKind::PartitionedTable))
            .map(|r| r.oid.to_string())
            .collect();
        // A table another session holds is skipped (NOWAIT): the statement waits for that
        // session anyway, and waiting here could deadlock with it.
        watcher.batch_execute(&format!(
            "BEGIN;
             DO $watch$
             DECLARE
                 t regclass;
             BEGIN
                 FOR t IN SELECT oid::regclass FROM pg_class WHERE oid = ANY ('{{{}}}'::oid[]) LOOP
                     BEGIN
                         EXECUTE format('LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE NOWAIT', t);
                     EXCEPTION WHEN lock_not_available THEN
                         NULL;
                     END;
                 END LOOP;
             END
             $watch$;",
            tables.join(",")
        ))?;
        Ok(watcher)
    }

    /// Locks held by this session (inside a transaction), file nodes and scan counts.
    fn state(&mut self, with_locks: bool) -> Result<State, TraceError> {
        let oids: Vec<u32> = self.existing.keys().copied().collect();
        let filenodes = self
            .client
            .query(
                "SELECT c.oid, pg_relation_filenode(c.oid) FROM pg_class c WHERE c.oid = ANY($1)",
                &[&oids],
            )?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let mut state = State {
            filenodes,
            ..State::default()
        };
        if with_locks {
            state.locks = own_locks(&mut self.client, self.database)?;
            state.scans = self
                .client
                .query("SELECT relid, seq_scan FROM pg_stat_xact_user_tables", &[])?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect();
        }
        Ok(state)
    }

    fn rewrites(
        &self,
        before: &BTreeMap<u32, Option<u32>>,
        after: &BTreeMap<u32, Option<u32>>,
    ) -> Vec<Relation> {
        after
            .iter()
            .filter(|(oid, node)| node.is_some() && before.get(oid).is_some_and(|b| b != *node))
            .filter_map(|(oid, _)| self.existing.get(oid).cloned())
            .collect()
    }
}

#[derive(Debug, Default)]
struct State {
    filenodes: BTreeMap<u32, Option<u32>>,
    locks: BTreeMap<u32, BTreeSet<LockMode>>,
    scans: BTreeMap<u32, i64>,
}

fn own_locks(
    client: &mut Client,
    database: u32,
) -> Result<BTreeMap<u32, BTreeSet<LockMode>>, TraceError> {
    let mut locks: BTreeMap<u32, BTreeSet<LockMode>> = BTreeMap::new();
    for row in client.query(
        "SELECT relation, mode FROM pg_locks
         WHERE pid = pg_backend_pid() AND locktype = 'relation' AND database = $1 AND granted",
        &[&database],
    )? {
        if let Some(mode) = lock_mode(row.get(1)) {
            locks.entry(row.get(0)).or_default().insert(mode);
        }
    }
    Ok(locks)
}

/// The relation locks of backend `pid` (granted or awaited), and whether it waits for a lock.
fn sample(
    watcher: &mut Client,
    pid: i32,
    database: u32,
) -> Result<(Vec<(u32, LockMode)>, bool), postgres::Error> {
    let rows = watcher.query(
        "SELECT locktype = 'relation' AND database = $2, relation, mode, granted FROM pg_locks WHERE pid = $1",
        &[&pid, &database],
    )?;
    let mut locks = Vec::new();
    let mut waiting = false;
    for row in rows {
        waiting |= !row.get::<_, bool>(3);
        if row.get::<_, Option<bool>>(0) == Some(true)
            && let Some(mode) = lock_mode(row.get(2))
        {
            locks.push((row.get(1), mode));
        }
    }
    Ok((locks, waiting))
}

/// `AccessExclusiveLock` → [`LockMode::AccessExclusive`].
fn lock_mode(name: &str) -> Option<LockMode> {
    Some(match name {
        "AccessShareLock" => LockMode::AccessShare,
        "RowShareLock" => LockMode::RowShare,
        "RowExclusiveLock" => LockMode::RowExclusive,
        "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
        "ShareLock" => LockMode::Share,
        "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
        "ExclusiveLock" => LockMode::Exclusive,
        "AccessExclusiveLock" => LockMode::AccessExclusive,
        _ => return None,
    })
}

fn failed(error: &TraceError, duration: Duration) -> Observation {
    let (code, message) = match error {
        TraceError::Database(e) => (
            e.code().map_or_else(String::new, |c| c.code().to_owned()),
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_owned()),
        ),
        other => (String::new(), other.to_string()),
    };
    Observation {
        status: Status::Failed { code, message },
        method: Method::NotObserved,
        duration,
        ..Observation::not_run(String::new())
    }
}

/// Whether PostgreSQL runs the statement only inside a transaction block: `LOCK`, which it
/// refuses outside one ("LOCK TABLE can only be used in transaction blocks", SQLSTATE 25P01)
/// because the lock would end with the statement. (`SAVEPOINT`, `RELEASE` and `ROLLBACK TO`,
/// refused the same way, are transaction control.)
fn needs_transaction_block(sql: &str) -> bool {
    let lexed = crate::lexer::split(sql);
    lexed
        .tokens
        .first()
        .is_some_and(|t| t.text(sql).eq_ignore_ascii_case("LOCK"))
}

/// Whether a statement starts, ends or prepares a transaction, or works with savepoints
/// (comments before it do not hide it).
pub(crate) fn is_transaction_control(sql: &str) -> bool {
    let lexed = crate::lexer::split(sql);
    let mut words = lexed
        .tokens
        .iter()
        .map(|t| t.text(sql).to_ascii_uppercase());
    let first = words.next().unwrap_or_default();
    let second = words.next().unwrap_or_default();
    matches!(
        first.as_str(),
        "BEGIN" | "START" | "COMMIT" | "END" | "ROLLBACK" | "ABORT" | "SAVEPOINT" | "RELEASE"
    ) || (first == "PREPARE" && second == "TRANSACTION")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_is_recognised() {
        for sql in [
            "BEGIN;",
            "begin isolation level serializable",
            "START TRANSACTION",
            "COMMIT AND CHAIN",
            "end",
            "ROLLBACK PREPARED 'x'",
            "abort",
            "SAVEPOINT a",
            "RELEASE a",
            "PREPARE TRANSACTION 'x'",
            "/* hidden */ -- still\n COMMIT",
        ] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        for sql in [
            "PREPARE q AS SELECT 1",
            "CREATE TABLE begin_log (id int)",
            "SELECT 1",
        ] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }

    #[test]
    fn only_lock_needs_a_transaction_block() {
        for sql in [
            "LOCK TABLE users",
            "lock users in share mode",
            "/* why */ LOCK TABLE ONLY users",
        ] {
            assert!(needs_transaction_block(sql), "{sql}");
        }
        for sql in ["SELECT 1", "CREATE TABLE lock (id int)", "VACUUM users", ""] {
            assert!(!needs_transaction_block(sql), "{sql}");
        }
    }

    #[test]
    fn lock_names() {
        assert_eq!(
            lock_mode("ShareUpdateExclusiveLock"),
            Some(LockMode::ShareUpdateExclusive)
        );
        assert_eq!(lock_mode("SIReadLock"), None);
    }
}

//! Reading a [`Snapshot`] from a database, read-only (feature `stats`).

use std::collections::HashMap;

use postgres::Client;

use super::{Activity, IndexStats, Snapshot, TableStats};

/// The read-only session: every transaction is read-only, no statement runs longer than
/// `statement_timeout`, and none waits longer than `lock_timeout` for a lock.
const SESSION: &str = "SET application_name = 'migration-safety stats';
SET default_transaction_read_only = on;
SET statement_timeout = '10s';
SET lock_timeout = '1s';
SET idle_in_transaction_session_timeout = '10s';";

/// Why statistics could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// The connection or a query failed.
    #[error("PostgreSQL: {}", with_cause(.0))]
    Database(#[from] postgres::Error),
    /// The TLS settings of the connection string (`sslmode`, `sslrootcert`) cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// A server older than the catalog functions the snapshot needs.
    #[error(
        "PostgreSQL {0} is too old: table statistics need PostgreSQL 12 or newer (pg_partition_tree)"
    )]
    TooOld(u32),
}

impl From<crate::pg::ConnectError> for StatsError {
    fn from(error: crate::pg::ConnectError) -> Self {
        match error {
            crate::pg::ConnectError::Postgres(error) => Self::Database(error),
            crate::pg::ConnectError::Tls(message) => Self::Tls(message),
        }
    }
}

/// Open the read-only session [`collect`] reads through: `default_transaction_read_only` is on,
/// `statement_timeout` is 10 s and `lock_timeout` 1 s, and the connection attempt gives up
/// after 10 s unless the connection string sets `connect_timeout`.
///
/// ```no_run
/// let mut client = migration_safety::stats::connect("postgresql://app@db.example.com/app")?;
/// let error = client.batch_execute("CREATE TABLE t (id int)").unwrap_err();
/// assert!(error.to_string().contains("read-only transaction"));
/// # Ok::<(), migration_safety::stats::StatsError>(())
/// ```
pub fn connect(url: &str) -> Result<Client, StatsError> {
    let (mut client, _) = crate::pg::connect(url)?;
    client.batch_execute(SESSION)?;
    Ok(client)
}

/// Where a connection string points, without its user or password, for messages.
///
/// ```
/// let place = migration_safety::stats::describe_url("postgresql://app:secret@db.example.com:6432/app")?;
/// assert_eq!(place, "db.example.com:6432/app");
/// # Ok::<(), migration_safety::stats::StatsError>(())
/// ```
pub fn describe_url(url: &str) -> Result<String, StatsError> {
    Ok(crate::pg::describe(url)?)
}

/// The tables, materialized views and partitioned tables of the user's schemas, with the
/// planner's row estimate, and sizes read from the files. `pg_table_size` and
/// `pg_relation_size` take `ACCESS SHARE`, the weakest lock, which waits only behind
/// `ACCESS EXCLUSIVE`: a relation that some session holds or awaits in that mode right now (a
/// migration running) is measured from `pg_class.relpages` instead (its size at its last
/// `VACUUM` or `ANALYZE`), so that the read never queues behind it. A lock taken between the
/// two makes the query fail after `lock_timeout` rather than wait.
const TABLES: &str = "
WITH locked AS (
  SELECT relation FROM pg_locks
  WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text, c.reltuples::float8, c.relpages,
       CASE WHEN c.oid IN (SELECT relation FROM locked) THEN c.relpages::int8
            ELSE coalesce(pg_relation_size(c.oid), 0) / current_setting('block_size')::int8 END,
       CASE WHEN c.oid IN (SELECT relation FROM locked) THEN c.relpages::int8 * current_setting('block_size')::int8
            ELSE coalesce(pg_table_size(c.oid), 0) END,
       s.n_tup_ins, s.n_tup_upd, s.n_tup_del, s.n_live_tup, s.n_dead_tup
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
  AND n.nspname NOT LIKE 'pg\\_temp\\_%'
ORDER BY n.nspname, c.relname";

/// Their indexes and sizes (from `pg_class.relpages` for an index, or an index of a table,
/// locked in `ACCESS EXCLUSIVE` right now).
const INDEXES: &str = "
WITH locked AS (
  SELECT relation FROM pg_locks
  WHERE locktype = 'relation' AND mode = 'AccessExclusiveLock'
    AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))
SELECT i.indrelid, c.relname::text,
       CASE WHEN c.oid IN (SELECT relation FROM locked) OR i.indrelid IN (SELECT relation FROM locked)
            THEN c.relpages::int8 * current_setting('block_size')::int8
            ELSE coalesce(pg_relation_size(c.oid), 0) END
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%'
ORDER BY c.relname";

/// The leaf partitions of each partitioned table.
const PARTITIONS: &str = "
SELECT c.oid, t.relid::oid
FROM pg_class c, pg_partition_tree(c.oid) t
WHERE c.relkind = 'p' AND t.isleaf";

/// The database, the server's clock and version, and how long the activity counters have run.
const SERVER: &str = "
SELECT current_database()::text,
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
       split_part(current_setting('server_version'), ' ', 1),
       extract(epoch FROM now() - coalesce(
           (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),
           pg_postmaster_start_time()))::int8";

/// Read the statistics of every user table of the database at `url`, through the read-only
/// session of [`connect`]: catalog and statistics views only, in one read-only transaction.
///
/// ```no_run
/// let snapshot = migration_safety::stats::collect("postgresql://app@db.example.com/app")?;
/// std::fs::write("stats.json", snapshot.to_json()).unwrap();
/// # Ok::<(), migration_safety::stats::StatsError>(())
/// ```
pub fn collect(url: &str) -> Result<Snapshot, StatsError> {
    collect_from(&mut connect(url)?)
}

/// Whether the session's connection is encrypted with TLS (`pg_stat_ssl`): with
/// `sslmode=prefer`, the default, it is when the server offers TLS.
///
/// ```no_run
/// let mut client = migration_safety::stats::connect("postgresql://app@db.example.com/app?sslmode=require")?;
/// assert!(migration_safety::stats::encrypted(&mut client)?);
/// # Ok::<(), migration_safety::stats::StatsError>(())
/// ```
pub fn encrypted(client: &mut Client) -> Result<bool, StatsError> {
    Ok(crate::pg::encrypted(client)?)
}

/// [`collect`] through a session opened with [`connect`].
pub fn collect_from(client: &mut Client) -> Result<Snapshot, StatsError> {
    let major = crate::pg::server_major(client)?;
    if major < 12 {
        return Err(StatsError::TooOld(major));
    }
    let mut transaction = client.build_transaction().read_only(true).start()?;
    let server = transaction.query_one(SERVER, &[])?;
    let mut snapshot = Snapshot::new(&server.try_get::<_, String>(2)?);
    snapshot.database = server.try_get(0)?;
    snapshot.collected_at = server.try_get(1)?;
    let seconds = server.get::<_, Option<i64>>(3).unwrap_or(0).max(0) as u64;
    let mut by_oid: HashMap<u32, usize> = HashMap::new();
    let mut partitioned = Vec::new();
    for row in transaction.query(TABLES, &[])? {
        let oid: u32 = row.try_get(0)?;
        let kind: String = row.try_get(3)?;
        let live: Option<i64> = row.try_get(11)?;
        let counter = |column: usize| -> Result<Option<u64>, postgres::Error> {
            Ok(row.try_get::<_, Option<i64>>(column)?.map(unsigned))
        };
        let activity = match counter(8)? {
            Some(inserts) => Some(Activity {
                inserts,
                updates: counter(9)?.unwrap_or(0),
                deletes: counter(10)?.unwrap_or(0),
                live_rows: live.map_or(0, unsigned),
                dead_rows: counter(12)?.unwrap_or(0),
                seconds,
            }),
            None => None,
        };
        let rows = rows(
            row.try_get(4)?,
            row.try_get(5)?,
            unsigned(row.try_get(6)?),
            live.map(unsigned),
        );
        if kind == "p" {
            partitioned.push(oid);
        }
        by_oid.insert(oid, snapshot.tables.len());
        snapshot.tables.push(TableStats {
            schema: row.try_get(1)?,
            name: row.try_get(2)?,
            kind: match kind.as_str() {
                "p" => "partitioned table",
                "m" => "materialized view",
                _ => "table",
            }
            .to_owned(),
            rows,
            table_bytes: unsigned(row.try_get(7)?),
            indexes: Vec::new(),
            activity,
        });
    }
    for row in transaction.query(INDEXES, &[])? {
        if let Some(&table) = by_oid.get(&row.try_get::<_, u32>(0)?) {
            snapshot.tables[table].indexes.push(IndexStats {
                name: row.try_get(1)?,
                bytes: unsigned(row.try_get(2)?),
            });
        }
    }
    // A partitioned table holds nothing itself: its rows and bytes are its leaves'.
    if !partitioned.is_empty() {
        let mut leaves: HashMap<u32, Vec<u32>> = HashMap::new();
        for row in transaction.query(PARTITIONS, &[])? {
            leaves
                .entry(row.try_get(0)?)
                .or_default()
                .push(row.try_get(1)?);
        }
        for parent in partitioned {
            let leaves: Vec<&TableStats> = leaves
                .get(&parent)
                .into_iter()
                .flatten()
                .filter_map(|leaf| by_oid.get(leaf).map(|&i| &snapshot.tables[i]))
                .collect();
            let rows = leaves.iter().map(|t| t.rows).sum::<Option<u64>>();
            let bytes = leaves.iter().map(|t| t.table_bytes).sum();
            let table = &mut snapshot.tables[by_oid[&parent]];
            table.rows = rows;
            table.table_bytes = bytes;
        }
    }
    transaction.commit()?;
    Ok(snapshot)
}

/// `error connecting to server: Connection refused (os error 111)`: the client's errors keep
/// their cause apart.
fn with_cause(error: &postgres::Error) -> String {
    match std::error::Error::source(error) {
        Some(cause) if !error.to_string().contains(&cause.to_string()) => {
            format!("{error}: {cause}")
        }
        _ => error.to_string(),
    }
}

fn unsigned(n: i64) -> u64 {
    n.max(0).unsigned_abs()
}

/// The row estimate the planner would make: `reltuples` scaled to the table's current number
/// of pages. A table never analysed (`reltuples` is -1 from PostgreSQL 14; 0 with no pages
/// recorded before) has 0 rows when it has no pages, else as many as the activity statistics
/// count live, else an unknown number.
fn rows(reltuples: f64, relpages: i32, pages: u64, live: Option<u64>) -> Option<u64> {
    if pages == 0 {
        return Some(0);
    }
    if reltuples >= 0.0 && relpages > 0 {
        let density = reltuples / f64::from(relpages);
        return Some((density * pages as f64).round() as u64);
    }
    live.filter(|&n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::rows;

    #[test]
    fn row_estimates_scale_and_handle_never_analysed_tables() {
        // Analysed at 10 pages and 400 rows; now 20 pages.
        assert_eq!(rows(400.0, 10, 20, Some(1)), Some(800));
        // Empty on disk: nothing to estimate.
        assert_eq!(rows(-1.0, 0, 0, None), Some(0));
        // Never analysed (PostgreSQL 14+ says -1; before, 0 with no pages recorded).
        assert_eq!(rows(-1.0, 0, 12, Some(700)), Some(700));
        assert_eq!(rows(0.0, 0, 12, Some(700)), Some(700));
        assert_eq!(rows(-1.0, 0, 12, Some(0)), None);
        assert_eq!(rows(-1.0, 0, 12, None), None);
    }
}

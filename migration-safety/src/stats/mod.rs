//! What the real tables hold: a read-only snapshot of a database's table statistics, so that
//! findings say how big the table is and how long the statement would block it, and lock and
//! rewrite findings on small tables become warnings.
//!
//! - A [`Snapshot`] lists every user table with its row estimate, its size on disk, its
//!   indexes and their sizes, and its write activity. [`collect`] reads it from a database
//!   (feature `stats`), over a read-only session that only queries catalog and statistics
//!   views; `migration-safety stats --database-url URL > stats.json` writes it as JSON
//!   ([`Snapshot::to_json`]), and [`Snapshot::from_json`] reads it back, so that CI needs no
//!   database credentials.
//! - [`Settings::statistics`](crate::Settings::statistics) hands a snapshot to the engine.
//!   After the rules have run, each lock or rewrite finding is matched with the tables its
//!   statement touches (resolved through the `search_path` in force, as the schema catalog
//!   resolves them): the message gains the table's size and an [`Estimate`] of how long it
//!   blocks, from the throughput model of [`Work`]; and when every table is below
//!   [`Settings::small_table_rows`](crate::Settings::small_table_rows) rows, an error becomes a
//!   warning that says why. Findings of other categories (backward-incompatible, transaction,
//!   design) never change severity.
//!
//! ```
//! use std::sync::Arc;
//! use migration_safety::stats::{Snapshot, TableStats};
//! use migration_safety::{Settings, Severity, lint_sql};
//!
//! let mut snapshot = Snapshot::new("15.18");
//! snapshot.tables.push(TableStats::new("public", "users", 40, 8192));
//! snapshot.tables.push(TableStats::new("public", "events", 48_000_000, 12 << 30));
//! let settings = Settings::default().statistics(Arc::new(snapshot));
//!
//! let small = lint_sql("ALTER TABLE users ALTER COLUMN id TYPE bigint;", &settings);
//! let (_, finding) = small.diagnostics().find(|(_, d)| d.rule == "change-column-type").unwrap();
//! assert_eq!(finding.severity, Severity::Warning);
//! assert!(finding.message.contains("`users` has about 40 rows"), "{}", finding.message);
//!
//! let large = lint_sql("ALTER TABLE events ALTER COLUMN id TYPE bigint;", &settings);
//! let (_, finding) = large.diagnostics().find(|(_, d)| d.rule == "change-column-type").unwrap();
//! assert_eq!(finding.severity, Severity::Error);
//! assert!(finding.message.contains("`events` (12 GB, about 48M rows): rewriting it blocks reads and writes for roughly 3–20 minutes"), "{}", finding.message);
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

pub(crate) mod annotate;
#[cfg(feature = "stats")]
mod collect;
mod estimate;

#[cfg(feature = "stats")]
pub use crate::pg::remote_host;
#[cfg(feature = "stats")]
pub use collect::{StatsError, collect, collect_from, connect, describe_url, encrypted};
pub use estimate::{Estimate, Work};
/// The PostgreSQL client the statistics are read with, re-exported so that callers name the
/// same types.
#[cfg(feature = "stats")]
pub use postgres;

/// The version of the snapshot's JSON format; it changes only when a field changes meaning or
/// goes away (new fields may appear).
pub const SNAPSHOT_VERSION: u32 = 1;

/// Below this many rows (the default of
/// [`Settings::small_table_rows`](crate::Settings::small_table_rows)), a table is small: a
/// rewrite or scan of it takes milliseconds, so its lock and rewrite findings are warnings.
pub const DEFAULT_SMALL_TABLE_ROWS: u64 = 10_000;

/// A database's table statistics at one moment (the JSON that `migration-safety stats` writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// The server's version, such as `15.18`.
    pub server_version: String,
    /// The database the statistics come from.
    #[serde(default)]
    pub database: String,
    /// When they were read, as the server's clock said (ISO 8601, UTC).
    #[serde(default)]
    pub collected_at: String,
    /// Every user table (ordinary, partitioned, and materialized views), by schema and name.
    pub tables: Vec<TableStats>,
}

/// One table: how many rows, how big, its indexes, and how much it is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableStats {
    /// Its schema.
    pub schema: String,
    /// Its name.
    pub name: String,
    /// `table`, `partitioned table` or `materialized view`.
    #[serde(default = "table_kind")]
    pub kind: String,
    /// The planner's row estimate, scaled to the table's current size as the planner scales it
    /// (for a partitioned table, the sum of its partitions'); `None` when the table has never
    /// been analysed and holds data (PostgreSQL 14+ says so with `reltuples = -1`).
    pub rows: Option<u64>,
    /// Its size on disk without indexes (`pg_table_size`: the data, TOAST, free-space and
    /// visibility maps); for a partitioned table, its partitions'.
    pub table_bytes: u64,
    /// Its indexes.
    #[serde(default)]
    pub indexes: Vec<IndexStats>,
    /// Its write activity (`pg_stat_user_tables`), when the server keeps statistics for it.
    #[serde(default)]
    pub activity: Option<Activity>,
}

fn table_kind() -> String {
    "table".to_owned()
}

/// One index and its size on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStats {
    /// Its name (in the table's schema).
    pub name: String,
    /// Its size on disk (`pg_relation_size`).
    pub bytes: u64,
}

/// A table's write activity since the server's statistics were last reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Rows inserted (`n_tup_ins`).
    pub inserts: u64,
    /// Rows updated (`n_tup_upd`).
    pub updates: u64,
    /// Rows deleted (`n_tup_del`).
    pub deletes: u64,
    /// Live rows (`n_live_tup`).
    pub live_rows: u64,
    /// Dead rows (`n_dead_tup`).
    pub dead_rows: u64,
    /// Seconds the counters have been accumulating (since the database's statistics reset, or
    /// the server's start).
    pub seconds: u64,
}

impl Activity {
    /// Rows written per second, on average over [`seconds`](Activity::seconds).
    ///
    /// ```
    /// let activity = migration_safety::stats::Activity {
    ///     inserts: 3000, updates: 500, deletes: 100, live_rows: 0, dead_rows: 0, seconds: 60,
    /// };
    /// assert_eq!(activity.writes_per_second(), 60.0);
    /// ```
    pub fn writes_per_second(&self) -> f64 {
        let writes = self.inserts + self.updates + self.deletes;
        if self.seconds == 0 {
            0.0
        } else {
            writes as f64 / self.seconds as f64
        }
    }
}

impl TableStats {
    /// An ordinary table with `rows` rows taking `table_bytes` on disk, without indexes or
    /// activity.
    pub fn new(schema: &str, name: &str, rows: u64, table_bytes: u64) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: table_kind(),
            rows: Some(rows),
            table_bytes,
            indexes: Vec::new(),
            activity: None,
        }
    }

    /// The size of its indexes together.
    pub fn index_bytes(&self) -> u64 {
        self.indexes.iter().map(|i| i.bytes).sum()
    }

    /// How it is named in messages: without its schema when that is `public`.
    pub fn display_name(&self) -> String {
        let name = crate::model::Name {
            schema: (self.schema != crate::schema::DEFAULT_SCHEMA).then(|| self.schema.clone()),
            name: self.name.clone(),
        };
        name.to_string()
    }
}

impl Snapshot {
    /// An empty snapshot of a server of version `server_version`.
    pub fn new(server_version: &str) -> Self {
        Self {
            version: SNAPSHOT_VERSION,
            server_version: server_version.to_owned(),
            database: String::new(),
            collected_at: String::new(),
            tables: Vec::new(),
        }
    }

    /// The table `schema.name`.
    pub fn table(&self, schema: &str, name: &str) -> Option<&TableStats> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }

    /// The table that has the index `schema.name`.
    pub fn index_table(&self, schema: &str, name: &str) -> Option<&TableStats> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.indexes.iter().any(|i| i.name == name))
    }

    /// The snapshot as pretty-printed JSON.
    ///
    /// ```
    /// use migration_safety::stats::{Snapshot, TableStats};
    ///
    /// let mut snapshot = Snapshot::new("16.4");
    /// snapshot.tables.push(TableStats::new("app", "users", 40, 8192));
    /// let json = snapshot.to_json();
    /// assert!(json.contains("\"version\": 1"));
    /// assert_eq!(Snapshot::from_json(&json).unwrap(), snapshot);
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a snapshot serialises")
    }

    /// Read a snapshot written by [`to_json`](Snapshot::to_json); a snapshot of another
    /// format version is refused.
    ///
    /// ```
    /// use migration_safety::stats::Snapshot;
    ///
    /// let error = Snapshot::from_json(r#"{"version": 2, "server_version": "15", "tables": []}"#).unwrap_err();
    /// assert!(error.contains("version 2"), "{error}");
    /// ```
    pub fn from_json(text: &str) -> Result<Snapshot, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(version) if version == u64::from(SNAPSHOT_VERSION) => {}
            Some(version) => {
                return Err(format!(
                    "a snapshot of format version {version}, but this migration-safety reads version {SNAPSHOT_VERSION}: write it again with `migration-safety stats`"
                ));
            }
            None => {
                return Err("not a statistics snapshot: it has no `version` field (write one with `migration-safety stats --database-url URL`)".to_owned());
            }
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Read the snapshot file at `path`.
    pub fn load(path: &Path) -> Result<Snapshot, crate::Error> {
        let text = std::fs::read_to_string(path).map_err(|source| crate::Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Snapshot::from_json(&text).map_err(|reason| crate::Error::StatsFile {
            path: path.to_path_buf(),
            reason,
        })
    }
}

//! Observe what migrations really do on PostgreSQL (feature `trace`).
//!
//! - [`Cluster`] makes a throwaway cluster with `initdb` and `pg_ctl` on a free loopback
//!   port and removes it when dropped.
//! - [`Observer`] runs statements on a connection and reports, per statement, the locks taken on
//!   relations that existed before, the relations rewritten, the tables scanned, the duration
//!   and the error: an [`Observation`].
//! - [`trace_paths`] applies migration files in order, each as its framework runs it (in a
//!   transaction or not), observes every statement, and sets the observations beside the static
//!   findings: a [`TraceReport`].
//!
//! ```no_run
//! use migration_safety::trace::{Changes, Cluster, ClusterOptions, trace_paths};
//!
//! let cluster = Cluster::start(&ClusterOptions::new())?;
//! let report = trace_paths(cluster.url(), Changes::Kept, &["migrations".into()], &Default::default())?;
//! print!("{}", report.to_human());
//! # Ok::<(), migration_safety::trace::TraceError>(())
//! ```

mod cluster;
mod observe;
mod run;

/// The PostgreSQL client the observer uses, re-exported so that callers name the same types.
pub use postgres;

pub use crate::pg::remote_host;
pub use cluster::{Cluster, ClusterOptions, Stopper};
pub use observe::{
    Changes, Method, Observation, ObservedLock, Observer, Relation, RelationKind, Status,
};
pub use run::{Disagreement, FileTrace, StatementTrace, TraceReport, trace_paths};

impl From<crate::pg::ConnectError> for TraceError {
    fn from(error: crate::pg::ConnectError) -> Self {
        match error {
            crate::pg::ConnectError::Postgres(error) => Self::Database(error),
            crate::pg::ConnectError::Tls(message) => Self::Tls(message),
        }
    }
}

/// Why a trace could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceError {
    /// Running as root without a user to run the server as.
    #[error(
        "cannot start a throwaway PostgreSQL as root: initdb refuses to run as root, because a server running as root could be used to take over the machine. Run migration-safety as an unprivileged user, pass --run-as USER (an unprivileged user the server runs as), or trace against an existing server with --database-url"
    )]
    Root,
    /// No PostgreSQL server binaries were found.
    #[error("{0}")]
    NoServer(String),
    /// The throwaway cluster could not be made or started.
    #[error("{0}")]
    Cluster(String),
    /// A database URL names a host that is not this machine.
    #[error(
        "`{0}` is not a loopback address: trace runs every migration on the database it connects to (and rolls it back), taking their real locks there; pass --allow-remote if that is what you want"
    )]
    Remote(String),
    /// The connection or a query of the observer failed.
    #[error("PostgreSQL: {0}")]
    Database(#[from] postgres::Error),
    /// The TLS settings of the connection string (`sslmode`, `sslrootcert`) cannot be used.
    #[error("TLS: {0}")]
    Tls(String),
    /// The migrations could not be read.
    #[error(transparent)]
    Input(#[from] crate::Error),
}

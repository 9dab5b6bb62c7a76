//! A throwaway PostgreSQL cluster: `initdb` into a fresh temporary directory, `pg_ctl start` on
//! a free loopback port, and `pg_ctl stop` plus removal of the directory when dropped.

use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::TraceError;

/// How to make a [`Cluster`].
///
/// ```
/// use migration_safety::trace::ClusterOptions;
///
/// let options = ClusterOptions::new().bin_dir("/usr/lib/postgresql/15/bin").run_as("mstest");
/// assert_eq!(options.user(), Some("mstest"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    bin_dir: Option<PathBuf>,
    run_as: Option<String>,
}

impl ClusterOptions {
    /// Binaries from `PG_BIN`, else from `PATH`; the server runs as the current user.
    pub fn new() -> Self {
        Self::default()
    }

    /// Take `initdb`, `pg_ctl` and `postgres` from this directory.
    pub fn bin_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bin_dir = Some(dir.into());
        self
    }

    /// Run the server commands as this operating-system user, through `su` (the current user
    /// must be root). PostgreSQL refuses to run as root, so this is how a process running as
    /// root (a container, a CI job) gets a cluster.
    pub fn run_as(mut self, user: impl Into<String>) -> Self {
        self.run_as = Some(user.into());
        self
    }

    /// The user set with [`ClusterOptions::run_as`].
    pub fn user(&self) -> Option<&str> {
        self.run_as.as_deref()
    }

    /// The directory holding `initdb`: the one given, else `$PG_BIN`, else the `PATH` entry that
    /// has `initdb`, else the newest `/usr/lib/postgresql/<major>/bin` (Debian and Ubuntu
    /// keep the server binaries off `PATH` there).
    pub fn find_bin_dir(&self) -> Result<PathBuf, TraceError> {
        let has_initdb = |dir: &Path| dir.join("initdb").is_file();
        if let Some(dir) = &self.bin_dir {
            return if has_initdb(dir) {
                Ok(dir.clone())
            } else {
                Err(TraceError::NoServer(format!(
                    "`{}` holds no `initdb`",
                    dir.display()
                )))
            };
        }
        if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
            let dir = PathBuf::from(dir);
            return if has_initdb(&dir) {
                Ok(dir)
            } else {
                Err(TraceError::NoServer(format!(
                    "PG_BIN is `{}`, which holds no `initdb`",
                    dir.display()
                )))
            };
        }
        let on_path = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .unwrap_or_default();
        if let Some(dir) = on_path.into_iter().find(|d| has_initdb(d)) {
            return Ok(dir);
        }
        let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                has_initdb(&bin).then_some((major, bin))
            })
            .collect();
        debian.sort();
        debian.pop().map(|(_, bin)| bin).ok_or_else(|| {
            TraceError::NoServer(
                "no `initdb` found in PG_BIN, on PATH or under /usr/lib/postgresql: install the PostgreSQL server, pass --pg-bin DIR, or use --database-url".to_owned(),
            )
        })
    }
}

/// A throwaway PostgreSQL cluster on a free loopback port, with its own data directory, owned
/// by this value: dropping it stops the server and removes the directory. The superuser is
/// `postgres`, with a random password; nothing listens beyond 127.0.0.1.
///
/// ```no_run
/// use migration_safety::trace::{Cluster, ClusterOptions};
///
/// let cluster = Cluster::start(&ClusterOptions::new())?;
/// let mut client = cluster.connect()?;
/// let row = client.query_one("SELECT 1 + 1", &[])?;
/// assert_eq!(row.get::<_, i32>(0), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Cluster {
    url: String,
    directory: PathBuf,
    major: u32,
    stopper: Stopper,
}

/// Stops a [`Cluster`] from anywhere (a Ctrl-C handler, another thread); stopping twice is
/// harmless.
#[derive(Debug, Clone)]
pub struct Stopper {
    inner: Arc<Mutex<Option<Running>>>,
}

#[derive(Debug)]
struct Running {
    pg_ctl: PathBuf,
    root: PathBuf,
    run_as: Option<String>,
}

impl Stopper {
    /// Stop the server (immediately: the cluster is thrown away) and remove its directory.
    ///
    /// A second caller waits until the first one has finished, so that whoever returns from
    /// `stop` knows the cluster is gone.
    pub fn stop(&self) {
        let mut guard = match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(running) = guard.take() {
            let data = running.root.join("data");
            let _ = server_command(
                &running.run_as,
                &running.pg_ctl,
                &[
                    "-D".into(),
                    data.into(),
                    "-m".into(),
                    "immediate".into(),
                    "-w".into(),
                    "stop".into(),
                ],
            )
            .output();
            let _ = std::fs::remove_dir_all(&running.root);
        }
    }
}

impl Cluster {
    /// `initdb` a new cluster in a temporary directory and start it on a free loopback port.
    ///
    /// Fails with [`TraceError::Root`] when running as root without
    /// [`ClusterOptions::run_as`], because `initdb` refuses root.
    pub fn start(options: &ClusterOptions) -> Result<Self, TraceError> {
        let bin = options.find_bin_dir()?;
        if options.run_as.is_none() && is_root() {
            return Err(TraceError::Root);
        }
        let root = temp_root()?;
        let stopper = Stopper {
            inner: Arc::new(Mutex::new(Some(Running {
                pg_ctl: bin.join("pg_ctl"),
                root: root.clone(),
                run_as: options.run_as.clone(),
            }))),
        };
        // From here on, `stopper` removes the directory when anything fails.
        let cluster = Self::init_and_start(&bin, &root, options);
        match cluster {
            Ok((url, major)) => Ok(Self {
                url,
                directory: root,
                major,
                stopper,
            }),
            Err(error) => {
                stopper.stop();
                Err(error)
            }
        }
    }

    fn init_and_start(
        bin: &Path,
        root: &Path,
        options: &ClusterOptions,
    ) -> Result<(String, u32), TraceError> {
        let password = random_password();
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, format!("{password}\n")).map_err(|e| io(&pwfile, e))?;
        if let Some(user) = &options.run_as {
            hand_over(root, user)?;
        }
        let data = root.join("data");
        let init = server_command(
            &options.run_as,
            &bin.join("initdb"),
            &[
                "-D".into(),
                data.clone().into(),
                "-U".into(),
                "postgres".into(),
                "--pwfile".into(),
                pwfile.clone().into(),
                "-A".into(),
                "scram-sha-256".into(),
                "-E".into(),
                "UTF8".into(),
                "--locale=C".into(),
                "--no-sync".into(),
            ],
        )
        .output()
        .map_err(|e| io(&bin.join("initdb"), e))?;
        if !init.status.success() {
            let stderr = String::from_utf8_lossy(&init.stderr);
            if stderr.contains("cannot be run as root") {
                return Err(TraceError::Root);
            }
            return Err(TraceError::Cluster(format!(
                "initdb failed: {}",
                stderr.trim()
            )));
        }
        let log = root.join("server.log");
        let mut last_error = String::new();
        // A port found free can be taken before the server binds it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let server_options = format!(
                "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            );
            let start = server_command(
                &options.run_as,
                &bin.join("pg_ctl"),
                &[
                    "-D".into(),
                    data.clone().into(),
                    "-l".into(),
                    log.clone().into(),
                    "-w".into(),
                    "-o".into(),
                    server_options.into(),
                    "start".into(),
                ],
            )
            .output()
            .map_err(|e| io(&bin.join("pg_ctl"), e))?;
            if start.status.success() {
                let url = format!("postgresql://postgres:{password}@127.0.0.1:{port}/postgres");
                let major = server_major(&bin.join("postgres"))?;
                return Ok((url, major));
            }
            last_error = std::fs::read_to_string(&log).unwrap_or_default();
        }
        Err(TraceError::Cluster(format!(
            "the server did not start: {}",
            last_error.trim()
        )))
    }

    /// The connection URL (with the superuser's password).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory holding the cluster (its data directory is `data/` inside it); removed
    /// when the cluster is dropped.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    /// The server's major version, such as 15.
    pub fn major(&self) -> u32 {
        self.major
    }

    /// A new connection as the superuser.
    pub fn connect(&self) -> Result<postgres::Client, TraceError> {
        postgres::Client::connect(&self.url, postgres::NoTls).map_err(TraceError::from)
    }

    /// A handle that stops the cluster from elsewhere, such as a Ctrl-C handler.
    pub fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stopper.stop();
    }
}

fn io(path: &Path, error: std::io::Error) -> TraceError {
    TraceError::Cluster(format!("`{}`: {error}", path.display()))
}

/// `program args…`, or `su USER -s /bin/sh -c 'program args…'`.
fn server_command(run_as: &Option<String>, program: &Path, args: &[OsString]) -> Command {
    match run_as {
        None => {
            let mut command = Command::new(program);
            command.args(args);
            command
        }
        Some(user) => {
            let quoted: Vec<String> = std::iter::once(program.as_os_str())
                .chain(args.iter().map(OsString::as_os_str))
                .map(|a| shell_quote(&a.to_string_lossy()))
                .collect();
            let mut command = Command::new("su");
            command.args([user.as_str(), "-s", "/bin/sh", "-c", &quoted.join(" ")]);
            command
        }
    }
}

fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Give the cluster's directory to `user`, who runs the server.
fn hand_over(root: &Path, user: &str) -> Result<(), TraceError> {
    let id = |flag: &str| -> Result<u32, TraceError> {
        let output = Command::new("id")
            .args([flag, user])
            .output()
            .map_err(|e| TraceError::Cluster(format!("`id {flag} {user}`: {e}")))?;
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                TraceError::Cluster(format!(
                    "no operating-system user `{user}` to run the server as: create it (for example `useradd --create-home {user}`)"
                ))
            })
    };
    let (uid, gid) = (id("-u")?, id("-g")?);
    for path in [root.to_path_buf(), root.join("pwfile")] {
        chown(&path, uid, gid)?;
    }
    Ok(())
}

#[cfg(unix)]
fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), TraceError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| io(path, e))
}

#[cfg(not(unix))]
fn chown(_path: &Path, _uid: u32, _gid: u32) -> Result<(), TraceError> {
    Err(TraceError::Cluster(
        "running the server as another user needs a Unix system".to_owned(),
    ))
}

fn temp_root() -> Result<PathBuf, TraceError> {
    let base = std::env::temp_dir();
    for attempt in 0..100u32 {
        let dir = base.join(format!(
            "migration-safety-trace-{}-{}-{attempt}",
            std::process::id(),
            random_password().get(..8).unwrap_or("0")
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io(&dir, e)),
        }
    }
    Err(TraceError::Cluster(format!(
        "cannot create a directory in `{}`",
        base.display()
    )))
}

/// 32 hex digits from the standard library's randomly seeded hasher.
fn random_password() -> String {
    (0..2)
        .map(|i| {
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u32(i);
            hasher.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            format!("{:016x}", hasher.finish())
        })
        .collect()
}

fn free_port() -> Result<u16, TraceError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| TraceError::Cluster(format!("no free loopback port: {e}")))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| TraceError::Cluster(format!("no free loopback port: {e}")))
}

/// `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb13u1)` → 15.
fn server_major(postgres: &Path) -> Result<u32, TraceError> {
    let output = Command::new(postgres)
        .arg("--version")
        .output()
        .map_err(|e| io(postgres, e))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .find_map(|word| word.split('.').next()?.parse().ok())
        .ok_or_else(|| TraceError::Cluster(format!("unexpected `postgres --version`: {text}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_for_another_user_are_quoted_for_the_shell() {
        let command = server_command(
            &Some("mstest".to_owned()),
            Path::new("/opt/pg bin/pg_ctl"),
            &["-o".into(), "-p 5 -c x='y'".into()],
        );
        let args: Vec<_> = command
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(command.get_program(), "su");
        assert_eq!(
            args,
            [
                "mstest",
                "-s",
                "/bin/sh",
                "-c",
                r"'/opt/pg bin/pg_ctl' '-o' '-p 5 -c x='\''y'\'''"
            ]
        );
    }

    #[test]
    fn passwords_differ() {
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn a_bin_dir_without_initdb_is_refused() {
        let error = ClusterOptions::new()
            .bin_dir("/nonexistent")
            .find_bin_dir()
            .unwrap_err();
        assert!(error.to_string().contains("holds no `initdb`"), "{error}");
    }
}

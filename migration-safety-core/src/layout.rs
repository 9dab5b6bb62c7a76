//! Migration layouts: which files of a directory are migrations, their version, name and
//! direction, and the order a framework applies them in.
//!
//! Used by both `migration-safety-macros` (which
//! finds the migrations at compile time) and `migration-safety` (which finds them again at run
//! time, to lint them and to notice migrations added since the tests were compiled), so that the
//! two can never disagree.

use std::fmt;
use std::path::{Path, PathBuf};

/// How migrations are laid out and run: which files are migrations, and whether each one runs
/// inside a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Framework {
    /// Every `.sql` file below the directory, in natural order, each statement sent on its own
    /// (as `psql -f` does): no implicit transaction, an explicit `BEGIN … COMMIT` is honoured.
    #[default]
    Plain,
    /// sqlx: `<version>_<name>.sql` or `.up.sql`/`.down.sql`; each file runs in a transaction
    /// unless it starts with `-- no-transaction`, and is sent as one query.
    Sqlx,
    /// Diesel: `<version>_<name>/up.sql` and `down.sql`; a transaction per migration unless its
    /// `metadata.toml` says `run_in_transaction = false`; the file is sent as one batch.
    Diesel,
    /// refinery: `V<n>__<name>.sql` (or `U<n>__`), searched recursively; every migration runs
    /// in a transaction, with no opt-out.
    Refinery,
    /// golang-migrate: `<n>_<name>.up.sql`/`.down.sql`; no transaction, the file is sent as one
    /// query.
    GolangMigrate,
    /// goose: `<n>_<name>.sql` with `-- +goose Up`/`-- +goose Down` sections; a transaction
    /// unless `-- +goose NO TRANSACTION`; statements are sent one by one.
    Goose,
    /// dbmate: `<n>*.sql` with `-- migrate:up`/`-- migrate:down` blocks; a transaction per block
    /// unless `-- migrate:up transaction:false`; a block is sent as one query.
    Dbmate,
    /// Flyway: `V<version>__<desc>.sql`, `U…__` (undo) and `R__<desc>.sql` (repeatable, last);
    /// a transaction unless the script holds a statement Flyway knows cannot run in one.
    Flyway,
    /// Prisma: `<timestamp>_<name>/migration.sql`; no transaction, the file is sent as one query.
    Prisma,
    /// db-migrate (Node) with SQL files: `sqls/<timestamp>-<name>-up.sql`/`-down.sql`; every
    /// migration runs in a transaction, and the file is sent as one query.
    DbMigrate,
    /// Atlas: `<version>[_<desc>].sql` with `atlas.sum`; a transaction per file unless its header
    /// says `-- atlas:txmode none`; statements are sent one by one.
    Atlas,
}

impl Framework {
    /// Every framework, for listings and name lookups.
    pub const ALL: &'static [Framework] = &[
        Framework::Plain,
        Framework::Sqlx,
        Framework::Diesel,
        Framework::Refinery,
        Framework::GolangMigrate,
        Framework::Goose,
        Framework::Dbmate,
        Framework::Flyway,
        Framework::Prisma,
        Framework::DbMigrate,
        Framework::Atlas,
    ];

    /// The name used on the command line and in `#[check_migrations(framework = "…")]`.
    pub fn name(self) -> &'static str {
        match self {
            Framework::Plain => "plain",
            Framework::Sqlx => "sqlx",
            Framework::Diesel => "diesel",
            Framework::Refinery => "refinery",
            Framework::GolangMigrate => "golang-migrate",
            Framework::Goose => "goose",
            Framework::Dbmate => "dbmate",
            Framework::Flyway => "flyway",
            Framework::Prisma => "prisma",
            Framework::DbMigrate => "db-migrate",
            Framework::Atlas => "atlas",
        }
    }

    /// Look a framework up by name.
    ///
    /// ```
    /// use migration_safety_core::layout::Framework;
    /// assert_eq!(Framework::from_name("golang-migrate"), Some(Framework::GolangMigrate));
    /// assert_eq!(Framework::from_name("liquibase"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// Guess the framework from a migrations directory: marker files, directory shapes, file
    /// names and section markers. refinery and Flyway share `V<n>__<name>.sql`: refinery wins
    /// unless something only Flyway accepts is present. sqlx, golang-migrate and plain SQL share
    /// `<n>_<name>.sql`: sqlx when a file has its `-- no-transaction` marker or the crate next to
    /// the directory depends on `sqlx`, golang-migrate when every file is `.up.sql`/`.down.sql`,
    /// plain otherwise. Pass the framework explicitly when the guess is wrong.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("20240101_users.sql"), "-- +goose Up\nSELECT 1;\n").unwrap();
    /// use migration_safety_core::layout::Framework;
    /// assert_eq!(Framework::detect(dir.path()), Framework::Goose);
    /// ```
    pub fn detect(dir: &Path) -> Framework {
        let entries = list(dir).unwrap_or_default();
        let files = || entries.iter().filter(|e| e.kind == Kind::File);
        let dirs = || entries.iter().filter(|e| e.kind == Kind::Dir);
        if files().any(|e| e.name == "atlas.sum") {
            return Framework::Atlas;
        }
        if dirs().any(|e| e.name == "sqls") || dir.file_name().is_some_and(|n| n == "sqls") {
            return Framework::DbMigrate;
        }
        if dirs().any(|e| e.path.join("up.sql").is_file()) {
            return Framework::Diesel;
        }
        if files().any(|e| e.name == "migration_lock.toml")
            || dirs().any(|e| e.path.join("migration.sql").is_file())
        {
            return Framework::Prisma;
        }
        let sql: Vec<&Entry> = files().filter(|e| e.name.ends_with(".sql")).collect();
        // The markers that tell the frameworks apart are at the top of a file: read each
        // file's first bytes, once.
        let (mut dbmate, mut no_transaction) = (false, false);
        for e in &sql {
            let head = head(&e.path);
            if contains_line(&head, |l| lower(l).starts_with("-- +goose up")) {
                return Framework::Goose;
            }
            dbmate |= contains_line(&head, |l| l.starts_with("-- migrate:up"));
            no_transaction |= contains_line(&head, |l| {
                let l: String = l
                    .chars()
                    .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
                    .collect();
                l.eq_ignore_ascii_case("--no-transaction")
            });
        }
        if dbmate {
            return Framework::Dbmate;
        }
        if !sql.is_empty() && sql.iter().all(|e| flyway_name(&e.name).is_some()) {
            let flyway_only = sql
                .iter()
                .any(|e| e.name.starts_with("R__") || refinery_name(&e.name).is_none())
                || files().any(|e| e.name.ends_with(".sql.conf"));
            return if flyway_only {
                Framework::Flyway
            } else {
                Framework::Refinery
            };
        }
        // `<version>_<name>.sql`: sqlx and golang-migrate (and plain psql) share it; the crate's
        // manifest or sqlx's own marker decides.
        let manifest = dir
            .parent()
            .and_then(|p| std::fs::read_to_string(p.join("Cargo.toml")).ok())
            .unwrap_or_default();
        if !sql.is_empty() && sql.iter().all(|e| sqlx_name(&e.name).is_some()) {
            if no_transaction || depends_on(&manifest, "sqlx") {
                return Framework::Sqlx;
            }
            if sql.iter().all(|e| golang_migrate_name(&e.name).is_some()) {
                return Framework::GolangMigrate;
            }
        }
        Framework::Plain
    }

    /// Whether a file of this framework holds both directions in marked sections.
    pub fn has_sections(self) -> bool {
        matches!(self, Framework::Goose | Framework::Dbmate)
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which way a migration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// Applies the change.
    Up,
    /// Reverts it.
    Down,
}

/// One migration (one direction of it) found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The file, relative to the migrations directory, with `/` separators.
    pub file: String,
    /// The version as written (empty when the layout has none, as for Flyway's `R__`).
    pub version: String,
    /// The name or description.
    pub name: String,
    /// Up or down.
    pub direction: Direction,
}

impl Migration {
    /// Whether the migration comes after version `start_after` (compared as the framework
    /// orders versions, dashes ignored), so that it is checked. A migration without a version
    /// (Flyway's repeatable `R__`) always is.
    pub fn is_after(&self, start_after: &str) -> bool {
        let key = |version: &str| natural_key(&version.replace('-', ""));
        self.version.is_empty() || key(&self.version) > key(start_after)
    }

    /// The name of the generated test: `v<version>_<name>`, sanitised to a Rust identifier,
    /// with `_down` for a down migration, so that `cargo test <version>` selects it.
    pub fn test_name(&self) -> String {
        let version: String = self.version.chars().filter(|c| *c != '-').collect();
        let raw = if version.is_empty() {
            format!("m_{}", self.name)
        } else {
            format!("v{version}_{}", self.name)
        };
        let mut out = String::new();
        for c in raw.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('_') {
                out.push('_');
            }
        }
        let mut out = out.trim_end_matches('_').to_owned();
        if self.direction == Direction::Down {
            out.push_str("_down");
        }
        out
    }
}

/// Why a directory cannot be read as migrations of a framework.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The directory does not exist or is not a directory.
    NotADirectory(PathBuf),
    /// The directory (or an entry) cannot be read.
    Unreadable(PathBuf, String),
    /// The directory holds no migration of the framework.
    Empty(PathBuf, Framework),
    /// A file or directory name is not UTF-8.
    NonUtf8(PathBuf),
    /// The framework would reject this file name.
    BadName(PathBuf, String),
    /// Two migrations share a version and direction.
    DuplicateVersion(String, String, String),
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NotADirectory(path) => {
                write!(f, "`{}` is not a directory", path.display())
            }
            LayoutError::Unreadable(path, error) => {
                write!(f, "cannot read `{}`: {error}", path.display())
            }
            LayoutError::Empty(path, framework) => write!(
                f,
                "`{}` holds no {framework} migration{}",
                path.display(),
                expected(*framework)
            ),
            LayoutError::NonUtf8(path) => write!(
                f,
                "the name of `{}` is not UTF-8: rename it",
                path.display()
            ),
            LayoutError::BadName(path, why) => write!(f, "`{}`: {why}", path.display()),
            LayoutError::DuplicateVersion(version, a, b) => write!(
                f,
                "`{a}` and `{b}` both have version {version}: the framework refuses duplicate versions, renumber one of them"
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

fn expected(framework: Framework) -> &'static str {
    match framework {
        Framework::Plain => " (no `.sql` file)",
        Framework::Sqlx => " (expected `<version>_<name>.sql`)",
        Framework::Diesel => " (expected `<version>_<name>/up.sql`)",
        Framework::Refinery => " (expected `V<n>__<name>.sql`)",
        Framework::GolangMigrate => " (expected `<n>_<name>.up.sql`)",
        Framework::Goose => " (expected `<n>_<name>.sql`)",
        Framework::Dbmate => " (expected `<n>_<name>.sql`)",
        Framework::Flyway => " (expected `V<version>__<desc>.sql`)",
        Framework::Prisma => " (expected `<timestamp>_<name>/migration.sql`)",
        Framework::DbMigrate => " (expected `sqls/<timestamp>-<name>-up.sql`)",
        Framework::Atlas => " (expected `<version>_<desc>.sql`)",
    }
}

/// An entry of a migrations directory that was passed over, with the reason: a file named like
/// a migration that is not a regular file (a FIFO, a socket, a device), or a symbolic link
/// back to a directory already being searched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's path.
    pub path: PathBuf,
    /// Why it was passed over.
    pub reason: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skipped `{}`: {}", self.path.display(), self.reason)
    }
}

/// The migrations of a directory and the entries passed over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The migrations, in the order the framework applies them.
    pub migrations: Vec<Migration>,
    /// Entries that look like migrations but cannot be read as files, to tell the user.
    pub skipped: Vec<Skipped>,
}

/// The migrations of `dir` under `framework`, in the order the framework applies them (up
/// migrations; each down migration right after its up).
///
/// ```
/// use migration_safety_core::layout::{Framework, discover};
/// # let dir = tempfile::tempdir().unwrap();
/// # for name in ["10_b.sql", "9_a.sql", "notes.txt"] { std::fs::write(dir.path().join(name), "").unwrap(); }
/// let files: Vec<_> = discover(dir.path(), Framework::Sqlx)?.into_iter().map(|m| m.file).collect();
/// assert_eq!(files, ["9_a.sql", "10_b.sql"]);
/// # Ok::<(), migration_safety_core::layout::LayoutError>(())
/// ```
pub fn discover(dir: &Path, framework: Framework) -> Result<Vec<Migration>, LayoutError> {
    Ok(discover_all(dir, framework)?.migrations)
}

/// [`discover`], also returning what was passed over: files named like migrations that are
/// not regular files (reading a FIFO would wait forever) and symbolic links that lead back
/// into a directory being searched (followed, they would repeat every file without end).
///
/// ```
/// use migration_safety_core::layout::{Framework, discover_all};
/// # let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("1_a.sql"), "SELECT 1;").unwrap();
/// std::os::unix::fs::symlink(".", dir.path().join("again")).unwrap();
/// let found = discover_all(dir.path(), Framework::Plain)?;
/// assert_eq!(found.migrations.len(), 1);
/// assert!(found.skipped[0].reason.contains("symbolic link"));
/// # Ok::<(), migration_safety_core::layout::LayoutError>(())
/// ```
pub fn discover_all(dir: &Path, framework: Framework) -> Result<Discovery, LayoutError> {
    let mut skipped = Vec::new();
    let migrations = discover_noting(dir, framework, &mut skipped)?;
    Ok(Discovery {
        migrations,
        skipped,
    })
}

fn discover_noting(
    dir: &Path,
    framework: Framework,
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Migration>, LayoutError> {
    if !dir.is_dir() {
        return Err(LayoutError::NotADirectory(dir.to_path_buf()));
    }
    let mut found: Vec<(Key, Migration)> = Vec::new();
    let mut push = |key: Key, file: String, version: &str, name: &str, direction| {
        found.push((
            key,
            Migration {
                file,
                version: version.to_owned(),
                name: name.to_owned(),
                direction,
            },
        ))
    };
    match framework {
        Framework::Plain => {
            for e in walk(dir, skipped)? {
                if let Some((digits, rest, direction)) = parse_file(framework, &e.rel) {
                    let key = order_key(framework, &digits, &rest, &e.rel);
                    push(key, e.rel.clone(), &digits, &rest, direction);
                }
            }
        }
        Framework::Sqlx => {
            for e in files(dir, skipped)? {
                if let Some((version, name, direction)) = sqlx_name(&e.name) {
                    if version.parse::<i64>().is_err() {
                        return Err(LayoutError::BadName(
                            e.path,
                            "sqlx needs the text before the first `_` to be an integer version"
                                .to_owned(),
                        ));
                    }
                    let key = order_key(framework, version, name, &e.name);
                    push(key, e.rel, version, name, direction);
                }
            }
        }
        Framework::GolangMigrate => {
            for e in files(dir, skipped)? {
                if let Some((version, name, direction)) = golang_migrate_name(&e.name) {
                    let key = order_key(framework, version, name, &e.name);
                    push(key, e.rel, version, name, direction);
                }
            }
        }
        Framework::Goose | Framework::Dbmate | Framework::Atlas => {
            for e in files(dir, skipped)? {
                let parsed = match framework {
                    Framework::Goose => goose_name(&e.name),
                    Framework::Dbmate => dbmate_name(&e.name),
                    _ => atlas_name(&e.name),
                };
                let Some((version, name)) = parsed else {
                    continue;
                };
                let key = order_key(framework, version, name, &e.name);
                push(key.clone(), e.rel.clone(), version, name, Direction::Up);
                if framework.has_sections() {
                    push(key, e.rel, version, name, Direction::Down);
                }
            }
        }
        Framework::Refinery | Framework::Flyway => {
            for e in walk(dir, skipped)? {
                let parsed = if framework == Framework::Refinery {
                    refinery_name(&e.name).map(|(v, n)| (v, n, Direction::Up))
                } else {
                    flyway_name(&e.name)
                };
                if let Some((version, name, direction)) = parsed {
                    let key = order_key(framework, version, name, &e.name);
                    push(key, e.rel, version, name, direction);
                }
            }
        }
        Framework::Diesel | Framework::Prisma => {
            let script = if framework == Framework::Diesel {
                "up.sql"
            } else {
                "migration.sql"
            };
            for e in list(dir)?.into_iter().filter(|e| e.kind == Kind::Dir) {
                if e.name.starts_with('.') || !e.path.join(script).is_file() {
                    continue;
                }
                let (version, name) = e.name.split_once('_').unwrap_or((&e.name, ""));
                push(
                    order_key(framework, version, name, &e.name),
                    format!("{}/{script}", e.name),
                    version,
                    name,
                    Direction::Up,
                );
                if framework == Framework::Diesel && e.path.join("down.sql").is_file() {
                    push(
                        order_key(framework, version, name, &e.name),
                        format!("{}/down.sql", e.name),
                        version,
                        name,
                        Direction::Down,
                    );
                }
            }
        }
        Framework::DbMigrate => {
            let sqls = if dir.join("sqls").is_dir() {
                dir.join("sqls")
            } else {
                dir.to_path_buf()
            };
            let prefix = if sqls == dir { "" } else { "sqls/" };
            for e in files(&sqls, skipped)? {
                if let Some((version, name, direction)) = db_migrate_name(&e.name) {
                    push(
                        order_key(framework, version, name, &e.name),
                        format!("{prefix}{}", e.rel),
                        version,
                        name,
                        direction,
                    );
                }
            }
        }
    }
    if found.is_empty() {
        return Err(LayoutError::Empty(dir.to_path_buf(), framework));
    }
    found.sort_by(|(a, ma), (b, mb)| a.cmp(b).then(ma.direction.cmp(&mb.direction)));
    for pair in found.windows(2) {
        let ((ka, a), (kb, b)) = (&pair[0], &pair[1]);
        let same = ka == kb && a.direction == b.direction;
        if same && !a.version.is_empty() && framework != Framework::Plain {
            return Err(LayoutError::DuplicateVersion(
                a.version.clone(),
                a.file.clone(),
                b.file.clone(),
            ));
        }
    }
    Ok(found.into_iter().map(|(_, m)| m).collect())
}

/// The version, name and direction `framework` reads from the path of one of its migration
/// scripts (relative to the migrations directory, with `/` separators), when the name is one
/// it runs.
///
/// ```
/// use migration_safety_core::layout::{Direction, Framework, parse_file};
/// assert_eq!(
///     parse_file(Framework::Diesel, "2024-01-01-120000_add_users/down.sql"),
///     Some(("2024-01-01-120000".to_owned(), "add_users".to_owned(), Direction::Down))
/// );
/// assert_eq!(parse_file(Framework::Flyway, "sql/V1_2__init.sql").unwrap().0, "1_2");
/// assert_eq!(parse_file(Framework::Sqlx, "notes_x.sql"), None);
/// ```
pub fn parse_file(framework: Framework, file: &str) -> Option<(String, String, Direction)> {
    let base = file.rsplit('/').next()?;
    fn up<'a>((v, n): (&'a str, &'a str)) -> (&'a str, &'a str, Direction) {
        (v, n, Direction::Up)
    }
    let parsed = match framework {
        Framework::Plain => {
            let stem = base.strip_suffix(".sql")?;
            let digits = stem.chars().take_while(char::is_ascii_digit).count();
            let rest = stem[digits..].trim_start_matches(['_', '-', '.']);
            Some((&stem[..digits], rest, Direction::Up))
        }
        Framework::Sqlx => sqlx_name(base).filter(|(v, ..)| v.parse::<i64>().is_ok()),
        Framework::GolangMigrate => golang_migrate_name(base),
        Framework::Goose => goose_name(base).map(up),
        Framework::Dbmate => dbmate_name(base).map(up),
        Framework::Atlas => atlas_name(base).map(up),
        Framework::Refinery => refinery_name(base).map(up),
        Framework::Flyway => flyway_name(base),
        Framework::DbMigrate => db_migrate_name(base),
        Framework::Diesel | Framework::Prisma => {
            let (dir, script) = file.split_once('/')?;
            let direction = match (framework, script) {
                (Framework::Diesel, "up.sql") | (Framework::Prisma, "migration.sql") => {
                    Direction::Up
                }
                (Framework::Diesel, "down.sql") => Direction::Down,
                _ => return None,
            };
            let (version, name) = dir.split_once('_').unwrap_or((dir, ""));
            Some((version, name, direction))
        }
    };
    parsed.map(|(v, n, d)| (v.to_owned(), n.to_owned(), d))
}

/// The key `framework` orders a migration by, from the `version` and `name` its file name
/// gives and `entry`: the name of its file (of its directory for diesel and Prisma; its path
/// below the migrations directory for plain SQL).
pub(crate) fn order_key(framework: Framework, version: &str, name: &str, entry: &str) -> Key {
    match framework {
        Framework::Sqlx | Framework::GolangMigrate | Framework::Goose => Key::numeric(version),
        Framework::Refinery | Framework::Flyway if version.is_empty() => Key::repeatable(name),
        Framework::Refinery | Framework::Flyway | Framework::Plain => {
            Key::natural(if framework == Framework::Plain {
                entry
            } else {
                version
            })
        }
        Framework::DbMigrate => Key::text(version),
        Framework::Dbmate | Framework::Atlas | Framework::Diesel | Framework::Prisma => {
            Key::text(entry)
        }
    }
}

/// An ordering key: the framework's own ordering of versions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    /// Versioned migrations, compared part by part (digit runs as numbers).
    Versioned(Vec<(String, u128)>),
    /// Flyway's repeatable migrations run after all versioned ones, by description.
    Repeatable(String),
}

impl Key {
    fn natural(text: &str) -> Key {
        Key::Versioned(natural_key(text))
    }

    fn numeric(version: &str) -> Key {
        Key::Versioned(vec![(String::new(), version.parse().unwrap_or(u128::MAX))])
    }

    fn text(text: &str) -> Key {
        Key::Versioned(vec![(text.to_owned(), 0)])
    }

    fn repeatable(name: &str) -> Key {
        Key::Repeatable(name.to_owned())
    }
}

/// A sort key that compares runs of digits by value, so `9_x` comes before `10_x`.
pub fn natural_key(text: &str) -> Vec<(String, u128)> {
    let mut key = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let word: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_ascii_digit())).collect();
        let digits: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_digit)).collect();
        key.push((word, digits.parse().unwrap_or(u128::MAX)));
    }
    key
}

/// Whether a `Cargo.toml` declares a dependency on `krate` (`krate = …`, `krate.workspace = …`
/// or a `[dependencies.krate]` table).
pub(crate) fn depends_on(manifest: &str, krate: &str) -> bool {
    manifest.lines().any(|line| {
        let line = line.trim();
        let declared = line
            .strip_prefix(krate)
            .is_some_and(|rest| rest.trim_start().starts_with(['=', '.']));
        let table = line.starts_with('[') && line.ends_with(&format!("dependencies.{krate}]"));
        declared || table
    })
}

fn lower(line: &str) -> String {
    line.to_ascii_lowercase()
}

/// How much of a file framework detection reads.
const HEAD_BYTES: u64 = 16 * 1024;

/// The first [`HEAD_BYTES`] of a file (nothing when it cannot be read).
fn head(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut head = Vec::new();
    if let Ok(file) = std::fs::File::open(path) {
        let _ = file.take(HEAD_BYTES).read_to_end(&mut head);
    }
    head
}

fn contains_line(bytes: &[u8], pred: impl Fn(&str) -> bool) -> bool {
    String::from_utf8_lossy(bytes)
        .lines()
        .any(|l| pred(l.trim_end()))
}

fn all_digits(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit())
}

/// sqlx: split at the first `_`; `.up.sql`/`.down.sql` give the direction.
fn sqlx_name(name: &str) -> Option<(&str, &str, Direction)> {
    let stem = name.strip_suffix(".sql")?;
    let (stem, direction) = split_direction(stem, ".up", ".down");
    let (version, rest) = stem.split_once('_')?;
    Some((version, rest, direction))
}

fn split_direction<'a>(stem: &'a str, up: &str, down: &str) -> (&'a str, Direction) {
    if let Some(s) = stem.strip_suffix(down) {
        (s, Direction::Down)
    } else {
        (stem.strip_suffix(up).unwrap_or(stem), Direction::Up)
    }
}

fn golang_migrate_name(name: &str) -> Option<(&str, &str, Direction)> {
    let stem = name.strip_suffix(".sql")?;
    let (stem, direction) = if let Some(s) = stem.strip_suffix(".down") {
        (s, Direction::Down)
    } else {
        (stem.strip_suffix(".up")?, Direction::Up)
    };
    let (version, rest) = stem.split_once('_')?;
    all_digits(version).then_some((version, rest, direction))
}

fn goose_name(name: &str) -> Option<(&str, &str)> {
    let (version, rest) = name.strip_suffix(".sql")?.split_once('_')?;
    (all_digits(version) && version.parse::<u128>().is_ok_and(|v| v >= 1))
        .then_some((version, rest))
}

fn dbmate_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let digits = stem.chars().take_while(char::is_ascii_digit).count();
    (digits > 0).then(|| (&stem[..digits], stem[digits..].trim_start_matches('_')))
}

fn atlas_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    Some(stem.split_once('_').unwrap_or((stem, "")))
}

fn refinery_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".sql")?;
    let rest = stem.strip_prefix('V').or_else(|| stem.strip_prefix('U'))?;
    let (version, desc) = rest.split_once("__")?;
    let mut parts = version.split('.');
    let valid_version = parts.next().is_some_and(all_digits)
        && parts.next().is_none_or(all_digits)
        && parts.next().is_none();
    let valid_desc = !desc.is_empty() && desc.chars().all(|c| c.is_alphanumeric() || c == '_');
    (valid_version && valid_desc).then_some((version, desc))
}

fn flyway_name(name: &str) -> Option<(&str, &str, Direction)> {
    let stem = name.strip_suffix(".sql")?;
    if let Some(desc) = stem.strip_prefix("R__") {
        return Some(("", desc, Direction::Up));
    }
    let (direction, rest) = match stem.split_at_checked(1)? {
        ("V", rest) => (Direction::Up, rest),
        ("U", rest) => (Direction::Down, rest),
        _ => return None,
    };
    let (version, desc) = rest.split_once("__")?;
    let valid = version
        .split(['.', '_'])
        .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    valid.then_some((version, desc, direction))
}

fn db_migrate_name(name: &str) -> Option<(&str, &str, Direction)> {
    let stem = name.strip_suffix(".sql")?;
    let (stem, direction) = if let Some(s) = stem.strip_suffix("-down") {
        (s, Direction::Down)
    } else {
        (stem.strip_suffix("-up")?, Direction::Up)
    };
    let (version, rest) = stem.split_once('-')?;
    all_digits(version).then_some((version, rest, direction))
}

/// A directory entry with a UTF-8 name.
struct Entry {
    path: PathBuf,
    /// Relative to the directory being discovered, with `/` separators.
    rel: String,
    name: String,
    kind: Kind,
}

/// What an entry is, following symbolic links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    /// A FIFO, socket or device: reading it may never end.
    Other(&'static str),
}

impl Kind {
    fn of(file_type: std::fs::FileType) -> Kind {
        if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File
        } else {
            Kind::Other(Self::special(file_type))
        }
    }

    #[cfg(unix)]
    fn special(file_type: std::fs::FileType) -> &'static str {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            "a FIFO"
        } else if file_type.is_socket() {
            "a socket"
        } else if file_type.is_block_device() || file_type.is_char_device() {
            "a device"
        } else {
            "a special file"
        }
    }

    #[cfg(not(unix))]
    fn special(_: std::fs::FileType) -> &'static str {
        "a special file"
    }
}

/// Whether a name looks like a migration script to any framework.
fn sql_like(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().ends_with(b".sql")
}

/// The UTF-8 name of an entry; a name that is not UTF-8 is an error only for a `.sql` file
/// (a migration that cannot be named), and `None` (not a migration) for anything else.
fn utf8_name(path: &Path) -> Result<Option<String>, LayoutError> {
    let Some(name) = path.file_name() else {
        return Ok(None);
    };
    match name.to_str() {
        Some(name) => Ok(Some(name.to_owned())),
        None if sql_like(name) => Err(LayoutError::NonUtf8(path.to_path_buf())),
        None => Ok(None),
    }
}

/// The entries of `dir` with UTF-8 names, sorted by name; a symbolic link counts as what it
/// points to (a broken link as a file, so that reading it reports the error).
fn list(dir: &Path) -> Result<Vec<Entry>, LayoutError> {
    let unreadable = |e: std::io::Error| LayoutError::Unreadable(dir.to_path_buf(), e.to_string());
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let path = entry.path();
        let Some(name) = utf8_name(&path)? else {
            continue;
        };
        let kind = std::fs::metadata(&path)
            .map(|m| Kind::of(m.file_type()))
            .unwrap_or(Kind::File);
        out.push(Entry {
            kind,
            rel: name.clone(),
            name,
            path,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The files of `dir` (not recursive); `.sql` entries that are not regular files are noted in
/// `skipped`.
fn files(dir: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<Entry>, LayoutError> {
    let mut out = Vec::new();
    for e in list(dir)? {
        match e.kind {
            Kind::File => out.push(e),
            Kind::Other(what) if e.name.ends_with(".sql") => skipped.push(Skipped {
                path: e.path,
                reason: format!("{what}, not a regular file"),
            }),
            Kind::Dir | Kind::Other(_) => {}
        }
    }
    Ok(out)
}

/// Every file below `dir`, recursively, in name order, following symbolic links; hidden
/// directories are skipped, and so are links back to a directory being searched (noted).
fn walk(dir: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<Entry>, LayoutError> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !e.file_type().is_dir()
                || !e.file_name().as_encoded_bytes().starts_with(b".")
        });
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(error) => {
                let path = error.path().unwrap_or(dir).to_path_buf();
                if let Some(ancestor) = error.loop_ancestor() {
                    skipped.push(Skipped {
                        reason: format!(
                            "a symbolic link to `{}`, which is already being searched",
                            ancestor.display()
                        ),
                        path,
                    });
                    continue;
                }
                let broken_link = std::fs::symlink_metadata(&path)
                    .is_ok_and(|m| m.file_type().is_symlink())
                    && std::fs::metadata(&path).is_err();
                if broken_link && !sql_like(path.as_os_str()) {
                    continue;
                }
                let why = error
                    .io_error()
                    .map_or_else(|| error.to_string(), ToString::to_string);
                return Err(LayoutError::Unreadable(path, why));
            }
        };
        let kind = Kind::of(entry.file_type());
        if kind == Kind::Dir {
            continue;
        }
        let path = entry.path();
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let rel = match rel.to_str() {
            Some(rel) => rel.replace(std::path::MAIN_SEPARATOR, "/"),
            None if sql_like(entry.file_name()) => {
                return Err(LayoutError::NonUtf8(path.to_path_buf()));
            }
            None => continue,
        };
        let Some(name) = utf8_name(path)? else {
            continue;
        };
        match kind {
            Kind::Other(what) if name.ends_with(".sql") => skipped.push(Skipped {
                path: path.to_path_buf(),
                reason: format!("{what}, not a regular file"),
            }),
            Kind::Other(_) | Kind::Dir => {}
            Kind::File => out.push(Entry {
                path: path.to_path_buf(),
                rel,
                name,
                kind,
            }),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    fn order(dir: &Path, framework: Framework) -> Vec<(String, Direction)> {
        discover(dir, framework)
            .unwrap()
            .into_iter()
            .map(|m| (m.file, m.direction))
            .collect()
    }

    #[test]
    fn detection() {
        let cases: &[(&[(&str, &str)], Framework)] = &[
            (&[("atlas.sum", ""), ("1_a.sql", "")], Framework::Atlas),
            (&[("sqls/1-a-up.sql", "")], Framework::DbMigrate),
            (&[("2024-01-01-000000_a/up.sql", "")], Framework::Diesel),
            (&[("20240101000000_a/migration.sql", "")], Framework::Prisma),
            (&[("1_a.sql", "-- +goose Up\nSELECT 1;")], Framework::Goose),
            (
                &[("1_a.sql", "-- migrate:up\nSELECT 1;")],
                Framework::Dbmate,
            ),
            (&[("V1__a.sql", ""), ("V2__b.sql", "")], Framework::Refinery),
            (
                &[("V1__a.sql", ""), ("R__views.sql", "")],
                Framework::Flyway,
            ),
            (&[("V1.1.1__a.sql", "")], Framework::Flyway),
            (
                &[("1_a.sql", "-- no-transaction\nSELECT 1;")],
                Framework::Sqlx,
            ),
            (
                &[("1_a.up.sql", ""), ("1_a.down.sql", "")],
                Framework::GolangMigrate,
            ),
            (&[("1_a.sql", ""), ("2_b.sql", "")], Framework::Plain),
        ];
        for (files, expected) in cases {
            let dir = dir_with(files);
            assert_eq!(Framework::detect(dir.path()), *expected, "{files:?}");
        }
    }

    #[test]
    fn a_crate_depending_on_sqlx_means_sqlx() {
        for manifest in [
            "[dependencies]\nsqlx = { version = \"0.8\" }\n",
            "[dependencies]\nsqlx.workspace = true\n",
            "[dependencies.sqlx]\nversion = \"0.8\"\n",
        ] {
            let root = dir_with(&[("Cargo.toml", manifest), ("migrations/1_a.sql", "")]);
            assert_eq!(
                Framework::detect(&root.path().join("migrations")),
                Framework::Sqlx,
                "{manifest}"
            );
        }
        let other = dir_with(&[
            ("Cargo.toml", "[dependencies]\nsqlx-core = \"0.8\"\n"),
            ("migrations/1_a.sql", ""),
        ]);
        assert_eq!(
            Framework::detect(&other.path().join("migrations")),
            Framework::Plain
        );
    }

    #[test]
    fn each_framework_orders_as_it_applies() {
        let numeric = dir_with(&[("10_b.sql", ""), ("9_a.sql", ""), ("notes.txt", "")]);
        assert_eq!(
            order(numeric.path(), Framework::Sqlx),
            [
                ("9_a.sql".into(), Direction::Up),
                ("10_b.sql".into(), Direction::Up)
            ]
        );
        // dbmate sorts file names as text, so `10_` comes before `9_`.
        let text = dir_with(&[("10_b.sql", ""), ("9_a.sql", "")]);
        let up: Vec<_> = order(text.path(), Framework::Dbmate)
            .into_iter()
            .filter(|(_, d)| *d == Direction::Up)
            .map(|(f, _)| f)
            .collect();
        assert_eq!(up, ["10_b.sql", "9_a.sql"]);
        // Flyway: versions compare part by part; repeatable scripts run last.
        let flyway = dir_with(&[
            ("R__views.sql", ""),
            ("V1_10__c.sql", ""),
            ("V1_9__b.sql", ""),
            ("U1_9__b.sql", ""),
        ]);
        assert_eq!(
            order(flyway.path(), Framework::Flyway),
            [
                ("V1_9__b.sql".into(), Direction::Up),
                ("U1_9__b.sql".into(), Direction::Down),
                ("V1_10__c.sql".into(), Direction::Up),
                ("R__views.sql".into(), Direction::Up),
            ]
        );
        let diesel = dir_with(&[
            ("2024-01-02-000000_b/up.sql", ""),
            ("2024-01-01-000000_a/up.sql", ""),
            ("2024-01-01-000000_a/down.sql", ""),
            ("no_script/readme.md", ""),
        ]);
        assert_eq!(
            order(diesel.path(), Framework::Diesel),
            [
                ("2024-01-01-000000_a/up.sql".into(), Direction::Up),
                ("2024-01-01-000000_a/down.sql".into(), Direction::Down),
                ("2024-01-02-000000_b/up.sql".into(), Direction::Up),
            ]
        );
    }

    #[test]
    fn names_the_framework_rejects_are_errors() {
        let dir = dir_with(&[("one_a.sql", "")]);
        let error = discover(dir.path(), Framework::Sqlx)
            .unwrap_err()
            .to_string();
        assert!(
            error.ends_with(
                "one_a.sql`: sqlx needs the text before the first `_` to be an integer version"
            ),
            "{error}"
        );
    }

    #[test]
    fn test_names_are_identifiers_that_keep_the_version() {
        let name = |version: &str, name: &str, direction| {
            Migration {
                file: String::new(),
                version: version.into(),
                name: name.into(),
                direction,
            }
            .test_name()
        };
        assert_eq!(
            name("2024-01-01-000000", "Add Users!", Direction::Up),
            "v20240101000000_add_users"
        );
        assert_eq!(name("1.2", "x", Direction::Down), "v1_2_x_down");
        assert_eq!(name("", "refresh views", Direction::Up), "m_refresh_views");
    }

    fn plain_files(dir: &Path) -> Result<(Vec<String>, Vec<Skipped>), LayoutError> {
        let found = discover_all(dir, Framework::Plain)?;
        let files = found.migrations.into_iter().map(|m| m.file).collect();
        Ok((files, found.skipped))
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_back_into_the_directory_are_passed_over() {
        // A link to `.` used to make each file count once per level (41 times), and two such
        // links never ended.
        let dir = dir_with(&[("1_a.sql", ""), ("sub/2_b.sql", "")]);
        std::os::unix::fs::symlink(".", dir.path().join("again")).unwrap();
        std::os::unix::fs::symlink("..", dir.path().join("sub/up")).unwrap();
        let (files, skipped) = plain_files(dir.path()).unwrap();
        assert_eq!(files, ["1_a.sql", "sub/2_b.sql"]);
        let reasons: Vec<_> = skipped
            .iter()
            .map(|s| s.path.strip_prefix(dir.path()).unwrap().to_owned())
            .collect();
        assert_eq!(reasons, [Path::new("again"), Path::new("sub/up")]);
        assert!(skipped[0].to_string().contains("a symbolic link to"));
        // A link to a directory elsewhere is followed.
        let elsewhere = dir_with(&[("3_c.sql", "")]);
        std::os::unix::fs::symlink(elsewhere.path(), dir.path().join("linked")).unwrap();
        let (files, _) = plain_files(dir.path()).unwrap();
        assert_eq!(files, ["1_a.sql", "linked/3_c.sql", "sub/2_b.sql"]);
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_named_like_a_migration_is_passed_over_with_a_note() {
        let dir = dir_with(&[("1_a.sql", "-- +goose Up\nSELECT 1;\n")]);
        for name in ["2_pipe.sql", "sub/3_pipe.sql"] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let status = std::process::Command::new("mkfifo").arg(&path).status();
            assert!(status.unwrap().success());
        }
        // Detection does not read it either.
        assert_eq!(Framework::detect(dir.path()), Framework::Goose);
        let found = discover_all(dir.path(), Framework::Goose).unwrap();
        assert_eq!(found.migrations.len(), 2);
        assert_eq!(found.skipped.len(), 1);
        assert!(
            found.skipped[0]
                .to_string()
                .ends_with("2_pipe.sql`: a FIFO, not a regular file"),
            "{}",
            found.skipped[0]
        );
        let (files, skipped) = plain_files(dir.path()).unwrap();
        assert_eq!(files, ["1_a.sql"]);
        assert_eq!(skipped.len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_names_are_an_error_only_on_migrations() {
        use std::os::unix::ffi::OsStrExt;
        let dir = dir_with(&[("1_a.sql", ""), ("sub/2_b.sql", "")]);
        let latin1 = std::ffi::OsStr::from_bytes(b"caf\xe9");
        std::fs::write(dir.path().join(latin1), "").unwrap();
        std::fs::create_dir(dir.path().join("sub").join(latin1)).unwrap();
        std::fs::write(dir.path().join("sub").join(latin1).join("notes"), "").unwrap();
        for framework in Framework::ALL.iter().copied() {
            assert!(
                !matches!(
                    discover(dir.path(), framework),
                    Err(LayoutError::NonUtf8(_))
                ),
                "{framework}"
            );
        }
        assert_eq!(
            plain_files(dir.path()).unwrap().0,
            ["1_a.sql", "sub/2_b.sql"]
        );
        let sql = std::ffi::OsStr::from_bytes(b"3_caf\xe9.sql");
        std::fs::write(dir.path().join("sub").join(sql), "").unwrap();
        let error = discover(dir.path(), Framework::Plain).unwrap_err();
        assert!(matches!(error, LayoutError::NonUtf8(_)), "{error}");
    }

    #[test]
    fn directories_deeper_than_path_max_are_an_error_not_skipped() {
        // Build two chains of directories, each well under PATH_MAX, then move one to the end
        // of the other: the file at the bottom lies deeper than any path can name.
        let dir = dir_with(&[("1_a.sql", "")]);
        let level = "d".repeat(200);
        let chain = |root: &Path| {
            let mut path = root.to_path_buf();
            for _ in 0..12 {
                path.push(&level);
            }
            std::fs::create_dir_all(&path).unwrap();
            path
        };
        let bottom = chain(&dir.path().join("a"));
        let other = dir.path().join("b");
        std::fs::write(chain(&other).join("2_deep.sql"), "").unwrap();
        std::fs::rename(&other, bottom.join("b")).unwrap();
        let error = discover(dir.path(), Framework::Plain).unwrap_err();
        assert!(
            matches!(&error, LayoutError::Unreadable(..)) && error.to_string().contains("too long"),
            "{error}"
        );
    }
}

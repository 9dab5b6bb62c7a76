//! The application's own schema knowledge: which tables and columns its code declares and
//! queries, read from the crate's sources (never compiled), in the working tree and at the base
//! of the change through git.
//!
//! - **diesel**: the `table!` declarations of `src/schema.rs`, or of the file `diesel.toml`
//!   names (`[print_schema] file = …`);
//! - **sqlx**: the queries of the offline data `cargo sqlx prepare` writes
//!   (`.sqlx/query-*.json`), and the SQL literals of `query!`, `query_as!`, `query_scalar!`
//!   (and their `_unchecked` and `query_file…!` forms) and of the `query`, `query_as` and
//!   `query_scalar` functions in `src/`;
//! - **sea-orm**: the entity structs of `src/` (`#[sea_orm(table_name = …)]`, their fields and
//!   `column_name` overrides).
//!
//! The rules that break the release still running (`drop-column`, `rename-column`,
//! `drop-table`, `rename-table`, `change-column-type`) ask [`Application`] whether the code at
//! the base still uses the object; `schema-drift` compares the current code with what the
//! migrations create.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # std::fs::create_dir(dir.path().join("src")).unwrap();
//! std::fs::write(dir.path().join("src/schema.rs"), "diesel::table! {\n    users (id) {\n        id -> Int8,\n        name -> Text,\n    }\n}\n").unwrap();
//! let app = migration_safety::app::Application::load(dir.path(), &[migration_safety::app::App::Diesel], None)?;
//! let uses: Vec<String> = app.usages().map(|u| u.to_string()).collect();
//! assert_eq!(uses, ["src/schema.rs:2: users", "src/schema.rs:3: users.id", "src/schema.rs:4: users.name"]);
//! # Ok::<(), migration_safety::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::model::{Name, Part, Reference};

mod diesel;
pub(crate) mod git;
mod seaorm;
mod sqlx;

/// A library through which the application talks to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    /// diesel: `src/schema.rs`.
    Diesel,
    /// sqlx: `.sqlx/query-*.json` and the query macros.
    Sqlx,
    /// SeaORM: entity structs.
    SeaOrm,
}

impl App {
    /// Every library, in the order of their names.
    pub const ALL: [App; 3] = [App::Diesel, App::SeaOrm, App::Sqlx];

    /// `diesel`, `sqlx` or `sea-orm`: the crate's name on crates.io.
    pub fn name(self) -> &'static str {
        match self {
            App::Diesel => "diesel",
            App::Sqlx => "sqlx",
            App::SeaOrm => "sea-orm",
        }
    }

    /// The library named `name`.
    ///
    /// ```
    /// use migration_safety::app::App;
    /// assert_eq!(App::from_name("sea-orm"), Some(App::SeaOrm));
    /// assert_eq!(App::from_name("seaorm"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<App> {
        App::ALL.into_iter().find(|app| app.name() == name)
    }

    /// The libraries the crate at `crate_dir` depends on, from its `Cargo.toml` (any
    /// dependency table; the generated tests detect them alike).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"app\"\n\n[dependencies]\nsqlx = { version = \"0.8\", features = [\"postgres\"] }\n")?;
    /// assert_eq!(migration_safety::app::App::detect(dir.path()), [migration_safety::app::App::Sqlx]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn detect(crate_dir: &Path) -> Vec<App> {
        migration_safety_core::detect_apps(crate_dir)
            .into_iter()
            .filter_map(App::from_name)
            .collect()
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// Which libraries to read: detected from the crate's dependencies (the default), none, or
/// the ones named.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AppChoice {
    /// Detect them from the crate's `Cargo.toml`.
    #[default]
    Auto,
    /// Do not read the application's code.
    None,
    /// These libraries.
    Apps(Vec<App>),
}

impl AppChoice {
    /// `auto`, `none`, or a library's name; the error names the choices.
    ///
    /// ```
    /// use migration_safety::app::{App, AppChoice};
    /// assert_eq!(AppChoice::from_name("diesel"), Ok(AppChoice::Apps(vec![App::Diesel])));
    /// assert!(AppChoice::from_name("disel").unwrap_err().contains("did you mean `diesel`?"));
    /// ```
    pub fn from_name(name: &str) -> Result<AppChoice, String> {
        match name {
            "auto" => Ok(AppChoice::Auto),
            "none" => Ok(AppChoice::None),
            _ => App::from_name(name)
                .map(|app| AppChoice::Apps(vec![app]))
                .ok_or_else(|| {
                    let names = ["auto", "none"].into_iter().chain(App::ALL.map(App::name));
                    format!(
                        "unknown app `{name}`{}; expected `{}`",
                        crate::rules::did_you_mean(name, names.clone())
                            .map(|s| format!(" (did you mean `{s}`?)"))
                            .unwrap_or_default(),
                        names.collect::<Vec<_>>().join("`, `")
                    )
                }),
        }
    }
}

/// One place where the code declares or queries a table or a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub(crate) reference: Reference,
    /// The file, relative to the crate, with `/` separators.
    pub(crate) file: String,
    /// 1-based line and column (in characters).
    pub(crate) line: usize,
    pub(crate) column: usize,
}

impl Usage {
    /// The file, relative to the crate root.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The 1-based line.
    pub fn line(&self) -> usize {
        self.line
    }

    /// Whether this usage can be of `table` (and of `column` when given).
    fn touches(&self, table: &Name, column: Option<&str>) -> bool {
        self.reference.tables.iter().any(|t| may_denote(t, table))
            && match (column, &self.reference.part) {
                (None, _) => true,
                (Some(column), Part::Column(c)) => c == column,
                (Some(_), Part::AllColumns) => true,
                (Some(_), Part::Table) => false,
            }
    }
}

/// Whether a table the code names and one a migration names can be the same relation. The
/// application's `search_path` is not known, so an unqualified name on either side may be in
/// any schema: a use that might be of the table keeps a drop an error.
fn may_denote(code: &Name, migration: &Name) -> bool {
    code.name == migration.name
        && match (&code.schema, &migration.schema) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

impl fmt::Display for Usage {
    /// `src/schema.rs:14: users.name`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tables: Vec<String> = self
            .reference
            .tables
            .iter()
            .map(ToString::to_string)
            .collect();
        write!(f, "{}:{}: ", self.file, self.line)?;
        match (&self.reference.part, tables.as_slice()) {
            (Part::Table, _) => write!(f, "{}", tables.join(", ")),
            (Part::AllColumns, _) => write!(f, "{}.*", tables.join(", ")),
            (Part::Column(column), [table]) => write!(f, "{table}.{column}"),
            (Part::Column(column), _) => write!(f, "{column} (of {})", tables.join(" or ")),
        }
    }
}

/// Code that could not be read: reported, never silently skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the crate root.
    pub file: String,
    /// The 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// What the code of one revision declares and queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Code {
    pub(crate) usages: Vec<Usage>,
    pub(crate) problems: Vec<Problem>,
    /// The text of each file a usage is in, for excerpts.
    pub(crate) sources: BTreeMap<String, String>,
}

impl Code {
    fn read(apps: &[App], tree: &dyn Tree) -> Code {
        let mut code = Code::default();
        let rust = if apps
            .iter()
            .any(|app| matches!(app, App::Sqlx | App::SeaOrm))
        {
            parse_rust_sources(tree, &mut code)
        } else {
            Vec::new()
        };
        for app in apps {
            match app {
                App::Diesel => diesel::read(tree, &mut code),
                App::Sqlx => sqlx::read(tree, &rust, &mut code),
                App::SeaOrm => seaorm::read(&rust, &mut code),
            }
        }
        code
    }

    fn uses<'a>(&'a self, table: &'a Name, column: Option<&'a str>) -> Vec<&'a Usage> {
        self.usages
            .iter()
            .filter(|u| u.touches(table, column))
            .collect()
    }

    /// Record the usages `references` of a query or declaration at `file:line:column`.
    pub(crate) fn add(&mut self, references: Vec<Reference>, file: &str, at: (usize, usize)) {
        for reference in references {
            self.usages.push(Usage {
                reference,
                file: file.to_owned(),
                line: at.0,
                column: at.1,
            });
        }
    }

    pub(crate) fn problem(&mut self, file: &str, line: Option<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            file: file.to_owned(),
            line,
            message: message.into(),
        });
    }
}

/// A parsed Rust source file of the crate, with its text.
pub(crate) struct RustFile {
    pub(crate) path: String,
    pub(crate) syntax: syn::File,
}

/// The `.rs` files under `src/`, parsed; those that do not parse are problems.
fn parse_rust_sources(tree: &dyn Tree, code: &mut Code) -> Vec<RustFile> {
    let paths: Vec<&str> = tree
        .files()
        .iter()
        .map(String::as_str)
        .filter(|p| p.starts_with("src/") && p.ends_with(".rs"))
        .collect();
    let texts = tree.read(&paths);
    let mut parsed = Vec::new();
    for (path, text) in paths.into_iter().zip(texts) {
        let Some(text) = text else {
            code.problem(path, None, "cannot be read");
            continue;
        };
        match syn::parse_file(&text) {
            Ok(syntax) => {
                code.sources.insert(path.to_owned(), text);
                parsed.push(RustFile {
                    path: path.to_owned(),
                    syntax,
                });
            }
            Err(error) => {
                let line = error.span().start().line;
                code.problem(path, Some(line), format!("does not parse as Rust: {error}"));
            }
        }
    }
    parsed
}

/// The 1-based line and column where a span starts.
pub(crate) fn position(span: proc_macro2::Span) -> (usize, usize) {
    let start = span.start();
    (start.line, start.column + 1)
}

/// The files of one revision of the crate, relative to its root with `/` separators.
pub(crate) trait Tree {
    /// Every file (without `target/` and hidden directories other than `.sqlx`).
    fn files(&self) -> &[String];
    /// The text of each of `paths`; `None` when it cannot be read.
    fn read(&self, paths: &[&str]) -> Vec<Option<String>>;
}

/// The crate as it is on disk.
struct WorkTree {
    root: PathBuf,
    files: Vec<String>,
}

impl WorkTree {
    fn new(root: &Path) -> WorkTree {
        let mut files = Vec::new();
        let mut pending = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = pending.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let relative = format!("{prefix}{name}");
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let skipped = (name.starts_with('.') && name != ".sqlx")
                        || (prefix.is_empty() && name == "target");
                    if !skipped {
                        pending.push((entry.path(), format!("{relative}/")));
                    }
                } else {
                    files.push(relative);
                }
            }
        }
        files.sort();
        WorkTree {
            root: root.to_path_buf(),
            files,
        }
    }
}

impl Tree for WorkTree {
    fn files(&self) -> &[String] {
        &self.files
    }

    fn read(&self, paths: &[&str]) -> Vec<Option<String>> {
        paths
            .iter()
            .map(|p| std::fs::read_to_string(self.root.join(p)).ok())
            .collect()
    }
}

/// The code at the base of the change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Base {
    /// The git ref, as given.
    reference: String,
    code: Code,
}

/// What the application's code uses, now and at the base of the change: the context the
/// backward-incompatibility rules consult.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    apps: Vec<App>,
    /// The crate's root as the paths of reports show it.
    root: PathBuf,
    current: Code,
    base: Option<Base>,
}

/// What a rule should say about an object the migration breaks.
pub(crate) struct Judgement {
    /// Appended to the finding's message.
    pub(crate) text: String,
    /// The running release does not use it: the finding is not an error.
    pub(crate) cleared: bool,
}

impl Application {
    /// Read what the code of the crate at `crate_dir` declares and queries through `apps`, in
    /// the working tree and, when `base_ref` is given, at that git ref. A ref git does not know
    /// is an error; code that does not parse is a [`Problem`], listed by
    /// [`problems`](Application::problems).
    pub fn load(
        crate_dir: &Path,
        apps: &[App],
        base_ref: Option<&str>,
    ) -> Result<Application, Error> {
        let current = Code::read(apps, &WorkTree::new(crate_dir));
        let base = match base_ref {
            Some(reference) => {
                let tree = git::GitTree::at(crate_dir, reference).map_err(Error::Application)?;
                Some(Base {
                    reference: reference.to_owned(),
                    code: Code::read(apps, &tree),
                })
            }
            None => None,
        };
        Ok(Application {
            apps: apps.to_vec(),
            root: crate_dir.to_path_buf(),
            current,
            base,
        })
    }

    /// The crate whose code serves the migrations of `path`: the nearest directory, from
    /// `path` up, that has a `Cargo.toml`. Relative when `path` is and the crate is below the
    /// working directory.
    pub fn crate_of(path: &Path) -> Option<PathBuf> {
        let has_manifest = |dir: &Path| {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            dir.join("Cargo.toml").is_file()
        };
        if let Some(dir) = path.ancestors().find(|dir| has_manifest(dir)) {
            return Some(if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            });
        }
        crate::settings::absolute(path)
            .ancestors()
            .find(|dir| has_manifest(dir))
            .map(Path::to_path_buf)
    }

    /// The libraries read.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// What the code in the working tree declares and queries.
    pub fn usages(&self) -> impl Iterator<Item = &Usage> {
        self.current.usages.iter()
    }

    /// Code that could not be read, in the working tree and at the base.
    pub fn problems(&self) -> impl Iterator<Item = String> + '_ {
        let current = self.current.problems.iter().map(|p| p.to_string());
        let base = self.base.iter().flat_map(|base| {
            base.code
                .problems
                .iter()
                .map(move |p| format!("{p} (at `{}`)", base.reference))
        });
        current.chain(base)
    }

    /// One line saying what was read, for the report's notes.
    pub(crate) fn summary(&self) -> String {
        let apps: Vec<&str> = self.apps.iter().map(|a| a.name()).collect();
        let count = |code: &Code| {
            let files: std::collections::BTreeSet<&str> =
                code.usages.iter().map(|u| u.file.as_str()).collect();
            let plural =
                |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
            format!(
                "{} in {}",
                plural(code.usages.len(), "use"),
                plural(files.len(), "file")
            )
        };
        let base = match &self.base {
            Some(base) => format!("; at `{}`: {}", base.reference, count(&base.code)),
            None => "; no base ref: set `base_ref` or pass `--base-ref REF` to compare with the release still running".to_owned(),
        };
        format!(
            "read the application's {} code in `{}`: {}{base}",
            apps.join(" and "),
            self.root.display(),
            count(&self.current)
        )
    }

    /// Where drift reports put the code's files: the crate root joined with `file`.
    pub(crate) fn display_path(&self, file: &str) -> String {
        if self.root == Path::new(".") {
            file.to_owned()
        } else {
            self.root.join(file).display().to_string()
        }
    }

    pub(crate) fn current(&self) -> &Code {
        &self.current
    }

    /// Whether the release still running uses `table` (`column` of it, when given), and what
    /// to say about it: the code "reads" a column and "uses" a table. With `hazard_remains`
    /// (a rewrite under its lock), nothing running using it does not make the statement safe.
    pub(crate) fn judge(
        &self,
        table: &Name,
        column: Option<&str>,
        hazard_remains: bool,
    ) -> Judgement {
        let object = match column {
            Some(column) => format!("`{table}.{column}`"),
            None => format!("`{table}`"),
        };
        let verb = if column.is_some() { "reads" } else { "uses" };
        let Some(base) = &self.base else {
            let current = self.current.uses(table, column);
            let how = "name the git ref it was deployed from with `--base-ref REF`, or `base_ref = \"REF\"` in migration-safety.toml or in `#[check_migrations]` (`--changed-since REF` also names it)";
            let text = if current.is_empty() {
                format!(
                    "the code in the working tree does not {} {object}, but without a base the release still running cannot be seen: {how}",
                    verb.trim_end_matches('s')
                )
            } else {
                format!(
                    "even the code in the working tree still {verb} {object} ({}), so this breaks the new release too; without a base the release still running cannot be seen: {how}",
                    places(&current)
                )
            };
            return Judgement {
                text,
                cleared: false,
            };
        };
        let at = &base.reference;
        let used = base.code.uses(table, column);
        if !used.is_empty() {
            return Judgement {
                text: format!(
                    "the code at `{at}` still {verb} {object}: {}; deploy code that no longer uses it first, then run this migration in a later deploy",
                    places(&used)
                ),
                cleared: false,
            };
        }
        if let Some(problem) = base.code.problems.first() {
            return Judgement {
                text: format!(
                    "whether the code at `{at}` {verb} {object} is unknown: {problem}{}",
                    match base.code.problems.len() {
                        1 => String::new(),
                        n => format!(" (and {} more that could not be read, in the notes)", n - 1),
                    }
                ),
                cleared: false,
            };
        }
        let current = self.current.uses(table, column);
        if !current.is_empty() {
            return Judgement {
                text: format!(
                    "no code at `{at}` {verb} {object}, but the code in the working tree does ({}): this breaks the new release",
                    places(&current)
                ),
                cleared: false,
            };
        }
        Judgement {
            text: format!(
                "no code at `{at}` {verb} {object}, nor does the working tree's {} code{}",
                self.apps
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(" and "),
                if hazard_remains {
                    ", but the lock and the rewrite remain"
                } else {
                    ": the contract phase may run"
                }
            ),
            cleared: !hazard_remains,
        }
    }
}

/// `src/schema.rs:14: users.name, src/db.rs:3: users.*` (three at most).
fn places(usages: &[&Usage]) -> String {
    let mut shown: Vec<String> = usages.iter().take(3).map(ToString::to_string).collect();
    if usages.len() > 3 {
        shown.push(format!("and {} more", usages.len() - 3));
    }
    shown.join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Tree;

    /// A crate's files in memory, for the readers' tests.
    pub(crate) struct Files(Vec<(String, String)>, Vec<String>);

    impl Files {
        pub(crate) fn new(files: &[(&str, &str)]) -> Files {
            Files(
                files
                    .iter()
                    .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
                    .collect(),
                files.iter().map(|(p, _)| (*p).to_owned()).collect(),
            )
        }
    }

    impl Tree for Files {
        fn files(&self) -> &[String] {
            &self.1
        }

        fn read(&self, paths: &[&str]) -> Vec<Option<String>> {
            paths
                .iter()
                .map(|p| self.0.iter().find(|(f, _)| f == p).map(|(_, t)| t.clone()))
                .collect()
        }
    }

    #[test]
    fn the_libraries_are_the_ones_the_macro_knows() {
        let names: Vec<_> = super::App::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names, migration_safety_core::APP_NAMES);
    }
}

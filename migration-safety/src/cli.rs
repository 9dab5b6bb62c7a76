//! The `migration-safety` command line (feature `cli`).
//!
//! ```text
//! migration-safety check [--config PATH] [--format FORMAT] [--color WHEN] [--fail-on LEVEL]
//!                        [--changed-since GIT_REF] [--base-ref GIT_REF] [--app NAME]
//!                        [--framework auto|NAME] [--check-down]
//!                        [--pg-version MAJOR] [--start-after VERSION] [--allow|--warn|--deny RULE]… PATH…
//! migration-safety check [--stdin-filename PATH] … -
//! migration-safety trace [--pg-bin DIR [--run-as USER] | --database-url URL [--allow-remote]]
//!                        [--config PATH] [--framework auto|NAME] [--format human|json] PATH…
//! migration-safety check [--database-url URL | --stats-file FILE] [--require-database]
//!                        [--small-table-rows N] … PATH…
//! migration-safety stats [--config PATH] [--database-url URL] > stats.json
//! migration-safety fix [--write] [--diff] [--rule RULE]… [--allow-dirty] [--config PATH]
//!                      [--framework auto|NAME] [--pg-version MAJOR] [--start-after VERSION] PATH…
//! migration-safety init [--force]
//! migration-safety lsp
//! migration-safety rules
//! migration-safety explain RULE
//! ```
//!
//! `check` reads `migration-safety.toml` from the working directory or its nearest parent that
//! has one (see [`crate::config`]); its flags override the file.
//!
//! Exit codes: 0 when no finding fails the check (`--fail-on`, errors by default), 1 when one does, 2 for bad usage, unreadable
//! input or an invalid configuration file. `trace` exits with 1 when a statement failed on the
//! server or the server did something hazardous that no finding reports, and with 2 when it
//! cannot reach or start a server. `fix` exits with 0 when the fixed migrations pass the check
//! (whether it wrote them or only printed the diff), 1 when findings that fail it remain, and 2
//! when it cannot read the migrations, or refuses to write over uncommitted changes.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use clap::{Args, ColorChoice, Parser, Subcommand, ValueEnum};

use crate::changed::Changed;
use crate::config::{Config, FILE_NAME, StatisticsSource};
use crate::output;
use crate::stats::{self, Snapshot};
use crate::trace;
use crate::{FailOn, Format, Framework, Report, Settings};

#[derive(Parser)]
#[command(
    name = "migration-safety",
    version,
    about = "Stops dangerous PostgreSQL schema migrations before they reach production"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The options `check` and `trace` share.
#[derive(Args)]
struct Common {
    /// The configuration file (default: `migration-safety.toml` in the working directory
    /// or the nearest parent directory that has one).
    #[arg(long, value_name = "PATH")]
    config: Option<PathBuf>,
    /// How the migrations are laid out and run: `auto` (detected per directory), `plain`,
    /// `sqlx`, `diesel`, `refinery`, `golang-migrate`, `goose`, `dbmate`, `flyway`, `prisma`,
    /// `db-migrate` or `atlas` [default: the file's, or auto].
    #[arg(long, value_name = "NAME", value_parser = framework)]
    framework: Option<FrameworkChoice>,
}

#[derive(Subcommand)]
enum Command {
    /// Check migration files, or directories of them (recursively, in migration order).
    Check {
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// When to colour human output: `auto` colours a terminal, unless `NO_COLOR` is set
        /// (non-empty); a non-empty `CLICOLOR_FORCE` colours any output.
        #[arg(long, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Which findings fail the check, making the exit status 1 [default: error]
        #[arg(long, value_enum, value_name = "LEVEL")]
        fail_on: Option<FailOn>,
        /// Report only the migrations added or modified since this git ref (where it and HEAD
        /// diverged); every earlier migration is still read for what it builds.
        #[arg(long, value_name = "GIT_REF")]
        changed_since: Option<String>,
        /// The git ref of the code running in production (default: the file's `base_ref`, else
        /// the --changed-since ref): dropping or renaming what it still uses stays an error.
        #[arg(long, value_name = "GIT_REF")]
        base_ref: Option<String>,
        /// The library the application's code uses the database through: `auto` (detected
        /// from Cargo.toml), `none`, `diesel`, `sqlx` or `sea-orm` [default: the file's, or auto].
        #[arg(long, value_name = "NAME", value_parser = app_choice)]
        app: Option<crate::app::AppChoice>,
        /// With `-` as the path: the path standard input is reported under, and whose
        /// directory the framework is detected from.
        #[arg(long, value_name = "PATH")]
        stdin_filename: Option<PathBuf>,
        /// Also check down migrations.
        #[arg(long)]
        check_down: bool,
        /// The PostgreSQL major version the migrations run on [default: the file's, or 14].
        #[arg(long, value_name = "MAJOR")]
        pg_version: Option<u32>,
        /// Report only the migrations whose version sorts after VERSION (the earlier ones are
        /// still read, for the schema they build).
        #[arg(long, value_name = "VERSION")]
        start_after: Option<String>,
        /// Turn a rule, or a category of rules, off (repeatable).
        #[arg(long, value_name = "RULE")]
        allow: Vec<String>,
        /// Report a rule, or a category, as a warning instead of an error (repeatable).
        #[arg(long, value_name = "RULE")]
        warn: Vec<String>,
        /// Report a rule, or a category, as an error (repeatable).
        #[arg(long, value_name = "RULE")]
        deny: Vec<String>,
        /// Read table statistics from this database, over a read-only session, for severities
        /// and duration estimates [default: the configuration's `database_url` or
        /// `database_url_env`].
        #[arg(long, value_name = "URL", conflicts_with = "stats_file")]
        database_url: Option<String>,
        /// Read table statistics from a snapshot written by `migration-safety stats`.
        #[arg(long, value_name = "FILE")]
        stats_file: Option<PathBuf>,
        /// Exit with status 2 when no table statistics can be read, instead of checking
        /// with static verdicts only.
        #[arg(long)]
        require_database: bool,
        /// With table statistics: below this many rows a table is small, and its lock and
        /// rewrite findings are warnings [default: the configuration's `small_table_rows`, or
        /// 10000].
        #[arg(long, value_name = "N")]
        small_table_rows: Option<u64>,
        /// Migration files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Write a snapshot of a database's table statistics as JSON, read over a read-only
    /// session: for `check --stats-file`, so that CI needs no database credentials.
    Stats {
        /// The configuration file (default: `migration-safety.toml` in the working directory
        /// or the nearest parent directory that has one).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
        /// The database [default: the configuration's `database_url` or `database_url_env`].
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Apply migrations to a real PostgreSQL and report what each statement did: the locks it
    /// took on existing relations and what they block, the rewrites, the scans, the duration,
    /// and where the static findings disagree. By default on a throwaway cluster, removed
    /// afterwards.
    Trace {
        #[command(flatten)]
        common: Common,
        /// Output format.
        #[arg(long, value_enum, default_value_t = TraceFormat::Human)]
        format: TraceFormat,
        /// Where `initdb`, `pg_ctl` and `postgres` are [default: $PG_BIN, else PATH, else the
        /// newest /usr/lib/postgresql/<major>/bin].
        #[arg(long, value_name = "DIR", conflicts_with = "database_url")]
        pg_bin: Option<PathBuf>,
        /// Run the throwaway cluster as this unprivileged user (through `su`; for root).
        #[arg(long, value_name = "USER", conflicts_with = "database_url")]
        run_as: Option<String>,
        /// Trace on this database instead, inside one transaction that is always rolled back
        /// (statements that cannot run in a transaction are not run).
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Allow a --database-url whose host is not this machine.
        #[arg(long, requires = "database_url")]
        allow_remote: bool,
        /// Migration files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Rewrite hazardous migrations into their safe alternative: by default print the changes
    /// as a unified diff and change nothing; `--write` applies them.
    Fix {
        #[command(flatten)]
        common: Common,
        /// Apply the fixes to the files (each written atomically).
        #[arg(long)]
        write: bool,
        /// Print the unified diff (the default without --write; with it, also print it).
        #[arg(long)]
        diff: bool,
        /// Only the fixes of this rule (repeatable) [default: every rule that has a fix].
        #[arg(long, value_name = "RULE")]
        rule: Vec<String>,
        /// With --write: write over files that have uncommitted changes (or that git does not
        /// track).
        #[arg(long)]
        allow_dirty: bool,
        /// The PostgreSQL major version the migrations run on [default: the file's, or 14].
        #[arg(long, value_name = "MAJOR")]
        pg_version: Option<u32>,
        /// Fix only the migrations whose version sorts after VERSION (the earlier ones are
        /// still read, for the schema they build).
        #[arg(long, value_name = "VERSION")]
        start_after: Option<String>,
        /// Migration files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Write a commented `migration-safety.toml` in the working directory, with the framework
    /// detected from its migrations directory.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Run the language server on standard input and output, for editors: diagnostics as
    /// you type, "suppress with a reason" code actions, and hover documentation.
    Lsp,
    /// List the rules with their category and default severity.
    Rules,
    /// Show a rule's full documentation.
    Explain {
        /// The rule's name, such as `set-not-null`.
        rule: String,
    },
}

/// The output formats of `trace`.
#[derive(Clone, Copy, ValueEnum)]
enum TraceFormat {
    /// Rustc-style diagnostics.
    Human,
    /// Machine-readable JSON.
    Json,
}

/// Where `init` looks for migrations, in this order: the frameworks' defaults.
const MIGRATION_DIRS: &[&str] = &[
    "migrations",
    "db/migrations",
    "db/migrate",
    "prisma/migrations",
    "src/main/resources/db/migration",
    "database/migrations",
    "sql",
];

/// `auto` or a framework.
#[derive(Clone, Copy)]
struct FrameworkChoice(Option<Framework>);

fn framework(name: &str) -> Result<FrameworkChoice, String> {
    crate::settings::framework_choice(name).map(FrameworkChoice)
}

fn app_choice(name: &str) -> Result<crate::app::AppChoice, String> {
    crate::app::AppChoice::from_name(name)
}

/// Run the command line with the process's arguments and standard streams.
pub fn main() -> ExitCode {
    let stdout = std::io::stdout();
    // What `--color auto` means here: a terminal, `NO_COLOR` and `CLICOLOR_FORCE` decide.
    let color = anstream::AutoStream::choice(&stdout) != anstream::ColorChoice::Never;
    // Not locked for the whole run: the language server writes from a thread of its own.
    let code = run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
        color,
    );
    ExitCode::from(code)
}

/// Run the command line with `args` (the first is the program name); returns the exit code.
/// `color` is what `--color auto` resolves to. `check -` reads the process's standard input.
///
/// ```
/// let mut out = Vec::new();
/// let mut err = Vec::new();
/// let code = migration_safety::cli::run(["migration-safety", "rules"], &mut out, &mut err, false);
/// assert_eq!(code, 0);
/// assert!(String::from_utf8(out).unwrap().contains("set-not-null"));
/// ```
pub fn run<I, T>(args: I, stdout: &mut dyn Write, stderr: &mut dyn Write, color: bool) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() { 2 } else { 0 };
            let rendered = if color {
                error.render().ansi().to_string()
            } else {
                error.render().to_string()
            };
            let stream: &mut dyn Write = if error.use_stderr() { stderr } else { stdout };
            let _ = write!(stream, "{rendered}");
            return code;
        }
    };
    match execute(cli.command, stdout, stderr, color) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(stderr, "error: {message}");
            2
        }
    }
}

/// The settings of the configuration file (given, or found from the working directory), with
/// the framework chosen on the command line.
fn settings(
    config: Option<PathBuf>,
    framework: Option<FrameworkChoice>,
) -> Result<(Settings, StatisticsSource), String> {
    let config = load_config(config)?;
    let source = config
        .as_ref()
        .map(|c| c.statistics().clone())
        .unwrap_or_default();
    let mut settings = config.map(|c| c.settings().clone()).unwrap_or_default();
    if let Some(FrameworkChoice(framework)) = framework {
        settings = match framework {
            Some(framework) => settings.framework(framework),
            None => settings.detect_framework(),
        };
    }
    Ok((settings, source))
}

/// The configuration file given, or found from the working directory.
fn load_config(config: Option<PathBuf>) -> Result<Option<Config>, String> {
    match config {
        Some(path) => Config::load(&path).map(Some),
        None => Config::discover(Path::new(".")),
    }
    .map_err(|e| e.to_string())
}

/// The table statistics `check` applies, from `source`, with a note that says where they come
/// from or why there are none. Without `require`, a database that cannot be read leaves the
/// verdicts static, with the note; with it, that is an error.
fn statistics(
    source: StatisticsSource,
    require: bool,
) -> Result<(Option<Snapshot>, Option<String>), String> {
    let url = match source {
        StatisticsSource::None if require => {
            return Err("--require-database: no table statistics to read: give --database-url or --stats-file, or set `database_url`, `database_url_env` or `stats_file` in migration-safety.toml".to_owned());
        }
        StatisticsSource::StatsFile(path) => {
            let snapshot = Snapshot::load(&path).map_err(|e| e.to_string())?;
            let note = format!(
                "table statistics of {} tables from `{}` (PostgreSQL {}{})",
                snapshot.tables.len(),
                path.display(),
                snapshot.server_version,
                if snapshot.collected_at.is_empty() {
                    String::new()
                } else {
                    format!(", read at {}", snapshot.collected_at)
                }
            );
            return Ok((Some(snapshot), Some(note)));
        }
        StatisticsSource::DatabaseUrlEnv(variable) => {
            match std::env::var(&variable)
                .ok()
                .filter(|v| !v.trim().is_empty())
            {
                Some(url) => url,
                None => {
                    let why = format!(
                        "`{variable}` (`database_url_env` in the configuration) is not set"
                    );
                    if require {
                        return Err(format!("--require-database: {why}"));
                    }
                    return Ok((
                        None,
                        Some(format!(
                            "{why}: no table statistics, the verdicts are static"
                        )),
                    ));
                }
            }
        }
        StatisticsSource::DatabaseUrl(url) => url,
        _ => return Ok((None, None)),
    };
    let place = stats::describe_url(&url).map_err(|e| format!("invalid database URL: {e}"))?;
    let read = stats::connect(&url).and_then(|mut client| {
        let snapshot = stats::collect_from(&mut client)?;
        Ok((snapshot, stats::encrypted(&mut client)?))
    });
    match read {
        Ok((snapshot, encrypted)) => {
            let mut note = format!(
                "table statistics of {} tables from {place} (PostgreSQL {}), read over a read-only session",
                snapshot.tables.len(),
                snapshot.server_version
            );
            if let (false, Ok(Some(host))) = (encrypted, stats::remote_host(&url)) {
                note.push_str(&format!(
                    "; the connection to `{host}` is not encrypted: add sslmode=verify-full (with sslrootcert=PATH) or sslmode=require to the URL"
                ));
            }
            Ok((Some(snapshot), Some(note)))
        }
        Err(error) if require => Err(format!(
            "--require-database: cannot read table statistics from {place}: {error}"
        )),
        Err(error) => Ok((
            None,
            Some(format!(
                "cannot read table statistics from {place} ({error}): the verdicts are static, without table sizes or estimates (--require-database makes this an error)"
            )),
        )),
    }
}

/// The cluster Ctrl-C must remove (the handler is installed once per process).
static INTERRUPTED_CLUSTER: Mutex<Option<trace::Stopper>> = Mutex::new(None);
/// Whether Ctrl-C was pressed.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// On Ctrl-C, stop and remove the throwaway cluster, then exit with 130 (130 too when the
/// trace, whose connection the stop closed, returns first).
fn stop_on_interrupt(stopper: trace::Stopper) {
    static HANDLER: Once = Once::new();
    if let Ok(mut current) = INTERRUPTED_CLUSTER.lock() {
        *current = Some(stopper);
    }
    HANDLER.call_once(|| {
        // Without a handler (another one is installed), the cluster is still removed on every
        // path except the signal itself.
        let _ = ctrlc::set_handler(|| {
            // No message: the interrupted thread holds the standard streams' locks.
            INTERRUPTED.store(true, Ordering::SeqCst);
            if let Some(stopper) = INTERRUPTED_CLUSTER.lock().ok().and_then(|mut c| c.take()) {
                stopper.stop();
            }
            std::process::exit(130);
        });
    });
}

fn execute(
    command: Command,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    color: bool,
) -> Result<u8, String> {
    let mut print =
        |text: &str| write!(stdout, "{text}").map_err(|e| format!("cannot write output: {e}"));
    match command {
        Command::Check {
            common: Common { config, framework },
            format,
            color: color_choice,
            fail_on,
            changed_since,
            base_ref,
            app,
            stdin_filename,
            check_down,
            pg_version,
            start_after,
            allow,
            warn,
            deny,
            database_url,
            stats_file,
            require_database,
            small_table_rows,
            paths,
        } => {
            let (mut settings, mut source) = settings(config, framework)?;
            if let Some(rows) = small_table_rows {
                settings = settings.small_table_rows(rows);
            }
            if let Some(url) = database_url {
                source = StatisticsSource::DatabaseUrl(url);
            } else if let Some(path) = stats_file {
                source = StatisticsSource::StatsFile(path);
            }
            if check_down {
                settings = settings.check_down(true);
            }
            settings = versions(settings, pg_version, start_after.as_deref())?;
            for rule in &allow {
                settings = settings.allow(rule).map_err(|e| e.to_string())?;
            }
            for (rules, severity) in [
                (&warn, crate::Severity::Warning),
                (&deny, crate::Severity::Error),
            ] {
                for rule in rules {
                    settings = settings
                        .severity(rule, severity)
                        .map_err(|e| e.to_string())?;
                }
            }
            if let Some(app) = app {
                settings = settings.app(app);
            }
            // The code still running: the ref given, else the file's, else the base of the change.
            if let Some(reference) = base_ref.as_ref().or(changed_since
                .as_ref()
                .filter(|_| settings.target_base_ref().is_none()))
            {
                settings = settings.base_ref(reference);
            }
            let (snapshot, note) = statistics(source, require_database)?;
            if let Some(snapshot) = snapshot {
                settings = settings.statistics(std::sync::Arc::new(snapshot));
            }
            let fail_on = fail_on.unwrap_or(settings.failure_threshold());
            settings = settings.fixes(format.shows_fixes());
            let color = match color_choice {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => color,
            };
            let mut notes: Vec<String> = note.into_iter().collect();
            let (outline, fails) = if paths.iter().any(|p| p.as_os_str() == "-") {
                if paths.len() > 1 || changed_since.is_some() {
                    return Err("`-` (standard input) is checked on its own: give no other path and no --changed-since".to_owned());
                }
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                let report = match stdin_filename {
                    // The application's code of the crate the file is in, as for a path.
                    Some(path) => {
                        let settings = settings
                            .load_application(&path)
                            .map_err(|e| e.to_string())?;
                        crate::lint_source(&path, &bytes, &settings)
                    }
                    None => crate::lint_source(Path::new("<stdin>"), &bytes, &settings),
                };
                output::report(&report, format, fail_on, color, stdout)?;
                let fails = report.fails(fail_on);
                (report, fails)
            } else {
                if stdin_filename.is_some() {
                    return Err(
                        "--stdin-filename names standard input: use it with `-` as the path"
                            .to_owned(),
                    );
                }
                let lint = crate::Lint::new(&paths, &settings).map_err(|e| e.to_string())?;
                let changed = match &changed_since {
                    Some(git_ref) => Some(Changed::since(git_ref, &paths)?),
                    None => None,
                };
                // Written as it is checked; the notes follow it.
                let checked =
                    output::check(lint, changed.as_ref(), format, fail_on, color, stdout)?;
                if let Some(git_ref) = &changed_since {
                    notes.push(format!(
                        "{} of {} migration files changed since `{git_ref}`: only they are reported",
                        checked.changed, checked.migrations
                    ));
                }
                (checked.outline, checked.totals.fails())
            };
            if format != Format::Human {
                notes.extend(empty_directories(&outline));
                notes.extend(outline.notes.iter().cloned());
            }
            for note in notes {
                let _ = writeln!(stderr, "note: {note}");
            }
            Ok(u8::from(fails))
        }
        Command::Trace {
            common: Common { config, framework },
            format,
            pg_bin,
            run_as,
            database_url,
            allow_remote,
            paths,
        } => {
            let (settings, _) = settings(config, framework)?;
            let report = match database_url {
                Some(url) => {
                    let remote = trace::remote_host(&url).map_err(|e| e.to_string())?;
                    if let Some(host) = remote.filter(|_| !allow_remote) {
                        return Err(trace::TraceError::Remote(host).to_string());
                    }
                    trace::trace_paths(&url, trace::Changes::RolledBack, &paths, &settings)
                }
                None => {
                    let mut options = trace::ClusterOptions::new();
                    if let Some(dir) = pg_bin {
                        options = options.bin_dir(dir);
                    }
                    if let Some(user) = run_as {
                        options = options.run_as(user);
                    }
                    let cluster = trace::Cluster::start(&options).map_err(|e| e.to_string())?;
                    stop_on_interrupt(cluster.stopper());
                    let report =
                        trace::trace_paths(cluster.url(), trace::Changes::Kept, &paths, &settings);
                    // Waits until an interrupt has removed the cluster.
                    drop(cluster);
                    if INTERRUPTED.load(Ordering::SeqCst) {
                        return Ok(130);
                    }
                    report
                }
            }
            .map_err(|e| e.to_string())?;
            match format {
                TraceFormat::Human => print(&report.to_human())?,
                TraceFormat::Json => print(&format!("{}\n", report.to_json()))?,
            }
            Ok(u8::from(report.has_problems()))
        }
        Command::Stats {
            config,
            database_url,
        } => {
            let url = match (database_url, load_config(config)?.map(|c| c.statistics().clone())) {
                (Some(url), _) | (None, Some(StatisticsSource::DatabaseUrl(url))) => url,
                (None, Some(StatisticsSource::DatabaseUrlEnv(variable))) => std::env::var(&variable)
                    .ok()
                    .filter(|v| !v.trim().is_empty())
                    .ok_or_else(|| format!("`{variable}` (`database_url_env` in the configuration) is not set"))?,
                _ => return Err("no database to read: give --database-url URL, or set `database_url` or `database_url_env` in migration-safety.toml".to_owned()),
            };
            let place =
                stats::describe_url(&url).map_err(|e| format!("invalid database URL: {e}"))?;
            let snapshot = stats::collect(&url)
                .map_err(|e| format!("cannot read table statistics from {place}: {e}"))?;
            print(&format!("{}\n", snapshot.to_json()))?;
            Ok(0)
        }
        Command::Fix {
            common: Common { config, framework },
            write,
            diff,
            rule,
            allow_dirty,
            pg_version,
            start_after,
            paths,
        } => {
            let settings = versions(
                settings(config, framework)?.0,
                pg_version,
                start_after.as_deref(),
            )?;
            let mut rules = Vec::new();
            for name in &rule {
                let meta = crate::rule(name).map_err(|e| e.to_string())?;
                if !meta.has_fix {
                    return Err(format!(
                        "`{}` has no automatic fix; `migration-safety explain {}` shows what to do instead",
                        meta.name, meta.name
                    ));
                }
                rules.push(meta.name);
            }
            let fixed =
                crate::fix::fix_paths(&paths, &settings, &rules).map_err(|e| e.to_string())?;
            if write {
                if !allow_dirty {
                    refuse_dirty(&fixed)?;
                }
                write_fixed(&fixed)?;
            }
            if diff || !write {
                print(&fixed.diff())?;
            }
            let _ = writeln!(stderr, "{}", fix_summary(&fixed, write));
            for conflict in &fixed.conflicts {
                let _ = writeln!(
                    stderr,
                    "note: not applied: {} ({}): {}",
                    conflict.title, conflict.rule, conflict.reason
                );
            }
            Ok(u8::from(fixed.report.fails(settings.failure_threshold())))
        }
        Command::Init { force } => {
            let path = Path::new(FILE_NAME);
            if path.exists() && !force {
                return Err(format!(
                    "`{FILE_NAME}` already exists: edit it, or pass `--force` to replace it"
                ));
            }
            let detected = MIGRATION_DIRS
                .iter()
                .find(|dir| Path::new(dir).is_dir())
                .map(|dir| (Framework::detect(Path::new(dir)), *dir));
            std::fs::write(path, Config::starter(detected))
                .map_err(|e| format!("cannot write `{FILE_NAME}`: {e}"))?;
            print(&match detected {
                Some((framework, dir)) => {
                    format!("wrote {FILE_NAME} (framework: {framework}, detected from `{dir}`)\n")
                }
                None => format!(
                    "wrote {FILE_NAME} (no migrations directory found: the framework is detected per directory)\n"
                ),
            })?;
            Ok(0)
        }
        Command::Lsp => {
            crate::lsp::stdio().map_err(|e| format!("language server: {e}"))?;
            Ok(0)
        }
        Command::Rules => {
            let mut table = format!(
                "{:<42} {:<22} {:<8} {:<6} {}\n",
                "RULE", "CATEGORY", "DEFAULT", "SINCE", "FIX"
            );
            for rule in crate::rules() {
                let line = format!(
                    "{:<42} {:<22} {:<8} {:<6} {}",
                    rule.name,
                    rule.category,
                    rule.default_severity,
                    rule.since,
                    if rule.has_fix { "yes" } else { "" }
                );
                table.push_str(line.trim_end());
                table.push('\n');
            }
            print(&table)?;
            Ok(0)
        }
        Command::Explain { rule } => {
            let meta = crate::rule(&rule).map_err(|e| e.to_string())?;
            print(&meta.to_markdown())?;
            Ok(0)
        }
    }
}

/// The settings with the target PostgreSQL major and `--start-after` of the command line.
fn versions(
    mut settings: Settings,
    pg_version: Option<u32>,
    start_after: Option<&str>,
) -> Result<Settings, String> {
    if let Some(major) = pg_version {
        settings = settings.pg_version(major).map_err(|e| e.to_string())?;
    }
    if let Some(version) = start_after {
        settings = settings.start_after(version);
    }
    Ok(settings)
}

/// One line: what `fix` changed (or would change) and what remains.
fn fix_summary(fixed: &crate::fix::Fixed, written: bool) -> String {
    let files = fixed.changes.len();
    let new = fixed.new_files.len();
    let done = if written { "fixed" } else { "would fix" };
    let mut summary = format!(
        "{done} {} finding{} in {files} file{}",
        fixed.applied,
        plural(fixed.applied),
        plural(files)
    );
    if new > 0 {
        summary.push_str(&format!(", creating {new} migration file{}", plural(new)));
    }
    for sum in &fixed.sums {
        summary.push_str(&format!(", updating `{}`", sum.path.display()));
    }
    let remaining = fixed.report.diagnostics().count();
    if remaining > 0 {
        summary.push_str(&format!(
            "; {remaining} finding{} remain{} without an automatic fix (`migration-safety check` shows them)",
            plural(remaining),
            if remaining == 1 { "s" } else { "" }
        ));
    }
    summary
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// Refuse to write over uncommitted changes, as `cargo fix` does: every file `fixed` changes
/// must be tracked by git and unchanged since the last commit (`git status --porcelain`).
fn refuse_dirty(fixed: &crate::fix::Fixed) -> Result<(), String> {
    if fixed.changes.is_empty() {
        return Ok(());
    }
    let mut dirty = Vec::new();
    for change in fixed.changes.iter().chain(&fixed.sums) {
        let path = &change.path;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path.file_name().unwrap_or_default();
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["status", "--porcelain", "--"])
            .arg(name)
            .output();
        match output {
            Ok(output) if output.status.success() => {
                if !output.stdout.is_empty() {
                    dirty.push(format!("  {}", path.display()));
                }
            }
            Ok(_) | Err(_) => dirty.push(format!("  {} (not in a git work tree)", path.display())),
        }
    }
    if dirty.is_empty() {
        return Ok(());
    }
    Err(format!(
        "the files to fix have uncommitted changes, or git does not track them:\n{}\ncommit them first, or pass --allow-dirty to write over them",
        dirty.join("\n")
    ))
}

/// Write every changed and new file atomically: into a temporary file in the same directory,
/// then renamed over the file, so that a file is never half-written.
fn write_fixed(fixed: &crate::fix::Fixed) -> Result<(), String> {
    // The integrity files last: they describe the others.
    let files = fixed
        .changes
        .iter()
        .map(|c| (&c.path, c.bytes(), true))
        .chain(
            fixed
                .new_files
                .iter()
                .map(|f| (&f.path, f.contents.clone().into_bytes(), false)),
        )
        .chain(fixed.sums.iter().map(|c| (&c.path, c.bytes(), true)));
    for (path, bytes, replace) in files {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let failed = |e: std::io::Error| format!("cannot write `{}`: {e}", path.display());
        std::fs::create_dir_all(dir).map_err(failed)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
        file.write_all(&bytes).map_err(failed)?;
        if replace {
            // Keep the file's permissions.
            let permissions = std::fs::metadata(path).map_err(failed)?.permissions();
            file.as_file()
                .set_permissions(permissions)
                .map_err(failed)?;
            file.persist(path).map_err(|e| failed(e.error))?;
        } else {
            file.persist_noclobber(path).map_err(|e| failed(e.error))?;
        }
    }
    Ok(())
}

/// Notes for the directories that hold no migration (the human format prints them itself).
fn empty_directories(report: &Report) -> impl Iterator<Item = String> + '_ {
    report
        .directories
        .iter()
        .filter(|d| d.migrations == 0)
        .map(crate::render::human::note)
}

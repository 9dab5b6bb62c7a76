//! The `migration-safety` command line (feature `cli`).
//!
//! ```text
//! migration-safety check [--config PATH] [--format FORMAT] [--color WHEN] [--fail-on LEVEL]
//!                        [--changed-since GIT_REF] [--framework auto|NAME] [--check-down]
//!                        [--pg-version MAJOR] [--start-after VERSION] [--allow|--warn|--deny RULE]… PATH…
//! migration-safety check [--stdin-filename PATH] … -
//! migration-safety init [--force]
//! migration-safety rules
//! migration-safety explain RULE
//! ```
//!
//! `check` reads `migration-safety.toml` from the working directory or its nearest parent that
//! has one (see [`crate::config`]); its flags override the file.
//!
//! Exit codes: 0 when no finding fails the check (`--fail-on`, errors by default), 1 when one
//! does, 2 for bad usage, unreadable input or an invalid configuration file.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{ColorChoice, Parser, Subcommand};

use crate::changed::Changed;
use crate::config::{Config, FILE_NAME};
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

#[derive(Subcommand)]
enum Command {
    /// Check migration files, or directories of them (recursively, in migration order).
    Check {
        /// The configuration file (default: `migration-safety.toml` in the working directory
        /// or the nearest parent directory that has one).
        #[arg(long, value_name = "PATH")]
        config: Option<PathBuf>,
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
        /// With `-` as the path: the path standard input is reported under, and whose
        /// directory the framework is detected from.
        #[arg(long, value_name = "PATH")]
        stdin_filename: Option<PathBuf>,
        /// How the migrations are laid out and run: `auto` (detected per directory), `plain`,
        /// `sqlx`, `diesel`, `refinery`, `golang-migrate`, `goose`, `dbmate`, `flyway`, `prisma`,
        /// `db-migrate` or `atlas` [default: the file's, or auto].
        #[arg(long, value_name = "NAME", value_parser = framework)]
        framework: Option<FrameworkChoice>,
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
        /// Migration files or directories, or `-` for one migration on standard input.
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
    /// List the rules with their category and default severity.
    Rules,
    /// Show a rule's full documentation.
    Explain {
        /// The rule's name, such as `set-not-null`.
        rule: String,
    },
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

/// Run the command line with the process's arguments and standard streams.
pub fn main() -> ExitCode {
    let stdout = std::io::stdout();
    // What `--color auto` means here: a terminal, `NO_COLOR` and `CLICOLOR_FORCE` decide.
    let color = anstream::AutoStream::choice(&stdout) != anstream::ColorChoice::Never;
    let code = run(
        std::env::args_os(),
        &mut stdout.lock(),
        &mut std::io::stderr().lock(),
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
            config,
            format,
            color: color_choice,
            fail_on,
            changed_since,
            stdin_filename,
            framework,
            check_down,
            pg_version,
            start_after,
            allow,
            warn,
            deny,
            paths,
        } => {
            let config = match config {
                Some(path) => Some(Config::load(&path)),
                None => Config::discover(Path::new(".")).transpose(),
            };
            let mut settings = match config {
                Some(config) => config.map_err(|e| e.to_string())?.settings().clone(),
                None => Settings::default(),
            };
            if let Some(FrameworkChoice(framework)) = framework {
                settings = match framework {
                    Some(framework) => settings.framework(framework),
                    None => settings.detect_framework(),
                };
            }
            if check_down {
                settings = settings.check_down(true);
            }
            if let Some(major) = pg_version {
                settings = settings.pg_version(major).map_err(|e| e.to_string())?;
            }
            if let Some(version) = &start_after {
                settings = settings.start_after(version);
            }
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
            let fail_on = fail_on.unwrap_or(settings.failure_threshold());
            let color = match color_choice {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => color,
            };
            let mut notes = Vec::new();
            let report = if paths.iter().any(|p| p.as_os_str() == "-") {
                if paths.len() > 1 || changed_since.is_some() {
                    return Err("`-` (standard input) is checked on its own: give no other path and no --changed-since".to_owned());
                }
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("cannot read standard input: {e}"))?;
                let path = stdin_filename.unwrap_or_else(|| PathBuf::from("<stdin>"));
                crate::lint_source(&path, &bytes, &settings)
            } else {
                if stdin_filename.is_some() {
                    return Err(
                        "--stdin-filename names standard input: use it with `-` as the path"
                            .to_owned(),
                    );
                }
                let mut report = crate::lint_paths(&paths, &settings).map_err(|e| e.to_string())?;
                if let Some(git_ref) = &changed_since {
                    let changed = Changed::since(git_ref, &paths)?;
                    let all = report.files.len();
                    report
                        .files
                        .retain(|f| changed.contains(Path::new(&f.path)));
                    notes.push(format!(
                        "{} of {} migration files changed since `{git_ref}`: only they are reported",
                        report.files.len(),
                        all
                    ));
                }
                report
            };
            if format != Format::Human {
                notes.extend(empty_directories(&report));
            }
            for note in notes {
                let _ = writeln!(stderr, "note: {note}");
            }
            match format {
                Format::Human => print(&report.to_human(color))?,
                format => print(&format!("{}\n", report.render(format, fail_on).trim_end()))?,
            }
            Ok(u8::from(report.fails(fail_on)))
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
        Command::Rules => {
            let mut table = format!(
                "{:<42} {:<22} {:<8} {}\n",
                "RULE", "CATEGORY", "DEFAULT", "SINCE"
            );
            for rule in crate::rules() {
                table.push_str(&format!(
                    "{:<42} {:<22} {:<8} {}\n",
                    rule.name, rule.category, rule.default_severity, rule.since
                ));
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

/// Notes for the directories that hold no migration (the human format prints them itself).
fn empty_directories(report: &Report) -> impl Iterator<Item = String> + '_ {
    report
        .directories
        .iter()
        .filter(|d| d.migrations == 0)
        .map(crate::render::human::note)
}

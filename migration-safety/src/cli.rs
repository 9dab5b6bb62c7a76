//! The `migration-safety` command line (feature `cli`).
//!
//! ```text
//! migration-safety check [--format human|json] [--framework auto|NAME] [--check-down] [--pg-version MAJOR] PATH…
//! migration-safety rules
//! migration-safety explain RULE
//! ```
//!
//! Exit codes: 0 when no finding is an error, 1 when one is, 2 for bad usage or unreadable input.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::{DEFAULT_PG_VERSION, Framework, Settings};

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
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// How the migrations are laid out and run: `auto` (detected per directory), `plain`,
        /// `sqlx`, `diesel`, `refinery`, `golang-migrate`, `goose`, `dbmate`, `flyway`, `prisma`,
        /// `db-migrate` or `atlas`.
        #[arg(long, value_name = "NAME", default_value = "auto", value_parser = framework)]
        framework: FrameworkChoice,
        /// Also check down migrations.
        #[arg(long)]
        check_down: bool,
        /// The PostgreSQL major version the migrations run on.
        #[arg(long, value_name = "MAJOR", default_value_t = DEFAULT_PG_VERSION)]
        pg_version: u32,
        /// Turn a rule off (repeatable).
        #[arg(long, value_name = "RULE")]
        allow: Vec<String>,
        /// Report a rule as a warning instead of an error (repeatable).
        #[arg(long, value_name = "RULE")]
        warn: Vec<String>,
        /// Report a rule as an error (repeatable).
        #[arg(long, value_name = "RULE")]
        deny: Vec<String>,
        /// Migration files or directories.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// List the rules with their category and default severity.
    Rules,
    /// Show a rule's full documentation.
    Explain {
        /// The rule's name, such as `set-not-null`.
        rule: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Rustc-style diagnostics.
    Human,
    /// Machine-readable JSON.
    Json,
}

/// `auto` or a framework.
#[derive(Clone, Copy)]
struct FrameworkChoice(Option<Framework>);

fn framework(name: &str) -> Result<FrameworkChoice, String> {
    if name == "auto" {
        return Ok(FrameworkChoice(None));
    }
    Framework::from_name(name)
        .map(|f| FrameworkChoice(Some(f)))
        .ok_or_else(|| {
            let known: Vec<_> = Framework::ALL.iter().map(|f| f.name()).collect();
            format!(
                "unknown framework `{name}`; known: auto, {}",
                known.join(", ")
            )
        })
}

/// Run the command line with the process's arguments and standard streams.
pub fn main() -> ExitCode {
    let stdout = std::io::stdout();
    let color = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let code = run(
        std::env::args_os(),
        &mut stdout.lock(),
        &mut std::io::stderr().lock(),
        color,
    );
    ExitCode::from(code)
}

/// Run the command line with `args` (the first is the program name); returns the exit code.
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
    match execute(cli.command, stdout, color) {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(stderr, "error: {message}");
            2
        }
    }
}

fn execute(command: Command, stdout: &mut dyn Write, color: bool) -> Result<u8, String> {
    let mut print =
        |text: &str| write!(stdout, "{text}").map_err(|e| format!("cannot write output: {e}"));
    match command {
        Command::Check {
            format,
            framework,
            check_down,
            pg_version,
            allow,
            warn,
            deny,
            paths,
        } => {
            let mut settings = Settings::default()
                .pg_version(pg_version)
                .map_err(|e| e.to_string())?
                .check_down(check_down);
            if let FrameworkChoice(Some(framework)) = framework {
                settings = settings.framework(framework);
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
            let report = crate::lint_paths(&paths, &settings).map_err(|e| e.to_string())?;
            match format {
                Format::Human => print(&report.to_human(color))?,
                Format::Json => print(&format!("{}\n", report.to_json()))?,
            }
            Ok(u8::from(report.has_errors()))
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

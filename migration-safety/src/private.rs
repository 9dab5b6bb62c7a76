//! What the tests `#[check_migrations]` generates call at run time. Not a public API: it
//! changes with the macro, which is pinned to this crate's exact version.

use std::path::Path;
use std::sync::OnceLock;

use crate::diagnostic::{FileReport, Report};
use crate::framework::Sidecar;
use crate::layout::{self, Direction, Framework};
use crate::{FailOn, Settings, engine};

/// A migration file embedded into the test binary.
#[derive(Debug)]
pub struct Embedded {
    /// Relative to the migrations directory, with `/` separators.
    pub file: &'static str,
    /// Whether this is the down direction.
    pub down: bool,
    /// The file's bytes.
    pub bytes: &'static [u8],
}

/// Everything the attribute said and found, fixed at compile time.
#[derive(Debug)]
pub struct Config {
    /// The directory as written in the attribute, relative to the crate.
    pub dir: &'static str,
    /// The crate's `CARGO_MANIFEST_DIR` at compile time.
    pub manifest_dir: &'static str,
    /// The framework's name.
    pub framework: &'static str,
    /// Whether the framework was detected rather than given.
    pub detected: bool,
    /// `pg_version = …`.
    pub pg_version: Option<u32>,
    /// `allow(…)`.
    pub allow: &'static [&'static str],
    /// `warn(…)`.
    pub warn: &'static [&'static str],
    /// `deny(…)`.
    pub deny: &'static [&'static str],
    /// Whether down migrations have tests (the attribute's `check_down`, else the file's).
    pub check_down: bool,
    /// The attribute's options other than `allow`, `warn` and `deny`, as written.
    pub options: &'static [&'static str],
    /// The configuration file found from the crate's directory, and its bytes.
    pub config_file: Option<(&'static str, &'static [u8])>,
    /// The migrations, in the framework's order.
    pub migrations: &'static [Embedded],
    /// Files next to migrations that change how they run (diesel's `metadata.toml`, Flyway's
    /// `.sql.conf`), relative to the migrations directory.
    pub sidecars: &'static [(&'static str, &'static [u8])],
}

/// The whole directory linted once per test binary; each generated test reads its file's part.
#[derive(Debug)]
pub struct Suite {
    config: &'static Config,
    framework: Framework,
    fail_on: FailOn,
    reports: Vec<FileReport>,
}

impl Config {
    /// The configuration file's settings, overridden by the attribute's options.
    fn settings(&self) -> Result<Settings, crate::Error> {
        let mut settings = match self.config_file {
            Some((path, bytes)) => {
                crate::config::Config::parse(&String::from_utf8_lossy(bytes), path)?
                    .settings()
                    .clone()
            }
            None => Settings::default(),
        };
        settings = settings.check_down(self.check_down);
        if let Some(framework) = Framework::from_name(self.framework) {
            settings = settings.framework(framework);
        }
        if let Some(version) = self.pg_version {
            settings = settings.pg_version(version)?;
        }
        for rule in self.allow {
            settings = settings.allow(rule)?;
        }
        for (rules, severity) in [
            (self.warn, crate::Severity::Warning),
            (self.deny, crate::Severity::Error),
        ] {
            for rule in rules {
                settings = settings.severity(rule, severity)?;
            }
        }
        Ok(settings)
    }

    /// The attribute with `rules` turned off as well: the options as written, `allow(…)`
    /// with each rule once, and `rules` taken out of `warn(…)` and `deny(…)`.
    fn allowing(&self, rules: &[&str]) -> String {
        let mut allow: Vec<&str> = Vec::new();
        for rule in self.allow.iter().chain(rules) {
            if !allow.contains(rule) {
                allow.push(rule);
            }
        }
        let list = |rules: &mut dyn Iterator<Item = &&str>| {
            rules
                .map(|r| format!("\"{r}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = vec![format!("\"{}\"", self.dir)];
        parts.extend(self.options.iter().map(|o| (*o).to_owned()));
        parts.push(format!("allow({})", list(&mut allow.iter())));
        for (key, levels) in [("warn", self.warn), ("deny", self.deny)] {
            let mut kept = levels.iter().filter(|r| !rules.contains(r)).peekable();
            if kept.peek().is_some() {
                parts.push(format!("{key}({})", list(&mut kept)));
            }
        }
        format!("#[check_migrations({})]", parts.join(", "))
    }

    /// The directory as users see it: relative to the crate, without a leading `./`.
    fn display_dir(&self) -> &str {
        let dir = self.dir.trim_end_matches('/');
        dir.strip_prefix("./").unwrap_or(dir)
    }

    fn sidecar(&self, name: &str) -> Option<String> {
        self.sidecars
            .iter()
            .find(|(file, _)| *file == name)
            .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
    }
}

impl Suite {
    /// Lint every embedded migration, in order, as one history.
    pub fn new(config: &'static Config) -> Suite {
        let settings = config
            .settings()
            .unwrap_or_else(|error| panic!("migration-safety: {error}"));
        let framework = Framework::from_name(config.framework).unwrap_or_default();
        let mut run = engine::Run::new(&settings);
        let reports = config
            .migrations
            .iter()
            .map(|m| {
                let parent = m.file.rsplit_once('/').map_or("", |(dir, _)| dir);
                let sidecar = Sidecar {
                    diesel_metadata: (framework == Framework::Diesel)
                        .then(|| config.sidecar(&format!("{parent}/metadata.toml")))
                        .flatten(),
                    flyway_conf: (framework == Framework::Flyway)
                        .then(|| config.sidecar(&format!("{}.conf", m.file)))
                        .flatten(),
                };
                let direction = if m.down {
                    Direction::Down
                } else {
                    Direction::Up
                };
                run.lint_migration(
                    format!("{}/{}", config.display_dir(), m.file),
                    m.bytes,
                    framework,
                    direction,
                    &sidecar,
                )
            })
            .collect();
        Suite {
            config,
            framework,
            fail_on: settings.failure_threshold(),
            reports,
        }
    }

    /// The suite of a test binary, linted on first use.
    pub fn get(cell: &'static OnceLock<Suite>, config: &'static Config) -> &'static Suite {
        cell.get_or_init(|| Suite::new(config))
    }

    /// The test of migration `index`: panic with the rendered findings when any is an error.
    #[track_caller]
    pub fn check(&self, index: usize) {
        let report = Report {
            files: vec![self.reports[index].clone()],
            skipped: Vec::new(),
        };
        if report.fails(self.fail_on) {
            let how = if self.config.detected {
                "detected; set it with `framework = \"…\"`"
            } else {
                "as configured"
            };
            let mut rules: Vec<&str> = Vec::new();
            for (_, d) in report.diagnostics() {
                if self.fail_on.fails(d.severity) && !rules.contains(&d.rule) {
                    rules.push(d.rule);
                }
            }
            let levels: Vec<String> = rules.iter().map(|r| format!("{r} = \"allow\"")).collect();
            panic!(
                "migration-safety: `{}` is not safe to deploy (run as {} migrations: {how})\n\n{}\nto turn the rule off for every migration instead: {}\nor in migration-safety.toml:\n[rules]\n{}",
                report.files[0].path,
                self.framework,
                report.to_human(false),
                self.config.allowing(&rules),
                levels.join("\n"),
            );
        }
        if report.warning_count() > 0 {
            eprintln!("{}", report.to_human(false));
        }
    }

    /// The directory on disk still holds exactly the migrations compiled into the tests.
    #[track_caller]
    pub fn check_directory(&self) {
        let dir = Path::new(self.config.manifest_dir).join(self.config.dir);
        if !dir.is_dir() {
            // The test binary runs away from its sources (an archive, another machine).
            eprintln!(
                "migration-safety: `{}` is not here, so new migrations cannot be looked for",
                dir.display()
            );
            return;
        }
        let found: Vec<(String, bool)> = match layout::discover(&dir, self.framework) {
            Ok(found) => found
                .into_iter()
                .filter(|m| self.config.check_down || m.direction == Direction::Up)
                .map(|m| (m.file, m.direction == Direction::Down))
                .collect(),
            Err(error) => panic!("migration-safety: {error}"),
        };
        let compiled: Vec<(String, bool)> = self
            .config
            .migrations
            .iter()
            .map(|m| (m.file.to_owned(), m.down))
            .collect();
        let dir = self.config.display_dir();
        let mut problems = Vec::new();
        let config_now = crate::config::Config::find(Path::new(self.config.manifest_dir));
        let config_then = self.config.config_file.map(|(path, _)| Path::new(path));
        if let Some(now) = config_now
            .as_deref()
            .filter(|now| Some(*now) != config_then)
        {
            problems.push(format!(
                "`{}` is not the configuration file the tests were compiled with",
                now.display()
            ));
        } else if let Some(then) = config_then.filter(|_| config_now.is_none()) {
            problems.push(format!(
                "`{}` was removed after the tests were compiled",
                then.display()
            ));
        }
        if found == compiled && problems.is_empty() {
            return;
        }
        for (file, _) in found.iter().filter(|m| !compiled.contains(m)) {
            problems.push(format!(
                "`{dir}/{file}` has no test: it was added after the tests were compiled"
            ));
        }
        for (file, _) in compiled.iter().filter(|m| !found.contains(m)) {
            problems.push(format!(
                "`{dir}/{file}` has a test but is no longer in `{dir}`"
            ));
        }
        if found != compiled && problems.is_empty() {
            problems.push(format!(
                "the migrations of `{dir}` are in a different order than when the tests were compiled"
            ));
        }
        panic!(
            "migration-safety: the tests are out of date with `{dir}`:\n  {}\n\nCargo does not rebuild a test when a file is added to a directory. Add a `build.rs` next to this crate's Cargo.toml:\n\n    fn main() {{ println!(\"cargo::rerun-if-changed={dir}\"); }}\n\nand run `cargo test` again (any edit to this test file also rebuilds it once).",
            problems.join("\n  ")
        );
    }
}

/// For the benchmarks: split a file into statements; the number of statements.
pub fn split_statements(sql: &str) -> usize {
    crate::lexer::split(sql).statements.len()
}

/// For the benchmarks: split and parse a file into the statement model; the number of
/// statements.
pub fn parse_statements(sql: &str) -> usize {
    crate::lower::lower_file(sql, &crate::lexer::split(sql)).len()
}

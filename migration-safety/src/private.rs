//! What the tests `#[check_migrations]` generates call at run time. Not a public API: it
//! changes with the macro, which is pinned to this crate's exact version.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::config::StatisticsSource;
use crate::diagnostic::{FileReport, Report};
use crate::framework::Sidecar;
use crate::layout::{self, Direction, Framework};
use crate::stats::Snapshot;
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
    /// `app = "…"`: which library's code to read (`auto`, `none` or a name), over the file's.
    pub app: Option<&'static str>,
    /// `base_ref = "…"`: the git ref of the code running in production, over the file's.
    pub base_ref: Option<&'static str>,
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
///
/// Under a runner that starts one process per test (`cargo nextest`), every process would lint
/// the whole directory again. So the reports are also cached next to the test binary, one file
/// per migration, keyed by a hash of the binary itself (which holds this crate's code), the
/// crate version and everything the attribute fixed (settings, file names and contents): a test
/// process reads only its own migration's report when another process has linted the directory.
#[derive(Debug)]
pub struct Suite {
    config: &'static Config,
    framework: Framework,
    fail_on: FailOn,
    settings: Settings,
    /// Every migration's report, and the `schema-drift` reports of the application's code.
    reports: OnceLock<(Vec<FileReport>, Vec<FileReport>)>,
    /// `<test binary's directory>/../migration-safety/<binary>/<key>`, when the binary can be
    /// found.
    cache: Option<PathBuf>,
}

impl Config {
    /// The configuration file's settings, overridden by the attribute's options. Its
    /// `stats_file` applies, read when the tests run; a live database (`database_url`,
    /// `database_url_env`) is never read from inside `cargo test`.
    fn settings(&self) -> Result<Settings, crate::Error> {
        let mut settings = match self.config_file {
            Some((path, bytes)) => {
                let file = crate::config::Config::parse(&String::from_utf8_lossy(bytes), path)?;
                let mut settings = file.settings().clone();
                if let StatisticsSource::StatsFile(stats) = file.statistics() {
                    settings = settings.statistics(Arc::new(Snapshot::load(stats)?));
                }
                settings
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
        if let Some(app) = self.app {
            let choice =
                crate::app::AppChoice::from_name(app).map_err(crate::Error::Application)?;
            settings = settings.app(choice);
        }
        if let Some(reference) = self.base_ref {
            settings = settings.base_ref(reference);
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
        // A generated test prints the findings; their fixes are for `migration-safety fix`.
        Ok(settings.fixes(false))
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
    /// A suite for `config`; nothing is linted until a test asks for a report.
    pub fn new(config: &'static Config) -> Suite {
        // The application's code is read from the crate's directory, at the base ref through git.
        let settings = config
            .settings()
            .and_then(|s| s.load_application(Path::new(config.manifest_dir)))
            .unwrap_or_else(|error| panic!("migration-safety: {error}"));
        Suite {
            config,
            framework: Framework::from_name(config.framework).unwrap_or_default(),
            fail_on: settings.failure_threshold(),
            cache: cache_dir(config, &settings),
            settings,
            reports: OnceLock::new(),
        }
    }

    /// The suite of a test binary, created on first use.
    pub fn get(cell: &'static OnceLock<Suite>, config: &'static Config) -> &'static Suite {
        cell.get_or_init(|| Suite::new(config))
    }

    /// Every embedded migration linted, in order, as one history (once per process), and
    /// written to the cache.
    fn reports(&self) -> &(Vec<FileReport>, Vec<FileReport>) {
        self.reports.get_or_init(|| {
            let reports = self.lint();
            if let Some(dir) = &self.cache {
                // A cache that cannot be written only costs the next process a lint.
                let _ = cache::write(dir, &reports.0);
            }
            reports
        })
    }

    /// The report of migration `index`: this process's lint, another process's from the
    /// cache, or a lint of the whole directory.
    fn report(&self, index: usize) -> FileReport {
        if let Some((reports, _)) = self.reports.get() {
            return reports[index].clone();
        }
        self.cache
            .as_deref()
            .and_then(|dir| cache::read(dir, index))
            .unwrap_or_else(|| self.reports().0[index].clone())
    }

    fn lint(&self) -> (Vec<FileReport>, Vec<FileReport>) {
        let config = self.config;
        let framework = self.framework;
        let mut run = engine::Run::new(&self.settings);
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
        (reports, run.drift())
    }

    /// The test of the application's code: panic when it uses what no migration creates
    /// (`schema-drift`, a warning unless configured otherwise); print what could not be read.
    #[track_caller]
    pub fn check_application(&self) {
        let report = Report {
            files: self.reports().1.clone(),
            notes: self
                .settings
                .knowledge()
                .map(|application| {
                    std::iter::once(application.summary())
                        .chain(
                            application
                                .problems()
                                .map(|p| format!("cannot read the application's code: {p}")),
                        )
                        .collect()
                })
                .unwrap_or_default(),
            ..Report::default()
        };
        if report.fails(self.fail_on) {
            panic!(
                "migration-safety: the application's code and `{}` disagree\n\n{}",
                self.config.display_dir(),
                report.to_human(false)
            );
        }
        eprintln!("{}", report.to_human(false));
    }

    /// The test of migration `index`: panic with the rendered findings when any is an error.
    #[track_caller]
    pub fn check(&self, index: usize) {
        let report = Report {
            files: vec![self.report(index)],
            ..Report::default()
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

/// The cache directory for `config` and the table statistics it applies (read at run time, so
/// not part of the binary):
/// `<directory of the test binary>/../migration-safety/<binary's file name>/<key>`, the key
/// starting with the binary's modification time (see [`cache::prune`]). The key includes what
/// the application's code uses, now and at the base, which the binary does not hold.
fn cache_dir(config: &Config, settings: &Settings) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(&exe).ok()?;
    let modified = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let key = cache::key(
        modified,
        &(
            env!("CARGO_PKG_VERSION"),
            &exe,
            meta.len(),
            format!("{config:?}"),
            format!("{:?}", settings.knowledge()),
            settings.table_statistics().map(Snapshot::to_json),
        ),
    );
    let binary = exe.file_name()?;
    Some(
        exe.parent()?
            .parent()?
            .join("migration-safety")
            .join(binary)
            .join(key),
    )
}

/// The reports of a suite on disk, one JSON file per migration, shared by the processes of one
/// test binary.
mod cache {
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::path::Path;
    use std::time::Duration;

    use serde_json::{Value, json};

    use crate::diagnostic::{Diagnostic, FileReport, Suppressed};
    use crate::layout::Framework;
    use crate::model::LockMode;
    use crate::rule::Severity;
    use crate::source::Position;

    /// The key of a suite whose test binary was built at `built` (since the Unix epoch):
    /// `<built, in nanoseconds, 32 hex digits>-<128-bit hex hash of value>`. Keys of one binary
    /// sort by the build they belong to.
    pub(super) fn key(built: Duration, value: &impl Hash) -> String {
        let half = |salt: u8| {
            let mut hasher = DefaultHasher::new();
            salt.hash(&mut hasher);
            value.hash(&mut hasher);
            hasher.finish()
        };
        format!("{:032x}-{:016x}{:016x}", built.as_nanos(), half(1), half(2))
    }

    /// The build time a cache entry's name starts with (a key, or `.<key>.<pid>` while it is
    /// written).
    fn built(name: &str) -> Option<&str> {
        let (built, _) = name.trim_start_matches('.').split_once('-')?;
        (built.len() == 32 && built.bytes().all(|b| b.is_ascii_hexdigit())).then_some(built)
    }

    /// Remove the entries next to `dir` (the same test binary) that belong to an older build
    /// of it: each rebuild would otherwise leave a copy of every report behind. Entries of the
    /// same build (the binary's other suites) and of newer builds are kept. Safe under
    /// concurrent processes: a process of an older build still running finds its report
    /// missing and lints again, and removals that race each other only fail, which is ignored.
    pub(super) fn prune(dir: &Path) {
        let (Some(parent), Some(current)) = (
            dir.parent(),
            dir.file_name()
                .and_then(|name| built(&name.to_string_lossy()).map(str::to_owned)),
        ) else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(parent) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            if built(&name.to_string_lossy()).is_some_and(|b| b < current.as_str()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// Write the reports into a fresh directory and rename it to `dir`, then [`prune`] older
    /// builds' entries: processes that lint at the same time each write their own, the first
    /// rename wins, and a reader sees a complete directory or none.
    pub(super) fn write(dir: &Path, reports: &[FileReport]) -> std::io::Result<()> {
        if dir.is_dir() {
            return Ok(());
        }
        let parent = dir.parent().unwrap_or(dir);
        std::fs::create_dir_all(parent)?;
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        let scratch = parent.join(format!(".{name}.{}", std::process::id()));
        std::fs::create_dir_all(&scratch)?;
        let written = reports.iter().enumerate().try_for_each(|(i, report)| {
            std::fs::write(
                scratch.join(format!("{i}.json")),
                encode(report).to_string(),
            )
        });
        let renamed = written.and_then(|()| std::fs::rename(&scratch, dir));
        if renamed.is_err() {
            std::fs::remove_dir_all(&scratch)?;
        } else {
            prune(dir);
        }
        renamed
    }

    /// The report of migration `index`, when the cache has it.
    pub(super) fn read(dir: &Path, index: usize) -> Option<FileReport> {
        let text = std::fs::read_to_string(dir.join(format!("{index}.json"))).ok()?;
        decode(&serde_json::from_str(&text).ok()?)
    }

    fn encode_diagnostic(d: &Diagnostic) -> Value {
        json!({
            "rule": d.rule,
            "severity": d.severity.as_str(),
            "message": d.message,
            "help": d.help,
            "range": [d.range.start, d.range.end],
            "start": [d.start.line, d.start.column],
            "end": [d.end.line, d.end.column],
            "lock": d.lock.map(LockMode::sql),
        })
    }

    fn encode(report: &FileReport) -> Value {
        let diagnostics: Vec<Value> = report.diagnostics.iter().map(encode_diagnostic).collect();
        let suppressed: Vec<Value> = report
            .suppressed
            .iter()
            .map(|s| json!({ "diagnostic": encode_diagnostic(&s.diagnostic), "reason": s.reason }))
            .collect();
        json!({
            "path": report.path,
            "framework": report.framework.name(),
            "source": report.source,
            "diagnostics": diagnostics,
            "suppressed": suppressed,
        })
    }

    fn decode(value: &Value) -> Option<FileReport> {
        let pair = |v: &Value| -> Option<(usize, usize)> {
            let a = v.as_array()?;
            Some((
                usize::try_from(a.first()?.as_u64()?).ok()?,
                usize::try_from(a.get(1)?.as_u64()?).ok()?,
            ))
        };
        let position = |v: &Value| pair(v).map(|(line, column)| Position { line, column });
        let diagnostic = |d: &Value| {
            let (start, end) = pair(&d["range"])?;
            Some(Diagnostic {
                rule: crate::rules::lookup(d["rule"].as_str()?).ok()?.name,
                severity: match d["severity"].as_str()? {
                    "error" => Severity::Error,
                    "warning" => Severity::Warning,
                    _ => return None,
                },
                message: d["message"].as_str()?.to_owned(),
                help: d["help"].as_str().map(str::to_owned),
                range: start..end,
                start: position(&d["start"])?,
                end: position(&d["end"])?,
                // The cache keeps what a test reports; fixes are for `migration-safety fix`.
                fix: None,
                lock: match &d["lock"] {
                    Value::Null => None,
                    lock => Some(LockMode::from_sql(lock.as_str()?)?),
                },
            })
        };
        let diagnostics = value["diagnostics"]
            .as_array()?
            .iter()
            .map(diagnostic)
            .collect::<Option<Vec<_>>>()?;
        let suppressed = value["suppressed"]
            .as_array()?
            .iter()
            .map(|s| {
                Some(Suppressed {
                    diagnostic: diagnostic(&s["diagnostic"])?,
                    reason: s["reason"].as_str().map(str::to_owned),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(FileReport {
            path: value["path"].as_str()?.to_owned(),
            framework: Framework::from_name(value["framework"].as_str()?)?,
            source: value["source"].as_str()?.to_owned(),
            diagnostics,
            suppressed,
            application_code: false,
        })
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn reports_survive_the_cache() {
            let report = crate::lint_sql(
                "SET lock_timeout = '1s';\nALTER TABLE users DROP COLUMN é;\nCREATE INDEX i ON users (c);",
                &crate::Settings::default(),
            )
            .files
            .remove(0);
            assert!(report.diagnostics.len() >= 2);
            let root = tempfile::tempdir().unwrap();
            let dir = root.path().join("key");
            super::write(&dir, std::slice::from_ref(&report)).unwrap();
            assert_eq!(super::read(&dir, 0), Some(report.clone()));
            assert_eq!(super::read(&dir, 1), None);
            // A second writer (another test process) leaves the first one's files in place.
            super::write(&dir, &[]).unwrap();
            assert_eq!(super::read(&dir, 0), Some(report));
            assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1);
            let at = std::time::Duration::from_secs(1_700_000_000);
            assert_ne!(super::key(at, &1), super::key(at, &2));
        }

        #[test]
        fn a_new_build_prunes_the_entries_of_older_builds_only() {
            use std::time::Duration;
            let root = tempfile::tempdir().unwrap();
            let binary = root.path().join("consumer-0123");
            let other_binary = root.path().join("other-4567");
            let (old, now, new) = (
                Duration::from_secs(100),
                Duration::from_secs(200),
                Duration::from_secs(300),
            );
            let pid = std::process::id();
            let entries = [
                super::key(old, &"suite a"),
                super::key(old, &"suite b"),
                format!(".{}.{pid}", super::key(old, &"suite a")),
                super::key(now, &"another suite of the same binary"),
                super::key(new, &"a newer build"),
                "not-a-key".to_owned(),
            ];
            for entry in &entries {
                std::fs::create_dir_all(binary.join(entry)).unwrap();
            }
            std::fs::create_dir_all(other_binary.join(super::key(old, &"suite a"))).unwrap();
            let report = crate::lint_sql("SELECT 1;", &crate::Settings::default())
                .files
                .remove(0);
            let current = binary.join(super::key(now, &"suite a"));
            super::write(&current, std::slice::from_ref(&report)).unwrap();
            let mut left: Vec<String> = std::fs::read_dir(&binary)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            left.sort();
            let mut expected = vec![
                entries[3].clone(),
                entries[4].clone(),
                entries[5].clone(),
                super::key(now, &"suite a"),
            ];
            expected.sort();
            assert_eq!(left, expected);
            assert_eq!(super::read(&current, 0), Some(report));
            // Another binary's entries are its own.
            assert_eq!(std::fs::read_dir(&other_binary).unwrap().count(), 1);
        }
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

#[cfg(test)]
mod tests {
    use super::{Config, Embedded, Suite};
    use crate::Severity;
    use crate::stats::{Snapshot, TableStats};

    static CONFIG: Config = Config {
        dir: "migrations",
        manifest_dir: "/nowhere",
        framework: "sqlx",
        detected: false,
        pg_version: Some(16),
        allow: &["drop-column"],
        warn: &["set-not-null"],
        deny: &["rename-column", "drop-table"],
        check_down: false,
        app: None,
        base_ref: None,
        options: &["framework = \"sqlx\"", "pg_version = 16"],
        config_file: None,
        migrations: &[],
        sidecars: &[],
    };

    #[test]
    fn the_suggested_attribute_keeps_the_options_and_names_each_rule_once() {
        assert_eq!(
            CONFIG.allowing(&["drop-column", "rename-column", "set-not-null"]),
            "#[check_migrations(\"migrations\", framework = \"sqlx\", pg_version = 16, allow(\"drop-column\", \"rename-column\", \"set-not-null\"), deny(\"drop-table\"))]"
        );
    }

    #[test]
    fn the_configuration_files_stats_file_downgrades_findings_on_small_tables() {
        let dir = tempfile::tempdir().unwrap();
        let mut snapshot = Snapshot::new("15.18");
        snapshot
            .tables
            .push(TableStats::new("public", "users", 40, 16 << 10));
        std::fs::write(dir.path().join("stats.json"), snapshot.to_json()).unwrap();
        let config_path = dir.path().join("migration-safety.toml");
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let config: &'static Config = Box::leak(Box::new(Config {
            config_file: Some((
                leak(config_path.to_string_lossy().into_owned()),
                b"stats_file = \"stats.json\"\n",
            )),
            migrations: Box::leak(Box::new([Embedded {
                file: "1_index.sql",
                down: false,
                bytes: b"CREATE INDEX users_email_idx ON users (email);\n",
            }])),
            allow: &[],
            warn: &[],
            deny: &[],
            options: &[],
            ..CONFIG
        }));
        let suite = Suite::new(config);
        let reports = suite.reports();
        let finding = reports.0[0]
            .diagnostics
            .iter()
            .find(|d| d.rule == "create-index-non-concurrently")
            .expect("the index is flagged");
        assert_eq!(finding.severity, Severity::Warning, "{}", finding.message);
        assert!(
            finding.message.contains("about 40 rows"),
            "{}",
            finding.message
        );

        std::fs::write(&config_path, "stats_file = \"missing.json\"\n").unwrap();
        let error = Config {
            config_file: Some((
                leak(config_path.to_string_lossy().into_owned()),
                b"stats_file = \"missing.json\"\n",
            )),
            ..CONFIG
        }
        .settings()
        .unwrap_err();
        assert!(error.to_string().contains("missing.json"), "{error}");
    }
}

//! Findings as users see them: a diagnostic per hazard, grouped by file in a report.

use std::ops::Range;

use crate::fix::Fix;
use crate::layout::{Framework, Skipped};
use crate::model::LockMode;
use crate::render::{self, Format};
use crate::rule::{Claim, Severity};
use crate::settings::FailOn;
use crate::source::Position;

/// One finding in a migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule's kebab-case name, such as `create-index-non-concurrently`.
    pub rule: &'static str,
    /// How serious it is, after settings.
    pub severity: Severity,
    /// What is wrong and why: the lock taken and what it blocks.
    pub message: String,
    /// The safe alternative, written with the statement's own names.
    pub help: Option<String>,
    /// Byte range in the file's text.
    pub range: Range<usize>,
    /// Where it starts (1-based).
    pub start: Position,
    /// Where it ends (1-based, the last character).
    pub end: Position,
    /// The help as edits and new migration files, when the rule has a mechanical fix for this
    /// finding (see [`crate::fix`]).
    pub fix: Option<Fix>,
    /// The lock the flagged statement holds, as the statement model says, on the table (view,
    /// sequence) it names first while it runs: its own, or a stronger one that an earlier
    /// statement of its transaction took there. `None` when it names none (a function, a
    /// type; an index, whose table it locks without naming it). It chooses the rule's claims
    /// that describe this statement ([`Diagnostic::claims`]).
    pub lock: Option<LockMode>,
}

impl Diagnostic {
    /// The claims of its rule that describe the flagged statement on PostgreSQL `major`:
    /// those its [`lock`](Diagnostic::lock) selects ([`RuleMeta::claims_for`](crate::RuleMeta::claims_for)).
    ///
    /// ```
    /// use migration_safety::{LockMode, Outcome, Settings, lint_sql};
    /// let report = lint_sql(
    ///     "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
    ///     &Settings::default(),
    /// );
    /// let (_, finding) = report.diagnostics().find(|(_, d)| d.rule == "add-foreign-key").unwrap();
    /// assert_eq!(finding.lock, Some(LockMode::ShareRowExclusive));
    /// for claim in finding.claims(15) {
    ///     let Outcome::Takes { table: Some(table), .. } = claim.outcome else { panic!() };
    ///     assert_eq!(table.lock, LockMode::ShareRowExclusive);
    /// }
    /// ```
    pub fn claims(&self, major: u32) -> Vec<&'static Claim> {
        crate::rules::lookup(self.rule)
            .map_or_else(|_| Vec::new(), |rule| rule.claims_for(major, self.lock))
    }
}

/// A finding that a `-- migration-safety: ignore…` directive (or `IGNORE_MIGRATION_CHECKS`)
/// suppressed: it does not count, but machine formats such as SARIF still report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// The finding, as it would have been reported.
    pub diagnostic: Diagnostic,
    /// Why it is accepted, as the directive says after `--`.
    pub reason: Option<String>,
}

/// The findings of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The path as given (relative paths stay relative).
    pub path: String,
    /// The framework the file was run as.
    pub framework: Framework,
    /// The file's text (decoded, without a byte-order mark).
    pub source: String,
    /// Findings, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// Findings that a directive suppressed, in source order.
    pub suppressed: Vec<Suppressed>,
    /// The file is the application's code (a `schema-drift` finding's place), not a
    /// migration: nothing in it runs on the database.
    pub application_code: bool,
}

/// A directory of migrations that was linted, and how it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    /// The path as given.
    pub path: String,
    /// The framework whose layout and transaction semantics were assumed.
    pub framework: Framework,
    /// Whether the framework was detected from the directory rather than set.
    pub detected: bool,
    /// How many migration files it holds (up and, when checked, down).
    pub migrations: usize,
}

/// The findings of a lint run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The directories linted, in the order given (files given on their own are not listed).
    pub directories: Vec<Directory>,
    /// One entry per file, in migration order.
    pub files: Vec<FileReport>,
    /// Entries of the directories linted that look like migrations but were passed over
    /// (FIFOs and other special files, symbolic links back into a searched directory).
    pub skipped: Vec<Skipped>,
    /// What else the run has to say: which application code it read, and what of it could
    /// not be read.
    pub notes: Vec<String>,
}

impl Report {
    /// Every diagnostic with its file.
    pub fn diagnostics(&self) -> impl Iterator<Item = (&FileReport, &Diagnostic)> {
        self.files
            .iter()
            .flat_map(|f| f.diagnostics.iter().map(move |d| (f, d)))
    }

    /// Number of error-severity findings.
    pub fn error_count(&self) -> usize {
        self.diagnostics()
            .filter(|(_, d)| d.severity == Severity::Error)
            .count()
    }

    /// Number of warning-severity findings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics()
            .filter(|(_, d)| d.severity == Severity::Warning)
            .count()
    }

    /// Number of findings that directives suppressed.
    pub fn suppressed_count(&self) -> usize {
        self.files.iter().map(|f| f.suppressed.len()).sum()
    }

    /// Whether any finding is an error.
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Whether any finding fails a check under `fail_on`.
    ///
    /// ```
    /// use migration_safety::{FailOn, Settings, lint_sql};
    ///
    /// // Only a warning: the statement sets no lock_timeout.
    /// let report = lint_sql("ALTER TABLE users ADD COLUMN nickname text;", &Settings::default());
    /// assert!(!report.fails(FailOn::Error));
    /// assert!(report.fails(FailOn::Warning));
    /// assert!(!report.fails(FailOn::Never));
    /// ```
    pub fn fails(&self, fail_on: FailOn) -> bool {
        self.diagnostics().any(|(_, d)| fail_on.fails(d.severity))
    }

    /// Rustc-style text; `color` adds ANSI styling.
    pub fn to_human(&self, color: bool) -> String {
        render::render(self, Format::Human, FailOn::default(), color)
    }

    /// The JSON format (see [`Format::Json`]).
    pub fn to_json(&self) -> String {
        render::render(self, Format::Json, FailOn::default(), false)
    }

    /// The report in one of the output formats (human text without colour). `fail_on` decides
    /// which findings fail a test case in [`Format::Junit`], as they fail the run.
    ///
    /// ```
    /// use migration_safety::{FailOn, Format, Settings, lint_sql};
    ///
    /// let report = lint_sql("CREATE INDEX users_email_idx ON users (email);", &Settings::default());
    /// let concise = report.render(Format::Concise, FailOn::Error);
    /// assert!(concise.starts_with("input.sql:1:1: error[create-index-non-concurrently] "));
    /// ```
    pub fn render(&self, format: Format, fail_on: FailOn) -> String {
        render::render(self, format, fail_on, false)
    }

    /// Panic with the rendered findings when any of them is an error; print warnings otherwise.
    ///
    /// ```should_panic
    /// let report = migration_safety::lint_sql("ALTER TABLE users DROP COLUMN email;", &Default::default());
    /// report.assert_clean(); // panics: drop-column
    /// ```
    #[track_caller]
    pub fn assert_clean(&self) {
        if self.has_errors() {
            panic!(
                "migration-safety found {} error(s) in the migrations:\n\n{}",
                self.error_count(),
                self.to_human(false)
            );
        }
        if self.warning_count() > 0 {
            eprintln!("{}", self.to_human(false));
        }
    }
}

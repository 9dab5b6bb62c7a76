//! Renderers: a finished [`Report`] in each output format, one module per format. They only
//! read the report; the engine knows nothing of them.

pub(crate) mod concise;
pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod sarif;

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Report};
use crate::fix::Edit;
use crate::rule::RuleMeta;
use crate::settings::FailOn;
use crate::source::{Position, SourceFile};

/// An output format of [`Report::render`] and `migration-safety check --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[non_exhaustive]
pub enum Format {
    /// Rustc-style diagnostics with the source excerpt, the why and the safe alternative.
    #[default]
    Human,
    /// Versioned JSON: frameworks, findings with category and help, suppressions, counts.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// GitHub Actions workflow commands: annotations on the pull request's files.
    Github,
    /// A GitLab Code Quality report.
    Gitlab,
    /// JUnit XML: one test case per migration file, failing on its findings.
    Junit,
    /// One line per finding: `path:line:col: severity[rule] message`.
    Concise,
}

impl Format {
    /// Whether the output carries each finding's fix (as edits and new files).
    ///
    /// ```
    /// use migration_safety::Format;
    ///
    /// assert!(Format::Sarif.shows_fixes());
    /// assert!(!Format::Human.shows_fixes());
    /// ```
    pub fn shows_fixes(self) -> bool {
        matches!(self, Self::Json | Self::Sarif)
    }
}

pub(crate) fn render(report: &Report, format: Format, fail_on: FailOn) -> String {
    match format {
        Format::Human => human::render(report, false),
        Format::Json => json::render(report),
        Format::Sarif => sarif::render(report),
        Format::Github => github::render(report),
        Format::Gitlab => gitlab::render(report),
        Format::Junit => junit::render(report, fail_on),
        Format::Concise => concise::render(report),
    }
}

/// The metadata of a rule the engine reported.
pub(crate) fn meta(rule: &str) -> &'static RuleMeta {
    crate::rules::lookup(rule).expect("the engine reports only rules that exist")
}

/// The rule's documentation page in the repository.
pub(crate) fn docs_url(rule: &RuleMeta) -> String {
    format!(
        "{}/blob/main/docs/rules/{}.md",
        env!("CARGO_PKG_REPOSITORY"),
        rule.name
    )
}

/// `1 error`, `2 warnings`.
pub(crate) fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The one-line summary the text formats end with.
pub(crate) fn summary(report: &Report) -> String {
    let files = report.files.len();
    let (errors, warnings) = (report.error_count(), report.warning_count());
    let suppressed = match report.suppressed_count() {
        0 => String::new(),
        n => format!(" ({n} suppressed)"),
    };
    if errors + warnings == 0 {
        return format!(
            "migration-safety: no hazards found in {}{suppressed}",
            plural(files, "file")
        );
    }
    format!(
        "migration-safety: {} and {} in {}{suppressed}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files, "file")
    )
}

/// Fingerprints that identify a finding across runs, whatever lines move around it: a hash of
/// the path, the rule and the flagged SQL with its whitespace collapsed, plus an ordinal that
/// tells identical findings in one file apart.
#[derive(Default)]
pub(crate) struct Fingerprints {
    seen: HashMap<String, usize>,
}

impl Fingerprints {
    pub(crate) fn of(&mut self, path: &str, source: &str, diagnostic: &Diagnostic) -> String {
        let flagged = source
            .get(diagnostic.range.clone())
            .unwrap_or_default()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let key = format!(
            "{}\0{}\0{flagged}",
            path.replace('\\', "/"),
            diagnostic.rule
        );
        let ordinal = self.seen.entry(key.clone()).or_default();
        *ordinal += 1;
        let digest = Sha256::digest(format!("{key}\0{ordinal}").as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where the edits of fixes fall in the files of a report, as 1-based positions: the line
/// index of each file is built once, when an edit first needs it.
#[derive(Default)]
pub(crate) struct EditPositions {
    files: HashMap<String, Option<SourceFile>>,
}

impl EditPositions {
    /// The position of the edit's first byte and the one just after it (equal for an
    /// insertion); `None` when the edit's file is not one of the report's.
    pub(crate) fn span(&mut self, report: &Report, edit: &Edit) -> Option<(Position, Position)> {
        let path = edit.path.to_string_lossy().into_owned();
        let file = self.files.entry(path).or_insert_with_key(|path| {
            report
                .files
                .iter()
                .find(|f| f.path == *path)
                .map(|f| SourceFile::from_bytes(f.source.as_bytes()))
        });
        let file = file.as_ref()?;
        Some((
            file.position(edit.range.start),
            file.position(edit.range.end),
        ))
    }
}

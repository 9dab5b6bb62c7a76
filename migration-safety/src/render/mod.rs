//! Renderers: a report in each output format, one module per format, written file by file as
//! a run checks them ([`Renderer`]) or from a finished [`Report`]. They only read what they
//! are given; the engine knows nothing of them.

pub(crate) mod concise;
pub(crate) mod github;
pub(crate) mod gitlab;
pub(crate) mod human;
pub(crate) mod json;
pub(crate) mod junit;
pub(crate) mod sarif;

use std::collections::HashMap;
use std::io::{self, Write};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, FileReport, Report};
use crate::fix::Edit;
use crate::rule::{RuleMeta, Severity};
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

/// The report in `format`, rendered file by file into memory by [`Renderer`]: the one
/// implementation of every format, whether the files come from a finished report or as a run
/// checks them.
pub(crate) fn render(report: &Report, format: Format, fail_on: FailOn, color: bool) -> String {
    let mut renderer = Renderer::start(Vec::new(), format, fail_on, color, report)
        .expect("writing to memory does not fail");
    for file in &report.files {
        renderer
            .file(file)
            .expect("writing to memory does not fail");
    }
    let (out, _) = renderer
        .finish(&report.notes)
        .expect("writing to memory does not fail");
    String::from_utf8(out).expect("the renderers write UTF-8")
}

/// What the files of a report add up to, counted as they are rendered.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    /// Files rendered.
    pub(crate) files: usize,
    /// Error-severity findings.
    pub(crate) errors: usize,
    /// Warning-severity findings.
    pub(crate) warnings: usize,
    /// Findings that directives suppressed.
    pub(crate) suppressed: usize,
    /// Files with a finding that fails under the run's `fail_on`.
    pub(crate) failing_files: usize,
}

impl Totals {
    /// Count one more file.
    fn add(&mut self, file: &FileReport, fail_on: FailOn) {
        self.files += 1;
        for d in &file.diagnostics {
            match d.severity {
                Severity::Error => self.errors += 1,
                Severity::Warning => self.warnings += 1,
            }
        }
        self.suppressed += file.suppressed.len();
        if file.diagnostics.iter().any(|d| fail_on.fails(d.severity)) {
            self.failing_files += 1;
        }
    }

    /// Whether any finding fails under the run's `fail_on`, as [`Report::fails`] says.
    pub(crate) fn fails(&self) -> bool {
        self.failing_files > 0
    }
}

/// One output format written file by file: what it needs to remember between files is its
/// own state, never the files themselves.
trait Incremental {
    /// What comes before the first file; `outline` holds the report's directories and the
    /// entries the layouts skipped, and no files.
    fn start(&mut self, _out: &mut dyn Write, _outline: &Report) -> io::Result<()> {
        Ok(())
    }

    /// One file's part of the output.
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()>;

    /// What comes after the last file; `outline` now holds the run's notes too, and `totals`
    /// counts every file written.
    fn finish(
        &mut self,
        _out: &mut dyn Write,
        _outline: &Report,
        _totals: &Totals,
    ) -> io::Result<()> {
        Ok(())
    }
}

/// A report rendered as its files come: [`start`](Renderer::start) with what is known before
/// the first file, one [`file`](Renderer::file) call per file in order, then
/// [`finish`](Renderer::finish). Memory follows the largest file, not the report (except
/// JUnit's, see [`junit`]).
pub(crate) struct Renderer<W: Write> {
    out: W,
    /// The directories and skipped entries of the report, without files.
    outline: Report,
    fail_on: FailOn,
    totals: Totals,
    format: Box<dyn Incremental>,
}

impl<W: Write> Renderer<W> {
    /// Start rendering in `format` to `out`, with the directories and skipped entries of
    /// `outline` (its files are not read). `fail_on` decides which findings fail (a JUnit
    /// test case, [`Totals::fails`]); `color` styles the human format.
    pub(crate) fn start(
        mut out: W,
        format: Format,
        fail_on: FailOn,
        color: bool,
        outline: &Report,
    ) -> io::Result<Self> {
        let outline = Report {
            directories: outline.directories.clone(),
            skipped: outline.skipped.clone(),
            ..Report::default()
        };
        let mut format: Box<dyn Incremental> = match format {
            Format::Human => Box::new(human::Human::new(color)),
            Format::Json => Box::<json::Json>::default(),
            Format::Sarif => Box::<sarif::Sarif>::default(),
            Format::Github => Box::new(github::Github),
            Format::Gitlab => Box::<gitlab::Gitlab>::default(),
            Format::Junit => Box::new(junit::Junit::new(fail_on)),
            Format::Concise => Box::new(concise::Concise),
        };
        format.start(&mut out, &outline)?;
        Ok(Self {
            out,
            outline,
            fail_on,
            totals: Totals::default(),
            format,
        })
    }

    /// Write the next file's part.
    pub(crate) fn file(&mut self, file: &FileReport) -> io::Result<()> {
        self.totals.add(file, self.fail_on);
        self.format.file(&mut self.out, file)
    }

    /// Write what follows the files, with the run's `notes`; hands back the output and what
    /// the files added up to.
    pub(crate) fn finish(mut self, notes: &[String]) -> io::Result<(W, Totals)> {
        self.outline.notes = notes.to_vec();
        self.format
            .finish(&mut self.out, &self.outline, &self.totals)?;
        Ok((self.out, self.totals))
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
pub(crate) fn summary(totals: &Totals) -> String {
    let (files, errors, warnings) = (totals.files, totals.errors, totals.warnings);
    let suppressed = match totals.suppressed {
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
/// tells identical findings in one file apart. Findings seen are remembered by their key's
/// digest, not its text.
#[derive(Default)]
pub(crate) struct Fingerprints {
    seen: HashMap<[u8; 32], usize>,
}

impl Fingerprints {
    /// The fingerprint of the next finding of `path`, whose text is `source`.
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
        let ordinal = self.seen.entry(Sha256::digest(&key).into()).or_default();
        *ordinal += 1;
        let digest = Sha256::digest(format!("{key}\0{ordinal}").as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Where the edits of a file's fixes fall in it, as 1-based positions: its line index is
/// built once, when an edit first needs it. Every fix edits the file of its finding.
pub(crate) struct EditPositions<'f> {
    file: &'f FileReport,
    index: Option<SourceFile>,
}

impl<'f> EditPositions<'f> {
    /// The positions of the edits of `file`'s fixes.
    pub(crate) fn new(file: &'f FileReport) -> Self {
        Self { file, index: None }
    }

    /// The position of the edit's first byte and the one just after it (equal for an
    /// insertion); `None` when the edit is not of this file.
    pub(crate) fn span(&mut self, edit: &Edit) -> Option<(Position, Position)> {
        if edit.path.to_string_lossy() != self.file.path.as_str() {
            return None;
        }
        let index = self
            .index
            .get_or_insert_with(|| SourceFile::from_bytes(self.file.source.as_bytes()));
        Some((
            index.position(edit.range.start),
            index.position(edit.range.end),
        ))
    }
}

/// A JSON array of a pretty-printed document written element by element, byte for byte as
/// `serde_json::to_string_pretty` writes it whole.
pub(crate) struct PrettyArray {
    /// The indentation of the line the array opens on.
    indent: usize,
    /// Elements written so far.
    len: usize,
}

impl PrettyArray {
    /// An array whose opening line is indented by `indent` spaces.
    pub(crate) fn new(indent: usize) -> Self {
        Self { indent, len: 0 }
    }

    /// Cut `document`, a pretty-printed document whose array under `key` is empty, around that
    /// array: the text up to its `[` (included), the array, and the text after its `]`.
    pub(crate) fn split<'d>(document: &'d str, key: &str) -> (&'d str, Self, &'d str) {
        // Inside a string a quote is escaped, so the first key with an empty array is the one.
        let marker = format!("\"{key}\": []");
        let at = document
            .find(&marker)
            .expect("the document has the empty array");
        let line = document[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = at + marker.len();
        (&document[..end - 1], Self::new(at - line), &document[end..])
    }

    /// Write the next element, indented as it stands in the array, in one write.
    pub(crate) fn element(
        &mut self,
        out: &mut dyn Write,
        value: &impl Serialize,
    ) -> io::Result<()> {
        let text = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
        let indent = self.indent + 2;
        let lines = text.iter().filter(|&&b| b == b'\n').count() + 1;
        let mut element = Vec::with_capacity(2 + text.len() + lines * indent);
        element.extend_from_slice(if self.len == 0 { b"\n" } else { b",\n" });
        // A pretty-printed string holds no line break of its own: each one is indentation.
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                element.push(b'\n');
            }
            element.resize(element.len() + indent, b' ');
            element.extend_from_slice(line);
        }
        out.write_all(&element)?;
        self.len += 1;
        Ok(())
    }

    /// Write what closes the array: its `]` on a line of its own unless it is empty.
    pub(crate) fn close(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.len > 0 {
            write!(out, "\n{}", " ".repeat(self.indent))?;
        }
        out.write_all(b"]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    const FORMATS: [Format; 7] = [
        Format::Human,
        Format::Json,
        Format::Sarif,
        Format::Github,
        Format::Gitlab,
        Format::Junit,
        Format::Concise,
    ];

    /// The report, with fixes, of `tests/data/streamed`: a clean migration, then two with
    /// findings (one of them suppressed) that fixes edit.
    fn report() -> Report {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/streamed");
        let settings = Settings::default().fixes(true);
        crate::lint_paths(&[dir.into()], &settings).unwrap()
    }

    #[test]
    fn each_file_is_written_by_its_own_call() {
        let report = report();
        assert_eq!(report.files.len(), 3);
        assert!(report.suppressed_count() > 0);
        assert!(report.diagnostics().any(|(_, d)| d.fix.is_some()));
        for format in FORMATS {
            let mut renderer =
                Renderer::start(Vec::new(), format, FailOn::Warning, false, &report).unwrap();
            for file in &report.files {
                let before = renderer.out.len();
                renderer.file(file).unwrap();
                let part = String::from_utf8(renderer.out[before..].to_vec()).unwrap();
                let name = file.path.rsplit('/').next().unwrap();
                let written = match format {
                    // JUnit's counts open the document: its test cases wait for the end.
                    Format::Junit => false,
                    // JSON lists every file, with its findings or none.
                    Format::Json => true,
                    _ => !file.diagnostics.is_empty(),
                };
                assert_eq!(part.contains(name), written, "{format:?} {name}: {part}");
            }
            let (out, totals) = renderer.finish(&report.notes).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                report.render(format, FailOn::Warning),
                "{format:?}"
            );
            assert_eq!(
                (
                    totals.files,
                    totals.errors,
                    totals.warnings,
                    totals.suppressed
                ),
                (
                    3,
                    report.error_count(),
                    report.warning_count(),
                    report.suppressed_count()
                )
            );
            assert_eq!(totals.fails(), report.fails(FailOn::Warning));
        }
    }

    #[test]
    fn json_documents_are_as_serde_json_prints_them_whole() {
        for report in [report(), Report::default()] {
            // SARIF's and GitLab's objects have their keys sorted, as a `Value` prints them.
            for format in [Format::Sarif, Format::Gitlab] {
                let text = report.render(format, FailOn::Error);
                let value: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(serde_json::to_string_pretty(&value).unwrap(), text);
            }
            // JSON keeps its fields' order, which a `Value` does not: its layout is the
            // formats snapshot's.
            let text = report.to_json();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            let files = value["files"].as_array().unwrap();
            assert_eq!(
                files.is_empty(),
                text.contains("\n  \"files\": [],\n"),
                "{text}"
            );
        }
    }
}

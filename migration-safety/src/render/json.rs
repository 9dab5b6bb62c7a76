//! `json`: the whole report for machines, versioned by its `"version"` field.

use std::io::{self, Write};

use serde::Serialize;

use super::{EditPositions, Incremental, PrettyArray, Totals};
use crate::diagnostic::{Diagnostic, FileReport, Report};
use crate::rule::Severity;

/// The version of the JSON layout; it changes only when a field changes meaning or goes away.
pub(crate) const VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    tool: Tool,
    directories: Vec<JsonDirectory<'a>>,
    files: Vec<JsonFile<'a>>,
    skipped: Vec<JsonSkipped>,
    summary: Summary,
}

#[derive(Serialize)]
struct JsonSkipped {
    path: String,
    reason: String,
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
struct JsonDirectory<'a> {
    path: &'a str,
    framework: &'static str,
    detected: bool,
    migrations: usize,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    framework: &'static str,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    suppressed: Vec<JsonSuppressed<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    rule: &'a str,
    category: &'static str,
    severity: Severity,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    help: Option<&'a str>,
    /// The finding's fix, as `migration-safety fix` applies it.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<JsonFix<'a>>,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    title: &'a str,
    edits: Vec<JsonEdit<'a>>,
    new_files: Vec<JsonNewFile<'a>>,
}

/// A replacement of a range of a file: 1-based positions (the end is the position just after
/// the range, equal to the start for an insertion) and the byte range of the file's text
/// (decoded, without a byte-order mark).
#[derive(Serialize)]
struct JsonEdit<'a> {
    path: String,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    byte_start: usize,
    byte_end: usize,
    replacement: &'a str,
}

#[derive(Serialize)]
struct JsonNewFile<'a> {
    path: String,
    contents: &'a str,
}

#[derive(Serialize)]
struct JsonSuppressed<'a> {
    #[serde(flatten)]
    diagnostic: JsonDiagnostic<'a>,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Summary {
    files: usize,
    errors: usize,
    warnings: usize,
    suppressed: usize,
}

fn diagnostic<'a>(d: &'a Diagnostic, positions: &mut EditPositions<'_>) -> JsonDiagnostic<'a> {
    let fix = d.fix.as_ref().map(|fix| JsonFix {
        title: &fix.title,
        edits: fix
            .edits
            .iter()
            .filter_map(|edit| {
                let (start, end) = positions.span(edit)?;
                Some(JsonEdit {
                    path: edit.path.to_string_lossy().into_owned(),
                    line: start.line,
                    column: start.column,
                    end_line: end.line,
                    end_column: end.column,
                    byte_start: edit.range.start,
                    byte_end: edit.range.end,
                    replacement: &edit.replacement,
                })
            })
            .collect(),
        new_files: fix
            .new_files
            .iter()
            .map(|new| JsonNewFile {
                path: new.path.to_string_lossy().into_owned(),
                contents: &new.contents,
            })
            .collect(),
    });
    JsonDiagnostic {
        rule: d.rule,
        category: super::meta(d.rule).category.as_str(),
        severity: d.severity,
        line: d.start.line,
        column: d.start.column,
        end_line: d.end.line,
        end_column: d.end.column,
        message: &d.message,
        help: d.help.as_deref(),
        fix,
    }
}

/// The report as pretty-printed JSON; the README documents the layout. The document is cut
/// around its `files` array, which is written a file at a time.
#[derive(Default)]
pub(crate) struct Json {
    files: Option<PrettyArray>,
}

impl Json {
    /// The whole document with no files.
    fn document(outline: &Report, totals: &Totals) -> String {
        let json = JsonReport {
            version: VERSION,
            tool: Tool {
                name: env!("CARGO_PKG_NAME"),
                version: env!("CARGO_PKG_VERSION"),
            },
            directories: outline
                .directories
                .iter()
                .map(|d| JsonDirectory {
                    path: &d.path,
                    framework: d.framework.name(),
                    detected: d.detected,
                    migrations: d.migrations,
                })
                .collect(),
            files: Vec::new(),
            skipped: outline
                .skipped
                .iter()
                .map(|s| JsonSkipped {
                    path: s.path.display().to_string(),
                    reason: s.reason.clone(),
                })
                .collect(),
            summary: Summary {
                files: totals.files,
                errors: totals.errors,
                warnings: totals.warnings,
                suppressed: totals.suppressed,
            },
        };
        serde_json::to_string_pretty(&json).expect("the report serialises")
    }
}

impl Incremental for Json {
    fn start(&mut self, out: &mut dyn Write, outline: &Report) -> io::Result<()> {
        let document = Self::document(outline, &Totals::default());
        let (head, files, _) = PrettyArray::split(&document, "files");
        self.files = Some(files);
        out.write_all(head.as_bytes())
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        let mut positions = EditPositions::new(file);
        let json = JsonFile {
            path: &file.path,
            framework: file.framework.name(),
            diagnostics: file
                .diagnostics
                .iter()
                .map(|d| diagnostic(d, &mut positions))
                .collect(),
            suppressed: file
                .suppressed
                .iter()
                .map(|s| JsonSuppressed {
                    diagnostic: diagnostic(&s.diagnostic, &mut positions),
                    reason: s.reason.as_deref(),
                })
                .collect(),
        };
        self.files
            .as_mut()
            .expect("started before its files")
            .element(out, &json)
    }

    fn finish(&mut self, out: &mut dyn Write, outline: &Report, totals: &Totals) -> io::Result<()> {
        let document = Self::document(outline, totals);
        let (_, _, tail) = PrettyArray::split(&document, "files");
        self.files
            .as_ref()
            .expect("started before finishing")
            .close(out)?;
        out.write_all(tail.as_bytes())
    }
}

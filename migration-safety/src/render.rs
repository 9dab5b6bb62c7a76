//! Renderers: rustc-style text for people, JSON for machines.

use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
use serde::Serialize;

use crate::diagnostic::Report;
use crate::rule::{Category, Severity};
use crate::rules;

/// Rustc-style diagnostics followed by a summary line.
pub(crate) fn human(report: &Report, color: bool) -> String {
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    let mut out = String::new();
    for file in &report.files {
        for diagnostic in &file.diagnostics {
            let level = match diagnostic.severity {
                Severity::Error => Level::ERROR,
                Severity::Warning => Level::WARNING,
            };
            let (excerpt, excerpt_span) = excerpt(&file.source, &diagnostic.range);
            let mut group: Group<'_> = level
                .primary_title(diagnostic.message.as_str())
                .id(diagnostic.rule)
                .element(
                    Snippet::source(excerpt)
                        .line_start(diagnostic.start.line)
                        .path(file.path.as_str())
                        .annotation(AnnotationKind::Primary.span(excerpt_span.clone())),
                );
            if let Some(help) = &diagnostic.help {
                group = group.element(Level::HELP.message(help.as_str()));
            }
            let suppressible =
                rules::lookup(diagnostic.rule).is_ok_and(|m| m.category != Category::Meta);
            if suppressible {
                group = group.element(Level::NOTE.message(format!(
                    "to accept the risk knowingly, put `-- migration-safety: ignore {} -- <reason>` on the line above the statement",
                    diagnostic.rule
                )));
            }
            let mut rendered = renderer.render(&[group]);
            // The excerpt of a long line starts inside it, so the column annotate-snippets
            // counts is the one within the excerpt: put the file's column in its place.
            let counted = excerpt[..excerpt_span.start].chars().count() + 1;
            if counted != diagnostic.start.column {
                let (line, path) = (diagnostic.start.line, &file.path);
                rendered = rendered.replacen(
                    &format!("{path}:{line}:{counted}"),
                    &format!("{path}:{line}:{}", diagnostic.start.column),
                    1,
                );
            }
            out.push_str(&rendered);
            out.push_str("\n\n");
        }
    }
    for skipped in &report.skipped {
        out.push_str(&format!("note: {skipped}\n"));
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// How much of a long line around a span the excerpt keeps, in bytes on each side.
const CONTEXT: usize = 256;

/// The lines a range covers, cut to [`CONTEXT`] bytes on either side of the range, and the
/// range within them: rendering a diagnostic costs the size of its statement, not of the
/// file, even when the whole file is one line.
fn excerpt<'s>(source: &'s str, range: &Range<usize>) -> (&'s str, Range<usize>) {
    let floor = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let window_start = floor(range.start.saturating_sub(CONTEXT));
    let start = source[window_start..range.start]
        .rfind('\n')
        .map_or(window_start, |i| window_start + i + 1);
    let window_end = ceil((range.end + CONTEXT).min(source.len()));
    let mut end = source[range.end..window_end]
        .find('\n')
        .map_or(window_end, |i| range.end + i);
    if end > range.end && source[..end].ends_with('\r') {
        end -= 1;
    }
    (&source[start..end], range.start - start..range.end - start)
}

fn summary(report: &Report) -> String {
    let files = report.files.len();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (errors, warnings) = (report.error_count(), report.warning_count());
    if errors + warnings == 0 {
        return format!(
            "migration-safety: no hazards found in {}",
            plural(files, "file")
        );
    }
    format!(
        "migration-safety: {} and {} in {}",
        plural(errors, "error"),
        plural(warnings, "warning"),
        plural(files, "file")
    )
}

#[derive(Serialize)]
struct JsonReport<'a> {
    files: Vec<JsonFile<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    skipped: Vec<JsonSkipped>,
}

#[derive(Serialize)]
struct JsonSkipped {
    path: String,
    reason: String,
}

#[derive(Serialize)]
struct JsonFile<'a> {
    path: &'a str,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    rule: &'a str,
    severity: Severity,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    help: Option<&'a str>,
}

/// `{"files": [{"path", "diagnostics": [{"rule", "severity", "line", "column", "end_line", "end_column", "message", "help"}]}]}`,
/// plus `"skipped": [{"path", "reason"}]` when entries were passed over.
pub(crate) fn json(report: &Report) -> String {
    let files = report
        .files
        .iter()
        .map(|file| JsonFile {
            path: &file.path,
            diagnostics: file
                .diagnostics
                .iter()
                .map(|d| JsonDiagnostic {
                    rule: d.rule,
                    severity: d.severity,
                    line: d.start.line,
                    column: d.start.column,
                    end_line: d.end.line,
                    end_column: d.end.column,
                    message: &d.message,
                    help: d.help.as_deref(),
                })
                .collect(),
        })
        .collect();
    let skipped = report
        .skipped
        .iter()
        .map(|s| JsonSkipped {
            path: s.path.display().to_string(),
            reason: s.reason.clone(),
        })
        .collect();
    serde_json::to_string_pretty(&JsonReport { files, skipped }).expect("the report serialises")
}

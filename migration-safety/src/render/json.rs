//! `json`: the whole report for machines, versioned by its `"version"` field.

use serde::Serialize;

use crate::diagnostic::{Diagnostic, Report};
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

fn diagnostic(d: &Diagnostic) -> JsonDiagnostic<'_> {
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
    }
}

/// The report as pretty-printed JSON; the README documents the layout.
pub(crate) fn render(report: &Report) -> String {
    let json = JsonReport {
        version: VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        directories: report
            .directories
            .iter()
            .map(|d| JsonDirectory {
                path: &d.path,
                framework: d.framework.name(),
                detected: d.detected,
                migrations: d.migrations,
            })
            .collect(),
        files: report
            .files
            .iter()
            .map(|file| JsonFile {
                path: &file.path,
                framework: file.framework.name(),
                diagnostics: file.diagnostics.iter().map(diagnostic).collect(),
                suppressed: file
                    .suppressed
                    .iter()
                    .map(|s| JsonSuppressed {
                        diagnostic: diagnostic(&s.diagnostic),
                        reason: s.reason.as_deref(),
                    })
                    .collect(),
            })
            .collect(),
        skipped: report
            .skipped
            .iter()
            .map(|s| JsonSkipped {
                path: s.path.display().to_string(),
                reason: s.reason.clone(),
            })
            .collect(),
        summary: Summary {
            files: report.files.len(),
            errors: report.error_count(),
            warnings: report.warning_count(),
            suppressed: report.suppressed_count(),
        },
    };
    serde_json::to_string_pretty(&json).expect("the report serialises")
}

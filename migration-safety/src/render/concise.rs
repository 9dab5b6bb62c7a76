//! `concise`: one line per finding, `path:line:col: severity[rule] message`, for grep and
//! editors' error parsers.

use crate::diagnostic::Report;

pub(crate) fn render(report: &Report) -> String {
    report
        .diagnostics()
        .map(|(file, d)| {
            format!(
                "{}:{}:{}: {}[{}] {}\n",
                file.path,
                d.start.line,
                d.start.column,
                d.severity,
                d.rule,
                d.message.replace(['\r', '\n'], " ")
            )
        })
        .collect()
}

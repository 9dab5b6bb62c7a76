//! `github`: GitHub Actions workflow commands, which the runner turns into annotations on the
//! pull request's files: `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=rule::message`.

use crate::diagnostic::Report;
use crate::rule::Severity;

/// One command per finding (errors as `::error`, warnings as `::warning`), then the summary.
pub(crate) fn render(report: &Report) -> String {
    let mut out = String::new();
    for (file, d) in report.diagnostics() {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = vec![
            ("file", file.path.replace('\\', "/")),
            ("line", d.start.line.to_string()),
        ];
        // GitHub takes columns only on a one-line annotation.
        if d.start.line == d.end.line {
            properties.push(("col", d.start.column.to_string()));
        }
        properties.push(("endLine", d.end.line.to_string()));
        if d.start.line == d.end.line {
            properties.push(("endColumn", d.end.column.to_string()));
        }
        properties.push(("title", d.rule.to_owned()));
        let properties: Vec<String> = properties
            .iter()
            .map(|(key, value)| format!("{key}={}", escape_property(value)))
            .collect();
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\n\nhelp: ");
            message.push_str(help);
        }
        out.push_str(&format!(
            "::{command} {}::{}\n",
            properties.join(","),
            escape_data(&message)
        ));
    }
    out.push_str(&super::summary(report));
    out.push('\n');
    out
}

/// A command's message: `%`, CR and LF are percent-encoded.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: also `:` and `,`, which delimit properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_the_runner() {
        assert_eq!(escape_data("100%\r\nok: a,b"), "100%25%0D%0Aok: a,b");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}

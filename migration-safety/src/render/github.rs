//! `github`: GitHub Actions workflow commands, which the runner turns into annotations on the
//! pull request's files: `::error file=…,line=…,col=…,endLine=…,endColumn=…,title=rule::message`.

use std::io::{self, Write};

use super::{Incremental, Totals};
use crate::diagnostic::{FileReport, Report};
use crate::rule::Severity;

/// One command per finding (errors as `::error`, warnings as `::warning`), then the summary.
pub(crate) struct Github;

impl Incremental for Github {
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        for d in &file.diagnostics {
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
            writeln!(
                out,
                "::{command} {}::{}",
                properties.join(","),
                escape_data(&message)
            )?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _: &Report, totals: &Totals) -> io::Result<()> {
        writeln!(out, "{}", super::summary(totals))
    }
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

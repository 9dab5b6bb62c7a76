//! `sarif`: SARIF 2.1.0, as GitHub code scanning and other SARIF viewers read it. Every rule is
//! described with a link to its documentation; regions are 1-based, columns counted in
//! characters; suppressed findings are results with an in-source suppression and its reason.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{EditPositions, Fingerprints, Incremental, PrettyArray, Totals};
use crate::diagnostic::{Diagnostic, FileReport, Report};
use crate::rule::RuleMeta;

/// The SARIF log of the report: one run, every rule, one result per finding. serde_json's
/// objects sort their keys, so the run's `results` come before its `tool`: the log is cut
/// around them, written a file at a time.
#[derive(Default)]
pub(crate) struct Sarif {
    rules: Vec<&'static RuleMeta>,
    fingerprints: Fingerprints,
    /// The results, once started, and the text of the log after them.
    results: Option<(PrettyArray, String)>,
}

impl Incremental for Sarif {
    fn start(&mut self, out: &mut dyn Write, _: &Report) -> io::Result<()> {
        self.rules = crate::rules().collect();
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {
                    "driver": {
                        "name": env!("CARGO_PKG_NAME"),
                        "version": env!("CARGO_PKG_VERSION"),
                        "informationUri": env!("CARGO_PKG_HOMEPAGE"),
                        "rules": self.rules.iter().map(|rule| descriptor(rule)).collect::<Vec<_>>(),
                    },
                },
                "columnKind": "unicodeCodePoints",
                "results": [],
            }],
        });
        let log = serde_json::to_string_pretty(&log).expect("the log serialises");
        let (head, results, tail) = PrettyArray::split(&log, "results");
        out.write_all(head.as_bytes())?;
        self.results = Some((results, tail.to_owned()));
        Ok(())
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        let (results, _) = self.results.as_mut().expect("started before its files");
        let mut positions = EditPositions::new(file);
        let mut found: Vec<(&Diagnostic, Option<Option<&str>>)> =
            file.diagnostics.iter().map(|d| (d, None)).collect();
        found.extend(
            file.suppressed
                .iter()
                .map(|s| (&s.diagnostic, Some(s.reason.as_deref()))),
        );
        found.sort_by_key(|(d, _)| (d.range.start, d.rule));
        for (d, suppression) in found {
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str("\n\nhelp: ");
                message.push_str(help);
            }
            let mut result = json!({
                "ruleId": d.rule,
                "ruleIndex": self.rules.iter().position(|r| r.name == d.rule),
                "level": d.severity.as_str(),
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(&file.path) },
                        "region": {
                            "startLine": d.start.line,
                            "startColumn": d.start.column,
                            "endLine": d.end.line,
                            // SARIF's end column is the one after the region.
                            "endColumn": d.end.column + 1,
                        },
                    },
                }],
                "partialFingerprints": {
                    "migrationSafety/v1": self.fingerprints.of(&file.path, &file.source, d),
                },
            });
            if let Some(fix) = &d.fix {
                result["fixes"] = json!([fix_object(fix, &mut positions)]);
            }
            if let Some(reason) = suppression {
                let mut entry = json!({ "kind": "inSource", "status": "accepted" });
                if let Some(reason) = reason {
                    entry["justification"] = Value::from(reason);
                }
                result["suppressions"] = json!([entry]);
            }
            results.element(out, &result)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _: &Report, _: &Totals) -> io::Result<()> {
        let (results, tail) = self.results.as_ref().expect("started before finishing");
        results.close(out)?;
        out.write_all(tail.as_bytes())
    }
}

/// A finding's fix as a SARIF `fix`: one `artifactChange` per file, edited (`deletedRegion`
/// the replaced range, empty for an insertion; `insertedContent` its replacement) or created
/// (its whole text inserted at its start).
fn fix_object(fix: &crate::fix::Fix, positions: &mut EditPositions<'_>) -> Value {
    let mut changes: Vec<(String, Vec<Value>)> = Vec::new();
    for edit in &fix.edits {
        let Some((start, end)) = positions.span(edit) else {
            continue;
        };
        let replacement = json!({
            "deletedRegion": {
                "startLine": start.line,
                "startColumn": start.column,
                "endLine": end.line,
                "endColumn": end.column,
            },
            "insertedContent": { "text": edit.replacement },
        });
        let path = edit.path.to_string_lossy().into_owned();
        match changes.iter_mut().find(|(p, _)| *p == path) {
            Some((_, replacements)) => replacements.push(replacement),
            None => changes.push((path, vec![replacement])),
        }
    }
    for new in &fix.new_files {
        changes.push((
            new.path.to_string_lossy().into_owned(),
            vec![json!({
                "deletedRegion": { "startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1 },
                "insertedContent": { "text": new.contents },
            })],
        ));
    }
    json!({
        "description": { "text": fix.title },
        "artifactChanges": changes
            .into_iter()
            .map(|(path, replacements)| json!({
                "artifactLocation": { "uri": uri(&path) },
                "replacements": replacements,
            }))
            .collect::<Vec<_>>(),
    })
}

/// A rule's `reportingDescriptor`.
fn descriptor(rule: &RuleMeta) -> Value {
    let documentation = rule.to_markdown();
    json!({
        "id": rule.name,
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": rule.summary },
        "help": { "text": documentation, "markdown": documentation },
        "helpUri": super::docs_url(rule),
        "defaultConfiguration": { "level": rule.default_severity.as_str() },
        "properties": { "tags": [rule.category.as_str()] },
    })
}

/// A path as a URI reference: relative paths stay relative (to the repository root, where CI
/// runs), absolute ones become `file://` URIs; anything but unreserved characters and `/` is
/// percent-encoded.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            b':' if path.as_bytes().get(1) == Some(&b':') => ":".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    if path.starts_with('/') {
        format!("file://{encoded}")
    } else if path.as_bytes().get(1) == Some(&b':') {
        format!("file:///{encoded}")
    } else {
        encoded
    }
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(
            uri("db/migrations/1 init.sql"),
            "db/migrations/1%20init.sql"
        );
        assert_eq!(uri("/srv/app/1.sql"), "file:///srv/app/1.sql");
        assert_eq!(uri(r"C:\app\1.sql"), "file:///C:/app/1.sql");
    }
}

//! `gitlab`: a GitLab Code Quality report, whose fingerprints stay the same from run to run so
//! that merge requests show only the findings they add or fix.

use serde_json::json;

use super::Fingerprints;
use crate::diagnostic::Report;
use crate::rule::{Category, Severity};

/// An array of Code Quality issues: errors are `major`, warnings `minor`.
pub(crate) fn render(report: &Report) -> String {
    let mut fingerprints = Fingerprints::default();
    let issues: Vec<_> = report
        .diagnostics()
        .map(|(file, d)| {
            let meta = super::meta(d.rule);
            let description = match &d.help {
                Some(help) => format!("{}\n\nhelp: {help}", d.message),
                None => d.message.clone(),
            };
            json!({
                "type": "issue",
                "check_name": d.rule,
                "description": description,
                "categories": [category(meta.category)],
                "severity": match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                },
                "fingerprint": fingerprints.of(&file.path, &file.source, d),
                "location": {
                    "path": file.path.replace('\\', "/"),
                    "lines": { "begin": d.start.line, "end": d.end.line },
                },
            })
        })
        .collect();
    serde_json::to_string_pretty(&issues).expect("the report serialises")
}

/// The Code Climate category closest to a rule's.
fn category(category: Category) -> &'static str {
    match category {
        Category::Locking | Category::Rewrite => "Performance",
        Category::BackwardIncompatible => "Compatibility",
        Category::Transaction | Category::Meta => "Bug Risk",
        Category::Design => "Style",
    }
}

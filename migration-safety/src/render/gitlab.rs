//! `gitlab`: a GitLab Code Quality report, whose fingerprints stay the same from run to run so
//! that merge requests show only the findings they add or fix.

use std::io::{self, Write};

use serde_json::json;

use super::{Fingerprints, Incremental, PrettyArray, Totals};
use crate::diagnostic::{FileReport, Report};
use crate::rule::{Category, Severity};

/// An array of Code Quality issues, written as they come: errors are `major`, warnings
/// `minor`.
pub(crate) struct Gitlab {
    fingerprints: Fingerprints,
    issues: PrettyArray,
}

impl Default for Gitlab {
    fn default() -> Self {
        Self {
            fingerprints: Fingerprints::default(),
            issues: PrettyArray::new(0),
        }
    }
}

impl Incremental for Gitlab {
    fn start(&mut self, out: &mut dyn Write, _: &Report) -> io::Result<()> {
        out.write_all(b"[")
    }

    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        for d in &file.diagnostics {
            let meta = super::meta(d.rule);
            let description = match &d.help {
                Some(help) => format!("{}\n\nhelp: {help}", d.message),
                None => d.message.clone(),
            };
            let issue = json!({
                "type": "issue",
                "check_name": d.rule,
                "description": description,
                "categories": [category(meta.category)],
                "severity": match d.severity {
                    Severity::Error => "major",
                    Severity::Warning => "minor",
                },
                "fingerprint": self.fingerprints.of(&file.path, &file.source, d),
                "location": {
                    "path": file.path.replace('\\', "/"),
                    "lines": { "begin": d.start.line, "end": d.end.line },
                },
            });
            self.issues.element(out, &issue)?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, _: &Report, _: &Totals) -> io::Result<()> {
        self.issues.close(out)
    }
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

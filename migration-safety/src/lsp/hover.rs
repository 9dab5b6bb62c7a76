//! Hover: the documentation of the rules that report at the cursor, the statement's locks as
//! the statement model computes them, and what each rule's claims say the server does there.

use std::fmt::Write;

use crate::rule::Outcome;
use crate::{Diagnostic, History};

/// The Markdown shown when hovering byte `offset` (in the engine's text) of a migration whose
/// findings are `diagnostics`; `None` outside any statement and finding.
pub(crate) fn markdown(
    history: &History,
    text: &str,
    diagnostics: &[Diagnostic],
    offset: usize,
) -> Option<String> {
    let statement = history.statement_at(text.as_bytes(), offset);
    // The findings under the cursor; on a statement without one, the statement's own.
    let at = |d: &&Diagnostic| d.range.start <= offset && offset <= d.range.end;
    let mut found: Vec<&Diagnostic> = diagnostics.iter().filter(at).collect();
    if let Some(statement) = &statement
        && found.is_empty()
    {
        found = diagnostics
            .iter()
            .filter(|d| statement.range.contains(&d.range.start))
            .collect();
    }
    if statement.is_none() && found.is_empty() {
        return None;
    }
    let mut out = String::new();
    if let Some(statement) = &statement {
        let _ = writeln!(out, "**{}**", statement.command);
        if statement.locks.is_empty() {
            out.push_str("\nTakes no table-level lock on an existing relation.\n");
        } else {
            out.push_str("\nLocks:\n");
            for (lock, existed) in &statement.locks {
                let _ = write!(out, "- `{}` on `{}`", lock.mode.sql(), lock.table);
                if *existed {
                    let _ = writeln!(out, ": blocks {} while held or queued", lock.mode.blocks());
                } else {
                    out.push_str(
                        ": created earlier in this migration, so nobody else waits on it\n",
                    );
                }
            }
        }
    }
    let major = history.settings().target_pg_version();
    let mut shown: Vec<&str> = Vec::new();
    for diagnostic in found {
        if shown.contains(&diagnostic.rule) {
            continue;
        }
        shown.push(diagnostic.rule);
        let rule = crate::render::meta(diagnostic.rule);
        let _ = write!(
            out,
            "\n---\n\n`{}` ({}): {}",
            rule.name, diagnostic.severity, rule.summary
        );
        let _ = writeln!(out, " ([documentation]({}))", crate::render::docs_url(rule));
        if let Some(claim) = diagnostic.claims(major).first() {
            let verified = format!("PostgreSQL {}–{}", claim.majors.start(), claim.majors.end());
            match claim.outcome {
                Outcome::Fails(error) => {
                    let _ = writeln!(out, "\nOn {verified} the server rejects it: \"{error}\".");
                }
                outcome => {
                    let _ = writeln!(out, "\nMeasured on {verified}: {outcome}.");
                }
            }
        }
        let _ = writeln!(out, "\n{}", rule.documentation().trim());
    }
    Some(out)
}

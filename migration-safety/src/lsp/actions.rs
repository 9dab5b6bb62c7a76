//! Code actions for a finding: suppress it with a reason.

use lsp_types::{CodeActionKind, Uri};
use serde_json::{Value, json};

use super::Client;
use super::text::Lines;
use super::workspace::Document;
use crate::{Category, Diagnostic};

/// The reason a suppression is inserted with, for the author to replace.
const REASON_PLACEHOLDER: &str = "<reason>";

/// What the actions of one document are built from.
pub(super) struct Context<'a> {
    pub(super) uri: &'a Uri,
    pub(super) document: &'a Document,
    pub(super) lines: &'a Lines<'a>,
    pub(super) client: &'a Client,
}

impl Context<'_> {
    /// The code actions of one finding, shown to the client as `shown`.
    pub(super) fn actions(&self, finding: &Diagnostic, shown: lsp_types::Diagnostic) -> Vec<Value> {
        self.suppress(finding, &shown).into_iter().collect()
    }

    /// "Suppress with a reason": a `-- migration-safety: ignore RULE -- <reason>` line above
    /// the statement the finding is on, indented like it. Findings about the migration file
    /// itself (category `meta`) and findings outside any statement have none.
    fn suppress(&self, finding: &Diagnostic, shown: &lsp_types::Diagnostic) -> Option<Value> {
        let rule = crate::render::meta(finding.rule);
        if rule.category == Category::Meta {
            return None;
        }
        let text = &self.document.text;
        let bom = self.document.bom();
        let statements = crate::split_statements(&text[bom..]);
        let statement = statements
            .iter()
            .find(|s| s.start <= finding.range.start && finding.range.start < s.end)?;
        let start = statement.start + bom;
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let directive =
            |reason: &str| format!("-- migration-safety: ignore {} -- {reason}", rule.name);
        // The directive goes on the line above the statement's, indented like that line; after
        // another statement on the same line, on a line of its own just before the statement.
        let follows_another = statements
            .iter()
            .any(|s| line_start < s.end + bom && s.end + bom <= start);
        let (at, indent) = if follows_another {
            (start, "\n")
        } else {
            let line = &text[line_start..];
            (
                line_start,
                &line[..line.len() - line.trim_start_matches([' ', '\t']).len()],
            )
        };
        let insert = |directive: String| format!("{indent}{directive}\n");
        let at = self.lines.position(at);
        let range = lsp_types::Range::new(at, at);
        let edit = if self.client.snippets && self.client.document_changes {
            let placeholder = format!("${{1:{REASON_PLACEHOLDER}}}");
            json!({ "range": range, "snippet": { "kind": "snippet", "value": insert(directive(&placeholder)) } })
        } else {
            json!({ "range": range, "newText": insert(directive(REASON_PLACEHOLDER)) })
        };
        let edit = if self.client.document_changes {
            json!({ "documentChanges": [{
                "textDocument": { "uri": self.uri, "version": self.document.version },
                "edits": [edit],
            }]})
        } else {
            json!({ "changes": { self.uri.as_str(): [edit] } })
        };
        Some(json!({
            "title": format!("Suppress `{}` on this statement, with a reason", rule.name),
            "kind": CodeActionKind::QUICKFIX,
            "diagnostics": [shown],
            "edit": edit,
        }))
    }
}

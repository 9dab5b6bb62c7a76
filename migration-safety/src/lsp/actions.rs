//! Code actions for a finding: its fix, as a workspace edit (edits in the file and in other
//! migrations, new phase files created), and "suppress with a reason".

use std::collections::HashMap;
use std::path::Path;

use lsp_types::{CodeActionKind, Uri};
use serde_json::{Value, json};

use super::Client;
use super::text::Lines;
use super::workspace::{Document, file_uri};
use crate::fix::Fix;
use crate::{Category, Diagnostic};

/// The reason a suppression is inserted with, for the author to replace.
const REASON_PLACEHOLDER: &str = "<reason>";

/// What the actions of one document are built from.
pub(super) struct Context<'a> {
    pub(super) uri: &'a Uri,
    pub(super) document: &'a Document,
    pub(super) lines: &'a Lines<'a>,
    pub(super) client: &'a Client,
    /// Every open document, for fixes that edit another one.
    pub(super) documents: &'a HashMap<Uri, Document>,
}

impl Context<'_> {
    /// The code actions of one finding, shown to the client as `shown`.
    pub(super) fn actions(&self, finding: &Diagnostic, shown: lsp_types::Diagnostic) -> Vec<Value> {
        let fix = finding.fix.as_ref().and_then(|fix| self.fix(fix, &shown));
        fix.into_iter()
            .chain(self.suppress(finding, &shown))
            .collect()
    }

    /// The fix as a preferred quick fix: its edits, grouped by file, then each new file
    /// created and filled. `None` when the client cannot apply it: new files need
    /// `documentChanges` with the `create` resource operation; a file it edits that is neither
    /// open nor readable leaves it out too.
    fn fix(&self, fix: &Fix, shown: &lsp_types::Diagnostic) -> Option<Value> {
        let creates = self.client.document_changes && self.client.creates_files;
        if !fix.new_files.is_empty() && !creates {
            return None;
        }
        // (uri, version, edits), in the order the fix names the files.
        let mut files: Vec<(Uri, Option<i32>, Vec<Value>)> = Vec::new();
        for edit in &fix.edits {
            let (uri, version, text) = self.file(&edit.path)?;
            let bom = bom(&text);
            let range = Lines::new(&text, self.client.encoding)
                .range(&(edit.range.start + bom..edit.range.end + bom));
            let edit = json!({ "range": range, "newText": edit.replacement });
            match files.iter_mut().find(|(u, ..)| *u == uri) {
                Some((.., edits)) => edits.push(edit),
                None => files.push((uri, version, vec![edit])),
            }
        }
        let start = lsp_types::Range::default();
        let edit = if self.client.document_changes {
            let mut changes: Vec<Value> = files
                .into_iter()
                .map(|(uri, version, edits)| {
                    json!({ "textDocument": { "uri": uri, "version": version }, "edits": edits })
                })
                .collect();
            for new in &fix.new_files {
                let uri = file_uri(&new.path)?;
                changes.push(json!({
                    "kind": "create", "uri": uri,
                    "options": { "overwrite": false, "ignoreIfExists": false },
                }));
                changes.push(json!({
                    "textDocument": { "uri": uri, "version": null },
                    "edits": [{ "range": start, "newText": new.contents }],
                }));
            }
            json!({ "documentChanges": changes })
        } else {
            let changes: serde_json::Map<String, Value> = files
                .into_iter()
                .map(|(uri, _, edits)| (uri.as_str().to_owned(), Value::Array(edits)))
                .collect();
            json!({ "changes": changes })
        };
        Some(json!({
            "title": fix.title,
            "kind": CodeActionKind::QUICKFIX,
            "diagnostics": [shown],
            "isPreferred": true,
            "edit": edit,
        }))
    }

    /// The URI, version (`None`: as on disk) and text of a file a fix edits: this document,
    /// another open one, or the file on disk.
    fn file(&self, path: &Path) -> Option<(Uri, Option<i32>, String)> {
        if self.document.path.as_deref() == Some(path) {
            let document = self.document;
            return Some((
                self.uri.clone(),
                Some(document.version),
                document.text.clone(),
            ));
        }
        let uri = file_uri(path)?;
        match self.documents.get(&uri) {
            Some(open) => Some((uri, Some(open.version), open.text.clone())),
            None => Some((uri, None, std::fs::read_to_string(path).ok()?)),
        }
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
        let bom = bom(text);
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

/// The bytes of a leading byte-order mark, which the engine's offsets do not count.
pub(super) fn bom(text: &str) -> usize {
    if text.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::super::text::Encoding;
    use super::*;
    use crate::fix::{Edit, NewFile};

    fn client(document_changes: bool, creates_files: bool) -> Client {
        Client {
            encoding: Encoding::Utf16,
            watches_files: false,
            document_changes,
            snippets: false,
            creates_files,
        }
    }

    /// A fix that edits the document after a multi-byte line and creates a phase file.
    fn fix(dir: &Path, new_files: bool) -> Fix {
        Fix {
            rule: "missing-lock-timeout",
            title: "set a lock_timeout".to_owned(),
            edits: vec![Edit {
                path: dir.join("2_add.sql"),
                range: 8..8,
                replacement: "SET lock_timeout = '5s';\n".to_owned(),
            }],
            new_files: if new_files {
                vec![NewFile {
                    path: dir.join("3_index.sql"),
                    contents: "CREATE INDEX CONCURRENTLY i ON t (c);\n".to_owned(),
                }]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn a_fix_is_a_workspace_edit_that_creates_its_new_files() {
        let dir = PathBuf::from(if cfg!(windows) { r"C:\m" } else { "/m" });
        let uri = file_uri(&dir.join("2_add.sql")).unwrap();
        let text = "-- 🚀\nALTER TABLE t ADD COLUMN c text;\n";
        let document = Document::new(&uri, 7, text.to_owned());
        let lines = Lines::new(text, Encoding::Utf16);
        let action = |client: &Client, new_files: bool| {
            let context = Context {
                uri: &uri,
                document: &document,
                lines: &lines,
                client,
                documents: &HashMap::new(),
            };
            context.fix(&fix(&dir, new_files), &lsp_types::Diagnostic::default())
        };
        let new_uri = file_uri(&dir.join("3_index.sql")).unwrap();
        let at_line_1 =
            json!({ "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } });
        let at_start =
            json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 0 } });
        let fixed = action(&client(true, true), true).unwrap();
        assert_eq!(fixed["isPreferred"], true);
        assert_eq!(
            fixed["edit"],
            json!({ "documentChanges": [
                { "textDocument": { "uri": uri, "version": 7 }, "edits": [{ "range": at_line_1, "newText": "SET lock_timeout = '5s';\n" }] },
                { "kind": "create", "uri": new_uri, "options": { "overwrite": false, "ignoreIfExists": false } },
                { "textDocument": { "uri": new_uri, "version": null }, "edits": [{ "range": at_start, "newText": "CREATE INDEX CONCURRENTLY i ON t (c);\n" }] },
            ]})
        );
        // A client that cannot create files gets no fix that needs one.
        assert_eq!(action(&client(true, false), true), None);
        assert_eq!(action(&client(false, false), true), None);
        // Without `documentChanges`, edits alone are `changes`.
        assert_eq!(
            action(&client(false, false), false).unwrap()["edit"],
            json!({ "changes": { uri.as_str(): [{ "range": at_line_1, "newText": "SET lock_timeout = '5s';\n" }] } })
        );
    }
}

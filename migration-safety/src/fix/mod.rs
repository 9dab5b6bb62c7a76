//! Fixes: the safe alternative of a finding, as edits to migration files and new migration
//! files, ready to apply.
//!
//! A rule that has a mechanical fix attaches a [`Fix`] to its finding
//! ([`Diagnostic::fix`](crate::Diagnostic::fix)); the same plan writes the finding's help, so
//! the help and the fix never disagree. [`fixes`] collects the fixes of a lint run, [`apply`]
//! applies a set of them to the files' texts: edits that overlap are never merged, the later
//! fix is left out and reported as a [`Conflict`].
//!
//! ```
//! use migration_safety::{Settings, fix, lint_sql};
//!
//! let sql = "ALTER TABLE users ADD COLUMN nickname text;\n";
//! let report = lint_sql(sql, &Settings::default());
//! let fixes: Vec<_> = fix::fixes(&report, &[]).collect();
//! assert_eq!(fixes[0].rule, "missing-lock-timeout");
//!
//! let applied = fix::apply(fixes, &fix::sources(&report));
//! assert!(applied.conflicts.is_empty());
//! let fixed = &applied.files[std::path::Path::new("input.sql")];
//! assert_eq!(fixed, "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;\n");
//! assert!(!lint_sql(fixed, &Settings::default()).diagnostics().any(|_| true));
//! ```

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::diagnostic::Report;

mod atlas_sum;
pub(crate) mod files;
pub(crate) mod phases;
mod run;

pub use run::{Change, Fixed, MAX_PASSES, fix_paths};

/// The fix of one finding: edits to existing files and, where the framework needs them, new
/// migration files. A fix is applied whole or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    /// The rule whose finding it fixes, such as `missing-lock-timeout`.
    pub rule: &'static str,
    /// What it does, in one line (for a code action or a list of fixes).
    pub title: String,
    /// Edits to existing files, in file order.
    pub edits: Vec<Edit>,
    /// Migration files to create.
    pub new_files: Vec<NewFile>,
}

/// A replacement of a byte range of a file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// The file, as the report names it ([`FileReport::path`](crate::FileReport::path)).
    pub path: PathBuf,
    /// Byte range in the file's text as reported ([`FileReport::source`](crate::FileReport::source):
    /// decoded, without a byte-order mark); empty for an insertion.
    pub range: Range<usize>,
    /// The text that replaces the range.
    pub replacement: String,
}

/// A migration file to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFile {
    /// Where, relative to the same base as the reported paths.
    pub path: PathBuf,
    /// Its whole text.
    pub contents: String,
}

/// The fixes of a lint run, in report order, of the rules named in `rules` (all rules when it is
/// empty). Suppressed findings have no fix: they are accepted as they are.
///
/// ```
/// use migration_safety::{Settings, fix, lint_sql};
///
/// let report = lint_sql("ALTER TABLE users ADD COLUMN nickname text;", &Settings::default());
/// assert_eq!(fix::fixes(&report, &["missing-lock-timeout"]).count(), 1);
/// assert_eq!(fix::fixes(&report, &["set-not-null"]).count(), 0);
/// ```
pub fn fixes<'r>(report: &'r Report, rules: &'r [&str]) -> impl Iterator<Item = &'r Fix> + 'r {
    report
        .diagnostics()
        .filter_map(|(_, d)| d.fix.as_ref())
        .filter(move |fix| rules.is_empty() || rules.contains(&fix.rule))
}

/// The text of every file of a report, by path: what [`apply`] edits.
pub fn sources(report: &Report) -> BTreeMap<PathBuf, String> {
    report
        .files
        .iter()
        .map(|f| (PathBuf::from(&f.path), f.source.clone()))
        .collect()
}

/// The result of [`apply`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The new text of every file an applied fix edits, by path.
    pub files: BTreeMap<PathBuf, String>,
    /// The files the applied fixes create.
    pub new_files: Vec<NewFile>,
    /// How many fixes were applied.
    pub applied: usize,
    /// The fixes left out, and why.
    pub conflicts: Vec<Conflict>,
}

/// A fix that [`apply`] left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The fix's rule.
    pub rule: &'static str,
    /// The fix's title.
    pub title: String,
    /// Why it was left out: an edit overlaps an applied fix's edit, a file is unknown or a
    /// range is not in it, or a new file exists already.
    pub reason: String,
}

/// Apply `fixes` to the texts of `sources`, in order. A fix is applied whole or not at all:
/// one whose edit overlaps an edit of a fix applied before it (an identical edit is applied
/// once), whose file is not in `sources` or whose range is not in the file, or whose new file
/// is one of `sources` or another fix's new file, is left out and listed in
/// [`Applied::conflicts`]. Linting the result again shows what remains (a later pass may apply
/// what a conflict left out).
///
/// ```
/// use std::collections::BTreeMap;
/// use std::path::PathBuf;
/// use migration_safety::fix::{Edit, Fix, apply};
///
/// let path = PathBuf::from("1_init.sql");
/// let edit = |range, replacement: &str| Edit { path: path.clone(), range, replacement: replacement.into() };
/// let fix = |title: &str, edits| Fix { rule: "missing-lock-timeout", title: title.into(), edits, new_files: vec![] };
/// let sources = BTreeMap::from([(path.clone(), "DROP INDEX a;\n".to_owned())]);
/// let fixes = [
///     fix("timeout", vec![edit(0..0, "SET lock_timeout = '5s';\n")]),
///     fix("same timeout", vec![edit(0..0, "SET lock_timeout = '5s';\n")]),
///     fix("concurrently", vec![edit(10..10, " CONCURRENTLY")]),
///     fix("overlapping", vec![edit(0..12, "DROP INDEX IF EXISTS a")]),
/// ];
/// let applied = apply(&fixes, &sources);
/// assert_eq!(applied.files[&path], "SET lock_timeout = '5s';\nDROP INDEX CONCURRENTLY a;\n");
/// assert_eq!(applied.applied, 3);
/// assert_eq!(applied.conflicts[0].title, "overlapping");
/// ```
pub fn apply<'a>(
    fixes: impl IntoIterator<Item = &'a Fix>,
    sources: &BTreeMap<PathBuf, String>,
) -> Applied {
    let mut accepted: BTreeMap<&Path, Vec<&Edit>> = BTreeMap::new();
    let mut applied = Applied::default();
    // The migrations that fixes applied so far add new migrations after.
    let mut numbered: Vec<&Path> = Vec::new();
    for fix in fixes {
        let checked = match files::numbered_twice(fix, &numbered) {
            Some(reason) => Err(reason),
            None => check(fix, &accepted, &applied.new_files, sources),
        };
        match checked {
            Ok(()) => {
                if !fix.new_files.is_empty() {
                    numbered.extend(fix.edits.iter().map(|e| e.path.as_path()));
                }
                for edit in &fix.edits {
                    let edits = accepted.entry(edit.path.as_path()).or_default();
                    if !edits.contains(&edit) {
                        edits.push(edit);
                    }
                }
                applied.new_files.extend(fix.new_files.iter().cloned());
                applied.applied += 1;
            }
            Err(reason) => applied.conflicts.push(Conflict {
                rule: fix.rule,
                title: fix.title.clone(),
                reason,
            }),
        }
    }
    for (path, mut edits) in accepted {
        let mut text = sources[path].clone();
        // From the end, so that the earlier ranges stay valid; insertions at one offset keep
        // their order.
        edits.sort_by_key(|e| (e.range.start, e.range.end));
        for edit in edits.into_iter().rev() {
            text.replace_range(edit.range.clone(), &edit.replacement);
        }
        applied.files.insert(path.to_path_buf(), text);
    }
    applied
}

/// Why `fix` cannot join the `accepted` edits and `created` files, if it cannot.
fn check(
    fix: &Fix,
    accepted: &BTreeMap<&Path, Vec<&Edit>>,
    created: &[NewFile],
    sources: &BTreeMap<PathBuf, String>,
) -> Result<(), String> {
    for (i, edit) in fix.edits.iter().enumerate() {
        let path = edit.path.display();
        let text = sources
            .get(&edit.path)
            .ok_or_else(|| format!("`{path}` is not one of the files read"))?;
        let range = &edit.range;
        if range.start > range.end
            || text.get(range.clone()).is_none()
            || !text.is_char_boundary(range.start)
        {
            return Err(format!(
                "{}..{} is not a range of `{path}` as it is now",
                range.start, range.end
            ));
        }
        let others = accepted.get(edit.path.as_path()).into_iter().flatten();
        let own = fix.edits[..i].iter().filter(|e| e.path == edit.path);
        if let Some(other) = others
            .copied()
            .chain(own)
            .find(|other| *other != edit && overlaps(&other.range, range))
        {
            return Err(format!(
                "its edit of `{path}` at {}..{} overlaps the edit at {}..{} of a fix applied before it",
                range.start, range.end, other.range.start, other.range.end
            ));
        }
    }
    for file in &fix.new_files {
        if sources.contains_key(&file.path) || created.iter().any(|c| c.path == file.path) {
            return Err(format!("`{}` exists already", file.path.display()));
        }
    }
    Ok(())
}

/// Whether two edits touch the same text: ranges that share a byte, an insertion inside a
/// replaced range, or two insertions at one offset (whose order would be a guess).
fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    if a.is_empty() && b.is_empty() {
        a.start == b.start
    } else if a.is_empty() {
        b.start < a.start && a.start < b.end
    } else if b.is_empty() {
        a.start < b.start && b.start < a.end
    } else {
        a.start < b.end && b.start < a.end
    }
}

/// Where to insert statements that must run just before the top-level statement starting at
/// `start`: the start of its line, above the suppression directives that belong to it (so they
/// keep applying to it), with the statement's indentation; or `start` itself, with no
/// indentation (`None`), when other text precedes the statement on its line.
pub(crate) fn before_statement(source: &str, start: usize) -> (usize, Option<&str>) {
    let line_start = |offset: usize| source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let mut at = line_start(start);
    let indent = &source[at..start];
    if !indent.trim().is_empty() {
        return (start, None);
    }
    while at > 0 {
        let previous = line_start(at - 1);
        let line = source[previous..at].trim_start();
        if !(line.starts_with("--") && line.contains("migration-safety:")) {
            break;
        }
        at = previous;
    }
    (at, Some(indent))
}

/// An edit that inserts the statements `sql` (each ending with `;`) before the top-level
/// statement starting at `start` (see [`before_statement`]): one per line at its indentation,
/// or on its line when other text precedes it there.
pub(crate) fn insert_before(
    cx: &crate::context::Context<'_>,
    start: usize,
    sql: &[String],
) -> Edit {
    let (at, indent) = before_statement(cx.source, start);
    let replacement = match indent {
        Some(indent) => sql.iter().map(|s| format!("{indent}{s}\n")).collect(),
        None => format!("{} ", sql.join(" ")),
    };
    Edit {
        path: PathBuf::from(cx.path),
        range: at..at,
        replacement,
    }
}

/// The fix that replaces the checked top-level statement, which does nothing but the flagged
/// action, by the statements `sql` of the rule's plan (`None` when the plan is not all
/// statements). It is offered only where the statements can run in place of it, each
/// committing on its own, as a `VALIDATE` or a `CONCURRENTLY` step needs: outside any
/// transaction (a file the framework runs statement by statement, no `BEGIN` open), or in the
/// file's own `BEGIN … COMMIT` block, which is then committed before them and opened again
/// after them (see [`outside_block`]). Elsewhere (in the framework's transaction, in a `DO`
/// body, in a statement of several actions) there is no fix, and the help shows the plan.
pub(crate) fn replace_statement(
    cx: &crate::context::Context<'_>,
    rule: &'static str,
    statement: &crate::model::Statement,
    title: String,
    sql: Option<Vec<String>>,
) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    use crate::model::StatementKind;
    let sql = sql?;
    let single = match &statement.kind {
        StatementKind::AlterTable(alter) => alter.actions.len() == 1,
        _ => true,
    };
    if !single
        || cx.in_do_block
        || cx.statements.get(cx.index).map(|s| &s.range) != Some(&statement.range)
    {
        return None;
    }
    let range = statement.range.clone();
    cx.source.get(range.clone())?;
    let separator = match before_statement(cx.source, range.start).1 {
        Some(indent) => format!("\n{indent}"),
        None => " ".to_owned(),
    };
    let edits = if cx.session().transaction.is_some() {
        outside_block(cx, sql.join(&separator))?
    } else {
        vec![Edit {
            path: PathBuf::from(cx.path),
            range,
            replacement: sql.join(&separator),
        }]
    };
    Some(Fix {
        rule,
        title,
        edits,
        new_files: Vec::new(),
    })
}

/// The edits that run `sql` in place of the checked top-level statement, outside the file's
/// own `BEGIN … COMMIT` block it stands in (a block the file opens, in a migration run
/// statement by statement): the block is committed just before it and opened again just
/// after it, so that everything still runs in the order written. A `BEGIN` right before it
/// or a `COMMIT` right after it is removed instead of leaving an empty transaction. `None`
/// for a statement in a transaction the framework opens, in a block the file ends with
/// `ROLLBACK` (committing part of it would keep what the author meant to discard), or in one
/// it never ends.
pub(crate) fn outside_block(cx: &crate::context::Context<'_>, sql: String) -> Option<Vec<Edit>> {
    use crate::context::Wrapper;
    use crate::model::StatementKind;
    let session = cx.session();
    if session.wrapper != Some(Wrapper::Block) || cx.in_do_block {
        return None;
    }
    let block = session.transaction;
    let end = cx.statements[cx.index + 1..]
        .iter()
        .zip(&cx.sessions[cx.index + 1..])
        .find(|(s, session)| {
            session.transaction == block
                && matches!(s.kind, StatementKind::Commit | StatementKind::Rollback)
        })
        .map(|(s, _)| s)?;
    if matches!(end.kind, StatementKind::Rollback) {
        return None;
    }
    let statement = &cx.statements[cx.index];
    let path = PathBuf::from(cx.path);
    let delete = |range: Range<usize>| Edit {
        path: path.clone(),
        range: whole_lines(cx.source, range),
        replacement: String::new(),
    };
    // The `COMMIT` and `BEGIN` are inserted where another statement's would go (above its
    // directives), so that two neighbours leaving one block conflict: the second one, applied
    // by the next pass, then removes the `BEGIN` between them.
    let mut edits = Vec::new();
    match cx.index.checked_sub(1).map(|i| &cx.statements[i]) {
        Some(begin) if matches!(begin.kind, StatementKind::Begin) => {
            edits.push(delete(begin.range.clone()));
        }
        _ => edits.push(insert_before(
            cx,
            statement.range.start,
            &["COMMIT;".to_owned()],
        )),
    }
    edits.push(Edit {
        path: path.clone(),
        range: statement.range.clone(),
        replacement: sql,
    });
    let next = cx.statements.get(cx.index + 1)?;
    if std::ptr::eq(end, next) {
        edits.push(delete(end.range.clone()));
    } else {
        edits.push(insert_before(cx, next.range.start, &["BEGIN;".to_owned()]));
    }
    Some(edits)
}

/// `range` widened to the whole lines it stands on, when nothing else stands on them.
pub(crate) fn whole_lines(source: &str, range: Range<usize>) -> Range<usize> {
    let line_start = source[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let start = if source[line_start..range.start].trim().is_empty() {
        line_start
    } else {
        range.start
    };
    let line_end = source[range.end..]
        .find('\n')
        .map_or(source.len(), |i| range.end + i + 1);
    let end = if source[range.end..line_end].trim().is_empty() {
        line_end
    } else {
        range.end
    };
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(range: Range<usize>, replacement: &str) -> Edit {
        Edit {
            path: PathBuf::from("a.sql"),
            range,
            replacement: replacement.to_owned(),
        }
    }

    fn fix(title: &str, edits: Vec<Edit>) -> Fix {
        Fix {
            rule: "set-not-null",
            title: title.to_owned(),
            edits,
            new_files: Vec::new(),
        }
    }

    fn sources(text: &str) -> BTreeMap<PathBuf, String> {
        BTreeMap::from([(PathBuf::from("a.sql"), text.to_owned())])
    }

    #[test]
    fn a_fix_is_applied_whole_or_not_at_all() {
        let fixes = [
            fix("first", vec![edit(0..1, "x")]),
            fix("second", vec![edit(2..3, "y"), edit(0..1, "z")]),
        ];
        let applied = apply(&fixes, &sources("abcd"));
        assert_eq!(applied.files[Path::new("a.sql")], "xbcd");
        assert_eq!(applied.conflicts.len(), 1);
        assert!(applied.conflicts[0].reason.contains("overlaps"));
    }

    #[test]
    fn insertions_at_the_edges_of_a_replacement_do_not_overlap_it() {
        let fixes = [
            fix("replace", vec![edit(1..3, "BC")]),
            fix("before", vec![edit(1..1, "<")]),
            fix("after", vec![edit(3..3, ">")]),
        ];
        let applied = apply(&fixes, &sources("abcd"));
        assert!(applied.conflicts.is_empty(), "{:?}", applied.conflicts);
        assert_eq!(applied.files[Path::new("a.sql")], "a<BC>d");
    }

    #[test]
    fn an_edit_of_an_unknown_file_or_outside_the_text_is_a_conflict() {
        let mut elsewhere = edit(0..0, "x");
        elsewhere.path = PathBuf::from("b.sql");
        let fixes = [
            fix("elsewhere", vec![elsewhere]),
            fix("outside", vec![edit(3..9, "x")]),
            fix("mid-character", vec![edit(1..1, "x")]),
        ];
        let applied = apply(&fixes, &sources("é"));
        let reasons: Vec<_> = applied.conflicts.iter().map(|c| &c.reason).collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(reasons[0].contains("not one of the files read"));
        assert!(applied.files.is_empty());
    }

    #[test]
    fn a_new_file_never_replaces_a_file() {
        let mut creates = fix("creates", Vec::new());
        creates.new_files.push(NewFile {
            path: PathBuf::from("a.sql"),
            contents: String::new(),
        });
        let applied = apply([&creates], &sources(""));
        assert_eq!(applied.conflicts[0].reason, "`a.sql` exists already");
        assert!(applied.new_files.is_empty());
    }
}

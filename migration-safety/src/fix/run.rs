//! Fixing the migrations of a run: lint, apply the fixes, lint the fixed text again, until no
//! fix is left (a fix can enable another: a statement a fix writes may need a `lock_timeout`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Conflict, NewFile, apply, fixes, sources};
use crate::diagnostic::Report;
use crate::settings::Settings;
use crate::{Error, Job, engine};

/// How many times [`fix_paths`] lints and fixes at most.
pub const MAX_PASSES: usize = 4;

/// A migration file the fixes change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The file, as the report names it.
    pub path: PathBuf,
    /// Its text now (decoded, without a byte-order mark).
    pub original: String,
    /// Its text with the fixes applied.
    pub fixed: String,
    /// Whether the file starts with a UTF-8 byte-order mark, to keep when it is written.
    pub bom: bool,
}

impl Change {
    /// The bytes to write: the fixed text, after the byte-order mark the file had.
    pub fn bytes(&self) -> Vec<u8> {
        let bom: &[u8] = if self.bom { b"\xEF\xBB\xBF" } else { b"" };
        [bom, self.fixed.as_bytes()].concat()
    }
}

/// What [`fix_paths`] would change. Nothing is written: see `migration-safety fix --write`.
#[derive(Debug, Clone, Default)]
pub struct Fixed {
    /// The migration files the fixes change, in migration order.
    pub changes: Vec<Change>,
    /// The migration files the fixes create.
    pub new_files: Vec<NewFile>,
    /// The integrity files rewritten to match the fixed and new migrations: Atlas's
    /// `atlas.sum`, as `atlas migrate hash` writes it, where the directory keeps one.
    pub sums: Vec<Change>,
    /// How many fixes were applied (one per finding).
    pub applied: usize,
    /// The fixes that could not be applied, and why.
    pub conflicts: Vec<Conflict>,
    /// The lint of the fixed migrations: the findings that remain.
    pub report: Report,
}

impl Fixed {
    /// A unified diff of every change and new file (`a/` and `b/` before the paths, as git
    /// writes them: an absolute path loses its leading `/`, as in `git diff --no-index`; a new
    /// file comes from `/dev/null`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("1_users.sql");
    /// # std::fs::write(&path, "ALTER TABLE users ADD COLUMN nickname text;\n").unwrap();
    /// let fixed = migration_safety::fix::fix_paths(&[path.clone()], &Default::default(), &[])?;
    /// let diff = fixed.diff();
    /// assert!(diff.contains("+SET lock_timeout = '5s';\n ALTER TABLE users ADD COLUMN nickname text;\n"));
    /// let shown = path.display().to_string();
    /// let shown = shown.trim_start_matches('/');
    /// assert!(diff.starts_with(&format!("--- a/{shown}\n+++ b/{shown}\n")));
    /// # Ok::<(), migration_safety::Error>(())
    /// ```
    pub fn diff(&self) -> String {
        let mut out = String::new();
        let mut file = |old: &str, new: &str, from: String, to: String| {
            let diff = similar::TextDiff::from_lines(old, new);
            out.push_str(&diff.unified_diff().header(&from, &to).to_string());
        };
        for change in self.changes.iter().chain(&self.sums) {
            let path = diff_path(&change.path);
            file(
                &change.original,
                &change.fixed,
                format!("a/{path}"),
                format!("b/{path}"),
            );
        }
        for new in &self.new_files {
            let path = diff_path(&new.path);
            file(
                "",
                &new.contents,
                "/dev/null".to_owned(),
                format!("b/{path}"),
            );
        }
        out
    }
}

/// A path as a diff names it after `a/` or `b/`: without the leading `/` of an absolute path
/// (`git diff --no-index /tmp/x …` writes `a/tmp/x`).
fn diff_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    text.trim_start_matches('/').to_owned()
}

/// Lint files and directories as [`crate::lint_paths`] does, apply the fixes of the rules
/// named in `rules` (all when empty), and lint the fixed text again, up to [`MAX_PASSES`]
/// times, until no fix is left. Files that are not valid UTF-8 are not changed (their fixes
/// are conflicts): writing their decoded text back would change their bytes.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # std::fs::write(dir.path().join("1_users.sql"), "CREATE TABLE users (id bigint);\n").unwrap();
/// # std::fs::write(dir.path().join("2_nickname.sql"), "ALTER TABLE users ADD COLUMN nickname text;\n").unwrap();
/// let fixed = migration_safety::fix::fix_paths(&[dir.path().to_path_buf()], &Default::default(), &[])?;
/// assert_eq!(fixed.changes.len(), 1);
/// assert_eq!(fixed.changes[0].fixed, "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;\n");
/// assert_eq!(fixed.report.diagnostics().count(), 0);
/// # Ok::<(), migration_safety::Error>(())
/// ```
pub fn fix_paths(paths: &[PathBuf], settings: &Settings, rules: &[&str]) -> Result<Fixed, Error> {
    let (jobs, directories) = crate::jobs(paths, settings)?;
    let mut texts: BTreeMap<PathBuf, String> = BTreeMap::new();
    let mut originals: BTreeMap<PathBuf, (String, bool)> = BTreeMap::new();
    let mut unwritable: BTreeMap<PathBuf, bool> = BTreeMap::new();
    let mut fixed = Fixed::default();
    // The migrations that applied fixes add new migrations after (numbered against the disk).
    let mut numbered: Vec<PathBuf> = Vec::new();
    for pass in 0.. {
        let report = lint(&jobs, directories.clone(), settings, &texts)?;
        if pass == MAX_PASSES {
            fixed.report = report;
            break;
        }
        let mut conflicts = Vec::new();
        let candidates: Vec<_> = fixes(&report, rules)
            .filter(|fix| {
                let bad = fix.edits.iter().find(|edit| {
                    *unwritable
                        .entry(edit.path.clone())
                        .or_insert_with(|| !is_utf8(&edit.path))
                });
                if let Some(edit) = bad {
                    conflicts.push(Conflict {
                        rule: fix.rule,
                        title: fix.title.clone(),
                        reason: format!(
                            "`{}` is not valid UTF-8: writing it would change its bytes",
                            edit.path.display()
                        ),
                    });
                }
                if bad.is_some() {
                    return false;
                }
                let numbered: Vec<&Path> = numbered.iter().map(PathBuf::as_path).collect();
                match super::files::numbered_twice(fix, &numbered) {
                    Some(reason) => {
                        conflicts.push(Conflict {
                            rule: fix.rule,
                            title: fix.title.clone(),
                            reason,
                        });
                        false
                    }
                    None => true,
                }
            })
            .collect();
        // A fix left out below still marks its migration: the next run numbers after it.
        for fix in candidates.iter().filter(|f| !f.new_files.is_empty()) {
            numbered.extend(fix.edits.iter().map(|e| e.path.clone()));
        }
        let applied = apply(candidates, &sources(&report));
        conflicts.extend(applied.conflicts);
        fixed.conflicts = conflicts;
        if applied.applied == 0 {
            fixed.report = report;
            break;
        }
        fixed.applied += applied.applied;
        fixed.new_files.extend(applied.new_files);
        for (path, text) in applied.files {
            if !originals.contains_key(&path) {
                let original = report
                    .files
                    .iter()
                    .find(|f| Path::new(&f.path) == path)
                    .map(|f| f.source.clone())
                    .unwrap_or_default();
                originals.insert(path.clone(), (original, has_bom(&path)));
            }
            texts.insert(path, text);
        }
    }
    // In migration order.
    for (file, ..) in &jobs {
        if let (Some((original, bom)), Some(text)) = (originals.remove(file), texts.remove(file)) {
            fixed.changes.push(Change {
                path: file.clone(),
                original,
                fixed: text,
                bom,
            });
        }
    }
    fixed.sums = super::atlas_sum::rewritten(&fixed.changes, &fixed.new_files);
    Ok(fixed)
}

/// Lint the migrations of `jobs`, with the texts of `texts` in place of the files'.
fn lint(
    jobs: &[Job],
    mut report: Report,
    settings: &Settings,
    texts: &BTreeMap<PathBuf, String>,
) -> Result<Report, Error> {
    let mut run = engine::Run::new(settings);
    for job in jobs {
        let text = texts.get(&job.0).map(String::as_str);
        let (prepared, reported) = crate::prepare_job_text(settings, job, text)?;
        let linted = run.check(prepared);
        if reported {
            report.files.push(linted);
        }
    }
    Ok(report)
}

fn is_utf8(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| std::str::from_utf8(&bytes).is_ok())
}

fn has_bom(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(b"\xEF\xBB\xBF"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diff_names_absolute_and_relative_paths_after_a_single_slash() {
        let change = |path: &str| Change {
            path: PathBuf::from(path),
            original: "a\n".to_owned(),
            fixed: "b\n".to_owned(),
            bom: false,
        };
        let fixed = Fixed {
            changes: vec![change("/tmp/m/1_a.sql"), change("m/2_b.sql")],
            new_files: vec![NewFile {
                path: PathBuf::from("/tmp/m/3_c.sql"),
                contents: "c\n".to_owned(),
            }],
            ..Fixed::default()
        };
        let diff = fixed.diff();
        let headers: Vec<&str> = diff
            .lines()
            .filter(|l| l.starts_with("---") || l.starts_with("+++"))
            .collect();
        assert_eq!(
            headers,
            [
                "--- a/tmp/m/1_a.sql",
                "+++ b/tmp/m/1_a.sql",
                "--- a/m/2_b.sql",
                "+++ b/m/2_b.sql",
                "--- /dev/null",
                "+++ b/tmp/m/3_c.sql",
            ]
        );
    }
}

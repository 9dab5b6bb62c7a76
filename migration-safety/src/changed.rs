//! `--changed-since GIT_REF`: the migration files a change adds or modifies, as git sees them.
//! Every migration is still linted, in order, for what it teaches about the schema; only the
//! changed ones are reported.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::app::git::{commit, run as git};

/// The files added or modified since a git ref, as canonical absolute paths.
#[derive(Debug, Default)]
pub(crate) struct Changed {
    files: HashSet<PathBuf>,
}

impl Changed {
    /// The files of the repositories holding `paths` that differ from where `git_ref` and
    /// `HEAD` diverged (so a branch's changes, not the ones made on `git_ref` since): added,
    /// modified, copied, renamed with edits, or untracked and not ignored. A file only
    /// renamed, its content unchanged, already ran as it is and is not counted.
    pub(crate) fn since(git_ref: &str, paths: &[PathBuf]) -> Result<Changed, String> {
        let mut roots = BTreeSet::new();
        for path in paths {
            let dir = if path.is_dir() {
                path.as_path()
            } else {
                match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                }
            };
            let root = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|e| {
                format!(
                    "--changed-since needs a git repository, and `{}` is not in one: {e}",
                    path.display()
                )
            })?;
            let root = PathBuf::from(String::from_utf8_lossy(&root).trim_end_matches('\n'));
            roots.insert(root);
        }
        let mut changed = Changed::default();
        for root in &roots {
            changed.add_repository(root, git_ref)?;
        }
        Ok(changed)
    }

    fn add_repository(&mut self, root: &Path, git_ref: &str) -> Result<(), String> {
        commit(root, git_ref)?;
        let base = git(root, &["merge-base", git_ref, "HEAD"])
            .map_err(|e| format!("cannot find where `{git_ref}` and HEAD diverged: {e}"))?;
        let base = String::from_utf8_lossy(&base).trim().to_owned();
        let diff = git(
            root,
            &[
                "diff",
                "--name-status",
                "-z",
                "--find-renames",
                "--no-relative",
                "--no-ext-diff",
                &base,
                "--",
            ],
        )?;
        let untracked = git(root, &["ls-files", "-z", "--others", "--exclude-standard"])?;
        let mut fields = diff.split(|&b| b == 0).filter(|f| !f.is_empty());
        let mut files = Vec::new();
        while let Some(status) = fields.next() {
            let status = String::from_utf8_lossy(status);
            let mut path = || {
                fields
                    .next()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
            };
            match status.as_bytes().first() {
                // Renamed or copied: the old path, then the new one.
                Some(b'R') | Some(b'C') => {
                    let (_, new) = (path(), path());
                    let unchanged = status.as_ref() == "R100";
                    files.extend(new.filter(|_| !unchanged));
                }
                Some(b'A') | Some(b'M') | Some(b'T') => files.extend(path()),
                // Deleted, unmerged, …: nothing to lint.
                _ => {
                    path();
                }
            }
        }
        files.extend(
            untracked
                .split(|&b| b == 0)
                .filter(|f| !f.is_empty())
                .map(|f| String::from_utf8_lossy(f).into_owned()),
        );
        for file in files {
            if let Ok(path) = root.join(file).canonicalize() {
                self.files.insert(path);
            }
        }
        Ok(())
    }

    /// Whether `path` (relative to the working directory, or absolute) is a changed file.
    pub(crate) fn contains(&self, path: &Path) -> bool {
        path.canonicalize()
            .is_ok_and(|path| self.files.contains(&path))
    }
}

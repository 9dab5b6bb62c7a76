//! Atlas's integrity file, `atlas.sum`, rewritten as `atlas migrate hash` writes it when the
//! fixes change or add migrations of a directory that keeps one: Atlas refuses to run a
//! directory whose files no longer match it.
//!
//! The format: one running SHA-256 over the directory's `*.sql` files in byte order of their
//! names, fed each file's name and then its bytes; after each file, the base64 of the digest so
//! far is that file's hash (a file whose first line carries `atlas:sum ignore` feeds only its
//! name, and has no line). The first line is `h1:` and the base64 SHA-256 of every name
//! followed by its hash; then one line `name h1:hash` per file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use super::NewFile;
use super::run::Change;

/// The name of the integrity file in an Atlas migrations directory.
const SUM_FILE: &str = "atlas.sum";

/// The text of `atlas.sum` for the migration files `files` (name and bytes, in any order).
pub(crate) fn sum(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut running = Sha256::new();
    let mut hashes: Vec<(&str, String)> = Vec::new();
    // A BTreeMap of `String`s iterates in byte order, as Atlas sorts the names.
    for (name, bytes) in files {
        running.update(name.as_bytes());
        if ignored(bytes) {
            continue;
        }
        running.update(bytes);
        hashes.push((name, STANDARD.encode(running.clone().finalize())));
    }
    let mut total = Sha256::new();
    let mut lines = String::new();
    for (name, hash) in &hashes {
        total.update(name.as_bytes());
        total.update(hash.as_bytes());
        lines.push_str(&format!("{name} h1:{hash}\n"));
    }
    format!("h1:{}\n{lines}", STANDARD.encode(total.finalize()))
}

/// Whether a file opens with the directive `atlas:sum ignore`: the first line, in printable
/// ASCII, names `atlas:sum` (the last `atlas:` on it) followed by spaces and `ignore`.
fn ignored(bytes: &[u8]) -> bool {
    let line: &[u8] = bytes
        .split(|&b| !(b' '..=b'~').contains(&b))
        .next()
        .unwrap_or_default();
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    line.rfind("atlas:").is_some_and(|at| {
        let rest = &line[at + "atlas:".len()..];
        let word_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (word, after) = rest.split_at(word_end);
        word == "sum" && after.starts_with(' ') && after.trim_start_matches(' ') == "ignore"
    })
}

/// The `atlas.sum` of every directory that keeps one and whose migrations `changes` edit or
/// `new_files` add, rewritten for the fixed files (the others read from disk); only those
/// whose text changes.
pub(crate) fn rewritten(changes: &[Change], new_files: &[NewFile]) -> Vec<Change> {
    let parent = |path: &Path| path.parent().map(Path::to_path_buf);
    let dirs: BTreeSet<PathBuf> = changes
        .iter()
        .map(|c| &c.path)
        .chain(new_files.iter().map(|f| &f.path))
        .filter_map(|p| parent(p))
        .filter(|dir| dir.join(SUM_FILE).is_file())
        .collect();
    let mut out = Vec::new();
    for dir in dirs {
        let sum_path = dir.join(SUM_FILE);
        let Ok(original) = std::fs::read_to_string(&sum_path) else {
            continue;
        };
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let entries = std::fs::read_dir(&dir).into_iter().flatten().flatten();
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".sql")
                && entry.path().is_file()
                && let Ok(bytes) = std::fs::read(entry.path())
            {
                files.insert(name, bytes);
            }
        }
        let in_dir = |path: &Path| {
            (path.parent() == Some(dir.as_path()))
                .then(|| path.file_name())
                .flatten()
                .map(|n| n.to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".sql"))
        };
        for change in changes {
            if let Some(name) = in_dir(&change.path) {
                files.insert(name, change.bytes());
            }
        }
        for new in new_files {
            if let Some(name) = in_dir(&new.path) {
                files.insert(name, new.contents.clone().into_bytes());
            }
        }
        let fixed = sum(&files);
        if fixed != original {
            out.push(Change {
                path: sum_path,
                original,
                fixed,
                bom: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sum derived by hand from the documented algorithm (Python's hashlib and base64 over
    /// these three files), which matched, by the same derivation, the `atlas.sum` that
    /// `atlas migrate hash` wrote in a public repository.
    #[test]
    fn the_sum_is_atlas_migrate_hash_s() {
        let files = BTreeMap::from([
            (
                "20240201000000_index.sql".to_owned(),
                b"-- atlas:txmode none\n\nCREATE INDEX CONCURRENTLY users_id_idx ON users (id);\n"
                    .to_vec(),
            ),
            (
                "20240101000000_users.sql".to_owned(),
                b"CREATE TABLE users (id bigint PRIMARY KEY);\n".to_vec(),
            ),
            (
                "20240301000000_scratch.sql".to_owned(),
                b"-- atlas:sum ignore\nSELECT 1;\n".to_vec(),
            ),
        ]);
        assert_eq!(
            sum(&files),
            "h1:fGBEPSV9zwkf3KNggooWbdUzYViHhRBYAtZr8TlT/KI=\n\
             20240101000000_users.sql h1:SRfnCYBDfOnyjdnR0MmG+3Gqy2DDuI64bmSaBMLb1EQ=\n\
             20240201000000_index.sql h1:NX07te7U6NRwx6Mk8r9kS8Oiqq4qZ8z3WfYGfLCU+lw=\n"
        );
    }

    #[test]
    fn only_a_first_line_directive_ignores_a_file() {
        assert!(ignored(b"-- atlas:sum ignore\nSELECT 1;"));
        assert!(!ignored(b"-- atlas:sum\nSELECT 1;"));
        assert!(!ignored(b"SELECT 1;\n-- atlas:sum ignore\n"));
        assert!(!ignored(b"-- atlas:txmode none\n"));
    }
}

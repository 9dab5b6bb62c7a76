//! Git, through its command line: the crate's files at a ref (`git ls-tree`, and one
//! `git cat-file --batch` for their contents), and the helper `--changed-since` uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use super::Tree;

/// Run git in `dir`; its standard output, or its complaint.
pub(crate) fn run(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "`git {}` failed: {}",
            args.join(" "),
            stderr.trim()
        ))
    }
}

/// The commit `reference` names in the repository of `dir`, or why it names none.
pub(crate) fn commit(dir: &Path, reference: &str) -> Result<String, String> {
    let spec = format!("{reference}^{{commit}}");
    let commit = run(
        dir,
        &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec],
    )
    .map_err(|_| {
        format!(
            "`{reference}` is not a commit of the git repository at `{}` (in CI, fetch it first, e.g. with a full clone)",
            dir.display()
        )
    })?;
    Ok(String::from_utf8_lossy(&commit).trim().to_owned())
}

/// The crate's files at a commit.
pub(crate) struct GitTree {
    root: std::path::PathBuf,
    commit: String,
    /// The crate's directory in the repository (`""` or `app/`).
    prefix: String,
    files: Vec<String>,
}

impl GitTree {
    /// The crate at `crate_dir` as it is at `reference`.
    pub(crate) fn at(crate_dir: &Path, reference: &str) -> Result<GitTree, String> {
        let not_in_git = |e: String| {
            format!(
                "the base ref `{reference}` needs a git repository, and `{}` is not in one: {e}",
                crate_dir.display()
            )
        };
        let root = run(crate_dir, &["rev-parse", "--show-toplevel"]).map_err(not_in_git)?;
        let root = std::path::PathBuf::from(String::from_utf8_lossy(&root).trim_end_matches('\n'));
        let prefix = run(crate_dir, &["rev-parse", "--show-prefix"]).map_err(not_in_git)?;
        let prefix = String::from_utf8_lossy(&prefix).trim_end().to_owned();
        let commit = commit(&root, reference)?;
        let mut args = vec!["ls-tree", "-r", "-z", "--name-only", "--full-tree", &commit];
        if !prefix.is_empty() {
            args.extend(["--", prefix.as_str()]);
        }
        let listing = run(&root, &args)?;
        let files = listing
            .split(|&b| b == 0)
            .filter(|f| !f.is_empty())
            .filter_map(|f| {
                String::from_utf8_lossy(f)
                    .strip_prefix(prefix.as_str())
                    .map(str::to_owned)
            })
            .filter(|f| !f.starts_with("target/"))
            .collect();
        Ok(GitTree {
            root,
            commit,
            prefix,
            files,
        })
    }

    /// The contents of `paths` at the commit, from one `git cat-file --batch`.
    fn cat(&self, paths: &[&str]) -> Result<Vec<Option<String>>, String> {
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.root)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run git: {e}"))?;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        let requests: String = paths
            .iter()
            .map(|p| format!("{}:{}{p}\n", self.commit, self.prefix))
            .collect();
        // Written from a thread, so that a large batch cannot fill both pipes at once.
        let writer = std::thread::spawn(move || stdin.write_all(requests.as_bytes()));
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let mut contents = Vec::with_capacity(paths.len());
        for _ in paths {
            let mut header = String::new();
            out.read_line(&mut header).map_err(|e| e.to_string())?;
            // `<oid> blob <size>`, or `<object> missing`.
            let size = header
                .trim_end()
                .rsplit_once(' ')
                .filter(|_| header.contains(" blob "))
                .and_then(|(_, size)| size.parse::<usize>().ok());
            match size {
                Some(size) => {
                    let mut bytes = vec![0; size + 1];
                    out.read_exact(&mut bytes).map_err(|e| e.to_string())?;
                    bytes.pop();
                    contents.push(String::from_utf8(bytes).ok());
                }
                None => contents.push(None),
            }
        }
        let _ = writer.join();
        let _ = child.wait();
        Ok(contents)
    }
}

impl Tree for GitTree {
    fn files(&self) -> &[String] {
        &self.files
    }

    fn read(&self, paths: &[&str]) -> Vec<Option<String>> {
        self.cat(paths).unwrap_or_else(|_| vec![None; paths.len()])
    }
}

//! Git in a temporary repository, as the tests of `--changed-since` and of the application's
//! code at a base ref need it: commits by a fixed author, never signed.

use std::path::Path;

/// Run `git args` in `dir`; panics with git's complaint when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let output = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git is installed");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

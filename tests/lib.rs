//! End-to-end tests of migration-safety, run as a user runs them: see `api.rs`, and the
//! consumer crates under `tests/`.
//!
//! The library holds what the test targets share: [`server`], the real PostgreSQL servers of
//! the verification suite and the helpers to apply and observe statements on them,
//! [`available`], whether a tool the tests need is installed, and [`git`], for the
//! temporary repositories whose base ref holds the application's code.

use std::process::Command;

pub mod server;

#[path = "../migration-safety/tests/common/git.rs"]
mod git_helper;
pub use git_helper::git;

/// Whether `program` runs (`program --version` succeeds). When it does not, says so on
/// standard error, naming what it is needed for, and fails under CI, where `.ci/run`
/// installs every tool the tests use.
pub fn available(program: &str, why: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{program}` is not installed: .ci/run must install it for {why}"
        );
        eprintln!("skipped: `{program}` is not installed, needed for {why}");
    }
    found
}

//! End-to-end tests of migration-safety, run as a user runs them: see `api.rs`, and the
//! consumer crates under `tests/`.
//!
//! The library holds what the test targets share: [`server`], the real PostgreSQL servers of
//! the verification suite and the helpers to apply and observe statements on them,
//! [`available`], whether a tool the tests need is installed, [`cli_binary`], the command line
//! as a user runs it, and [`git`], for the temporary repositories whose base ref holds the
//! application's code.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

/// `program` (cargo, or a script that runs it), without the variables cargo sets for a test
/// process (`CARGO_PKG_NAME`, `OUT_DIR`…): build scripts such as ring's rerun when they
/// change, and so would everything that depends on them, so a nested build with them would
/// not reuse what `cargo test` built.
pub fn outside_test(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cargo = Command::new(program);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&&*name)
        {
            cargo.env_remove(&*name);
        }
    }
    cargo
}

/// The `migration-safety` command line of this checkout (a debug build), for the test target
/// `test` of this crate (pass `env!("CARGO_CRATE_NAME")`).
///
/// It is built as `cargo test --workspace` builds it, for the tests of `migration-safety`: with
/// the whole workspace selected and a test target among those built (`--test <test>`, already
/// built since it is the one running), cargo resolves the same features, so after that command
/// nothing is built again. (`cargo build -p migration-safety --features cli` resolves fewer
/// features and built about 45 crates a second time, the library among them.) It runs
/// cargo [`outside_test`].
pub fn cli_binary(test: &str) -> PathBuf {
    let output = outside_test(env!("CARGO"))
        .args(["build", "--workspace", "--locked", "--color", "never"])
        .args(["--bin", "migration-safety", "--test", test])
        .args(["--message-format", "json"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo build failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|message| {
            message["target"]["name"] == "migration-safety"
                && message["target"]["kind"][0] == "bin"
                && message["profile"]["test"] == false
        })
        .and_then(|message| message["executable"].as_str().map(PathBuf::from))
        .expect("cargo reports the binary it built")
}

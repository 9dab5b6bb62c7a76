//! Fixes: every rule fixture (bad and good) is fixed in a copy; what the fixes write must lint
//! clean of what they fixed, under the fixture's settings, without a new finding; the diffs are
//! snapshotted.

// Shared with the real-server verification (`tests/verification.rs` at the root), which reads every field.
#[allow(dead_code)]
#[path = "common/fixture_settings.rs"]
mod fixture_settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use migration_safety::fix::fix_paths;
use migration_safety::{Report, lint_paths, rules};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Copy a fixture (a file or a directory of migrations) into `into`.
fn copy(from: &Path, into: &Path) -> PathBuf {
    let to = into.join(from.file_name().unwrap());
    if from.is_dir() {
        std::fs::create_dir(&to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            copy(&entry.unwrap().path(), &to);
        }
    } else {
        std::fs::copy(from, &to).unwrap();
    }
    to
}

fn counts(report: &Report) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for (_, d) in report.diagnostics() {
        *counts.entry(d.rule).or_default() += 1;
    }
    counts
}

/// Every fixture's fixes, written: the fixed migrations lint without the findings fixed and
/// without a finding that was not there before; the diff of each fixture that changes is
/// snapshotted, with the temporary directory's path taken out.
#[test]
fn what_fix_writes_lints_clean_and_the_diffs_are_snapshotted() {
    let mut failures = Vec::new();
    let mut fixed_any = BTreeMap::new();
    for rule in rules() {
        let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(rule.name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        fixtures.sort();
        for fixture in fixtures {
            let settings = fixture_settings::settings_for(&fixture).settings;
            let dir = tempfile::tempdir().unwrap();
            let copied = copy(&fixture, dir.path());
            let before = lint_paths(std::slice::from_ref(&copied), &settings).unwrap();
            let fixed = fix_paths(std::slice::from_ref(&copied), &settings, &[]).unwrap();
            let name = format!(
                "{}/{}",
                rule.name,
                fixture.file_name().unwrap().to_string_lossy()
            );
            if fixed.changes.is_empty() && fixed.new_files.is_empty() {
                continue;
            }
            for change in &fixed.changes {
                std::fs::write(&change.path, change.bytes()).unwrap();
            }
            for file in &fixed.new_files {
                std::fs::create_dir_all(file.path.parent().unwrap()).unwrap();
                std::fs::write(&file.path, &file.contents).unwrap();
            }
            let after = lint_paths(std::slice::from_ref(&copied), &settings).unwrap();
            assert_eq!(
                counts(&after),
                counts(&fixed.report),
                "{name}: the fixed files on disk lint as fix_paths said"
            );
            let (was, is) = (counts(&before), counts(&after));
            for (found, count) in &is {
                if was.get(found).is_none_or(|was| count > was) {
                    failures.push(format!(
                        "{name}: the fix added a `{found}` finding:\n{}",
                        after.to_human(false)
                    ));
                }
            }
            let unfixed: Vec<_> = after
                .diagnostics()
                .filter(|(_, d)| d.fix.is_some())
                .map(|(_, d)| d.rule)
                .collect();
            if !unfixed.is_empty() && fixed.conflicts.is_empty() {
                failures.push(format!("{name}: fixes left unapplied: {unfixed:?}"));
            }
            let base = format!("{}/", dir.path().display());
            let diff = fixed.diff().replace(&base, "");
            for change in &fixed.changes {
                fixed_any.insert(name.clone(), change.path.clone());
            }
            insta::with_settings!({ snapshot_path => "snapshots/fix", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(name.replace('/', "__"), diff);
            });
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(!fixed_any.is_empty());
}

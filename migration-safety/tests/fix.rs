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
            // The diff names the absolute paths without their leading `/`.
            let base = format!("{}/", dir.path().display());
            let diff = fixed.diff().replace(base.trim_start_matches('/'), "");
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

/// In an Atlas directory that keeps an `atlas.sum`, the fixes rewrite it as
/// `atlas migrate hash` would for the fixed and new files. The expected sum was derived by
/// hand from Atlas's documented algorithm (Python's hashlib and base64 over the files below).
#[test]
fn atlas_sum_is_rewritten_for_the_fixed_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("migrations");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(
        root.join("20240101000000_users.sql"),
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    )
    .unwrap();
    std::fs::write(
        root.join("20240201000000_nickname.sql"),
        "ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX CONCURRENTLY users_nickname_idx ON users (nickname);\n",
    )
    .unwrap();
    std::fs::write(root.join("atlas.sum"), "h1:stale\n").unwrap();
    let settings =
        migration_safety::Settings::default().framework(migration_safety::Framework::Atlas);
    let fixed = fix_paths(std::slice::from_ref(&root), &settings, &[]).unwrap();
    let changed: Vec<_> = fixed.changes.iter().map(|c| c.fixed.as_str()).collect();
    assert_eq!(
        changed,
        ["SET LOCAL lock_timeout = '5s';\nALTER TABLE users ADD COLUMN nickname text;\n"]
    );
    let new: Vec<_> = fixed
        .new_files
        .iter()
        .map(|f| f.contents.as_str())
        .collect();
    assert_eq!(
        new,
        [
            "-- atlas:txmode none\n\n-- Moved out of the migration `nickname`, written by `migration-safety fix`:\n-- `CREATE INDEX CONCURRENTLY` cannot run inside a transaction.\nCREATE INDEX CONCURRENTLY users_nickname_idx ON users (nickname);\n"
        ]
    );
    assert_eq!(fixed.sums.len(), 1);
    assert_eq!(fixed.sums[0].path, root.join("atlas.sum"));
    assert_eq!(fixed.sums[0].original, "h1:stale\n");
    assert_eq!(
        fixed.sums[0].fixed,
        "h1:NN7Y0uENtM9R41F8yMv0UayWOFb7ixiVaOtic2XHAmA=\n\
         20240101000000_users.sql h1:SRfnCYBDfOnyjdnR0MmG+3Gqy2DDuI64bmSaBMLb1EQ=\n\
         20240201000000_nickname.sql h1:Ern0vLJLWC+g9OwIHUv06d3mSljHHq3oC9m2DtmyOcE=\n\
         20240201000001_create_users_nickname_idx.sql h1:uNirNUfgUxGeGz8HnmnNp74EnhX4i4y4szEIWj9awYU=\n"
    );
    assert!(
        fixed.diff().contains("+++ b/"),
        "the diff shows atlas.sum too"
    );
    assert!(fixed.diff().contains("-h1:stale\n"));
}

/// The statements of SQL text, each on one line (comment lines left out, white space folded,
/// without its `;`), leaving out the `BEGIN` and `COMMIT` a written phase is wrapped in.
fn one_line_statements(sql: &str) -> Vec<String> {
    migration_safety::split_statements(sql)
        .into_iter()
        .map(|range| {
            let text: Vec<&str> = sql[range]
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"))
                .collect();
            let text = text.join(" ");
            let words: Vec<&str> = text.trim_end_matches(';').split_whitespace().collect();
            words.join(" ")
        })
        .filter(|s| s != "BEGIN" && s != "COMMIT")
        .collect()
}

/// Whoever follows the help of `rename-column` by hand runs what its fix writes: the same
/// statements, in the same order, in each framework's way of running the backfill (its own
/// migration outside a transaction, or inside the transaction where the framework has no other).
#[test]
fn the_rename_column_help_states_the_plan_the_fix_writes() {
    use migration_safety::{Framework, Settings};
    for (framework, names) in [
        (Framework::Plain, ["0001_users.sql", "0002_rename.sql"]),
        (
            Framework::Sqlx,
            ["20240101000000_users.sql", "20240201000000_rename.sql"],
        ),
        (Framework::Refinery, ["V1__users.sql", "V2__rename.sql"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(names[0]),
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'anonymous');\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join(names[1]),
            "SET lock_timeout = '5s';\nALTER TABLE users RENAME COLUMN name TO full_name;\n",
        )
        .unwrap();
        let settings = Settings::default().framework(framework);
        let report = lint_paths(&[dir.path().to_path_buf()], &settings).unwrap();
        let (_, finding) = report
            .diagnostics()
            .find(|(_, d)| d.rule == "rename-column")
            .unwrap();
        let help = finding.help.as_deref().unwrap();
        let from_help: Vec<String> = help
            .lines()
            .filter_map(|line| line.trim_start().split_once(". "))
            .filter(|(number, _)| number.parse::<usize>().is_ok())
            .map(|(_, step)| step)
            .filter(|step| !step.starts_with("deploy "))
            .map(|step| {
                let step = step.split("  -- ").next().unwrap();
                match step.split_once("migration") {
                    Some((when, rest)) if when.starts_with("in ") => {
                        rest.split_once(": ").unwrap().1
                    }
                    _ => step,
                }
            })
            .flat_map(one_line_statements)
            .collect();
        let fix = finding.fix.as_ref().unwrap();
        let written: Vec<&str> = fix
            .edits
            .iter()
            .map(|e| e.replacement.as_str())
            .chain(fix.new_files.iter().map(|f| f.contents.as_str()))
            .collect();
        let from_fix: Vec<String> = written.into_iter().flat_map(one_line_statements).collect();
        assert_eq!(from_help, from_fix, "{framework}:\n{help}");
        for statement in [
            "ALTER TABLE users ALTER COLUMN full_name SET DEFAULT 'anonymous'",
            "ALTER TABLE users VALIDATE CONSTRAINT users_full_name_not_null",
            "ALTER TABLE users DROP COLUMN name",
        ] {
            assert!(from_fix.iter().any(|s| s == statement), "{statement}");
        }
        let refinery = framework == Framework::Refinery;
        assert_eq!(help.contains("COMMIT; END LOOP"), !refinery, "{help}");
    }
}

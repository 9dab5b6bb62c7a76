//! Fixture snapshots: every rule has `tests/fixtures/<rule>/bad*` and `good*` migrations (a
//! `.sql` file, or a directory of them linted as one history). A bad fixture must produce the
//! rule's finding, a good one must not; the full rendered output is snapshotted.
//!
//! A fixture's first line may pick settings: `-- settings: pg_version = 10, framework = sqlx`
//! (a directory's framework is otherwise detected from its layout).

// Shared with the real-server verification (`tests/verification.rs`), which reads every field.
#[allow(dead_code)]
#[path = "common/fixture_settings.rs"]
mod fixture_settings;

use std::path::{Path, PathBuf};

use migration_safety::{Settings, lint_paths, rules};

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn settings_for(path: &Path) -> Settings {
    fixture_settings::settings_for(path).settings
}

fn fixtures(rule: &str) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(rule))
        .unwrap_or_else(|e| panic!("rule `{rule}` has no fixtures directory: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
}

#[test]
fn every_rule_has_bad_and_good_fixtures_with_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    for rule in rules() {
        let fixtures = fixtures(rule.name);
        let stem = |p: &PathBuf| p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            fixtures.iter().any(|p| stem(p).starts_with("bad")),
            "`{}` has no bad fixture",
            rule.name
        );
        assert!(
            fixtures.iter().any(|p| stem(p).starts_with("good")),
            "`{}` has no good fixture",
            rule.name
        );
        for fixture in fixtures {
            let name = stem(&fixture);
            // Tests run in the package root: relative paths keep snapshots machine-independent.
            let relative = fixture.strip_prefix(root).unwrap().to_path_buf();
            let report = lint_paths(&[relative], &settings_for(&fixture)).unwrap();
            let found = report
                .diagnostics()
                .filter(|(_, d)| d.rule == rule.name)
                .count();
            if name.starts_with("bad") && found == 0 {
                failures.push(format!(
                    "{}/{name}: expected a `{}` finding, got:\n{}",
                    rule.name,
                    rule.name,
                    report.to_human(false)
                ));
            } else if name.starts_with("good") && found > 0 {
                failures.push(format!(
                    "{}/{name}: expected no `{}` finding, got:\n{}",
                    rule.name,
                    rule.name,
                    report.to_human(false)
                ));
            }
            let snapshot = format!("{}__{}", rule.name, name.trim_end_matches(".sql"));
            insta::with_settings!({ snapshot_path => "snapshots/rules", prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!(snapshot, report.to_human(false));
            });
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn no_fixture_directory_lacks_a_rule() {
    let names: Vec<_> = rules().map(|r| r.name).collect();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            names.contains(&name.as_str()),
            "fixtures/{name} names no rule"
        );
    }
}

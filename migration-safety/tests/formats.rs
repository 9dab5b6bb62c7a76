//! Every `--format`, on the shipped example migrations: a snapshot of each, and the machine
//! formats read back as their consumers read them (SARIF against the official 2.1.0 schema).

use std::collections::HashSet;

use assert_cmd::Command;
use quick_xml::events::Event;
use quick_xml::{Reader, XmlVersion};
use serde_json::Value;

const EXAMPLE: &str = "examples/migrations";
const RISKY: &str = "examples/migrations/20240301000000_risky_changes.sql";

fn check(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("migration-safety")
        .unwrap()
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn format(name: &str) -> String {
    let (code, stdout, stderr) = check(&["--format", name, EXAMPLE]);
    assert_eq!(code, Some(1), "{name}: {stderr}");
    stdout
}

/// The findings of the example, as `(path, line, rule)`, straight from the library.
fn expected_findings() -> Vec<(String, usize, String)> {
    let report = migration_safety::lint_dir(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/migrations"),
        &Default::default(),
    )
    .unwrap();
    report
        .diagnostics()
        .map(|(f, d)| {
            let name = f.path.rsplit('/').next().unwrap();
            (format!("{EXAMPLE}/{name}"), d.start.line, d.rule.to_owned())
        })
        .collect()
}

#[test]
fn concise_is_one_line_per_finding() {
    let text = format("concise");
    insta::assert_snapshot!("concise", text);
    let lines: Vec<(String, usize, String)> = text
        .lines()
        .map(|line| {
            let (location, rest) = line.split_once(": ").unwrap();
            let mut parts = location.split(':');
            let (path, line_no) = (parts.next().unwrap(), parts.next().unwrap());
            let rule = rest.split_once('[').unwrap().1.split_once(']').unwrap().0;
            (path.to_owned(), line_no.parse().unwrap(), rule.to_owned())
        })
        .collect();
    assert_eq!(lines, expected_findings());
}

#[test]
fn json_is_versioned_with_frameworks_categories_and_counts() {
    let text = format("json");
    insta::assert_snapshot!("json", text);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["directories"][0]["path"], EXAMPLE);
    assert_eq!(json["directories"][0]["framework"], "plain");
    assert_eq!(json["directories"][0]["detected"], true);
    assert_eq!(json["directories"][0]["migrations"], 4);
    let summary = &json["summary"];
    assert_eq!(
        (
            &summary["files"],
            &summary["errors"],
            &summary["warnings"],
            &summary["suppressed"]
        ),
        (
            &Value::from(4),
            &Value::from(5),
            &Value::from(6),
            &Value::from(1)
        )
    );
    let risky = &json["files"][2];
    assert_eq!(risky["path"], RISKY);
    let rename = &risky["diagnostics"][1];
    assert_eq!(rename["rule"], "rename-column");
    assert_eq!(rename["category"], "backward-incompatible");
    assert!(
        rename["help"]
            .as_str()
            .unwrap()
            .contains("ADD COLUMN full_name")
    );
    let suppressed = &json["files"][3]["suppressed"][0];
    assert_eq!(suppressed["rule"], "drop-column");
    assert_eq!(
        suppressed["reason"],
        "`legacy` has not been read since release 2.3"
    );
}

#[test]
fn sarif_is_valid_sarif_2_1_0_with_rules_regions_and_suppressions() {
    let text = format("sarif");
    let log: Value = serde_json::from_str(&text).unwrap();
    let schema: Value = serde_json::from_str(include_str!("data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&log)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    // The schema does check what matters: a 0-based line is rejected.
    let mut zero_based = log.clone();
    zero_based["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    assert!(!validator.is_valid(&zero_based));

    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), migration_safety::rules().count());
    let set_not_null = rules.iter().find(|r| r["id"] == "set-not-null").unwrap();
    assert_eq!(
        set_not_null["helpUri"],
        "https://github.com/migration-safety/migration-safety/blob/main/docs/rules/set-not-null.md"
    );
    assert!(
        set_not_null["help"]["markdown"]
            .as_str()
            .unwrap()
            .contains("## Use instead")
    );
    assert!(
        !set_not_null["shortDescription"]["text"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    // Every linked page exists in the repository.
    for rule in rules {
        let id = rule["id"].as_str().unwrap();
        let page = format!("{}/../docs/rules/{id}.md", env!("CARGO_MANIFEST_DIR"));
        assert!(std::path::Path::new(&page).is_file(), "{page}");
    }

    let results = run["results"].as_array().unwrap();
    insta::assert_json_snapshot!("sarif_results", results);
    for result in results {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
    }
    let rename = results
        .iter()
        .find(|r| r["ruleId"] == "rename-column")
        .unwrap();
    let location = &rename["locations"][0]["physicalLocation"];
    assert_eq!(location["artifactLocation"]["uri"], RISKY);
    // `RENAME COLUMN name TO full_name` spans columns 19 to 49, and SARIF's end is exclusive.
    assert_eq!(
        location["region"],
        serde_json::json!({ "startLine": 2, "startColumn": 19, "endLine": 2, "endColumn": 50 })
    );
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["ruleId"], "drop-column");
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "inSource");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "`legacy` has not been read since release 2.3"
    );
}

/// A workflow command parsed as the runner does: `::command key=value,…::message`, with the
/// runner's unescaping.
fn parse_command(line: &str) -> (String, Vec<(String, String)>, String) {
    let unescape = |s: &str| {
        s.replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
    };
    let rest = line.strip_prefix("::").unwrap();
    let (head, message) = rest.split_once("::").unwrap();
    let (command, properties) = head.split_once(' ').unwrap();
    let properties = properties
        .split(',')
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_owned(), unescape(v))
        })
        .collect();
    (command.to_owned(), properties, unescape(message))
}

#[test]
fn github_annotations_parse_back_to_the_findings() {
    let text = format("github");
    insta::assert_snapshot!("github", text);
    let commands: Vec<_> = text
        .lines()
        .filter(|l| l.starts_with("::"))
        .map(parse_command)
        .collect();
    let found: Vec<(String, usize, String)> = commands
        .iter()
        .map(|(_, properties, _)| {
            let get = |key: &str| {
                properties
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            (get("file"), get("line").parse().unwrap(), get("title"))
        })
        .collect();
    assert_eq!(found, expected_findings());
    let (command, properties, message) = commands
        .iter()
        .find(|(_, p, _)| p.iter().any(|(k, v)| k == "title" && v == "set-not-null"))
        .unwrap();
    assert_eq!(command, "error");
    let keys: Vec<&str> = properties.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["file", "line", "col", "endLine", "endColumn", "title"]
    );
    assert!(
        message.contains("\nhelp: prove the column non-null"),
        "{message}"
    );
    let warnings = commands.iter().filter(|(c, _, _)| c == "warning").count();
    assert_eq!(warnings, 6);
}

#[test]
fn gitlab_code_quality_parses_back_with_stable_unique_fingerprints() {
    let text = format("gitlab");
    insta::assert_snapshot!("gitlab", text);
    let issues: Vec<Value> = serde_json::from_str(&text).unwrap();
    let found: Vec<(String, usize, String)> = issues
        .iter()
        .map(|i| {
            (
                i["location"]["path"].as_str().unwrap().to_owned(),
                i["location"]["lines"]["begin"].as_u64().unwrap() as usize,
                i["check_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, expected_findings());
    for issue in &issues {
        assert!(["major", "minor"].contains(&issue["severity"].as_str().unwrap()));
        assert!(!issue["description"].as_str().unwrap().is_empty());
    }
    let fingerprints: HashSet<&str> = issues
        .iter()
        .map(|i| i["fingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(fingerprints.len(), issues.len(), "fingerprints are unique");
}

#[test]
fn gitlab_fingerprints_do_not_depend_on_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("1_index.sql");
    let sql =
        "SET lock_timeout = '1s';\nCREATE INDEX a_idx ON a (x);\nCREATE INDEX a_idx ON a (x);\n";
    let fingerprints = |sql: &str| {
        std::fs::write(&file, sql).unwrap();
        let report = migration_safety::lint_file(&file, &Default::default()).unwrap();
        let issues: Vec<Value> = serde_json::from_str(
            &report.render(migration_safety::Format::Gitlab, Default::default()),
        )
        .unwrap();
        issues
            .iter()
            .map(|i| i["fingerprint"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = fingerprints(sql);
    assert_eq!(before.len(), 2);
    assert_ne!(
        before[0], before[1],
        "identical statements get distinct fingerprints"
    );
    let moved = fingerprints(&format!(
        "-- a comment\n\n{}",
        sql.replace("ON a", "ON\n    a")
    ));
    assert_eq!(before, moved);
    let other = fingerprints(&sql.replace("(x)", "(y)"));
    assert_ne!(before[0], other[0]);
}

#[test]
fn junit_has_one_test_case_per_migration_failing_on_its_errors() {
    let text = format("junit");
    insta::assert_snapshot!("junit", text);
    let mut reader = Reader::from_str(&text);
    let mut cases: Vec<(String, Vec<String>)> = Vec::new();
    let mut suites = Vec::new();
    let mut out = String::new();
    let mut in_out = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.normalized_value(XmlVersion::Explicit1_0)
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    "testsuites" | "testsuite" => {
                        suites.push((attr("tests").unwrap(), attr("failures").unwrap()))
                    }
                    "testcase" => cases.push((attr("name").unwrap(), Vec::new())),
                    "failure" => cases.last_mut().unwrap().1.push(attr("type").unwrap()),
                    "system-out" => in_out = true,
                    _ => {}
                }
            }
            Event::Text(t) if in_out => out.push_str(&t.xml10_content()),
            Event::End(e) if e.name().as_ref() == "system-out" => in_out = false,
            Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(suites, [("4".into(), "1".into()), ("4".into(), "1".into())]);
    let names: Vec<&str> = cases.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "examples/migrations/20240101000000_create_users.sql",
            "examples/migrations/20240201000000_add_orders.sql",
            RISKY,
            "examples/migrations/20240401000000_safe_index.sql",
        ]
    );
    assert_eq!(
        cases[2].1,
        [
            "rename-column",
            "change-column-type",
            "add-column-with-default",
            "set-not-null",
            "create-index-non-concurrently"
        ]
    );
    // Warnings do not fail a test case under the default --fail-on error; they are printed.
    assert!(cases[0].1.is_empty());
    assert!(out.contains("warning[prefer-text]"), "{out}");

    let (_, strict, _) = check(&["--format", "junit", "--fail-on", "warning", EXAMPLE]);
    assert!(strict.contains(r#"<testsuites name="migration-safety" tests="4" failures="2""#));
    assert!(strict.contains(r#"<failure type="prefer-text""#));
}

#[test]
fn human_names_the_framework_of_each_directory() {
    let text = format("human");
    assert!(
        text.contains(
            "note: read `examples/migrations` as plain migrations (detected from its files)\n"
        ),
        "{text}"
    );
    let (_, given, _) = check(&["--framework", "sqlx", EXAMPLE]);
    assert!(
        given.contains("note: read `examples/migrations` as sqlx migrations (as configured)\n")
    );
}

#[test]
fn color_follows_the_flag_and_the_environment() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = Command::cargo_bin("migration-safety").unwrap();
        command
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .arg("check")
            .args(args)
            .arg(RISKY);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8(output.stdout).unwrap().contains('\u{1b}')
    };
    // Standard output is a pipe here, so `auto` means no colour...
    assert!(!run(&[], &[]));
    // ...unless CLICOLOR_FORCE is set and not empty, and NO_COLOR is not.
    assert!(run(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!run(&[], &[("CLICOLOR_FORCE", "")]));
    assert!(!run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]));
    assert!(run(&[], &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]));
    // The flag wins over the environment.
    assert!(run(&["--color", "always"], &[("NO_COLOR", "1")]));
    assert!(!run(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    // Only the human format is coloured.
    assert!(!run(&["--color", "always", "--format", "concise"], &[]));
}

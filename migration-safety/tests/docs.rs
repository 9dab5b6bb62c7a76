//! `docs/rules/` is generated from the rules' documentation; this test keeps it current.
//! Regenerate with `MIGRATION_SAFETY_BLESS=1 cargo test -p migration-safety --test docs`.

use std::path::Path;

use migration_safety::rules;

const SECTIONS: &[&str] = &[
    "## What it does",
    "## Why is this bad?",
    "## Example",
    "## Use instead",
    "## References",
];

fn index() -> String {
    let mut out = String::from(
        "# Rules\n\nGenerated from the rules' documentation by `cargo test -p migration-safety --test docs`.\n\n| Rule | Category | Default severity | Since | Fix | Flags |\n|---|---|---|---|---|---|\n",
    );
    for rule in rules() {
        out.push_str(&format!(
            "| [`{0}`]({0}.md) | {1} | {2} | {4} | {5} | {3} |\n",
            rule.name,
            rule.category,
            rule.default_severity,
            rule.summary,
            rule.since,
            if rule.has_fix { "yes" } else { "" }
        ));
    }
    out
}

#[test]
fn every_rule_documents_the_required_sections_in_order() {
    for rule in rules() {
        let docs = rule.documentation();
        let mut last = 0;
        for section in SECTIONS {
            let at = docs
                .find(section)
                .unwrap_or_else(|| panic!("`{}` lacks `{section}`", rule.name));
            assert!(at >= last, "`{}`: `{section}` is out of order", rule.name);
            last = at;
        }
        let why =
            &docs[docs.find("## Why is this bad?").unwrap()..docs.find("## Example").unwrap()];
        assert!(
            why.contains("lock"),
            "`{}`: Why is this bad? must name the lock taken (or say it takes none)",
            rule.name
        );
        assert!(
            rule.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-'),
            "`{}` is not kebab-case",
            rule.name
        );
    }
}

#[test]
fn generated_docs_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules");
    let bless = std::env::var_os("MIGRATION_SAFETY_BLESS").is_some();
    let mut expected: Vec<(String, String)> = rules()
        .map(|r| (format!("{}.md", r.name), r.to_markdown()))
        .collect();
    expected.push(("README.md".to_owned(), index()));
    let mut stale = Vec::new();
    for (file, content) in &expected {
        let path = dir.join(file);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
            if bless {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, content).unwrap();
            } else {
                stale.push(file.clone());
            }
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected.iter().any(|(file, _)| *file == name) {
            stale.push(format!("{name} (no such rule)"));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/rules is out of date: {}; regenerate with `MIGRATION_SAFETY_BLESS=1 cargo test -p migration-safety --test docs`",
        stale.join(", ")
    );
}

//! Bad input gets findings, never a panic: generated token soup, truncations of real
//! migrations, and pathological nesting, with every diagnostic pointing inside the source.

use migration_safety::{Settings, lint_sql};

const FRAGMENTS: &[&str] = &[
    "ALTER",
    "TABLE",
    "users",
    "ADD",
    "COLUMN",
    "DROP",
    "CREATE",
    "INDEX",
    "CONCURRENTLY",
    "ON",
    "(",
    ")",
    ",",
    ";",
    "'",
    "''",
    "\"",
    "$$",
    "$tag$",
    "$1",
    "--",
    "/*",
    "*/",
    "\n",
    "\r\n",
    "E'\\'",
    "DEFAULT",
    "now()",
    "gen_random_uuid()",
    "NOT",
    "NULL",
    "BEGIN",
    "COMMIT",
    "DO",
    "EXECUTE",
    "SET",
    "lock_timeout",
    "=",
    "'5s'",
    "RENAME",
    "TO",
    "TYPE",
    "bigint",
    "é",
    "🦀",
    "\u{feff}",
    "-- migration-safety: ignore drop-table -- x",
    "IGNORE",
    "VALID",
    "CHECK",
    "REFERENCES",
    "PARTITION",
    "OF",
    "ATTACH",
    "DETACH",
    "REINDEX",
    "VACUUM",
    "FULL",
    "::",
    ".",
    "*",
    "[",
    "]",
];

/// A small deterministic generator, so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % bound
    }
}

fn assert_well_formed(sql: &str) {
    let report = lint_sql(sql, &Settings::default());
    let file = &report.files[0];
    for d in &file.diagnostics {
        assert!(
            d.range.start <= d.range.end && d.range.end <= file.source.len(),
            "{sql:?}: {d:?}"
        );
        assert!(
            file.source.is_char_boundary(d.range.start)
                && file.source.is_char_boundary(d.range.end),
            "{sql:?}: {d:?}"
        );
        assert!(
            d.start.line >= 1 && d.start.column >= 1 && d.start <= d.end,
            "{sql:?}: {d:?}"
        );
    }
    // Rendering must not panic either.
    let _ = report.to_human(false);
    let _ = report.to_json();
}

#[test]
fn generated_token_soup_never_panics() {
    let mut rng = Lcg(0x5eed);
    for _ in 0..3000 {
        let len = rng.next(40);
        let sql: Vec<&str> = (0..len)
            .map(|_| FRAGMENTS[rng.next(FRAGMENTS.len())])
            .collect();
        assert_well_formed(&sql.join(" "));
        assert_well_formed(&sql.concat());
    }
}

#[test]
fn every_prefix_of_a_real_migration_is_handled() {
    let sql = "BEGIN;\nSET LOCAL lock_timeout = '5s';\nALTER TABLE \"Users\" ADD COLUMN token uuid DEFAULT gen_random_uuid(), ALTER COLUMN e TYPE text;\n\
               DO $body$ BEGIN IF true THEN EXECUTE 'ALTER TABLE x DROP COLUMN y'; END IF; END $body$;\n\
               CREATE INDEX CONCURRENTLY i ON t (lower(e)) WHERE e <> E'\\'';\n-- migration-safety: ignore drop-table -- ok\nDROP TABLE t; COMMIT;";
    for (end, _) in sql.char_indices() {
        assert_well_formed(&sql[..end]);
    }
}

#[test]
fn pathological_nesting_is_reported_not_a_stack_overflow() {
    let deep = format!("SELECT {}1{};", "(".repeat(5000), ")".repeat(5000));
    assert_well_formed(&deep);
    let unclosed = format!("ALTER TABLE t ADD CHECK {};", "(".repeat(5000));
    let report = lint_sql(&unclosed, &Settings::default());
    assert!(report.diagnostics().any(|(_, d)| d.rule == "syntax-error"));
    let comments = format!("{}SELECT 1;", "/*".repeat(2000));
    assert_well_formed(&comments);
}

#[test]
fn long_inputs_are_handled() {
    let many = "ALTER TABLE users ADD COLUMN a text;\n".repeat(5000);
    let report = lint_sql(&many, &Settings::default());
    assert_eq!(report.diagnostics().count(), 5000);
    let string = format!("SELECT '{}';", "x".repeat(1_000_000));
    assert_well_formed(&string);
}

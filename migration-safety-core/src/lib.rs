//! Implementation detail of `migration-safety`: what the library and its attribute macro
//! (`migration-safety-macros`, which cannot depend on the library) must agree on, kept in one
//! place: the migration layouts of each framework, the rule and category names, the
//! configuration file's name, and the supported PostgreSQL range.
//!
//! ```
//! use migration_safety_core::{RULE_NAMES, SUPPORTED_PG_VERSIONS, did_you_mean};
//!
//! assert!(SUPPORTED_PG_VERSIONS.contains(&migration_safety_core::DEFAULT_PG_VERSION));
//! assert_eq!(did_you_mean("set-not-nul", RULE_NAMES.iter().copied()), Some("set-not-null"));
//! ```

pub mod layout;
pub mod naming;

use std::ops::RangeInclusive;

/// The oldest PostgreSQL major version still supported upstream, the default target.
pub const DEFAULT_PG_VERSION: u32 = 14;

/// The PostgreSQL majors the rules know the behaviour of.
pub const SUPPORTED_PG_VERSIONS: RangeInclusive<u32> = 10..=18;

/// The message for a PostgreSQL major outside [`SUPPORTED_PG_VERSIONS`].
///
/// ```
/// assert_eq!(
///     migration_safety_core::unsupported_pg_version(9),
///     "PostgreSQL 9 is not supported: choose a major version from 10 to 18"
/// );
/// ```
pub fn unsupported_pg_version(major: impl std::fmt::Display) -> String {
    format!(
        "PostgreSQL {major} is not supported: choose a major version from {} to {}",
        SUPPORTED_PG_VERSIONS.start(),
        SUPPORTED_PG_VERSIONS.end()
    )
}

/// Every rule name, sorted. The library checks at compile time that each rule it declares is
/// listed here, and a test that every name listed has a rule; the macro validates
/// `allow(…)`/`warn(…)`/`deny(…)` against it.
pub const RULE_NAMES: &[&str] = &[
    "add-check-constraint",
    "add-column-required",
    "add-column-rewrites-table",
    "add-column-with-default",
    "add-domain-constraint",
    "add-exclusion-constraint",
    "add-foreign-key",
    "add-primary-key",
    "add-unique-constraint",
    "attach-partition-without-check",
    "change-column-type",
    "concurrently-if-not-exists",
    "concurrently-in-transaction",
    "concurrently-on-partitioned-table",
    "create-index-non-concurrently",
    "create-table-partition-of",
    "detach-partition-non-concurrently",
    "drop-column",
    "drop-database",
    "drop-index-non-concurrently",
    "drop-object",
    "drop-required-column-default",
    "drop-schema",
    "drop-table",
    "enum-value-in-transaction",
    "extension-in-migration",
    "foreign-key-without-index",
    "ineffective-transaction-marker",
    "invalid-suppression",
    "lock-table",
    "missing-lock-timeout",
    "prefer-bigint",
    "prefer-identity",
    "prefer-jsonb",
    "prefer-text",
    "prefer-timestamptz",
    "primary-key-on-nullable-column",
    "refresh-materialized-view-non-concurrently",
    "reindex-non-concurrently",
    "rename-column",
    "rename-enum-value",
    "rename-table",
    "rename-view",
    "schema-drift",
    "set-not-null",
    "set-schema",
    "syntax-error",
    "table-rewrite",
    "truncate-table",
    "unanalyzed-statement",
    "unbalanced-transaction",
    "unbatched-backfill",
    "unused-suppression",
    "vacuum-in-transaction",
    "validate-constraint-in-same-transaction",
];

/// Every rule category's name: `[rules]` in the configuration file and the macro's
/// `allow(…)`/`warn(…)`/`deny(…)` take one for all the rules of the category.
pub const CATEGORY_NAMES: &[&str] = &[
    "locking",
    "rewrite",
    "backward-incompatible",
    "transaction",
    "design",
    "meta",
];

/// The libraries whose code `app = "…"` reads (crate names on crates.io), sorted.
pub const APP_NAMES: &[&str] = &["diesel", "sea-orm", "sqlx"];

/// The libraries of [`APP_NAMES`] the crate at `crate_dir` depends on, from its `Cargo.toml`;
/// the library and the macro detect them alike.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("Cargo.toml"), "[dependencies]\nsea-orm = { version = \"1\" }\n")?;
/// assert_eq!(migration_safety_core::detect_apps(dir.path()), ["sea-orm"]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn detect_apps(crate_dir: &std::path::Path) -> Vec<&'static str> {
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap_or_default();
    APP_NAMES
        .iter()
        .copied()
        .filter(|app| layout::depends_on(&manifest, app))
        .collect()
}

/// The configuration file's name, looked for from the working directory (the command line)
/// or the crate's directory (the macro) upwards.
pub const CONFIG_FILE_NAME: &str = "migration-safety.toml";

/// Whether `name` is in [`RULE_NAMES`]; usable in constants, so a rule declared under a name
/// missing from the list fails to compile.
///
/// ```
/// const _: () = assert!(migration_safety_core::is_rule_name("drop-table"));
/// assert!(!migration_safety_core::is_rule_name("drop-tabel"));
/// ```
pub const fn is_rule_name(name: &str) -> bool {
    let mut i = 0;
    while i < RULE_NAMES.len() {
        if const_str_eq(RULE_NAMES[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn const_str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The candidate closest to `name`, when it is close enough to be a typo.
///
/// ```
/// use migration_safety_core::did_you_mean;
/// assert_eq!(did_you_mean("sqxl", ["sqlx", "goose"]), Some("sqlx"));
/// assert_eq!(did_you_mean("liquibase", ["sqlx", "goose"]), None);
/// ```
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(c, name), c))
        .filter(|(distance, _)| *distance <= 3.max(name.len() / 3))
        .min()
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rule_names_are_sorted_and_unique() {
        assert!(super::RULE_NAMES.windows(2).all(|w| w[0] < w[1]));
    }
}

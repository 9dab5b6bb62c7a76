//! The rule and category names `allow(…)`, `warn(…)` and `deny(…)` accept, checked at compile
//! time. The macro crate cannot depend on `migration-safety`, so the lists are kept here; a test
//! in the workspace asserts that they equal `migration_safety::rules()` and its categories.

/// Every rule name, sorted.
pub(crate) const RULE_NAMES: &[&str] = &[
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
    "concurrently-in-transaction",
    "concurrently-on-partitioned-table",
    "create-index-non-concurrently",
    "create-table-partition-of",
    "detach-partition-non-concurrently",
    "drop-column",
    "drop-index-non-concurrently",
    "drop-schema",
    "drop-table",
    "enum-value-in-transaction",
    "ineffective-transaction-marker",
    "invalid-suppression",
    "lock-table",
    "missing-lock-timeout",
    "prefer-bigint",
    "prefer-identity",
    "prefer-jsonb",
    "prefer-text",
    "prefer-timestamptz",
    "refresh-materialized-view-non-concurrently",
    "reindex-non-concurrently",
    "rename-column",
    "rename-enum-value",
    "rename-table",
    "set-not-null",
    "set-schema",
    "syntax-error",
    "table-rewrite",
    "truncate-table",
    "unanalyzed-statement",
    "unbatched-backfill",
    "unused-suppression",
    "vacuum-in-transaction",
    "validate-constraint-in-same-transaction",
];

/// Every category name: `allow(…)`, `warn(…)` and `deny(…)` also take one, for all its rules.
pub(crate) const CATEGORY_NAMES: &[&str] = &[
    "locking",
    "rewrite",
    "backward-incompatible",
    "transaction",
    "design",
    "meta",
];

/// The candidate closest to `name`, when it is close enough to be a typo.
pub(crate) fn did_you_mean<'a>(
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

/// ` (did you mean `x`?)` or nothing.
pub(crate) fn suggestion<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(name, candidates)
        .map(|s| format!(" (did you mean `{s}`?)"))
        .unwrap_or_default()
}

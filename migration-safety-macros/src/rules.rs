//! The rule names `allow(…)`, `warn(…)` and `deny(…)` accept, checked at compile time. The
//! macro crate cannot depend on `migration-safety`, so the list is kept here; a test in the
//! workspace asserts that it equals `migration_safety::rules()`.

/// Every rule name, sorted.
pub(crate) const RULE_NAMES: &[&str] = &[
    "add-column-required",
    "add-column-with-default",
    "change-column-type",
    "concurrently-in-transaction",
    "create-index-non-concurrently",
    "drop-column",
    "drop-table",
    "ineffective-transaction-marker",
    "invalid-suppression",
    "missing-lock-timeout",
    "rename-column",
    "rename-table",
    "set-not-null",
    "syntax-error",
    "unanalyzed-statement",
    "unused-suppression",
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

//! Opting out knowingly: `IGNORE_MIGRATION_CHECKS`, `-- migration-safety: ignore-file [rules]`,
//! and `-- migration-safety: ignore rule[, rule] -- reason` for one statement.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use crate::lexer::Comment;
use crate::model::Statement;
use crate::source::SourceFile;

/// The marker that turns every check off for a file.
pub const IGNORE_FILE_MARKER: &str = "IGNORE_MIGRATION_CHECKS";

/// A rule named in a directive, with the range of its name in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NamedRule {
    pub(crate) name: String,
    pub(crate) range: Range<usize>,
}

/// What a directive applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The whole file.
    File,
    /// One top-level statement (`None`: there is no statement to apply it to).
    Statement(Option<usize>),
}

/// A parsed suppression directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) range: Range<usize>,
    pub(crate) scope: Scope,
    /// Empty for a file directive: every rule.
    pub(crate) rules: Vec<NamedRule>,
    pub(crate) reason: Option<String>,
}

/// A directive that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Malformed {
    pub(crate) range: Range<usize>,
    pub(crate) message: String,
}

/// The suppressions of one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Suppressions {
    /// A comment starts with `IGNORE_MIGRATION_CHECKS`.
    pub(crate) ignore_everything: bool,
    pub(crate) directives: Vec<Directive>,
    pub(crate) malformed: Vec<Malformed>,
    /// Comments that look meant to turn the checks off but do not: the marker in another case,
    /// misspelt, or not the first word.
    pub(crate) near_misses: Vec<Malformed>,
}

static DIRECTIVE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*migration-safety\s*:\s*(?P<verb>[A-Za-z_-]*)(?P<rest>.*)$")
        .expect("valid regex")
});

static RULE_NAME: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^\s,]+").expect("valid regex"));

/// Read the directives from the file's comments and attach them to statements.
pub(crate) fn parse(
    source: &str,
    line_index: &SourceFile,
    comments: &[Comment],
    statements: &[Statement],
) -> Suppressions {
    let mut out = Suppressions::default();
    for comment in comments {
        let body = &source[comment.body.clone()];
        match marker(body, comment.body.start) {
            Some(Marker::Honoured) => out.ignore_everything = true,
            Some(Marker::NearMiss(near_miss)) => out.near_misses.push(near_miss),
            None => {}
        }
        for (line_start, line) in lines(body) {
            let Some(captures) = DIRECTIVE.captures(line) else {
                continue;
            };
            let base = comment.body.start + line_start;
            let verb = &captures["verb"];
            let rest = captures.name("rest").expect("always matches");
            let (list, reason) = match rest.as_str().find("--") {
                Some(i) => (
                    &rest.as_str()[..i],
                    Some(rest.as_str()[i + 2..].trim().to_owned()),
                ),
                None => (rest.as_str(), None),
            };
            let rules: Vec<NamedRule> = RULE_NAME
                .find_iter(list)
                .map(|m| NamedRule {
                    name: m.as_str().to_owned(),
                    range: base + rest.start() + m.start()..base + rest.start() + m.end(),
                })
                .collect();
            let range = base..base + line.trim_end().len();
            let reason = reason.filter(|r| !r.is_empty());
            match verb {
                "ignore-file" if reason.is_none() => out.malformed.push(Malformed {
                    range,
                    message: "a file suppression must give its reason after `--`, as in `-- migration-safety: ignore-file rule-name -- why this is safe here`".to_owned(),
                }),
                "ignore-file" => out.directives.push(Directive {
                    range,
                    scope: Scope::File,
                    rules,
                    reason,
                }),
                "ignore" if rules.is_empty() => out.malformed.push(Malformed {
                    range,
                    message: "`migration-safety: ignore` must name the rules it suppresses, as in `-- migration-safety: ignore rule-name -- reason`".to_owned(),
                }),
                "ignore" if reason.is_none() => out.malformed.push(Malformed {
                    range,
                    message: "a statement suppression must give its reason after `--`, as in `-- migration-safety: ignore rule-name -- why this is safe here`".to_owned(),
                }),
                "ignore" => out.directives.push(Directive {
                    range: range.clone(),
                    scope: Scope::Statement(target(line_index, &range, statements)),
                    rules,
                    reason,
                }),
                other => out.malformed.push(Malformed {
                    range,
                    message: format!(
                        "unknown directive `migration-safety: {other}`: use `ignore` (one statement) or `ignore-file` (the whole file)"
                    ),
                }),
            }
        }
    }
    out
}

/// What a comment says about `IGNORE_MIGRATION_CHECKS`.
enum Marker {
    /// The first word is the marker: every check is off.
    Honoured,
    /// Meant as the marker, but not honoured.
    NearMiss(Malformed),
}

/// Read the marker from a comment body starting at byte `base`: honoured only as the comment's
/// first word, so that a comment that merely mentions it (`-- do not add
/// IGNORE_MIGRATION_CHECKS here`) turns nothing off; another letter case or a typo in the first
/// word, or the exact marker later in the comment, is a near miss to tell the user about.
fn marker(body: &str, base: usize) -> Option<Marker> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut words: Vec<(usize, &str)> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find(is_word) {
        let len = rest[start..]
            .find(|c| !is_word(c))
            .unwrap_or(rest.len() - start);
        let word = &rest[start..start + len];
        let trimmed = word.trim_start_matches('-');
        let at = body.len() - rest.len() + start + (word.len() - trimmed.len());
        let trimmed = trimmed.trim_end_matches('-');
        if !trimmed.is_empty() {
            words.push((at, trimmed));
        }
        rest = &rest[start + len..];
    }
    let (&(first_at, first), rest) = words.split_first()?;
    let near_miss = |at: usize, word: &str, why: String| {
        Marker::NearMiss(Malformed {
            range: base + at..base + at + word.len(),
            message: why,
        })
    };
    if first == IGNORE_FILE_MARKER {
        return Some(Marker::Honoured);
    }
    let normal = first.to_ascii_uppercase().replace('-', "_");
    if normal.len().abs_diff(IGNORE_FILE_MARKER.len()) <= 3
        && migration_safety_core::did_you_mean(&normal, [IGNORE_FILE_MARKER]).is_some()
    {
        return Some(near_miss(
            first_at,
            first,
            format!(
                "`{first}` is not `{IGNORE_FILE_MARKER}`: this comment turns no check off; write `{IGNORE_FILE_MARKER}` exactly, as the first word of the comment, to turn every check of the file off"
            ),
        ));
    }
    rest.iter()
        .find(|(_, word)| word.eq_ignore_ascii_case(IGNORE_FILE_MARKER))
        .map(|&(at, word)| {
            near_miss(
                at,
                word,
                format!(
                    "`{IGNORE_FILE_MARKER}` turns the checks off only as the first word of a comment: this one turns no check off"
                ),
            )
        })
}

/// Lines of a comment body with their byte offsets (block comments can span lines).
fn lines(body: &str) -> impl Iterator<Item = (usize, &str)> {
    body.split_inclusive('\n').scan(0, |offset, line| {
        let start = *offset;
        *offset += line.len();
        Some((start, line.trim_end_matches(['\n', '\r'])))
    })
}

/// The statement a directive at `range` applies to: the statement it is inside, the statement
/// that ends on its line (a trailing comment), or else the next statement. Statements are in
/// file order, so each case is a binary search.
fn target(lines: &SourceFile, range: &Range<usize>, statements: &[Statement]) -> Option<usize> {
    let ended = statements.partition_point(|s| s.range.end <= range.start);
    if statements
        .get(ended)
        .is_some_and(|s| s.range.contains(&range.start))
    {
        return Some(ended);
    }
    if let Some(i) = ended.checked_sub(1)
        && lines.line(statements[i].range.end.saturating_sub(1)) == lines.line(range.start)
    {
        return Some(i);
    }
    let next = statements.partition_point(|s| s.range.start < range.end);
    (next < statements.len()).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::split;
    use crate::lower::lower_file;

    fn parse_sql(sql: &str) -> Suppressions {
        let lexed = split(sql);
        let lines = SourceFile::from_bytes(sql.as_bytes());
        parse(sql, &lines, &lexed.comments, &lower_file(sql, &lexed))
    }

    #[test]
    fn statement_directive_applies_to_next_statement() {
        let s = parse_sql(
            "select 1;\n-- migration-safety: ignore drop-table, drop-column -- legacy\nselect 2;",
        );
        let d = &s.directives[0];
        assert_eq!(d.scope, Scope::Statement(Some(1)));
        let names: Vec<_> = d.rules.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["drop-table", "drop-column"]);
        assert_eq!(d.reason.as_deref(), Some("legacy"));
    }

    #[test]
    fn trailing_directive_applies_to_its_statement() {
        let s = parse_sql("select 1; -- migration-safety: ignore drop-table -- ok\nselect 2;");
        assert_eq!(s.directives[0].scope, Scope::Statement(Some(0)));
    }

    #[test]
    fn directive_inside_a_statement() {
        let s = parse_sql("select\n/* migration-safety: ignore drop-table -- ok */ 1;\nselect 2;");
        assert_eq!(s.directives[0].scope, Scope::Statement(Some(0)));
    }

    #[test]
    fn rule_name_ranges_point_into_the_comment() {
        let sql = "-- migration-safety: ignore drop-table -- ok\nselect 1;";
        let s = parse_sql(sql);
        assert_eq!(&sql[s.directives[0].rules[0].range.clone()], "drop-table");
    }

    #[test]
    fn file_directives_and_marker() {
        let s = parse_sql(
            "-- migration-safety: ignore-file missing-lock-timeout -- set by the runner\nselect 1;",
        );
        assert_eq!(s.directives[0].scope, Scope::File);
        assert!(!s.ignore_everything);
        for marker in [
            "/* IGNORE_MIGRATION_CHECKS */",
            "/** IGNORE_MIGRATION_CHECKS: generated */",
            "--- IGNORE_MIGRATION_CHECKS",
        ] {
            let s = parse_sql(&format!("{marker}\nselect 1;"));
            assert!(s.ignore_everything && s.near_misses.is_empty(), "{marker}");
        }
        let missing = parse_sql("-- migration-safety: ignore-file\nselect 1;");
        assert!(missing.malformed[0].message.contains("reason"));
    }

    #[test]
    fn near_misses_of_the_marker() {
        let sql = "-- Ignore_Migration_Checks\n-- IGNORE_MIGRATION_CHECK\n/* ok, IGNORE_MIGRATION_CHECKS */\n-- ignoring migration checks is not allowed\nselect 1;";
        let s = parse_sql(sql);
        assert!(!s.ignore_everything);
        let words: Vec<_> = s
            .near_misses
            .iter()
            .map(|m| &sql[m.range.clone()])
            .collect();
        assert_eq!(
            words,
            [
                "Ignore_Migration_Checks",
                "IGNORE_MIGRATION_CHECK",
                "IGNORE_MIGRATION_CHECKS"
            ]
        );
    }

    #[test]
    fn malformed_directives() {
        let s = parse_sql(
            "-- migration-safety: ignore drop-table\n-- migration-safety: ignore -- x\n-- migration-safety: skip x\nselect 1;",
        );
        assert_eq!(s.malformed.len(), 3);
        assert!(s.malformed[0].message.contains("reason"));
        assert!(s.malformed[1].message.contains("name the rules"));
        assert!(s.malformed[2].message.contains("unknown directive"));
    }
}

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
    /// `IGNORE_MIGRATION_CHECKS` is present.
    pub(crate) ignore_everything: bool,
    pub(crate) directives: Vec<Directive>,
    pub(crate) malformed: Vec<Malformed>,
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
        if body.contains(IGNORE_FILE_MARKER) {
            out.ignore_everything = true;
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
        let s = parse_sql("-- migration-safety: ignore-file missing-lock-timeout\nselect 1;");
        assert_eq!(s.directives[0].scope, Scope::File);
        assert!(!s.ignore_everything);
        assert!(parse_sql("/* IGNORE_MIGRATION_CHECKS */ select 1;").ignore_everything);
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

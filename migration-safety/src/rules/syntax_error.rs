use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a statement that is not valid PostgreSQL: an unterminated string, quoted
    /// identifier, dollar quote or comment, unbalanced parentheses, a command or object kind
    /// PostgreSQL does not have, a statement that stops short, or bytes that are not UTF-8.
    /// Valid statements the SQL parser does not support are never reported here: they are
    /// recognised from their tokens or reported as `unanalyzed-statement`.
    ///
    /// It also reports syntax that the target PostgreSQL version (`pg_version`) does not have
    /// yet: `NULLS [NOT] DISTINCT` on a unique index or constraint needs PostgreSQL 15.
    /// (Forms that other rules cover say so there: `DETACH PARTITION … CONCURRENTLY` before
    /// 14, virtual generated columns and `NOT NULL … NOT VALID` before 18.)
    ///
    /// ## Why is this bad?
    /// PostgreSQL rejects the statement and the migration fails at deploy time, possibly
    /// after earlier statements already ran and took their locks.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN email text DEFAULT 'none;
    /// -- with pg_version = 14:
    /// CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email) NULLS NOT DISTINCT;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE users ADD COLUMN email text DEFAULT 'none';
    /// -- before PostgreSQL 15, one index for the values and one for a single NULL:
    /// CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);
    /// CREATE UNIQUE INDEX CONCURRENTLY users_email_null_key ON users ((email IS NULL)) WHERE email IS NULL;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [SQL syntax](https://www.postgresql.org/docs/current/sql-syntax.html)
    pub(crate) struct SyntaxError {
        name: "syntax-error",
        category: Meta,
        severity: Error,
        summary: "the statement is not valid PostgreSQL",
        since: "0.1.0",
        claims: [
            Claim::fails(12..=18, "syntax error"),
            // `NULLS [NOT] DISTINCT` before PostgreSQL 15.
            Claim::fails(12..=14, "syntax error at or near \"NULLS\""),
            Claim::fails(12..=18, "unterminated"),
        ],
    }
}

impl Rule for SyntaxError {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::SyntaxError { message, offset } = &statement.kind else {
            too_new(cx, statement, out);
            return;
        };
        let rest = &cx.source[*offset..];
        let len = rest
            .char_indices()
            .find(|(_, c)| c.is_whitespace() || *c == ';')
            .map_or(rest.len(), |(i, _)| i)
            .max(rest.chars().next().map_or(0, char::len_utf8));
        out.report(
            *offset..offset + len,
            format!("syntax error: {message}"),
            String::new(),
        );
    }
}

/// Report `NULLS [NOT] DISTINCT` (a unique index's or constraint's treatment of NULLs) when the
/// target is older than PostgreSQL 15, which rejects it with a syntax error at `NULLS`.
fn too_new(cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
    const SINCE: u32 = 15;
    if cx.pg_version() >= SINCE {
        return;
    }
    for nulls in &statement.written.nulls_distinct {
        let form = if nulls.not {
            "NULLS NOT DISTINCT"
        } else {
            "NULLS DISTINCT"
        };
        out.report(
            nulls.range.clone(),
            format!(
                "`{form}` needs PostgreSQL {SINCE}, but the target is {}: PostgreSQL rejects the statement (syntax error at or near \"NULLS\")",
                cx.pg_version()
            ),
            if nulls.not {
                "before PostgreSQL 15, leave it out and allow a single NULL with a second, partial unique index on (<column> IS NULL) WHERE <column> IS NULL; or raise `pg_version` if every server runs 15 or later".to_owned()
            } else {
                "leave it out: NULLS DISTINCT is the default behaviour of every version".to_owned()
            },
        );
    }
}

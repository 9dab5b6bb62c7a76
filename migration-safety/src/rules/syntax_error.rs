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
    /// ## Why is this bad?
    /// PostgreSQL rejects the statement and the migration fails at deploy time, possibly
    /// after earlier statements already ran and took their locks.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD COLUMN email text DEFAULT 'none;
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// ALTER TABLE users ADD COLUMN email text DEFAULT 'none';
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
        ],
    }
}

impl Rule for SyntaxError {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::SyntaxError { message, offset } = &statement.kind else {
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

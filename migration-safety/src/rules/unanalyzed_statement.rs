use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Reports a statement migration-safety could neither parse nor recognise, such as
    /// dynamic SQL run by `EXECUTE` in a `DO` block, or a PostgreSQL form no rule knows yet.
    ///
    /// ## Why is this bad?
    /// A statement that was not analysed was not checked: it may take an `ACCESS EXCLUSIVE`
    /// lock, rewrite a table or break running code without any other rule noticing. It is
    /// reported so that it is never trusted silently.
    ///
    /// ## Example
    /// ```sql
    /// DO $$ BEGIN EXECUTE format('ALTER TABLE %I ADD COLUMN note text', 'users'); END $$;
    /// ```
    ///
    /// ## Use instead
    /// Write the statement itself, so it can be checked:
    /// ```sql
    /// ALTER TABLE users ADD COLUMN note text;
    /// ```
    /// Or review it by hand and record why it is safe:
    /// `-- migration-safety: ignore unanalyzed-statement -- reviewed: takes no lock on hot tables`.
    ///
    /// ## References
    /// - PostgreSQL documentation: [SQL commands](https://www.postgresql.org/docs/current/sql-commands.html)
    pub(crate) struct UnanalyzedStatement {
        name: "unanalyzed-statement",
        category: Meta,
        severity: Warning,
        summary: "a statement could not be analysed, so it was not checked",
        since: "0.1.0",
    }
}

impl Rule for UnanalyzedStatement {
    fn check(&self, _cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Unanalyzed { reason } = &statement.kind else {
            return;
        };
        out.report(
            statement.range.clone(),
            format!("this statement was not checked: {reason}"),
            "review its locks and compatibility by hand; if it is safe, say why: -- migration-safety: ignore unanalyzed-statement -- <reason>",
        );
    }
}

use crate::context::Context;
use crate::model::{AlterTypeAction, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TYPE … ADD VALUE` inside a transaction block or `DO` block when the target
    /// is older than PostgreSQL 12, and, on every version, a new enum value that a later
    /// statement of the same transaction uses as a string constant (`'shipped'`).
    ///
    /// ## Why is this bad?
    /// `ALTER TYPE … ADD VALUE` takes no table lock, but before PostgreSQL 12 it cannot run
    /// inside a transaction block at all, so the migration fails. Since PostgreSQL 12 it can,
    /// but the new value cannot be used until the transaction commits: a statement that
    /// inserts, updates to, defaults to or casts to the new value fails with "unsafe use of
    /// new value", and the whole migration rolls back.
    ///
    /// ## Example
    /// ```sql
    /// BEGIN;
    /// ALTER TYPE order_status ADD VALUE 'shipped';
    /// UPDATE orders SET status = 'shipped' WHERE shipped_at IS NOT NULL;
    /// COMMIT;
    /// ```
    ///
    /// ## Use instead
    /// Add the value in a migration of its own (outside any transaction block before
    /// PostgreSQL 12), and use it in a later one:
    /// ```sql
    /// ALTER TYPE order_status ADD VALUE 'shipped';
    /// -- next migration:
    /// UPDATE orders SET status = 'shipped' WHERE shipped_at IS NOT NULL;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TYPE, Notes](https://www.postgresql.org/docs/current/sql-altertype.html#SQL-ALTERTYPE-NOTES)
    pub(crate) struct EnumValueInTransaction {
        name: "enum-value-in-transaction",
        category: Transaction,
        severity: Error,
        summary: "a new enum value fails inside a transaction before PostgreSQL 12, and cannot be used before commit on any version",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18),
            Claim::fails(12..=18, "unsafe use of new value"),
        ],
    }
}

impl Rule for EnumValueInTransaction {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::AlterType {
            name,
            action: AlterTypeAction::AddValue { value },
        } = &statement.kind
        else {
            return;
        };
        if !cx.in_transaction() {
            return;
        }
        let place = if cx.in_do_block {
            "a DO block (which always runs as one transaction)"
        } else {
            "a transaction block"
        };
        // The statement as written, unless it is inside a quoted DO body.
        let written = cx.source[statement.range.clone()]
            .trim_end_matches(';')
            .trim_end();
        let add = if written.to_ascii_uppercase().starts_with("ALTER") {
            format!("{written};")
        } else {
            format!(
                "ALTER TYPE {name} ADD VALUE '{}';",
                value.replace('\'', "''")
            )
        };
        if cx.pg_version() < 12 {
            let fix = crate::fix::phases::move_out(
                cx,
                Self::META.name,
                false,
                &format!(
                    "`ALTER TYPE {name} ADD VALUE` cannot run inside a transaction before PostgreSQL 12."
                ),
            );
            out.report_fix(
                statement.range.clone(),
                format!(
                    "`ALTER TYPE {name} ADD VALUE` cannot run inside {place} before PostgreSQL 12 (the target is {}): PostgreSQL rejects it and the migration fails",
                    cx.pg_version()
                ),
                format!(
                    "add the value in a migration of its own, outside any transaction block:\n  {add}\n{}",
                    crate::framework::outside_transaction_advice(cx.framework)
                ),
                fix,
            );
            return;
        }
        let Some(user) = cx.first_use_after(value) else {
            return;
        };
        let line = cx.line(user.range.start);
        let fix = crate::fix::phases::move_out(
            cx,
            Self::META.name,
            true,
            &format!(
                "the new value '{value}' of `{name}` can be used only once the transaction that added it commits."
            ),
        );
        out.report_fix(
            statement.range.clone(),
            format!(
                "the new value '{value}' of `{name}` is used by `{}` on line {line}, in the same transaction: a new enum value cannot be used before the transaction that added it commits, so PostgreSQL fails with \"unsafe use of new value\" and the migration rolls back",
                user.kind.command()
            ),
            if cx.in_do_block {
                format!(
                    "commit the new value before using it: run\n  {add}\nas a top-level statement in a migration of its own, outside the DO block, and use '{value}' in a later one"
                )
            } else {
                format!(
                    "commit the new value before using it: put\n  {add}\nin a migration of its own (or COMMIT right after it), and use '{value}' in a later one"
                )
            },
            fix,
        );
    }
}

use crate::context::Context;
use crate::model::Statement;
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{Key, check_added_keys};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] UNIQUE (…)` and `ADD COLUMN … UNIQUE` on a table
    /// that existed before this migration. `ADD CONSTRAINT … UNIQUE USING INDEX` is not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL builds the unique index while holding an `ACCESS EXCLUSIVE` lock on the table,
    /// which blocks every read and write for the whole build, and the build fails on the first
    /// duplicate. Build the index with `CREATE UNIQUE INDEX CONCURRENTLY` (reads and writes
    /// continue), then attach it as the constraint with `USING INDEX`, which is instant.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);  -- outside a transaction block
    /// ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint_using_index](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX)
    pub(crate) struct AddUniqueConstraint {
        name: "add-unique-constraint",
        category: Locking,
        severity: Error,
        summary: "adding a UNIQUE constraint builds its index under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
            // On a partitioned table: the parent locked, each partition read under SHARE
            // (ACCESS EXCLUSIVE on 18).
            Claim::takes(12..=17).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(Share).scan()),
            Claim::takes(18..=18).table(Effect::lock(AccessExclusive)).referenced(Effect::lock(AccessExclusive).scan()),
            Claim::fails(12..=18, "is not a unique index"),
        ],
    }
}

impl Rule for AddUniqueConstraint {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        check_added_keys(cx, self.meta().name, statement, Key::Unique, out);
    }
}

use crate::context::Context;
use crate::model::Statement;
use crate::rule::{Described, Findings, Rule, declare_rule};
use crate::rules::{Key, check_added_keys};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … ADD [CONSTRAINT …] PRIMARY KEY (…)` and `ADD COLUMN … PRIMARY KEY` on
    /// a table that existed before this migration. `ADD PRIMARY KEY USING INDEX` is not flagged.
    ///
    /// ## Why is this bad?
    /// PostgreSQL builds the primary key's unique index, and makes its columns `NOT NULL` (a scan
    /// unless a validated check proves them non-null), while holding an `ACCESS EXCLUSIVE` lock
    /// on the table, which blocks every read and write until both are done.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE events ADD PRIMARY KEY (id);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id);  -- outside a transaction block
    /// ALTER TABLE events ADD CONSTRAINT events_id_not_null CHECK (id IS NOT NULL) NOT VALID;
    /// ALTER TABLE events VALIDATE CONSTRAINT events_id_not_null;  -- in a separate transaction
    /// ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey;
    /// ```
    /// On PostgreSQL 12+ the validated check lets the last step skip the `NOT NULL` scan.
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE, ADD table_constraint_using_index](https://www.postgresql.org/docs/current/sql-altertable.html#SQL-ALTERTABLE-DESC-ADD-TABLE-CONSTRAINT-USING-INDEX)
    pub(crate) struct AddPrimaryKey {
        name: "add-primary-key",
        category: Locking,
        severity: Error,
        summary: "adding a primary key builds its index under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).scan()),
        ],
    }
}

impl Rule for AddPrimaryKey {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        check_added_keys(cx, self.meta().name, statement, Key::PrimaryKey, out);
    }
}

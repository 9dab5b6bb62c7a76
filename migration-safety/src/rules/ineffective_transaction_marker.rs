use crate::rule::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a marker meant to control the transaction a migration runs in that the
    /// framework does not recognise, so the migration runs differently from what its author
    /// wrote: a byte-order mark, blank line or comment before sqlx's `-- no-transaction`, or
    /// `--no-transaction` without the space; dbmate's `transaction: false` with a space; Atlas's
    /// `-- atlas:txmode none` without the blank line after the header; and a diesel
    /// `metadata.toml` that does not set `run_in_transaction` (diesel then runs the migration
    /// outside a transaction).
    ///
    /// ## Why is this bad?
    /// The framework silently keeps (or drops) the transaction. A `CREATE INDEX CONCURRENTLY`
    /// meant to run outside a transaction then fails at deploy time with "cannot run inside a
    /// transaction block"; a migration meant to be atomic runs statement by statement, and a
    /// failure halfway leaves the schema half-changed, with the ACCESS EXCLUSIVE locks of the
    /// statements that did run held only as long as each statement. Nothing reports the
    /// difference until production.
    ///
    /// ## Example
    /// A sqlx migration whose first line is blank:
    /// ```sql
    ///
    /// -- no-transaction
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// ## Use instead
    /// ```sql
    /// -- no-transaction
    /// CREATE INDEX CONCURRENTLY users_email_idx ON users (email);
    /// ```
    ///
    /// ## References
    /// - sqlx: [`-- no-transaction`](https://docs.rs/sqlx/latest/sqlx/migrate/struct.Migrator.html)
    /// - diesel: [`metadata.toml`](https://docs.rs/diesel_migrations/latest/diesel_migrations/)
    /// - dbmate: [transactions](https://github.com/amacneil/dbmate#options)
    /// - Atlas: [`atlas:txmode`](https://atlasgo.io/versioned/apply#transaction-configuration)
    pub(crate) struct IneffectiveTransactionMarker {
        name: "ineffective-transaction-marker",
        category: Meta,
        severity: Warning,
        summary: "a transaction marker the migration framework does not recognise",
        since: "0.1.0",
    }
}

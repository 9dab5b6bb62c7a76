use crate::rule::declare_rule;

declare_rule! {
    /// ## What it does
    /// Reports a table or a column that the application's code declares or queries, but that
    /// no migration creates: a diesel `table!` in `src/schema.rs`, a sqlx query (its offline
    /// data in `.sqlx/`, or a `query!` literal), or a SeaORM entity. The finding points at the
    /// code, not at a migration. It runs when the application's code is read (`app` in
    /// `migration-safety.toml`, or detected from the crate's dependencies).
    ///
    /// ## Why is this bad?
    /// Once deployed, every query that touches the missing table or column fails: the code and
    /// the migrations disagree about the schema. Usually a migration was forgotten or not
    /// committed, or the schema knowledge is stale (`diesel print-schema`, `cargo sqlx
    /// prepare` or `sea-orm-cli generate entity` not run after a migration changed). It takes
    /// no lock; it is a consistency check.
    ///
    /// ## Example
    /// The migrations create `users (id, email)`, and `src/schema.rs` says:
    /// ```rust,ignore
    /// diesel::table! {
    ///     users (id) {
    ///         id -> Int8,
    ///         email -> Text,
    ///         nickname -> Nullable<Text>,
    ///     }
    /// }
    /// ```
    ///
    /// ## Use instead
    /// Add the migration that creates the column, or regenerate the schema knowledge from the
    /// migrated database:
    /// ```sql
    /// ALTER TABLE users ADD COLUMN nickname text;
    /// ```
    ///
    /// ## References
    /// - diesel: [Schema in depth](https://diesel.rs/guides/schema-in-depth.html)
    /// - sqlx: [offline mode](https://github.com/launchbadge/sqlx/blob/main/sqlx-cli/README.md#enable-building-in-offline-mode-with-query)
    /// - migration-safety README, "Backward compatibility with the application's own code"
    pub(crate) struct SchemaDrift {
        name: "schema-drift",
        category: Meta,
        severity: Warning,
        summary: "the application's code uses a table or column that no migration creates",
        since: "0.1.0",
    }
}

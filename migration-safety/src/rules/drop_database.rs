use crate::context::Context;
use crate::model::Statement;
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `DROP DATABASE` in a migration. Advisory: a warning.
    ///
    /// ## Why is this bad?
    /// A migration runs against one database to change its schema; dropping a whole database
    /// deletes every table in it, for every application that uses it, and cannot be undone. It
    /// cannot run inside a transaction block (so a framework that wraps migrations in a
    /// transaction fails on it), it cannot drop the database the migration is connected to,
    /// and it fails while any other session is connected to the database it drops, unless
    /// `WITH (FORCE)` (PostgreSQL 13+) terminates those sessions.
    ///
    /// ## Example
    /// ```sql
    /// DROP DATABASE analytics;
    /// ```
    ///
    /// ## Use instead
    /// Drop databases by hand, or from provisioning tooling, after checking that nothing uses
    /// them; keep migrations to the schema of the database they run in.
    ///
    /// ## References
    /// - PostgreSQL documentation: [DROP DATABASE](https://www.postgresql.org/docs/current/sql-dropdatabase.html)
    pub(crate) struct DropDatabase {
        name: "drop-database",
        category: BackwardIncompatible,
        severity: Warning,
        summary: "DROP DATABASE in a migration deletes a whole database",
        since: "0.2.0",
        claims: [
            // Alone, it drops the other database without a lock on this one's relations.
            Claim::takes(12..=18),
            Claim::fails(12..=18, "DROP DATABASE cannot run inside a transaction block"),
        ],
    }
}

impl Rule for DropDatabase {
    fn check(&self, _cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let Some(names) = statement.kind.drop_of("DATABASE") else {
            return;
        };
        for name in names {
            out.report(
                statement.range.clone(),
                format!(
                    "dropping database `{name}` deletes every table in it, for every application that uses it, and cannot be undone; it cannot run in a transaction block and fails while other sessions are connected to `{name}`"
                ),
                "drop databases by hand or from provisioning tooling, after checking nothing uses them; if this one is really meant, say why: -- migration-safety: ignore drop-database -- <reason>",
            );
        }
    }
}

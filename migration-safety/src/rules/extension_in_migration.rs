use crate::context::Context;
use crate::model::{Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};

declare_rule! {
    /// ## What it does
    /// Flags `CREATE EXTENSION` and `DROP EXTENSION` in a migration. Advisory: a warning.
    ///
    /// ## Why is this bad?
    /// The hazard is not a lock (creating or dropping an extension takes no lock on existing
    /// tables, measured on PostgreSQL 12–18 with `citext` and `hstore`). Extensions belong to
    /// the whole database, not to one application's schema, and installing one is an
    /// operation on the server rather than a schema change:
    /// - `CREATE EXTENSION` needs the extension's files on the server and the right to install
    ///   it. An extension marked trusted (`citext`, `hstore`, `pgcrypto`…) can be created from
    ///   PostgreSQL 13 on by a role with the `CREATE` privilege on the database, such as its
    ///   owner; any other extension (`pg_stat_statements`, `postgres_fdw`…), and every
    ///   extension on PostgreSQL 12, needs a superuser ("permission denied to create
    ///   extension", measured on 12–18). The role that runs migrations is often no superuser,
    ///   least of all on managed services that allow only a list of extensions. The migration
    ///   then fails in production although it passed locally.
    /// - `DROP EXTENSION` removes the extension's functions, types and operators, which the
    ///   running application may use. It fails while columns or other objects depend on
    ///   them, and with `CASCADE` it drops those objects too: columns of its types, indexes
    ///   using its operators.
    ///
    /// ## Example
    /// ```sql
    /// CREATE EXTENSION citext;
    /// ```
    ///
    /// ## Use instead
    /// Install extensions once per database, by the database administrator or the
    /// provisioning tooling, and let migrations rely on them; or keep `CREATE EXTENSION IF NOT
    /// EXISTS` and make sure the migration role may run it everywhere it runs. Say so to
    /// silence the warning:
    /// ```sql
    /// -- migration-safety: ignore extension-in-migration -- citext is allowed on our servers
    /// CREATE EXTENSION IF NOT EXISTS citext;
    /// ```
    ///
    /// ## References
    /// - PostgreSQL documentation: [CREATE EXTENSION](https://www.postgresql.org/docs/current/sql-createextension.html), [DROP EXTENSION](https://www.postgresql.org/docs/current/sql-dropextension.html)
    pub(crate) struct ExtensionInMigration {
        name: "extension-in-migration",
        category: Meta,
        severity: Warning,
        summary: "CREATE or DROP EXTENSION in a migration: a server-level change that needs privileges, or removes objects running code uses",
        since: "0.2.0",
        claims: [
            Claim::takes(12..=18),
        ],
    }
}

impl Rule for ExtensionInMigration {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        let StatementKind::Extension { name, create } = &statement.kind else {
            return;
        };
        if *create {
            let rights = if cx.pg_version() < 13 {
                "superuser rights (PostgreSQL 12 has no trusted extensions)"
            } else {
                "superuser rights unless it is marked trusted (then the CREATE privilege on the database)"
            };
            out.report(
                statement.range.clone(),
                format!(
                    "CREATE EXTENSION {name} needs the extension installed on the server and {rights}: the role running migrations may lack them in production"
                ),
                format!(
                    "install `{name}` once per database through the administrator or provisioning tooling, or make sure every server allows it; then say why it is safe here: -- migration-safety: ignore extension-in-migration -- <reason>"
                ),
            );
        } else {
            out.report(
                statement.range.clone(),
                format!(
                    "DROP EXTENSION {name} removes its functions, types and operators, which running code may use; it fails while columns or other objects depend on them, and CASCADE drops those too"
                ),
                format!(
                    "first deploy code and migrations that no longer use anything from `{name}`, then drop it in a later migration, without CASCADE, so that a remaining dependency fails the migration instead of dropping data"
                ),
            );
        }
    }
}

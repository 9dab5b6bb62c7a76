use crate::context::Context;
use crate::model::{ActionKind, Name, Statement, StatementKind};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags the commands that copy a whole table into new files: `VACUUM FULL`, `CLUSTER`,
    /// and `ALTER TABLE … SET LOGGED`, `SET UNLOGGED`, `SET TABLESPACE` and `SET ACCESS METHOD`,
    /// on a table that existed before this migration. `VACUUM FULL` or `CLUSTER` without a
    /// table name (every table of the database, or every table clustered before) is flagged too.
    ///
    /// ## Why is this bad?
    /// Each of them writes a new copy of the table and rebuilds every index on it while holding
    /// an `ACCESS EXCLUSIVE` lock, which blocks every read and write until the copy is done:
    /// minutes to hours on a large table. `SET LOGGED` also writes the whole table to the WAL,
    /// which floods replicas. `SET TABLESPACE` differs in detail (measured on PostgreSQL
    /// 12–18): it copies the table's files block by block, without a scan, and leaves the
    /// indexes where they are; to the tablespace the table is already in, it copies nothing but
    /// still takes the `ACCESS EXCLUSIVE` lock.
    ///
    /// ## Example
    /// ```sql
    /// VACUUM FULL events;
    /// ALTER TABLE events SET TABLESPACE fast_ssd;
    /// ```
    ///
    /// ## Use instead
    /// Reclaim space or reorder rows online with an extension that copies the table while
    /// writes continue and takes the strong lock only for the final swap (pg_repack,
    /// pg_squeeze), or create a new table with the wanted properties, copy the rows in batches
    /// and switch over. A plain `VACUUM` (no `FULL`) makes dead space reusable without a
    /// strong lock.
    ///
    /// ## References
    /// - PostgreSQL documentation: [VACUUM](https://www.postgresql.org/docs/current/sql-vacuum.html), [CLUSTER](https://www.postgresql.org/docs/current/sql-cluster.html)
    /// - [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html)
    /// - [pg_repack](https://reorg.github.io/pg_repack/)
    pub(crate) struct TableRewrite {
        name: "table-rewrite",
        category: Rewrite,
        severity: Error,
        summary: "VACUUM FULL, CLUSTER and ALTER TABLE SET LOGGED/UNLOGGED/TABLESPACE/ACCESS METHOD rewrite the table under an ACCESS EXCLUSIVE lock",
        since: "0.1.0",
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::takes(12..=18).referenced(Effect::lock(AccessExclusive).rewrite().scan()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite()),
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive).rewrite().scan()).index(Effect::lock(AccessExclusive).rewrite()),
            // SET TABLESPACE to the table's current tablespace copies nothing.
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for TableRewrite {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        if let StatementKind::Rewrite { command, tables } = &statement.kind {
            if tables.is_empty() {
                let which = if command == "CLUSTER" {
                    "every table that was clustered before"
                } else {
                    "every table of the database"
                };
                out.report(
                    statement.range.clone(),
                    format!(
                        "`{command}` without a table name rewrites {which}, one after the other, each under an ACCESS EXCLUSIVE lock that blocks every read and write on it until its copy is done"
                    ),
                    help(command, None),
                );
            }
            for table in tables.iter().filter(|t| !cx.is_new_table(t)) {
                out.report(
                    statement.range.clone(),
                    format!(
                        "`{command}` rewrites `{table}` and rebuilds all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write on `{table}` until the copy is done"
                    ),
                    help(command, Some(table)),
                );
            }
        }
        for (alter, action) in alter_actions(statement) {
            let ActionKind::Rewrite { clause } = &action.kind else {
                continue;
            };
            let table = &alter.table;
            if cx.is_new_table(table) {
                continue;
            }
            let clause = clause.split_whitespace().collect::<Vec<_>>().join(" ");
            let wal = if clause.to_uppercase().starts_with("SET LOGGED") {
                "; SET LOGGED also writes the whole table to the WAL, which floods replicas"
            } else {
                ""
            };
            let new = Name {
                schema: table.schema.clone(),
                name: format!("{}_new", table.name),
            };
            let words: Vec<&str> = clause.split(' ').collect();
            let upper = clause.to_uppercase();
            let create = if upper.starts_with("SET UNLOGGED") {
                format!("CREATE UNLOGGED TABLE {new} (LIKE {table} INCLUDING ALL);")
            } else if upper.starts_with("SET TABLESPACE") {
                format!(
                    "CREATE TABLE {new} (LIKE {table} INCLUDING ALL) TABLESPACE {};",
                    words.get(2).unwrap_or(&"<tablespace>")
                )
            } else if upper.starts_with("SET ACCESS METHOD") {
                format!(
                    "CREATE TABLE {new} (LIKE {table} INCLUDING ALL) USING {};",
                    words.get(3).unwrap_or(&"<method>")
                )
            } else {
                format!("CREATE TABLE {new} (LIKE {table} INCLUDING ALL);")
            };
            let online = if upper.starts_with("SET TABLESPACE") {
                format!(
                    "\nor move it online with pg_repack --tablespace {}, which takes the strong lock only for the final swap",
                    words.get(2).unwrap_or(&"<tablespace>")
                )
            } else {
                String::new()
            };
            let message = if upper.starts_with("SET TABLESPACE") {
                format!(
                    "`{clause}` copies the files of `{table}` block by block into the tablespace (its indexes stay where they are) under an ACCESS EXCLUSIVE lock, blocking every read and write on `{table}` until the copy is done; if `{table}` is already there nothing is copied, but the lock is still taken"
                )
            } else {
                format!(
                    "`{clause}` rewrites `{table}` and rebuilds all its indexes under an ACCESS EXCLUSIVE lock, blocking every read and write on `{table}` until the copy is done{wal}"
                )
            };
            out.report(
                action.range.clone(),
                message,
                format!(
                    "{}{online}",
                    steps(
                        "do not rewrite a large table in place; build the new copy beside it:",
                        &[
                            create,
                            "copy the rows in batches while the application writes to both tables (or a trigger keeps them in sync)".to_owned(),
                            "swap the names in one short transaction".to_owned(),
                        ]
                    )
                ),
            );
        }
    }
}

fn help(command: &str, table: Option<&Name>) -> String {
    let target = table.map_or_else(|| "each table".to_owned(), |t| format!("`{t}`"));
    if command == "CLUSTER" {
        format!(
            "reorder {target} online instead: pg_repack --order-by (or pg_squeeze) copies the rows while reads and writes continue and takes the strong lock only for the final swap"
        )
    } else {
        format!(
            "reclaim the space of {target} online instead: a plain VACUUM makes dead space reusable without blocking reads or writes, and pg_repack (or pg_squeeze) returns it to the operating system while reads and writes continue, taking the strong lock only for the final swap"
        )
    }
}

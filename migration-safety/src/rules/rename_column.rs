use crate::context::Context;
use crate::fix::phases;
use crate::model::{ActionKind, Statement};
use crate::rule::{Findings, Rule, declare_rule};
use crate::rules::{alter_actions, steps};

declare_rule! {
    /// ## What it does
    /// Flags `ALTER TABLE … RENAME COLUMN` on a table that existed before this migration.
    ///
    /// ## Why is this bad?
    /// During a deploy the previous version of the application keeps running, and it still
    /// reads and writes the column under its old name: every such query fails from the moment
    /// the rename commits. The rename itself takes an `ACCESS EXCLUSIVE` lock on the table,
    /// which blocks every read and write while it waits and while it runs.
    ///
    /// ## Example
    /// ```sql
    /// ALTER TABLE users RENAME COLUMN email TO email_address;
    /// ```
    ///
    /// ## Use instead
    /// Rename in phases that keep both versions of the application working: add the new
    /// column, and a trigger that keeps the two columns in step both ways, so that the code
    /// deployed before goes on using the old name while the next version uses the new one.
    /// `migration-safety fix` writes these phases as migrations; the help prints them with the
    /// statement's names, fitted to the migration framework:
    /// ```sql
    /// -- 1. In place of the rename: the new column and the trigger.
    /// ALTER TABLE users ADD COLUMN email_address text;
    /// CREATE FUNCTION users_email_address_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    /// BEGIN
    ///   IF TG_OP = 'INSERT' THEN
    ///     IF NEW.email IS NULL THEN
    ///       NEW.email := NEW.email_address;
    ///     ELSE
    ///       NEW.email_address := NEW.email;
    ///     END IF;
    ///   ELSIF NEW.email IS DISTINCT FROM OLD.email THEN
    ///     NEW.email_address := NEW.email;
    ///   ELSIF NEW.email_address IS DISTINCT FROM OLD.email_address THEN
    ///     NEW.email := NEW.email_address;
    ///   END IF;
    ///   RETURN NEW;
    /// END $$;
    /// CREATE TRIGGER users_email_address_sync BEFORE INSERT OR UPDATE ON users
    ///   FOR EACH ROW EXECUTE FUNCTION users_email_address_sync();
    ///
    /// -- 2. The next migration, outside a transaction: backfill in batches, each committed.
    /// DO $$
    /// BEGIN
    ///   LOOP
    ///     UPDATE users SET email_address = email
    ///       WHERE ctid IN (SELECT ctid FROM users WHERE email_address IS NULL AND email IS NOT NULL LIMIT 10000);
    ///     EXIT WHEN NOT FOUND;
    ///     COMMIT;
    ///   END LOOP;
    /// END $$;
    ///
    /// -- 3. Deploy code that reads and writes only email_address; then, in a later migration:
    /// BEGIN;
    /// SET LOCAL lock_timeout = '5s';
    /// -- migration-safety: ignore drop-object -- phase 3 of renaming users.email to email_address: only this plan used it, to keep `email_address` in step with `email`
    /// DROP TRIGGER users_email_address_sync ON users;
    /// -- migration-safety: ignore drop-object -- phase 3 of renaming users.email to email_address: only this plan used it, to keep `email_address` in step with `email`
    /// DROP FUNCTION users_email_address_sync();
    /// -- migration-safety: ignore drop-column -- phase 3 of renaming users.email to email_address: run after no deployed code reads it
    /// ALTER TABLE users DROP COLUMN email;
    /// COMMIT;
    /// ```
    /// A default of the column moves to the new one in phase 1 (`SET DEFAULT` on the new
    /// column, `DROP DEFAULT` on the old): on an `INSERT`, the trigger can tell which column the
    /// statement wrote only from a NULL. A `NOT NULL` column gets its constraint after the
    /// backfill, each step a migration of its own: `CHECK (email_address IS NOT NULL) NOT
    /// VALID`, `VALIDATE CONSTRAINT`, then `SET NOT NULL` and the check dropped. Where the
    /// framework runs every migration in a transaction (refinery, db-migrate), the backfill's
    /// batches run in it, without `COMMIT`. `fix` writes the plan only when it reproduces the
    /// column exactly: not for a column with an index, a constraint other than `NOT NULL`, or
    /// a default set by `ALTER … SET DEFAULT`, nor when a view reads the table or a later
    /// statement of the same migration names either column.
    ///
    /// ## References
    /// - PostgreSQL documentation: [ALTER TABLE](https://www.postgresql.org/docs/current/sql-altertable.html)
    /// - [Explicit locking](https://www.postgresql.org/docs/current/explicit-locking.html)
    pub(crate) struct RenameColumn {
        name: "rename-column",
        category: BackwardIncompatible,
        severity: Error,
        summary: "renaming a column breaks the application version still running",
        since: "0.1.0",
        fix: true,
        claims: [
            Claim::takes(12..=18).table(Effect::lock(AccessExclusive)),
        ],
    }
}

impl Rule for RenameColumn {
    fn check(&self, cx: &Context<'_>, statement: &Statement, out: &mut Findings) {
        for (alter, action) in alter_actions(statement) {
            let ActionKind::RenameColumn { from, to } = &action.kind else {
                continue;
            };
            if cx.is_new_table(&alter.table) {
                continue;
            }
            let table = &alter.table;
            let column = cx.schema.table(table).and_then(|t| t.column(from));
            let plan = phases::rename_column_plan(cx, table, (from, to), column);
            out.report_fix(
                action.range.clone(),
                format!(
                    "renaming column `{from}` of `{table}` to `{to}` breaks the application version still running, which keeps using `{from}`; the rename also takes an ACCESS EXCLUSIVE lock on `{table}`, blocking every read and write while it waits"
                ),
                steps(
                    &format!(
                        "rename in phases that keep old and new code working; a trigger keeps `{from}` and `{to}` in step both ways until the last phase (`migration-safety fix` writes these phases as migrations):"
                    ),
                    &plan.steps(cx.framework),
                ),
                phases::rename_column(cx, Self::META.name, plan),
            );
            out.breaks(cx, (table, Some(from)), false);
        }
    }
}

//! How table statistics enter the engine: after the rules have run, each finding is matched
//! with the tables its statement touches, and lock and rewrite findings gain the tables' sizes
//! and a duration estimate, or become warnings on small tables.

use super::estimate::{count, size};
use super::{Snapshot, TableStats, Work};
use crate::model::{ActionKind, ConstraintKind, LockMode, Statement, StatementKind};
use crate::rule::{Category, Claim, Effect, Outcome, RuleMeta, Severity};
use crate::schema::Schema;

/// The relations a statement touches, as the schema catalog resolves their names, and
/// whether it builds an index.
#[derive(Debug, Clone, Default)]
pub(crate) struct Touched {
    /// Per relation, in the statement's order (the one it names first first), the
    /// `(schema, name)` pairs it can denote, in the order PostgreSQL tries them.
    relations: Vec<Vec<(String, String)>>,
    builds_index: bool,
}

/// What the statement touches: the relations it locks, resolved through the `search_path` in
/// force, as `schema` resolves them.
pub(crate) fn touched(schema: &Schema, statement: &Statement) -> Touched {
    let relations = statement
        .kind
        .locks()
        .iter()
        .map(|lock| schema.relation_candidates(&lock.table))
        .collect();
    Touched {
        relations,
        builds_index: builds_index(&statement.kind),
    }
}

fn builds_index(kind: &StatementKind) -> bool {
    match kind {
        StatementKind::CreateIndex(_) | StatementKind::Reindex { .. } => true,
        StatementKind::AlterTable(alter) => alter.actions.iter().any(|action| match &action.kind {
            ActionKind::AddConstraint { constraint, .. } => matches!(
                &constraint.kind,
                ConstraintKind::Unique {
                    using_index: None,
                    ..
                } | ConstraintKind::PrimaryKey {
                    using_index: None,
                    ..
                }
            ),
            ActionKind::AddColumn(column) => column.unique || column.primary_key,
            _ => false,
        }),
        _ => false,
    }
}

/// A touched relation found in the snapshot: its table, and whether the statement named one
/// of the table's indexes rather than the table.
struct Found<'a> {
    table: &'a TableStats,
    via_index: bool,
}

fn find<'a>(snapshot: &'a Snapshot, candidates: &[(String, String)]) -> Option<Found<'a>> {
    candidates.iter().find_map(|(schema, name)| {
        snapshot
            .table(schema, name)
            .map(|table| Found {
                table,
                via_index: false,
            })
            .or_else(|| {
                snapshot.index_table(schema, name).map(|table| Found {
                    table,
                    via_index: true,
                })
            })
    })
}

/// What a finding is, for the statistics: its rule, what its statement touches, and the lock
/// the statement holds on the relation it names first (which selects the rule's claims).
pub(crate) struct Subject<'a> {
    pub(crate) rule: &'static RuleMeta,
    pub(crate) touched: &'a Touched,
    pub(crate) lock: Option<LockMode>,
}

/// The finding with the statistics applied: its severity (an error of a lock or rewrite rule
/// becomes a warning when every table it touches has fewer than `small_table_rows` rows) and
/// its message (with the first table's size, rows, write rate and the estimate of how long the
/// statement works on it).
pub(crate) fn annotate(
    snapshot: &Snapshot,
    small_table_rows: u64,
    pg_version: u32,
    subject: &Subject<'_>,
    severity: Severity,
    mut message: String,
) -> (Severity, String) {
    let Subject {
        rule,
        touched,
        lock,
    } = *subject;
    if !matches!(rule.category, Category::Locking | Category::Rewrite) {
        return (severity, message);
    }
    let found: Vec<Option<Found<'_>>> = touched
        .relations
        .iter()
        .map(|candidates| find(snapshot, candidates))
        .collect();
    let Some(Some(first)) = found.first() else {
        return (severity, message);
    };
    let (work, lock) = work(
        &claims(rule, pg_version, lock),
        first.via_index,
        touched.builds_index,
    );
    let mut facts = vec![size(first.table.table_bytes + first.table.index_bytes())];
    match first.table.rows {
        Some(rows) => facts.push(format!("about {} row{}", count(rows), plural(rows))),
        None => facts.push("never analysed, rows unknown".to_owned()),
    }
    if let Some(activity) = &first.table.activity {
        let rate = activity.writes_per_second();
        if rate >= 1.0 {
            facts.push(format!("about {} writes/s", count(rate.round() as u64)));
        }
    }
    message.push_str(&format!(
        "; `{}` ({})",
        first.table.display_name(),
        facts.join(", ")
    ));
    if let Some(estimate) = work.estimate(first.table) {
        let effect = match lock {
            Some(LockMode::AccessExclusive) => "blocks reads and writes for",
            Some(mode) if mode.blocks_writes() => "blocks writes for",
            _ => "takes",
        };
        message.push_str(&format!(": {} {effect} {estimate}", work.doing()));
    }
    let small: Option<Vec<&TableStats>> = found
        .iter()
        .map(|f| {
            f.as_ref()
                .map(|f| f.table)
                .filter(|t| t.rows.is_some_and(|rows| rows < small_table_rows))
        })
        .collect();
    if severity == Severity::Error
        && let Some(tables) = small
    {
        let why: Vec<String> = tables
            .iter()
            .map(|t| {
                let rows = t.rows.unwrap_or_default();
                format!(
                    "`{}` has about {} row{}",
                    t.display_name(),
                    count(rows),
                    plural(rows)
                )
            })
            .collect();
        message.push_str(&format!(
            "; a warning, not an error: {} (fewer than `small_table_rows = {small_table_rows}`)",
            why.join(" and "),
        ));
        return (Severity::Warning, message);
    }
    (severity, message)
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The claims of `rule` that describe a statement holding `lock` on the relation it names
/// first, on PostgreSQL `pg_version` ([`RuleMeta::claims_for`]); on a major the rule claims
/// nothing for (older or newer than the majors it is verified on), those of every major.
fn claims(rule: &'static RuleMeta, pg_version: u32, lock: Option<LockMode>) -> Vec<&'static Claim> {
    let claims = rule.claims_for(pg_version, lock);
    if claims.is_empty() {
        rule.claims.iter().collect()
    } else {
        claims
    }
}

/// The work `claims` say the statement does (the most a claim says, when they differ), and the
/// strongest lock they take on the table (or on the index it names: queries planned on the
/// table open its indexes).
fn work(claims: &[&Claim], via_index: bool, builds_index: bool) -> (Work, Option<LockMode>) {
    let mut work = Work::Lock;
    let mut lock: Option<LockMode> = None;
    for claim in claims {
        let Outcome::Takes {
            table,
            referenced,
            index,
        } = claim.outcome
        else {
            continue;
        };
        // A statement naming an index locks its table as the claims' "referenced" relation.
        let on_table: Option<Effect> = if via_index {
            referenced
        } else {
            table.or(referenced)
        };
        let on_index = index.filter(|_| via_index);
        for (effect, rebuilt) in [(on_table, false), (on_index, true)] {
            let Some(effect) = effect else { continue };
            lock = lock.max(Some(effect.lock));
            let this = if effect.rewrite && !rebuilt {
                Work::Rewrite
            } else if effect.rewrite || (effect.scan && builds_index) {
                Work::IndexBuild
            } else if effect.scan {
                Work::Scan
            } else {
                Work::Lock
            };
            work = work.max(this);
        }
    }
    (work, lock)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::stats::{IndexStats, Snapshot, TableStats};
    use crate::{Settings, Severity, lint_sql};

    fn settings() -> Settings {
        let mut snapshot = Snapshot::new("15.18");
        let mut users = TableStats::new("public", "users", 40, 16 << 10);
        users.indexes.push(IndexStats {
            name: "users_email_idx".to_owned(),
            bytes: 16 << 10,
        });
        snapshot.tables.push(users);
        snapshot
            .tables
            .push(TableStats::new("app", "users", 5_000_000, 2 << 30));
        snapshot
            .tables
            .push(TableStats::new("public", "orders", 5_000_000, 2 << 30));
        let mut unknown = TableStats::new("public", "fresh", 0, 64 << 20);
        unknown.rows = None;
        snapshot.tables.push(unknown);
        Settings::default().statistics(Arc::new(snapshot))
    }

    /// `(rule, severity, message)` of each finding.
    fn lint(sql: &str) -> Vec<(&'static str, Severity, String)> {
        lint_sql(sql, &settings())
            .diagnostics()
            .map(|(_, d)| (d.rule, d.severity, d.message.clone()))
            .collect()
    }

    fn of<'a>(
        found: &'a [(&'static str, Severity, String)],
        rule: &str,
    ) -> &'a (&'static str, Severity, String) {
        found
            .iter()
            .find(|(r, ..)| *r == rule)
            .unwrap_or_else(|| panic!("no {rule} in {found:#?}"))
    }

    #[test]
    fn unqualified_names_resolve_through_the_search_path_in_force() {
        let found = lint("ALTER TABLE users ALTER COLUMN id TYPE bigint;");
        let (_, severity, message) = of(&found, "change-column-type");
        assert_eq!(*severity, Severity::Warning, "{message}");
        assert!(message.contains("`users` has about 40 rows"), "{message}");

        let found = lint("SET search_path = app;\nALTER TABLE users ALTER COLUMN id TYPE bigint;");
        let (_, severity, message) = of(&found, "change-column-type");
        assert_eq!(*severity, Severity::Error, "{message}");
        assert!(
            message.contains("`app.users` (2.0 GB, about 5M rows): rewriting it blocks reads and writes for roughly 26 seconds to 3 minutes"),
            "{message}"
        );
    }

    #[test]
    fn a_table_created_by_the_migrations_is_not_the_database_one() {
        // `app.users` is created here: the later unqualified statement means it, not
        // `public.users` (the schema catalog resolves names as PostgreSQL would).
        let found = lint(
            "CREATE TABLE app.users (id int);\nCOMMIT;\nSET search_path = app, public;\nCREATE INDEX users_id_idx ON users (id);",
        );
        assert!(
            !found
                .iter()
                .any(|(_, _, message)| message.contains("40 rows")),
            "{found:#?}"
        );
    }

    #[test]
    fn an_index_named_alone_is_found_through_its_table() {
        let found = lint("DROP INDEX users_email_idx;");
        let (_, severity, message) = of(&found, "drop-index-non-concurrently");
        assert_eq!(*severity, Severity::Warning, "{message}");
        assert!(
            message.contains("`users` (32 kB, about 40 rows)"),
            "{message}"
        );
    }

    #[test]
    fn unknown_row_counts_and_other_categories_keep_their_severity() {
        let found = lint("ALTER TABLE fresh ALTER COLUMN id TYPE bigint;");
        let (_, severity, message) = of(&found, "change-column-type");
        assert_eq!(*severity, Severity::Error);
        assert!(
            message.contains("`fresh` (64 MB, never analysed, rows unknown): rewriting it"),
            "{message}"
        );
        let found = lint("ALTER TABLE users DROP COLUMN email;");
        let (_, severity, message) = of(&found, "drop-column");
        assert_eq!(*severity, Severity::Error);
        assert!(!message.contains("rows"), "{message}");
        // Two tables, one of them of unknown size: not downgraded.
        let found = lint(
            "ALTER TABLE users ADD CONSTRAINT users_fresh FOREIGN KEY (id) REFERENCES fresh (id);",
        );
        let (_, severity, _) = of(&found, "add-foreign-key");
        assert_eq!(*severity, Severity::Error);
    }

    #[test]
    fn the_estimate_follows_the_claims_of_the_statement_form() {
        // A plain foreign key takes SHARE ROW EXCLUSIVE: it blocks writes, not reads.
        let found = lint(
            "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (id) REFERENCES app.users (id);",
        );
        let (_, _, message) = of(&found, "add-foreign-key");
        assert!(
            message.contains("`orders` (2.0 GB, about 5M rows): scanning it blocks writes for"),
            "{message}"
        );
        // A filled column added with REFERENCES takes ACCESS EXCLUSIVE.
        let found =
            lint("ALTER TABLE orders ADD COLUMN user_id int DEFAULT 1 REFERENCES app.users (id);");
        let (_, _, message) = of(&found, "add-foreign-key");
        assert!(message.contains("blocks reads and writes for"), "{message}");
        // An UPDATE alone holds ROW EXCLUSIVE; after an ALTER TABLE in its transaction, the
        // ACCESS EXCLUSIVE lock that one took.
        let found = lint("UPDATE orders SET id = id + 1;");
        let (_, _, message) = of(&found, "unbatched-backfill");
        assert!(
            !message.contains("blocks reads and writes") && message.contains("takes"),
            "{message}"
        );
        let found = lint(
            "BEGIN;\nALTER TABLE orders ADD COLUMN note text;\nUPDATE orders SET id = id + 1;\nCOMMIT;",
        );
        let update = found
            .iter()
            .find(|(rule, _, message)| *rule == "unbatched-backfill" && message.contains("orders"))
            .unwrap();
        assert!(
            update.2.contains("blocks reads and writes for"),
            "{update:?}"
        );
    }

    #[test]
    fn without_statistics_nothing_changes() {
        let sql = "ALTER TABLE users ALTER COLUMN id TYPE bigint;";
        let plain = lint_sql(sql, &Settings::default());
        let (_, finding) = plain
            .diagnostics()
            .find(|(_, d)| d.rule == "change-column-type")
            .unwrap();
        assert_eq!(finding.severity, Severity::Error);
        assert!(!finding.message.contains("rows"));
    }
}

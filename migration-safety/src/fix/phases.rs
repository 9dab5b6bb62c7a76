//! Fixes that need new migrations: statements that must leave the migration's transaction,
//! and phased plans for changes that need an application deploy between their phases.
//!
//! A split moves a statement (and the statements after it, in order) into migrations of their
//! own, right after the one being fixed. A phased plan replaces the statement with its first
//! phase and writes the later phases as migrations: each starts with a header naming the
//! application change to deploy before it runs, and a phase whose statement is hazardous by
//! design carries a suppression whose reason names that deploy.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::files::{self, Script, WRITTEN_BY};
use super::{Edit, Fix, whole_lines};
use crate::context::Context;
use crate::layout::{self, Framework};
use crate::model::{ActionKind, AlterTable, Name, Statement, StatementKind, quote_ident};
use crate::rules::missing_lock_timeout::lock_timeout_statement;
use crate::schema::{Column, ColumnDefault};

/// The rows a backfill updates per transaction.
const BATCH: u32 = 10_000;

/// The name the migration being fixed has in its layout (for the names of the files after it).
fn migration_name(cx: &Context<'_>) -> String {
    let path = Path::new(cx.path);
    let file = match cx.framework {
        Framework::Diesel | Framework::Prisma => {
            path.parent().and_then(Path::file_name).map(|dir| {
                let script = if cx.framework == Framework::Diesel {
                    "up.sql"
                } else {
                    "migration.sql"
                };
                format!("{}/{script}", dir.to_string_lossy())
            })
        }
        _ => path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned()),
    };
    file.and_then(|f| layout::parse_file(cx.framework, &f))
        .map(|(_, name, _)| name)
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "migration".to_owned())
}

/// A fix of `rule` that makes `edits` to the file being checked and writes `scripts` as new
/// migrations right after it; `None` when the layout cannot take new migrations there.
fn with_scripts(
    cx: &Context<'_>,
    rule: &'static str,
    title: String,
    edits: Vec<(Range<usize>, String)>,
    scripts: &[Script],
) -> Option<Fix> {
    let new_files = files::write(Path::new(cx.path), cx.framework, scripts).ok()?;
    let edits = edits
        .into_iter()
        .map(|(range, replacement)| Edit {
            path: PathBuf::from(cx.path),
            range,
            replacement,
        })
        .collect();
    Some(Fix {
        rule,
        title,
        edits,
        new_files,
    })
}

/// A statement to move out of the migration being fixed, into one of its own.
pub(crate) struct Moved {
    /// Its name in words, for the new file's name.
    pub(crate) name: String,
    /// Why it moves, for the new file's header.
    pub(crate) why: String,
    /// Its text in the new migration (the statement as written, or as the fix rewrites it).
    pub(crate) text: String,
    /// The statements that revert it.
    pub(crate) down: Vec<String>,
    /// Whether its new migration may run inside a transaction.
    pub(crate) transaction: bool,
}

/// Split the migration being fixed at the current statement: it moves into a migration of its
/// own, and the statements after it move, in order, into the migration after that one (with
/// the file's `lock_timeout`), so that everything still runs in the order written. In the
/// file's own `BEGIN … COMMIT` block of a migration run statement by statement, the statement
/// leaves the block instead, in the same file (see [`super::outside_block`]): it runs between
/// the block's two halves, outside a transaction or in one of its own. Otherwise a file with
/// its own `BEGIN`/`COMMIT`, or a statement in a `DO` block, has no split.
pub(crate) fn split(cx: &Context<'_>, rule: &'static str, moved: Moved) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    if let Some(edits) = super::outside_block(cx, moved.text.clone()) {
        return Some(Fix {
            rule,
            title: format!("run `{}` outside the transaction block", moved.name),
            edits,
            new_files: Vec::new(),
        });
    }
    let explicit = cx.statements.iter().any(|s| {
        matches!(
            s.kind,
            StatementKind::Begin | StatementKind::Commit | StatementKind::Rollback
        )
    });
    if explicit || cx.in_do_block {
        return None;
    }
    let statement = &cx.statements[cx.index];
    let rest = &cx.statements[cx.index + 1..];
    let origin = migration_name(cx);
    let mut scripts = vec![Script {
        name: moved.name.clone(),
        header: vec![
            format!("Moved out of the migration `{origin}`, {WRITTEN_BY}:"),
            moved.why.clone(),
        ],
        up: vec![moved.text],
        down: moved.down,
        transaction: moved.transaction,
    }];
    let mut end = statement.range.end;
    if let (Some(first), Some(last)) = (rest.first(), rest.last()) {
        let from = whole_lines(cx.source, first.range.clone()).start;
        let text = cx.source[from..last.range.end].to_owned();
        let sets_timeout = rest
            .iter()
            .any(|s| matches!(&s.kind, StatementKind::Set { name, .. } if name == "lock_timeout"));
        let mut up = Vec::new();
        if let (Some(timeout), false) = (&cx.session().lock_timeout, sets_timeout) {
            up.push(format!("SET lock_timeout = '{timeout}';"));
        }
        up.push(text);
        scripts.push(Script {
            name: format!("{origin} continued"),
            header: vec![format!(
                "The rest of the migration `{origin}`, after `{}` moved out of it, in the same order ({WRITTEN_BY}).",
                moved.name
            )],
            up,
            down: Vec::new(),
            transaction: true,
        });
        end = last.range.end;
    }
    let removed = whole_lines(cx.source, statement.range.start..end);
    let title = format!(
        "move `{}` into a migration of its own{}",
        moved.name,
        if rest.is_empty() {
            ""
        } else {
            ", with the statements after it in the next one"
        }
    );
    with_scripts(cx, rule, title, vec![(removed, String::new())], &scripts)
}

/// The fix of a statement that must leave the migration's transaction (`CONCURRENTLY`, outside
/// any transaction; a constraint's validation or an enum value, in a transaction of its own):
/// [`split`] with the statement as written, named after what it does, reverted where that is
/// known (an index built concurrently is dropped concurrently).
pub(crate) fn move_out(
    cx: &Context<'_>,
    rule: &'static str,
    transaction: bool,
    why: &str,
) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let statement = &cx.statements[cx.index];
    let text = cx.source[statement.range.clone()].trim_end();
    let text = if text.ends_with(';') {
        text.to_owned()
    } else {
        format!("{text};")
    };
    let (name, down) = match &statement.kind {
        StatementKind::CreateIndex(index) => {
            let name = index.name.as_ref().map(|n| Name {
                schema: n.schema.clone().or_else(|| index.table.schema.clone()),
                name: n.name.clone(),
            });
            let down = name
                .iter()
                .map(|n| format!("DROP INDEX CONCURRENTLY IF EXISTS {n};"))
                .collect();
            let what = name.map_or_else(|| format!("index on {}", index.table.name), |n| n.name);
            (format!("create {what}"), down)
        }
        StatementKind::DropIndex { names, .. } => {
            let names: Vec<&str> = names.iter().map(|n| n.name.as_str()).collect();
            (format!("drop {}", names.join(" ")), Vec::new())
        }
        StatementKind::Reindex { name, .. } => (format!("reindex {}", name.name), Vec::new()),
        StatementKind::AlterType { name, .. } => {
            (format!("add value to {}", name.name), Vec::new())
        }
        StatementKind::AlterTable(alter) => match alter.actions.as_slice() {
            [action] => match &action.kind {
                ActionKind::ValidateConstraint { name } => (format!("validate {name}"), Vec::new()),
                ActionKind::DetachPartition { partition, .. } => {
                    (format!("detach {}", partition.name), Vec::new())
                }
                _ => return None,
            },
            _ => return None,
        },
        _ => return None,
    };
    split(
        cx,
        rule,
        Moved {
            name,
            why: why.to_owned(),
            text,
            down,
            transaction,
        },
    )
}

/// The only action of an `ALTER TABLE` statement, which a phased plan replaces.
fn only_action(statement: &Statement) -> Option<(&AlterTable, &ActionKind)> {
    match &statement.kind {
        StatementKind::AlterTable(alter) if alter.actions.len() == 1 => {
            Some((alter, &alter.actions[0].kind))
        }
        _ => None,
    }
}

/// A phased plan: the statements that replace the flagged one, and the later phases.
pub(crate) struct Plan {
    /// What it does, in words (`renaming users.name to full_name`).
    subject: String,
    /// Phase 1: the statements written in place of the flagged one.
    first: Vec<String>,
    later: Vec<Phase>,
}

impl Plan {
    /// The plan as the steps of a help text, so that whoever follows the help by hand does
    /// what the fix writes: the statements of phase 1, then each later phase on one line,
    /// after the deploy it waits for, with a note saying how the framework runs it outside a
    /// transaction where it must, and which rules its statements suppress (the fix writes
    /// the suppressions, whose reason names the phase and the deploy).
    pub(crate) fn steps(&self, framework: Framework) -> Vec<String> {
        let mut steps: Vec<String> = self.first.iter().map(|s| one_line(s)).collect();
        for phase in &self.later {
            if let Some(deploy) = &phase.deploy {
                steps.push(format!("deploy {deploy}"));
            }
            let when = match (&phase.deploy, phase.transaction && phase.up.len() > 1) {
                (Some(_), true) => "in a later migration, in one transaction",
                (Some(_), false) => "in a later migration",
                (None, true) => "in the next migration, in one transaction",
                (None, false) => "in the next migration",
            };
            let statements: Vec<String> = phase.up.iter().map(|s| one_line(s)).collect();
            let mut notes = Vec::new();
            if !phase.transaction {
                notes.push(format!(
                    "no transaction: {}",
                    crate::framework::outside_transaction_advice(framework)
                ));
            }
            let mut suppressed: Vec<&str> = phase
                .up
                .iter()
                .flat_map(|s| s.lines())
                .filter_map(|line| line.strip_prefix(SUPPRESSION))
                .filter_map(|rest| rest.split(" -- ").next())
                .collect();
            suppressed.dedup();
            if !suppressed.is_empty() {
                notes.push(format!(
                    "suppress {} there, with a reason naming this deploy",
                    suppressed
                        .iter()
                        .map(|rule| format!("`{rule}`"))
                        .collect::<Vec<_>>()
                        .join(" and ")
                ));
            }
            let mut step = format!("{when}: {}", statements.join(" "));
            if !notes.is_empty() {
                step.push_str(&format!("  -- {}", notes.join("; ")));
            }
            steps.push(step);
        }
        steps
    }
}

/// A statement as written in a migration, on one line for a help text: its comment lines
/// left out, its other lines trimmed and joined with spaces.
fn one_line(statement: &str) -> String {
    statement
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("--"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A later phase of a plan.
struct Phase {
    /// Its name in words, for its file name.
    name: String,
    /// The application change to deploy before it runs (`None`: it runs after the phase
    /// before it, with the same code deployed).
    deploy: Option<String>,
    up: Vec<String>,
    down: Vec<String>,
    transaction: bool,
}

/// The fix of a phased plan.
fn phased(
    cx: &Context<'_>,
    rule: &'static str,
    subject: String,
    first: Vec<String>,
    later: Vec<Phase>,
) -> Option<Fix> {
    let total = later.len() + 1;
    let statement = &cx.statements[cx.index];
    let mut deployed: Option<String> = None;
    let scripts: Vec<Script> = later
        .into_iter()
        .enumerate()
        .map(|(i, phase)| {
            let number = i + 2;
            let mut header = vec![format!(
                "Phase {number} of {total} of {subject} ({WRITTEN_BY})."
            )];
            match (&phase.deploy, &deployed) {
                (Some(deploy), _) => header.push(format!("Deploy first: {deploy}.")),
                (None, Some(deploy)) => header.push(format!(
                    "Runs after phase {}, with the same code deployed: {deploy}.",
                    number - 1
                )),
                (None, None) => header.push(format!("Runs right after phase {}.", number - 1)),
            }
            if let Some(deploy) = &phase.deploy {
                deployed = Some(deploy.clone());
            }
            Script {
                name: phase.name,
                header,
                up: phase.up,
                down: phase.down,
                transaction: phase.transaction,
            }
        })
        .collect();
    let rest = if total == 2 {
        "phase 2 is a later migration".to_owned()
    } else {
        format!("phases 2 to {total} are later migrations")
    };
    let mut replacement = format!("-- Phase 1 of {total} of {subject} ({WRITTEN_BY}): {rest}.\n");
    for statement in &first {
        replacement.push_str(&files::statement_text(cx.framework, statement));
    }
    let range = whole_lines(cx.source, statement.range.clone());
    if range.end == statement.range.end {
        // Something follows on the line: it keeps a line of its own.
        replacement.push('\n');
    }
    if !cx.source[..range.start].is_empty() && !cx.source[..range.start].ends_with('\n') {
        replacement.insert(0, '\n');
    }
    with_scripts(
        cx,
        rule,
        format!("{subject} in {total} phases, with a deploy between them"),
        vec![(range, replacement)],
        &scripts,
    )
}

/// The phase that does what the deployed code must no longer need: `statement`, suppressed for
/// `suppress` with a reason naming phase `number` of `subject` and `after` (the deploy).
fn deployed_phase(
    cx: &Context<'_>,
    name: String,
    deploy: String,
    (suppress, number, subject, after): (&str, usize, &str, &str),
    statement: String,
    down: String,
) -> Phase {
    Phase {
        name,
        deploy: Some(deploy),
        up: locked(
            cx,
            vec![suppressed(
                suppress,
                &format!("phase {number} of {subject}: {after}"),
                statement,
            )],
        ),
        down: vec![down],
        transaction: true,
    }
}

/// How a suppression the fix writes begins.
const SUPPRESSION: &str = "-- migration-safety: ignore ";

/// `-- migration-safety: ignore <rule> -- <reason>` on the line before `statement`.
fn suppressed(rule: &str, reason: &str, statement: String) -> String {
    format!("{SUPPRESSION}{rule} -- {reason}\n{statement}")
}

/// `ADD COLUMN` of a column the plan copies, with a suppression of the design rules (such as
/// `prefer-text`) that its type trips: the type is the one the migration asked for.
fn add_column(
    cx: &Context<'_>,
    table: &Name,
    column: &str,
    data_type: &str,
    subject: &str,
) -> String {
    let statement = format!(
        "ALTER TABLE {table} ADD COLUMN {} {data_type};",
        quote_ident(column)
    );
    // Only a written migration needs the suppressions (a help leaves them out).
    if !cx.builds_fixes() {
        return statement;
    }
    // Only the findings' rules are read: their fixes would be built for nothing.
    let report = crate::lint_sql(&statement, &cx.settings.clone().fixes(false));
    let mut design: Vec<&str> = report
        .diagnostics()
        .filter(|(_, d)| {
            crate::rules::lookup(d.rule).is_ok_and(|r| r.category == crate::rule::Category::Design)
        })
        .map(|(_, d)| d.rule)
        .collect();
    design.dedup();
    if design.is_empty() {
        return statement;
    }
    suppressed(
        &design.join(", "),
        &format!(
            "phase 1 of {subject}: `{column}` has the type `{data_type}` the migration gives it"
        ),
        statement,
    )
}

/// A transactional phase's statements, after a `SET LOCAL lock_timeout` unless the settings
/// assume one.
fn locked(cx: &Context<'_>, statements: Vec<String>) -> Vec<String> {
    if cx.settings.assumed("lock_timeout").is_some() {
        return statements;
    }
    std::iter::once(lock_timeout_statement(true))
        .chain(statements)
        .collect()
}

/// The statement that fills `column` of every row of `table` where `pending` holds, in batches:
/// outside a transaction, each batch commits on its own; where the framework runs every
/// migration in a transaction, the loop runs in it (row locks only, held until it commits).
fn backfill(cx: &Context<'_>, table: &Name, set: &str, pending: &str) -> (String, bool) {
    let transaction = matches!(cx.framework, Framework::Refinery | Framework::DbMigrate);
    let commit = if transaction {
        format!(
            "\n    -- {} runs every migration in a transaction: the batches commit together.",
            cx.framework
        )
    } else {
        "\n    COMMIT;".to_owned()
    };
    let statement = format!(
        "DO $$\nBEGIN\n  LOOP\n    UPDATE {table} SET {set}\n      WHERE ctid IN (SELECT ctid FROM {table} WHERE {pending} LIMIT {BATCH});\n    EXIT WHEN NOT FOUND;{commit}\n  END LOOP;\nEND $$;"
    );
    (statement, transaction)
}

/// The phases that make `column` of `table` NOT NULL without a long lock: a `CHECK … NOT
/// VALID`, its validation in a transaction of its own, then (from PostgreSQL 12, where the
/// validated check spares the scan) `SET NOT NULL` and the check dropped.
fn not_null_phases(
    cx: &Context<'_>,
    table: &Name,
    column: &str,
    deploy: Option<String>,
) -> Vec<Phase> {
    let col = quote_ident(column);
    let check = quote_ident(&format!("{}_{column}_not_null", table.name));
    let mut phases = vec![
        Phase {
            name: format!("check {column} not null"),
            deploy,
            up: locked(
                cx,
                vec![format!(
                    "ALTER TABLE {table} ADD CONSTRAINT {check} CHECK ({col} IS NOT NULL) NOT VALID;"
                )],
            ),
            down: vec![format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {check};"
            )],
            transaction: true,
        },
        Phase {
            name: format!("validate {column} not null"),
            deploy: None,
            up: vec![format!("ALTER TABLE {table} VALIDATE CONSTRAINT {check};")],
            down: Vec::new(),
            transaction: true,
        },
    ];
    if cx.pg_version() >= 12 {
        phases.push(Phase {
            name: format!("set {column} not null"),
            deploy: None,
            up: locked(
                cx,
                vec![
                    format!("ALTER TABLE {table} ALTER COLUMN {col} SET NOT NULL;"),
                    format!("ALTER TABLE {table} DROP CONSTRAINT {check};"),
                ],
            ),
            down: vec![format!(
                "ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;"
            )],
            transaction: true,
        });
    }
    phases
}

/// What a column needs besides its type and nullability for a copy of it to be the same column:
/// `None` when it has something a plan cannot copy (an unknown default, an index, a constraint
/// other than NOT NULL, a view reading the table).
fn copyable<'s>(cx: &Context<'s>, table: &Name, column: &str) -> Option<&'s Column> {
    let t = cx.schema.table(table)?;
    let c = t.column(column)?;
    let constrained = t.constraints.iter().any(|k| {
        k.columns.iter().any(|n| n == column)
            && !matches!(k.kind, crate::model::ConstraintKind::NotNull { .. })
    });
    let indexed = !cx.schema.indexes_on(table, column).is_empty();
    let viewed = cx.schema.views_reading(table);
    (c.default != ColumnDefault::Unknown && !constrained && !indexed && !viewed).then_some(c)
}

/// The trigger (and its function, both named `<table>_<column>_sync`) that keeps the column a
/// plan adds in step with the one it replaces.
struct Sync<'a> {
    table: &'a Name,
    function: Name,
}

impl<'a> Sync<'a> {
    fn new(table: &'a Name, column: &str) -> Self {
        let function = Name {
            schema: table.schema.clone(),
            name: format!("{}_{column}_sync", table.name),
        };
        Self { table, function }
    }

    /// The function, whose PL/pgSQL `body` sets `NEW`'s columns, and the trigger that runs it
    /// before each row is inserted or updated.
    fn create(&self, body: &str) -> [String; 2] {
        let (table, function) = (self.table, &self.function);
        let trigger = quote_ident(&function.name);
        [
            format!(
                "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}  RETURN NEW;\nEND $$;"
            ),
            format!(
                "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE ON {table}\n  FOR EACH ROW EXECUTE FUNCTION {function}();"
            ),
        ]
    }

    /// The trigger and the function dropped, each suppressed with `reason`.
    fn drop(&self, reason: &str) -> [String; 2] {
        let (table, function) = (self.table, &self.function);
        let trigger = quote_ident(&function.name);
        [
            suppressed(
                "drop-object",
                reason,
                format!("DROP TRIGGER {trigger} ON {table};"),
            ),
            suppressed(
                "drop-object",
                reason,
                format!("DROP FUNCTION {function}();"),
            ),
        ]
    }
}

/// `ALTER TABLE t RENAME COLUMN a TO b` of `column` (`None`: not known from the migrations,
/// then its type is a placeholder): add `b`, kept in step with `a` both ways by a trigger (so
/// that the code deployed before the plan and the code that uses only `b` both work while they
/// run side by side), backfill, (make it NOT NULL), deploy code that reads and writes only
/// `b`, then drop the trigger and `a`. A default moves to `b` in the first phase: on an
/// `INSERT`, the trigger copies whichever of the two columns the statement wrote, which it can
/// only tell from a NULL. The help of `rename-column` prints this plan; [`rename_column`]
/// writes it.
pub(crate) fn rename_column_plan(
    cx: &Context<'_>,
    table: &Name,
    (from, to): (&str, &str),
    column: Option<&Column>,
) -> Plan {
    let (old, new) = (quote_ident(from), quote_ident(to));
    let subject = format!("renaming {}.{from} to {to}", table.name);
    let sync = Sync::new(table, to);
    let data_type =
        column.map_or_else(|| format!("<type of {from}>"), |c| c.data_type.text.clone());
    let mut first = vec![add_column(cx, table, to, &data_type, &subject)];
    if let Some(ColumnDefault::Expr(default)) = column.map(|c| &c.default) {
        first.push(format!(
            "ALTER TABLE {table} ALTER COLUMN {new} SET DEFAULT {default};"
        ));
        first.push(format!(
            "ALTER TABLE {table} ALTER COLUMN {old} DROP DEFAULT;"
        ));
    }
    first.extend(sync.create(&format!(
        "  IF TG_OP = 'INSERT' THEN\n    IF NEW.{old} IS NULL THEN\n      NEW.{old} := NEW.{new};\n    ELSE\n      NEW.{new} := NEW.{old};\n    END IF;\n  ELSIF NEW.{old} IS DISTINCT FROM OLD.{old} THEN\n    NEW.{new} := NEW.{old};\n  ELSIF NEW.{new} IS DISTINCT FROM OLD.{new} THEN\n    NEW.{old} := NEW.{new};\n  END IF;\n"
    )));
    let (fill, transaction) = backfill(
        cx,
        table,
        &format!("{new} = {old}"),
        &format!("{new} IS NULL AND {old} IS NOT NULL"),
    );
    let mut later = vec![Phase {
        name: format!("backfill {to}"),
        deploy: None,
        up: vec![fill],
        down: Vec::new(),
        transaction,
    }];
    if column.is_some_and(|c| c.not_null) {
        later.extend(not_null_phases(cx, table, to, None));
    }
    let last = later.len() + 2;
    let reason = format!("phase {last} of {subject}: run after no deployed code reads it");
    let sync_reason = format!(
        "phase {last} of {subject}: only this plan used it, to keep `{to}` in step with `{from}`"
    );
    later.push(Phase {
        name: format!("drop {from}"),
        deploy: Some(format!("code that reads and writes only `{to}`")),
        up: locked(
            cx,
            sync.drop(&sync_reason)
                .into_iter()
                .chain([suppressed(
                    "drop-column",
                    &reason,
                    format!("ALTER TABLE {table} DROP COLUMN {old};"),
                )])
                .collect(),
        ),
        down: vec![format!("ALTER TABLE {table} ADD COLUMN {old} {data_type};")],
        transaction: true,
    });
    Plan {
        subject,
        first,
        later,
    }
}

/// The fix of `ALTER TABLE t RENAME COLUMN a TO b`: `plan`, the [`rename_column_plan`] of its
/// only action, written as migrations; none when the plan cannot reproduce the column (see
/// [`copyable`]) or a later statement of the migration names either column.
pub(crate) fn rename_column(cx: &Context<'_>, rule: &'static str, plan: Plan) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let (alter, ActionKind::RenameColumn { from, to }) = only_action(&cx.statements[cx.index])?
    else {
        return None;
    };
    copyable(cx, &alter.table, from)?;
    if cx.named_later(from) || cx.named_later(to) {
        return None;
    }
    phased(cx, rule, plan.subject, plan.first, plan.later)
}

/// `ALTER TABLE a RENAME TO b`: rename it and keep the old name as a view of it, in one
/// transaction; drop the view once no deployed code uses the old name.
pub(crate) fn rename_table(cx: &Context<'_>, rule: &'static str) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let (alter, ActionKind::RenameTable { to }) = only_action(&cx.statements[cx.index])? else {
        return None;
    };
    let from = &alter.table;
    cx.schema.table(from)?;
    // The new name lives in the old one's schema; the view keeps the old name.
    let to = Name {
        schema: from.schema.clone(),
        name: to.name.clone(),
    };
    let subject = format!("renaming {} to {}", from.name, to.name);
    let swap = vec![
        format!("ALTER TABLE {from} RENAME TO {};", quote_ident(&to.name)),
        format!("CREATE VIEW {from} AS SELECT * FROM {to};"),
    ];
    // The rename and the view commit together, so that the old name never goes missing.
    let first = if cx.in_transaction() {
        swap
    } else {
        let mut block = vec!["BEGIN;".to_owned()];
        block.extend(locked(cx, swap));
        block.push("COMMIT;".to_owned());
        block
    };
    let later = vec![deployed_phase(
        cx,
        format!("drop view {}", from.name),
        format!("code that uses only `{}`", to.name),
        (
            "drop-object",
            2,
            &subject,
            &format!("run after no deployed code uses {}", from.name),
        ),
        format!("DROP VIEW {from};"),
        format!("CREATE VIEW {from} AS SELECT * FROM {to};"),
    )];
    phased(cx, rule, subject, first, later)
}

/// `ALTER TABLE t DROP COLUMN c`: let the deployed code stop writing it (drop its NOT NULL),
/// deploy code that no longer uses it, then drop it.
pub(crate) fn drop_column(cx: &Context<'_>, rule: &'static str) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let (alter, ActionKind::DropColumn { column }) = only_action(&cx.statements[cx.index])? else {
        return None;
    };
    let table = &alter.table;
    let c = cx.schema.table(table)?.column(column)?;
    let col = quote_ident(column);
    let subject = format!("dropping {}.{column}", table.name);
    let first = if c.not_null && c.default == ColumnDefault::None {
        vec![format!(
            "ALTER TABLE {table} ALTER COLUMN {col} DROP NOT NULL;"
        )]
    } else {
        Vec::new()
    };
    let later = vec![deployed_phase(
        cx,
        format!("drop {column}"),
        format!("code that no longer reads or writes `{column}`"),
        (
            "drop-column",
            2,
            &subject,
            "run after no deployed code reads it",
        ),
        format!("ALTER TABLE {table} DROP COLUMN {col};"),
        format!("ALTER TABLE {table} ADD COLUMN {col} {};", c.data_type.text),
    )];
    phased(cx, rule, subject, first, later)
}

/// `ALTER TABLE t ADD COLUMN c type NOT NULL` without a default: add it nullable, deploy code
/// that writes it, backfill, then make it NOT NULL through a validated check.
pub(crate) fn add_required_column(cx: &Context<'_>, rule: &'static str) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let (alter, ActionKind::AddColumn(def)) = only_action(&cx.statements[cx.index])? else {
        return None;
    };
    let plain = !def.primary_key
        && !def.unique
        && def.references.is_none()
        && def.check.is_none()
        && def.generated.is_none()
        && def.default.is_none();
    if !plain {
        return None;
    }
    let table = &alter.table;
    let col = quote_ident(&def.name);
    let subject = format!("adding the required column {}.{}", table.name, def.name);
    let first = vec![add_column(
        cx,
        table,
        &def.name,
        &def.data_type.text,
        &subject,
    )];
    let deploy = format!(
        "code that writes `{}` in every INSERT and UPDATE; then fill it in the rows that existed before (in batches: `UPDATE {table} SET {col} = … WHERE ctid IN (SELECT ctid FROM {table} WHERE {col} IS NULL LIMIT {BATCH})` until it updates no row): the validation fails while a row holds NULL",
        def.name
    );
    let later = not_null_phases(cx, table, &def.name, Some(deploy));
    phased(cx, rule, subject, first, later)
}

/// `ALTER TABLE t ALTER COLUMN c TYPE ty [USING e]`: add `c_new` of the new type, kept in step
/// with `c` by a trigger; backfill; (make it NOT NULL); then, once the deployed code works with
/// either type, swap the columns in one transaction.
pub(crate) fn change_column_type(cx: &Context<'_>, rule: &'static str) -> Option<Fix> {
    if !cx.builds_fixes() {
        return None;
    }
    let (
        alter,
        ActionKind::AlterColumnType {
            column,
            data_type,
            using,
        },
    ) = only_action(&cx.statements[cx.index])?
    else {
        return None;
    };
    let table = &alter.table;
    let c = copyable(cx, table, column)?;
    // A column of a domain with constraints is checked against every row when it is added.
    let checked_domain = cx
        .schema
        .domain_of(data_type)
        .is_some_and(|d| !d.constraints.is_empty());
    if c.default != ColumnDefault::None || checked_domain || cx.named_later(column) {
        return None;
    }
    let temp = format!("{column}_new");
    let (col, new) = (quote_ident(column), quote_ident(&temp));
    // Assigned to the new column, the value goes through the assignment cast, as in `ALTER
    // COLUMN … TYPE` (an explicit cast would silently truncate a too long `varchar`).
    let convert = |source: &str| match using {
        Some(expr) => rewrite_column(expr, column, source),
        None => source.to_owned(),
    };
    let sync = Sync::new(table, &temp);
    let subject = format!(
        "changing the type of {}.{column} to {}",
        table.name, data_type.text
    );
    let mut first = vec![add_column(cx, table, &temp, &data_type.text, &subject)];
    first.extend(sync.create(&format!(
        "  NEW.{new} := {};\n",
        convert(&format!("NEW.{col}"))
    )));
    let (fill, transaction) = backfill(
        cx,
        table,
        &format!("{new} = {}", convert(&col)),
        &format!("{new} IS NULL AND {col} IS NOT NULL"),
    );
    let mut later = vec![Phase {
        name: format!("backfill {temp}"),
        deploy: None,
        up: vec![fill],
        down: Vec::new(),
        transaction,
    }];
    if c.not_null {
        later.extend(not_null_phases(cx, table, &temp, None));
    }
    let last = later.len() + 2;
    let reason = format!(
        "phase {last} of {subject}: run after the deployed code works with `{column}` as {}",
        data_type.text
    );
    let sync_reason = format!(
        "phase {last} of {subject}: only this plan used it, to keep `{temp}` in step with `{column}`"
    );
    later.push(Phase {
        name: format!("swap {column}"),
        deploy: Some(format!(
            "code that works with `{column}` both as {} and as {}",
            c.data_type.text, data_type.text
        )),
        up: locked(
            cx,
            sync.drop(&sync_reason)
                .into_iter()
                .chain([
                    suppressed(
                        "drop-column",
                        &reason,
                        format!("ALTER TABLE {table} DROP COLUMN {col};"),
                    ),
                    suppressed(
                        "rename-column",
                        &reason,
                        format!("ALTER TABLE {table} RENAME COLUMN {new} TO {col};"),
                    ),
                ])
                .collect(),
        ),
        down: Vec::new(),
        transaction: true,
    });
    phased(cx, rule, subject, first, later)
}

/// A `USING` expression with the column's name replaced by `source` (word by word, outside
/// quotes).
fn rewrite_column(expr: &str, column: &str, source: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let flush = |word: &mut String, out: &mut String| {
        if word.eq_ignore_ascii_case(column) {
            out.push_str(source);
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in expr.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_alphanumeric() || c == '_' => word.push(c),
            None => {
                flush(&mut word, &mut out);
                if c == '\'' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    flush(&mut word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn using_expressions_read_the_source_column() {
        assert_eq!(
            rewrite_column("price::numeric / 100", "price", "NEW.price"),
            "NEW.price::numeric / 100"
        );
        assert_eq!(
            rewrite_column("coalesce(price, 'price')", "price", "p"),
            "coalesce(p, 'price')"
        );
    }

    #[test]
    fn whole_lines_take_the_line_break() {
        let text = "A;\n  B;\nC; D;\n";
        assert_eq!(whole_lines(text, 5..7), 3..8);
        assert_eq!(whole_lines(text, 8..10), 8..10);
    }
}

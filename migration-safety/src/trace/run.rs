//! Applying migrations in order, each as its framework runs it, observing every statement and
//! setting the observations beside the static findings.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::TraceError;
use super::observe::{Changes, Method, Observation, Observer, Relation, Status};
use crate::context::Session;
use crate::diagnostic::Diagnostic;
use crate::engine;
use crate::layout::{Direction, Framework};
use crate::model::{LockMode, Name, Statement, StatementKind};
use crate::rule::{Category, Outcome as ClaimOutcome};
use crate::settings::Settings;
use crate::source::{Position, SourceFile};

/// What the trace of a run of migrations saw.
#[derive(Debug, Clone)]
pub struct TraceReport {
    /// The server's major version.
    pub server_major: u32,
    /// Whether the changes were kept (a throwaway cluster) or rolled back.
    pub changes: Changes,
    /// The migrations applied, in order (those [`Settings::start_after`] skips are applied
    /// but not listed).
    pub files: Vec<FileTrace>,
    /// Where applying stopped: the first statement the server rejected. The migrations after
    /// it were not applied, as a migration tool stops there too.
    pub stopped: Option<String>,
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct FileTrace {
    /// The path as given.
    pub path: String,
    /// The framework that runs it.
    pub framework: Framework,
    /// Its statements, in order (transaction control is applied, not listed).
    pub statements: Vec<StatementTrace>,
}

/// One statement: what the server did, and what the static check said.
#[derive(Debug, Clone)]
pub struct StatementTrace {
    /// Where it starts in the file.
    pub start: Position,
    /// Its text.
    pub sql: String,
    /// The transaction block it ran in, numbered from 1 within the file; `None` when it ran on
    /// its own (PostgreSQL then gives it a transaction of its own).
    pub transaction: Option<usize>,
    /// What the server did.
    pub observation: Observation,
    /// The static findings on this statement.
    pub findings: Vec<Diagnostic>,
    /// Where the findings and the observation disagree.
    pub disagreements: Vec<Disagreement>,
}

/// A difference between the static findings and what the server did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disagreement {
    /// The server did something hazardous that no finding reports, or took a stronger lock
    /// than a finding says.
    MissedHazard(String),
    /// A finding says the server does something it did not do.
    FalseAlarm {
        /// The rule of the finding.
        rule: &'static str,
        /// What differs.
        message: String,
    },
}

impl Disagreement {
    /// `missed-hazard` or `false-alarm`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissedHazard(_) => "missed-hazard",
            Self::FalseAlarm { .. } => "false-alarm",
        }
    }

    /// What differs.
    pub fn message(&self) -> &str {
        match self {
            Self::MissedHazard(message) | Self::FalseAlarm { message, .. } => message,
        }
    }
}

impl TraceReport {
    /// Every statement with its file.
    pub fn statements(&self) -> impl Iterator<Item = (&FileTrace, &StatementTrace)> {
        self.files
            .iter()
            .flat_map(|f| f.statements.iter().map(move |s| (f, s)))
    }

    /// Whether a statement failed or a hazard went unreported.
    pub fn has_problems(&self) -> bool {
        self.stopped.is_some()
            || self.statements().any(|(_, s)| {
                s.disagreements
                    .iter()
                    .any(|d| matches!(d, Disagreement::MissedHazard(_)))
            })
    }

    /// Per file and per statement: duration, locks with what they block, rewrites, scans,
    /// findings and disagreements; then a summary.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            out.push_str(&format!("{} ({})\n", file.path, file.framework));
            for statement in &file.statements {
                human_statement(&mut out, &file.path, statement);
            }
            out.push('\n');
        }
        let statements = self.statements().count();
        let disagreements: usize = self.statements().map(|(_, s)| s.disagreements.len()).sum();
        let mode = match self.changes {
            Changes::Kept => "a throwaway cluster",
            Changes::RolledBack => "a transaction that was rolled back",
        };
        if self.changes == Changes::RolledBack {
            out.push_str("note: one transaction, rolled back at the end, holds the locks of every statement until then: a lock mode an earlier statement already took on a relation is not seen again\n");
        }
        if let Some(stopped) = &self.stopped {
            out.push_str(&format!("stopped: {stopped}\n"));
        }
        out.push_str(&format!(
            "migration-safety trace: {statements} statement{} in {} file{} on PostgreSQL {} ({mode}); {disagreements} disagreement{} with the static findings\n",
            plural(statements),
            self.files.len(),
            plural(self.files.len()),
            self.server_major,
            plural(disagreements),
        ));
        out
    }

    /// `{"server_major", "changes", "stopped", "files": [{"path", "framework", "statements":
    /// [{"line", "column", "sql", "transaction", "status", "error", "method", "duration_ms",
    /// "locks": [{"relation", "kind", "mode", "blocks_reads", "blocks_writes", "held_before"}],
    /// "rewrites", "scans", "findings", "disagreements": [{"kind", "rule", "message"}]}]}]}`
    pub fn to_json(&self) -> String {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|file| {
                json!({
                    "path": file.path,
                    "framework": file.framework.name(),
                    "statements": file.statements.iter().map(json_statement).collect::<Vec<_>>(),
                })
            })
            .collect();
        let report = json!({
            "server_major": self.server_major,
            "changes": match self.changes {
                Changes::Kept => "kept",
                Changes::RolledBack => "rolled-back",
            },
            "stopped": self.stopped,
            "files": files,
        });
        serde_json::to_string_pretty(&report).expect("the trace serialises")
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn names(relations: &[Relation]) -> String {
    relations
        .iter()
        .map(|r| format!("{} {r}", r.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

fn human_statement(out: &mut String, path: &str, statement: &StatementTrace) {
    let first_line = statement.sql.lines().next().unwrap_or_default();
    let ellipsis = if statement.sql.trim_end().contains('\n') {
        " …"
    } else {
        ""
    };
    out.push_str(&format!(
        "  {path}:{}:{}: {first_line}{ellipsis}\n",
        statement.start.line, statement.start.column
    ));
    let observation = &statement.observation;
    let place = match statement.transaction {
        Some(n) => format!("in transaction {n}"),
        None => "on its own".to_owned(),
    };
    match &observation.status {
        Status::Succeeded => out.push_str(&format!(
            "    ran {place} in {:.1} ms{}\n",
            observation.duration.as_secs_f64() * 1000.0,
            if observation.method == Method::Sampled {
                " (outside a transaction: locks sampled from a second session)"
            } else {
                ""
            }
        )),
        Status::Failed { code, message } => {
            let code = if code.is_empty() {
                String::new()
            } else {
                format!(" (SQLSTATE {code})")
            };
            out.push_str(&format!("    failed {place}: {message}{code}\n"));
        }
        Status::NotRun(reason) => out.push_str(&format!("    not observed: {reason}\n")),
    }
    for lock in &observation.locks {
        let blocks = if lock.blocks_reads() {
            "blocks reads and writes"
        } else if lock.blocks_writes() {
            "blocks writes"
        } else {
            "blocks neither reads nor writes"
        };
        let before = if lock.held_before {
            ", held since an earlier statement of the transaction"
        } else {
            ""
        };
        out.push_str(&format!(
            "    lock {} on {} {}: {blocks}{before}\n",
            lock.mode.sql(),
            lock.relation.kind,
            lock.relation
        ));
    }
    if !observation.rewrites.is_empty() {
        out.push_str(&format!("    rewrote {}\n", names(&observation.rewrites)));
    }
    if let Some(scans) = observation.scans.as_ref().filter(|s| !s.is_empty()) {
        out.push_str(&format!("    scanned {}\n", names(scans)));
    }
    if !statement.findings.is_empty() {
        let rules: Vec<_> = statement.findings.iter().map(|d| d.rule).collect();
        out.push_str(&format!("    findings: {}\n", rules.join(", ")));
    }
    for disagreement in &statement.disagreements {
        let rule = match disagreement {
            Disagreement::FalseAlarm { rule, .. } => format!(" ({rule})"),
            Disagreement::MissedHazard(_) => String::new(),
        };
        out.push_str(&format!(
            "    {}{rule}: {}\n",
            disagreement.kind(),
            disagreement.message()
        ));
    }
}

fn json_statement(statement: &StatementTrace) -> Value {
    let observation = &statement.observation;
    let (status, error) = match &observation.status {
        Status::Succeeded => ("succeeded", Value::Null),
        Status::Failed { code, message } => ("failed", json!({"code": code, "message": message})),
        Status::NotRun(reason) => ("not-run", json!({"message": reason})),
    };
    let relation = |r: &Relation| json!({"relation": r.to_string(), "kind": r.kind.as_str()});
    json!({
        "line": statement.start.line,
        "column": statement.start.column,
        "sql": statement.sql,
        "transaction": statement.transaction,
        "status": status,
        "error": error,
        "method": match observation.method {
            Method::InTransaction => "in-transaction",
            Method::Sampled => "sampled",
            Method::NotObserved => "not-observed",
        },
        "duration_ms": observation.duration.as_secs_f64() * 1000.0,
        "locks": observation.locks.iter().map(|l| json!({
            "relation": l.relation.to_string(),
            "kind": l.relation.kind.as_str(),
            "mode": l.mode.sql(),
            "blocks_reads": l.blocks_reads(),
            "blocks_writes": l.blocks_writes(),
            "held_before": l.held_before,
        })).collect::<Vec<_>>(),
        "rewrites": observation.rewrites.iter().map(relation).collect::<Vec<_>>(),
        "scans": observation.scans.as_ref().map(|s| s.iter().map(relation).collect::<Vec<_>>()),
        "findings": statement.findings.iter().map(|d| json!({
            "rule": d.rule,
            "severity": d.severity,
            "message": d.message,
        })).collect::<Vec<_>>(),
        "disagreements": statement.disagreements.iter().map(|d| json!({
            "kind": d.kind(),
            "rule": match d {
                Disagreement::FalseAlarm { rule, .. } => Some(*rule),
                Disagreement::MissedHazard(_) => None,
            },
            "message": d.message(),
        })).collect::<Vec<_>>(),
    })
}

/// Apply the up migrations of `paths` (files and directories, as [`crate::lint_paths`] reads
/// them) in order on the server at `url`, each as its framework runs it: inside a transaction
/// or not, with the explicit `BEGIN`/`COMMIT` blocks of the file. Every statement is observed
/// (see [`Observer::observe`]) and compared with the static findings under `settings`.
/// Applying stops at the first statement the server rejects.
///
/// With [`Changes::RolledBack`] everything runs in one transaction that is rolled back at the
/// end, whatever happens: the database is left as it was.
pub fn trace_paths(
    url: &str,
    changes: Changes,
    paths: &[PathBuf],
    settings: &Settings,
) -> Result<TraceReport, TraceError> {
    let (jobs, _) = crate::jobs(paths, settings)?;
    let mut observer = Observer::connect(url, changes)?;
    let server_major = observer.server_major()?;
    let major = server_major.clamp(
        *crate::SUPPORTED_PG_VERSIONS.start(),
        *crate::SUPPORTED_PG_VERSIONS.end(),
    );
    let lint_settings = settings.clone().pg_version(major)?;
    let mut lint = engine::Run::new(&lint_settings);
    let mut report = TraceReport {
        server_major,
        changes,
        files: Vec::new(),
        stopped: None,
    };
    for job in &jobs {
        let (prepared, reported) = crate::prepare_job(&lint_settings, job)?;
        if prepared.direction != Direction::Up {
            continue;
        }
        let path = job.0.display().to_string();
        let applied = Applied {
            source: prepared.source.clone(),
            masked: prepared.masked.clone(),
            statements: prepared.statements.clone(),
            sessions: prepared.sessions.clone(),
        };
        let linted = lint.check(prepared);
        observer.mark_existing()?;
        let file = apply(
            &mut observer,
            &path,
            job.1,
            &applied,
            &linted.diagnostics,
            major,
            &mut report.stopped,
        )?;
        if reported {
            report.files.push(file);
        }
        if report.stopped.is_some() {
            break;
        }
    }
    observer.finish()?;
    Ok(report)
}

/// What applying a file needs of its preparation (the rest goes to the static check).
struct Applied {
    source: SourceFile,
    masked: String,
    statements: Vec<Statement>,
    sessions: Vec<Session>,
}

/// Apply one file; sets `stopped` at the first failure.
fn apply(
    observer: &mut Observer,
    path: &str,
    framework: Framework,
    prepared: &Applied,
    diagnostics: &[Diagnostic],
    major: u32,
    stopped: &mut Option<String>,
) -> Result<FileTrace, TraceError> {
    let mut file = FileTrace {
        path: path.to_owned(),
        framework,
        statements: Vec::new(),
    };
    // The transaction of the file that is open on the server, by the engine's numbering.
    let mut open: Option<usize> = None;
    let mut numbers: Vec<usize> = Vec::new();
    for (index, statement) in prepared.statements.iter().enumerate() {
        let session = &prepared.sessions[index];
        match statement.kind {
            StatementKind::Begin => continue,
            StatementKind::Commit => {
                if open.take().is_some() {
                    observer.commit()?;
                }
                continue;
            }
            StatementKind::Rollback => {
                if open.take().is_some() {
                    observer.rollback()?;
                }
                continue;
            }
            _ => {}
        }
        if open.is_some() && session.transaction != open {
            observer.commit()?;
            open = None;
        }
        if let Some(id) = session.transaction
            && open.is_none()
        {
            observer.begin()?;
            open = Some(id);
        }
        let sql = prepared.masked[statement.range.clone()].to_owned();
        let observation = observer.observe(&sql);
        let transaction = session.transaction.map(|id| {
            if !numbers.contains(&id) {
                numbers.push(id);
            }
            numbers.iter().position(|n| *n == id).map_or(0, |p| p + 1)
        });
        let findings: Vec<Diagnostic> = diagnostics
            .iter()
            .filter(|d| statement.range.contains(&d.range.start))
            .cloned()
            .collect();
        let disagreements = compare(
            &statement.kind,
            &observation,
            &findings,
            session.lock_timeout.is_some(),
            major,
            observer.changes(),
        );
        let start = prepared.source.position(statement.range.start);
        let failed = match &observation.status {
            Status::Failed { message, .. } => Some(message.clone()),
            _ => None,
        };
        file.statements.push(StatementTrace {
            start,
            sql,
            transaction,
            observation,
            findings,
            disagreements,
        });
        if let Some(message) = failed {
            if open.is_some() {
                observer.rollback()?;
            }
            *stopped = Some(format!(
                "{path}:{}:{}: {message}; the statements after it were not applied",
                start.line, start.column
            ));
            return Ok(file);
        }
    }
    if open.is_some() {
        observer.commit()?;
    }
    Ok(file)
}

/// Where the static findings and the observation disagree.
fn compare(
    kind: &StatementKind,
    observation: &Observation,
    findings: &[Diagnostic],
    lock_timeout: bool,
    major: u32,
    changes: Changes,
) -> Vec<Disagreement> {
    let inherited = changes == Changes::RolledBack;
    let mut out = Vec::new();
    if observation.status != Status::Succeeded {
        return out;
    }
    let complete = observation.method == Method::InTransaction;
    let target: Option<Name> = kind.locks().into_iter().next().map(|l| l.table);
    // The locks on the statement's table: those it took, and the strongest one its
    // transaction already held there (which the claims count as what the statement holds).
    let on_target = |held_before: bool| {
        target.as_ref().and_then(|name| {
            observation
                .locks
                .iter()
                .filter(|l| l.held_before == held_before && is_named(&l.relation, name))
                .map(|l| l.mode)
                .max()
        })
    };
    let (taken, before) = (on_target(false), on_target(true));
    for finding in findings {
        let Ok(meta) = crate::rules::lookup(finding.rule) else {
            continue;
        };
        // The claims for this statement's form: it agrees with the server when one of them
        // does; otherwise the disagreements with the closest one are reported.
        let per_claim: Vec<Vec<Disagreement>> = finding
            .claims(major)
            .into_iter()
            .map(|claim| {
                let seen = Seen {
                    target: target.as_ref(),
                    taken,
                    before,
                    complete: complete && !inherited,
                };
                claim_disagreements(meta.name, major, &claim.outcome, &seen, observation)
            })
            .collect();
        if per_claim.iter().any(Vec::is_empty) {
            continue;
        }
        if let Some(closest) = per_claim.into_iter().min_by_key(Vec::len) {
            out.extend(closest);
        }
    }
    let reported = findings.iter().any(|d| {
        d.rule != "missing-lock-timeout"
            && crate::rules::lookup(d.rule).is_ok_and(|m| m.category != Category::Meta)
    });
    if !reported {
        for relation in &observation.rewrites {
            out.push(Disagreement::MissedHazard(format!(
                "the server rewrote {} {relation} (a copy of every row, under the lock), and no rule reports it",
                relation.kind
            )));
        }
        for scanned in observation.scans.iter().flatten() {
            if let Some(lock) = observation
                .locks
                .iter()
                .find(|l| l.relation == *scanned && l.blocks_writes())
            {
                out.push(Disagreement::MissedHazard(format!(
                    "the server read all of {scanned} while holding {}, which blocks {}, and no rule reports it",
                    lock.mode.sql(),
                    lock.mode.blocks()
                )));
            }
        }
    }
    if findings.is_empty() && !lock_timeout {
        for lock in observation
            .locks
            .iter()
            .filter(|l| !l.held_before && l.blocks_writes())
        {
            out.push(Disagreement::MissedHazard(format!(
                "the server took {} on {} {} without a lock_timeout (while it waits for the lock, it blocks {}), and no rule reports it",
                lock.mode.sql(),
                lock.relation.kind,
                lock.relation,
                lock.mode.blocks()
            )));
        }
    }
    out
}

/// Whether `relation` is the one `name` names (an unqualified name, in any schema).
fn is_named(relation: &Relation, name: &Name) -> bool {
    relation.name == name.name && name.schema.as_ref().is_none_or(|s| *s == relation.schema)
}

/// What the server did on the statement's table, for [`claim_disagreements`].
struct Seen<'a> {
    /// The table the statement names first.
    target: Option<&'a Name>,
    /// The strongest lock the statement took on it.
    taken: Option<LockMode>,
    /// The strongest lock its transaction already held on it.
    before: Option<LockMode>,
    /// Whether every lock the statement holds was observed (in a transaction, and not after a
    /// rollback that hides what earlier statements took).
    complete: bool,
}

/// Where one claim of rule `rule` and the observation disagree.
fn claim_disagreements(
    rule: &'static str,
    major: u32,
    claim: &ClaimOutcome,
    seen: &Seen<'_>,
    observation: &Observation,
) -> Vec<Disagreement> {
    let mut out = Vec::new();
    let (effect, referenced) = match claim {
        ClaimOutcome::Fails(error) => {
            out.push(Disagreement::FalseAlarm {
                rule,
                message: format!(
                    "the rule says PostgreSQL {major} rejects this statement (\"{error}\"), but it ran"
                ),
            });
            return out;
        }
        ClaimOutcome::Takes {
            table: Some(effect),
            referenced,
            ..
        } => (effect, referenced),
        ClaimOutcome::Takes { .. } => return out,
    };
    let Some(name) = seen.target else {
        return out;
    };
    let matches = |relation: &Relation| is_named(relation, name);
    let held = seen.taken.max(seen.before);
    match seen.taken {
        Some(mode) if mode > effect.lock => out.push(Disagreement::MissedHazard(format!(
            "{rule} says {} on `{name}`; the server took the stronger {}, which blocks {}",
            effect.lock.sql(),
            mode.sql(),
            mode.blocks()
        ))),
        // In the rolled-back mode a mode an earlier statement took is not seen again.
        Some(_) if held.is_some_and(|h| h < effect.lock) && seen.complete => {
            out.push(Disagreement::FalseAlarm {
                rule,
                message: format!(
                    "it claims {} on `{name}`; the server took only {}",
                    effect.lock.sql(),
                    held.map_or("", LockMode::sql)
                ),
            });
        }
        _ => {}
    }
    let rewritten = observation.rewrites.iter().any(matches);
    if effect.rewrite && !rewritten && observation.method != Method::NotObserved {
        out.push(Disagreement::FalseAlarm {
            rule,
            message: format!("it claims a rewrite of `{name}`; nothing was rewritten"),
        });
    }
    if let Some(scans) = &observation.scans
        && effect.scan
        && !effect.rewrite
        && !scans.iter().any(matches)
    {
        out.push(Disagreement::FalseAlarm {
            rule,
            message: format!("it claims a scan of `{name}`; no scan was seen"),
        });
    }
    // A claim that the other tables are read (the partitions of a partitioned table, a
    // referenced table) tells its form apart from one that reads the table itself.
    if let Some(scans) = &observation.scans
        && referenced.is_some_and(|r| r.scan && !r.rewrite)
        && !scans.iter().any(|r| !matches(r))
    {
        out.push(Disagreement::FalseAlarm {
            rule,
            message: format!(
                "it claims a scan of the other tables it touches besides `{name}`; no scan was seen"
            ),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::trace::observe::{ObservedLock, RelationKind};
    use crate::{LockMode, Settings, lint_sql};

    fn users() -> Relation {
        Relation {
            oid: 1,
            schema: "public".to_owned(),
            name: "users".to_owned(),
            kind: RelationKind::Table,
        }
    }

    fn observed(mode: LockMode, rewrite: bool, scan: bool) -> Observation {
        Observation {
            status: Status::Succeeded,
            method: Method::InTransaction,
            locks: vec![ObservedLock {
                relation: users(),
                mode,
                held_before: false,
            }],
            rewrites: if rewrite { vec![users()] } else { Vec::new() },
            scans: Some(if scan { vec![users()] } else { Vec::new() }),
            duration: Duration::ZERO,
        }
    }

    fn disagreements(sql: &str, observation: &Observation, changes: Changes) -> Vec<Disagreement> {
        let settings = Settings::default().pg_version(15).unwrap();
        let report = lint_sql(sql, &settings);
        let lexed = crate::lexer::split(sql);
        let statement = crate::lower::lower_file(sql, &lexed).remove(0);
        compare(
            &statement.kind,
            observation,
            &report.files[0].diagnostics,
            false,
            15,
            changes,
        )
    }

    #[test]
    fn a_weaker_lock_than_claimed_is_a_false_alarm() {
        let sql = "CREATE INDEX users_email_idx ON users (email);";
        assert_eq!(
            disagreements(sql, &observed(LockMode::Share, false, true), Changes::Kept),
            []
        );
        let found = disagreements(
            sql,
            &observed(LockMode::RowExclusive, false, true),
            Changes::Kept,
        );
        assert_eq!(
            found,
            [Disagreement::FalseAlarm {
                rule: "create-index-non-concurrently",
                message: "it claims SHARE on `users`; the server took only ROW EXCLUSIVE"
                    .to_owned()
            }]
        );
        // The rolled-back mode may hide a mode an earlier migration took.
        assert_eq!(
            disagreements(
                sql,
                &observed(LockMode::RowExclusive, false, true),
                Changes::RolledBack
            ),
            []
        );
        let stronger = disagreements(
            sql,
            &observed(LockMode::AccessExclusive, false, true),
            Changes::Kept,
        );
        assert!(
            matches!(&stronger[..], [Disagreement::MissedHazard(m)] if m.contains("the stronger ACCESS EXCLUSIVE")),
            "{stronger:?}"
        );
        let unscanned = disagreements(sql, &observed(LockMode::Share, false, false), Changes::Kept);
        assert!(
            matches!(&unscanned[..], [Disagreement::FalseAlarm { message, .. }] if message.contains("no scan")),
            "{unscanned:?}"
        );
    }

    #[test]
    fn an_unreported_rewrite_or_blocking_lock_is_a_missed_hazard() {
        // A statement no rule reports (suppressed here), which the server rewrote under the lock.
        let sql = "-- migration-safety: ignore-file -- test\nALTER TABLE users ALTER COLUMN age TYPE bigint;";
        let found = disagreements(
            sql,
            &observed(LockMode::AccessExclusive, true, true),
            Changes::Kept,
        );
        let messages: Vec<_> = found.iter().map(Disagreement::message).collect();
        assert_eq!(found.len(), 3, "{messages:?}");
        assert!(messages[0].contains("rewrote table public.users"));
        assert!(messages[1].contains("read all of public.users while holding ACCESS EXCLUSIVE"));
        assert!(messages[2].contains("without a lock_timeout"));
        assert!(found.iter().all(|d| d.kind() == "missed-hazard"));
    }
}

//! Linting a run of migrations: each file is split, lowered, checked by every rule with the
//! schema the earlier migrations built, and its findings filtered by settings and suppressions.

use std::collections::HashMap;
use std::ops::Range;

use crate::context::{self, ConstantUses, Context, CreatedObjects, HeldLocks, NamedIdentifiers};
use crate::diagnostic::{Diagnostic, FileReport, Suppressed};
use crate::framework::{self, Sidecar};
use crate::layout::{Direction, Framework};
use crate::model::{Name, Part, Statement, StatementKind};
use crate::rule::{Finding, Findings, RuleMeta};
use crate::rules::{self, meta};
use crate::schema::{self, Schema};
use crate::settings::Settings;
use crate::source::SourceFile;
use crate::stats;
use crate::suppression::{self, Scope, Suppressions};
use crate::{lexer, lower};

/// A migration file read, split and parsed: all that does not depend on the migrations
/// before it, so that files are prepared in parallel and checked in order.
pub(crate) struct Prepared {
    path: String,
    pub(crate) source: SourceFile,
    framework: Framework,
    pub(crate) direction: Direction,
    markers: Vec<framework::Marker>,
    /// The text with what the framework does not run blanked out.
    pub(crate) masked: String,
    lexed: lexer::Lexed,
    pub(crate) statements: Vec<Statement>,
    pub(crate) sessions: Vec<context::Session>,
    created: CreatedObjects,
}

/// Split and parse `direction` of a migration file, run as `framework` runs it.
pub(crate) fn prepare(
    settings: &Settings,
    path: String,
    bytes: &[u8],
    framework: Framework,
    direction: Direction,
    sidecar: &Sidecar,
) -> Prepared {
    let source = SourceFile::from_bytes(bytes);
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let plan = framework::plan(framework, direction, source.text(), bom, sidecar);
    let masked = plan.mask(source.text());
    let lexed = lexer::split(&masked);
    let statements = lower::lower_file(&masked, &lexed);
    let sessions = context::sessions(&statements, &plan, settings.assumed("lock_timeout"));
    let created = CreatedObjects::find(&masked, &lexed);
    Prepared {
        path,
        source,
        framework,
        direction,
        markers: plan.markers,
        masked,
        lexed,
        statements,
        sessions,
        created,
    }
}

/// What the rules know about the file being checked, besides the schema.
struct FileFacts<'a> {
    path: &'a str,
    source: &'a str,
    lines: &'a SourceFile,
    file: usize,
    framework: Framework,
    statements: &'a [Statement],
    sessions: &'a [context::Session],
    created: &'a CreatedObjects,
    constants: &'a ConstantUses<'a>,
    held: &'a HeldLocks,
    identifiers: &'a NamedIdentifiers<'a>,
}

/// Migrations linted in order, sharing what they build.
pub(crate) struct Run<'s> {
    settings: &'s Settings,
    schema: Schema,
    files: usize,
}

impl<'s> Run<'s> {
    pub(crate) fn new(settings: &'s Settings) -> Self {
        Self {
            settings,
            schema: Schema::default(),
            files: 0,
        }
    }

    /// Continue a run from the schema an earlier one built over `files` files (see
    /// [`Run::into_schema`]).
    pub(crate) fn resume(settings: &'s Settings, schema: Schema, files: usize) -> Self {
        Self {
            settings,
            schema,
            files,
        }
    }

    /// The schema the migrations checked so far built, and how many files they were.
    pub(crate) fn into_schema(self) -> (Schema, usize) {
        (self.schema, self.files)
    }

    /// Lint the next migration file, run statement by statement outside any transaction.
    pub(crate) fn lint(&mut self, path: String, bytes: &[u8]) -> FileReport {
        self.lint_migration(
            path,
            bytes,
            Framework::Plain,
            Direction::Up,
            &Sidecar::default(),
        )
    }

    /// Lint `direction` of the next migration file, run as `framework` runs it.
    pub(crate) fn lint_migration(
        &mut self,
        path: String,
        bytes: &[u8],
        framework: Framework,
        direction: Direction,
        sidecar: &Sidecar,
    ) -> FileReport {
        let prepared = prepare(self.settings, path, bytes, framework, direction, sidecar);
        self.check(prepared)
    }

    /// Check the next migration file, prepared by [`prepare`], against the schema the earlier
    /// ones built.
    pub(crate) fn check(&mut self, prepared: Prepared) -> FileReport {
        let Prepared {
            path,
            source,
            framework,
            direction,
            markers,
            masked,
            lexed,
            statements,
            sessions,
            created,
        } = prepared;
        let constants = ConstantUses::find(&statements);
        // A down migration is checked against the schema its up migration left, and undoes
        // nothing for the migrations after it.
        let down = direction == Direction::Down;
        if down {
            self.schema.record();
        }
        let file = self.files;
        self.files += 1;
        let text = masked.as_str();
        let identifiers = NamedIdentifiers::new(text, &lexed);
        let mut held = HeldLocks::default();
        let mut findings = Vec::new();
        for (index, statement) in statements.iter().enumerate() {
            self.schema
                .set_search_path(sessions[index].search_path.clone());
            held.enter(&sessions[index]);
            let facts = FileFacts {
                path: &path,
                source: text,
                lines: &source,
                file,
                framework,
                statements: &statements,
                sessions: &sessions,
                created: &created,
                constants: &constants,
                held: &held,
                identifiers: &identifiers,
            };
            // A DO body's statements run in order, each seeing what the ones before it built.
            let (targets, in_do_block) = match &statement.kind {
                StatementKind::Do { body } => (flatten(body), true),
                _ => (vec![statement], false),
            };
            if in_do_block {
                check(
                    &self.context(&facts, index, None),
                    statement,
                    index,
                    &mut findings,
                );
            }
            for (position, target) in targets.into_iter().enumerate() {
                check(
                    &self.context(&facts, index, in_do_block.then_some(position)),
                    target,
                    index,
                    &mut findings,
                );
                self.schema.apply(&target.kind, file, index);
            }
            held.record(index, statement, |table| {
                self.schema
                    .table(table)
                    .is_some_and(|t| t.file == Some(file))
            });
        }
        for &offset in source.invalid_utf8() {
            findings.push(Finding {
                rule: meta::SYNTAX_ERROR,
                range: offset..offset + char::REPLACEMENT_CHARACTER.len_utf8(),
                message: "this byte is not valid UTF-8: migrations must be UTF-8 text".to_owned(),
                help: Some("re-save the file as UTF-8".to_owned()),
                anchor: None,
                cleared: false,
                touched: None,
                lock: None,
                fix: None,
            });
        }
        for marker in markers {
            findings.push(Finding {
                rule: meta::INEFFECTIVE_TRANSACTION_MARKER,
                range: marker.range,
                message: marker.message,
                help: Some(marker.help),
                anchor: None,
                cleared: false,
                touched: None,
                lock: None,
                fix: None,
            });
        }
        let suppressions = suppression::parse(text, &source, &lexed.comments, &statements);
        let (diagnostics, suppressed) = self.finish(&source, findings, &suppressions);
        if down {
            self.schema.rollback();
        }
        self.schema.set_search_path(schema::default_search_path());
        FileReport {
            path,
            framework,
            source: source.text().to_owned(),
            diagnostics,
            suppressed,
            application_code: false,
        }
    }

    /// The `schema-drift` findings once every migration is replayed: what the application's
    /// code in the working tree declares or queries that no migration creates, in one report
    /// per file of code.
    pub(crate) fn drift(&self) -> Vec<FileReport> {
        let Some(application) = self.settings.knowledge() else {
            return Vec::new();
        };
        let code = application.current();
        let exists = |t: &Name| self.schema.table(t).is_some() || self.schema.view(t).is_some();
        let mut by_file: std::collections::BTreeMap<&str, Vec<Finding>> = Default::default();
        for usage in &code.usages {
            let tables = &usage.reference.tables;
            let message = match &usage.reference.part {
                Part::Table => tables.iter().find(|t| !exists(t)).map(|t| {
                    format!("the application's code uses the table `{t}`, but no migration creates it: every query that touches it fails")
                }),
                Part::Column(column) => {
                    let known: Vec<_> = tables.iter().filter_map(|t| self.schema.table(t)).collect();
                    // A column of a view, or of a table no migration creates (reported as such).
                    let all_known = known.len() == tables.len();
                    (all_known && known.iter().all(|t| t.column(column).is_none())).then(|| {
                        let what = match tables.as_slice() {
                            [table] => format!("the column `{table}.{column}`"),
                            _ => format!(
                                "the column `{column}` (of {})",
                                tables.iter().map(|t| format!("`{t}`")).collect::<Vec<_>>().join(" or ")
                            ),
                        };
                        format!("the application's code uses {what}, but no migration creates it: every query that touches it fails")
                    })
                }
                Part::AllColumns => None,
            };
            let Some(message) = message else {
                continue;
            };
            let Some(text) = code.sources.get(&usage.file) else {
                continue;
            };
            by_file.entry(usage.file.as_str()).or_default().push(Finding {
                rule: meta::SCHEMA_DRIFT,
                range: code_range(text, usage.line, usage.column),
                message,
                help: Some("add the migration that creates it, or regenerate the code's schema knowledge from the migrated database (`diesel print-schema`, `cargo sqlx prepare`, `sea-orm-cli generate entity`)".to_owned()),
                anchor: None,
                cleared: false,
                touched: None,
                lock: None,
                fix: None,
            });
        }
        by_file
            .into_iter()
            .map(|(file, findings)| {
                let source = SourceFile::from_bytes(code.sources[file].as_bytes());
                let mut diagnostics: Vec<Diagnostic> = findings
                    .into_iter()
                    .filter_map(|f| self.diagnostic(&source, f))
                    .collect();
                diagnostics.sort_by_key(|d| d.range.start);
                diagnostics.dedup_by(|a, b| a.range == b.range && a.message == b.message);
                FileReport {
                    path: application.display_path(file),
                    framework: Framework::Plain,
                    source: source.text().to_owned(),
                    diagnostics,
                    suppressed: Vec::new(),
                    application_code: true,
                }
            })
            .filter(|report| !report.diagnostics.is_empty())
            .collect()
    }

    fn context<'a>(
        &'a self,
        facts: &FileFacts<'a>,
        index: usize,
        in_do_block: Option<usize>,
    ) -> Context<'a> {
        Context {
            settings: self.settings,
            path: facts.path,
            framework: facts.framework,
            schema: &self.schema,
            source: facts.source,
            file: facts.file,
            statements: facts.statements,
            sessions: facts.sessions,
            index,
            in_do_block: in_do_block.is_some(),
            position: in_do_block.unwrap_or_default(),
            lines: facts.lines,
            created: facts.created,
            constants: facts.constants,
            held: facts.held,
            identifiers: facts.identifiers,
        }
    }

    /// Apply settings and suppressions, add the suppression findings, and position everything.
    /// Returns the findings that stand and, apart, the ones a directive suppressed, each with
    /// the directive's reason.
    fn finish(
        &self,
        source: &SourceFile,
        findings: Vec<Finding>,
        suppressions: &Suppressions,
    ) -> (Vec<Diagnostic>, Vec<Suppressed>) {
        let mut used: Vec<Vec<bool>> = suppressions
            .directives
            .iter()
            .map(|d| vec![false; d.rules.len().max(1)])
            .collect();
        // The directives each finding may match, found without scanning them all.
        let mut file_wide: Vec<usize> = Vec::new();
        let mut on_statement: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, directive) in suppressions.directives.iter().enumerate() {
            match directive.scope {
                Scope::File => file_wide.push(i),
                Scope::Statement(Some(target)) => on_statement.entry(target).or_default().push(i),
                Scope::Statement(None) => {}
            }
        }
        let mut kept: Vec<Finding> = Vec::new();
        let mut suppressed: Vec<(Finding, Option<String>)> = Vec::new();
        'findings: for finding in findings {
            if suppressions.ignore_everything {
                let reason = format!("the file contains `{}`", suppression::IGNORE_FILE_MARKER);
                suppressed.push((finding, Some(reason)));
                continue;
            }
            let mut candidates = file_wide.clone();
            if let Some(found) = finding.anchor.and_then(|a| on_statement.get(&a)) {
                candidates.extend(found);
                candidates.sort_unstable();
            }
            for i in candidates {
                let (directive, used) = (&suppressions.directives[i], &mut used[i]);
                let rule = if directive.rules.is_empty() {
                    Some(0)
                } else {
                    directive
                        .rules
                        .iter()
                        .position(|r| r.name == finding.rule.name)
                };
                if let Some(i) = rule {
                    used[i] = true;
                    suppressed.push((finding, directive.reason.clone()));
                    continue 'findings;
                }
            }
            kept.push(finding);
        }
        if suppressions.ignore_everything {
            return (Vec::new(), self.suppressed(source, suppressed));
        }
        for near_miss in &suppressions.near_misses {
            kept.push(meta_finding(
                meta::UNUSED_SUPPRESSION,
                near_miss.range.clone(),
                near_miss.message.clone(),
            ));
        }
        for malformed in &suppressions.malformed {
            kept.push(meta_finding(
                meta::INVALID_SUPPRESSION,
                malformed.range.clone(),
                malformed.message.clone(),
            ));
        }
        for (directive, used) in suppressions.directives.iter().zip(&used) {
            if directive.rules.is_empty() && !used[0] {
                kept.push(meta_finding(
                    meta::UNUSED_SUPPRESSION,
                    directive.range.clone(),
                    "this `ignore-file` directive suppresses nothing: no rule reports anything in this file".to_owned(),
                ));
            }
            for (rule, used) in directive.rules.iter().zip(used) {
                if let Err(error) = rules::lookup(&rule.name) {
                    kept.push(meta_finding(
                        meta::INVALID_SUPPRESSION,
                        rule.range.clone(),
                        error.to_string(),
                    ));
                } else if !used {
                    let what = match directive.scope {
                        Scope::File => "in this file".to_owned(),
                        Scope::Statement(None) => {
                            "here: no statement follows the directive".to_owned()
                        }
                        Scope::Statement(Some(_)) => "on the statement it applies to".to_owned(),
                    };
                    kept.push(meta_finding(
                        meta::UNUSED_SUPPRESSION,
                        rule.range.clone(),
                        format!(
                            "`{}` reports nothing {what}, so this suppression is unused",
                            rule.name
                        ),
                    ));
                }
            }
        }
        let mut diagnostics: Vec<Diagnostic> = kept
            .into_iter()
            .filter_map(|f| self.diagnostic(source, f))
            .collect();
        diagnostics.sort_by(|a, b| (a.range.start, a.rule).cmp(&(b.range.start, b.rule)));
        (diagnostics, self.suppressed(source, suppressed))
    }

    /// The suppressed findings of rules the settings leave on, positioned, in source order.
    fn suppressed(
        &self,
        source: &SourceFile,
        findings: Vec<(Finding, Option<String>)>,
    ) -> Vec<Suppressed> {
        let mut suppressed: Vec<Suppressed> = findings
            .into_iter()
            .filter_map(|(f, reason)| {
                let diagnostic = self.diagnostic(source, f)?;
                Some(Suppressed { diagnostic, reason })
            })
            .collect();
        suppressed.sort_by(|a, b| {
            let key = |s: &Suppressed| (s.diagnostic.range.start, s.diagnostic.rule);
            key(a).cmp(&key(b))
        });
        suppressed
    }

    /// A finding at its settings' severity and positions, with the table statistics applied;
    /// `None` when its rule is off.
    fn diagnostic(&self, source: &SourceFile, finding: Finding) -> Option<Diagnostic> {
        let mut severity = self.settings.level(finding.rule)?;
        let mut message = finding.message;
        if let (Some(snapshot), Some(touched)) =
            (self.settings.table_statistics(), &finding.touched)
        {
            let subject = stats::annotate::Subject {
                rule: finding.rule,
                touched,
                lock: finding.lock,
            };
            (severity, message) = stats::annotate::annotate(
                snapshot,
                self.settings.small_table_row_limit(),
                self.settings.target_pg_version(),
                &subject,
                severity,
                message,
            );
        }
        // Nothing the running release uses is broken: not an error, whatever the table's size.
        if finding.cleared {
            severity = severity.min(crate::Severity::Warning);
        }
        let (start, end) = source.span(&finding.range);
        Some(Diagnostic {
            rule: finding.rule.name,
            severity,
            message,
            help: finding.help,
            range: finding.range,
            start,
            end,
            fix: finding.fix,
            lock: finding.lock,
        })
    }
}

/// The byte range of the name at a 1-based line and column (in characters) of `text`: the
/// identifier or quoted string there, else the rest of the line.
fn code_range(text: &str, line: usize, column: usize) -> Range<usize> {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    let rest = rest.split('\n').next().unwrap_or_default();
    let start = rest
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(rest.len(), |(i, _)| i);
    let tail = &rest[start..];
    let len = if let Some(quoted) = tail.strip_prefix('"') {
        quoted.find('"').map_or(tail.len(), |end| end + 2)
    } else {
        tail.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '#'))
            .unwrap_or(tail.len())
    };
    let len = if len == 0 { tail.trim_end().len() } else { len };
    line_start + start..line_start + start + len
}

fn meta_finding(rule: &'static RuleMeta, range: Range<usize>, message: String) -> Finding {
    Finding {
        rule,
        range,
        message,
        help: None,
        anchor: None,
        cleared: false,
        touched: None,
        lock: None,
        fix: None,
    }
}

fn check(cx: &Context<'_>, statement: &Statement, anchor: usize, out: &mut Vec<Finding>) {
    let first = out.len();
    for rule in rules::ALL {
        let mut findings = Findings::new(rule.meta(), Some(anchor));
        rule.check(cx, statement, &mut findings);
        out.append(&mut findings.found);
    }
    if out.len() == first {
        return;
    }
    let lock = cx.statement_lock(statement);
    for finding in &mut out[first..] {
        finding.lock = lock;
    }
    // With table statistics, what the statement touches, resolved now: the `search_path`
    // in force and the schema are the statement's.
    if cx.settings.table_statistics().is_some() {
        let touched = stats::annotate::touched(cx.schema, statement);
        for finding in &mut out[first..] {
            finding.touched = Some(touched.clone());
        }
    }
}

/// The statements of a `DO` body, with `EXECUTE 'constant'` bodies expanded in place.
pub(crate) fn flatten(body: &[Statement]) -> Vec<&Statement> {
    body.iter()
        .flat_map(|s| match &s.kind {
            StatementKind::Do { body } => flatten(body),
            _ => vec![s],
        })
        .collect()
}

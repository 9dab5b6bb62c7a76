//! Linting a run of migrations: each file is split, lowered, checked by every rule with the
//! schema the earlier migrations built, and its findings filtered by settings and suppressions.

use std::ops::Range;

use crate::context::{self, Context};
use crate::diagnostic::{Diagnostic, FileReport};
use crate::framework::{self, Sidecar};
use crate::layout::{Direction, Framework};
use crate::model::{Statement, StatementKind};
use crate::rule::{Finding, Findings, RuleMeta};
use crate::rules::{self, meta};
use crate::schema::{self, Schema};
use crate::settings::Settings;
use crate::source::SourceFile;
use crate::suppression::{self, Scope, Suppressions};
use crate::{lexer, lower};

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
        // A down migration is checked against the schema its up migration left, and undoes
        // nothing for the migrations after it.
        let down = direction == Direction::Down;
        if down {
            self.schema.record();
        }
        let file = self.files;
        self.files += 1;
        let source = SourceFile::from_bytes(bytes);
        let bom = bytes.starts_with(b"\xEF\xBB\xBF");
        let plan = framework::plan(framework, direction, source.text(), bom, sidecar);
        let masked = plan.mask(source.text());
        let text = masked.as_str();
        let lexed = lexer::split(text);
        let statements = lower::lower_file(text, &lexed);
        let sessions = context::sessions(&statements, &plan, self.settings.assumed("lock_timeout"));
        let mut findings = Vec::new();
        for (index, statement) in statements.iter().enumerate() {
            self.schema
                .set_search_path(sessions[index].search_path.clone());
            // A DO body's statements run in order, each seeing what the ones before it built.
            let (targets, in_do_block) = match &statement.kind {
                StatementKind::Do { body } => (flatten(body), true),
                _ => (vec![statement], false),
            };
            if in_do_block {
                check(
                    &self.context(text, file, framework, &statements, &sessions, index, false),
                    statement,
                    index,
                    &mut findings,
                );
            }
            for target in targets {
                let cx = self.context(
                    text,
                    file,
                    framework,
                    &statements,
                    &sessions,
                    index,
                    in_do_block,
                );
                check(&cx, target, index, &mut findings);
                self.schema.apply(&target.kind, file, index);
            }
        }
        for &offset in source.invalid_utf8() {
            findings.push(Finding {
                rule: meta::SYNTAX_ERROR,
                range: offset..offset + char::REPLACEMENT_CHARACTER.len_utf8(),
                message: "this byte is not valid UTF-8: migrations must be UTF-8 text".to_owned(),
                help: Some("re-save the file as UTF-8".to_owned()),
                anchor: None,
            });
        }
        for marker in plan.markers {
            findings.push(Finding {
                rule: meta::INEFFECTIVE_TRANSACTION_MARKER,
                range: marker.range,
                message: marker.message,
                help: Some(marker.help),
                anchor: None,
            });
        }
        let suppressions = suppression::parse(text, &lexed.comments, &statements);
        let diagnostics = self.finish(&source, findings, &suppressions);
        if down {
            self.schema.rollback();
        }
        self.schema.set_search_path(schema::default_search_path());
        FileReport {
            path,
            source: source.text().to_owned(),
            diagnostics,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn context<'a>(
        &'a self,
        source: &'a str,
        file: usize,
        framework: Framework,
        statements: &'a [Statement],
        sessions: &'a [context::Session],
        index: usize,
        in_do_block: bool,
    ) -> Context<'a> {
        Context {
            settings: self.settings,
            framework,
            schema: &self.schema,
            source,
            file,
            statements,
            sessions,
            index,
            in_do_block,
        }
    }

    /// Apply settings and suppressions, add the suppression findings, and position everything.
    fn finish(
        &self,
        source: &SourceFile,
        findings: Vec<Finding>,
        suppressions: &Suppressions,
    ) -> Vec<Diagnostic> {
        if suppressions.ignore_everything {
            return Vec::new();
        }
        let mut used: Vec<Vec<bool>> = suppressions
            .directives
            .iter()
            .map(|d| vec![false; d.rules.len().max(1)])
            .collect();
        let mut kept: Vec<Finding> = Vec::new();
        'findings: for finding in findings {
            for (directive, used) in suppressions.directives.iter().zip(&mut used) {
                let applies = match directive.scope {
                    Scope::File => true,
                    Scope::Statement(target) => target.is_some() && target == finding.anchor,
                };
                if !applies {
                    continue;
                }
                if directive.rules.is_empty() {
                    used[0] = true;
                    continue 'findings;
                }
                if let Some(i) = directive
                    .rules
                    .iter()
                    .position(|r| r.name == finding.rule.name)
                {
                    used[i] = true;
                    continue 'findings;
                }
            }
            kept.push(finding);
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
            .filter_map(|f| {
                let severity = self.settings.level(f.rule)?;
                let (start, end) = source.span(&f.range);
                Some(Diagnostic {
                    rule: f.rule.name,
                    severity,
                    message: f.message,
                    help: f.help,
                    range: f.range,
                    start,
                    end,
                })
            })
            .collect();
        diagnostics.sort_by(|a, b| (a.range.start, a.rule).cmp(&(b.range.start, b.rule)));
        diagnostics
    }
}

fn meta_finding(rule: &'static RuleMeta, range: Range<usize>, message: String) -> Finding {
    Finding {
        rule,
        range,
        message,
        help: None,
        anchor: None,
    }
}

fn check(cx: &Context<'_>, statement: &Statement, anchor: usize, out: &mut Vec<Finding>) {
    for rule in rules::ALL {
        let mut findings = Findings::new(rule.meta(), Some(anchor));
        rule.check(cx, statement, &mut findings);
        out.append(&mut findings.found);
    }
}

/// The statements of a `DO` body, with `EXECUTE 'constant'` bodies expanded in place.
fn flatten(body: &[Statement]) -> Vec<&Statement> {
    body.iter()
        .flat_map(|s| match &s.kind {
            StatementKind::Do { body } => flatten(body),
            _ => vec![s],
        })
        .collect()
}

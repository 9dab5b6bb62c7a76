//! `human`: rustc-style diagnostics for people, with the source excerpt, the why and the safe
//! alternative.

use std::io::{self, Write};
use std::ops::Range;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

use rayon::prelude::*;

use super::{Incremental, Totals};
use crate::diagnostic::{Diagnostic, Directory, FileReport, Report};
use crate::rule::{Category, Severity};

/// Rustc-style diagnostics, file by file; then a note on how each directory was read and a
/// summary line.
pub(crate) struct Human {
    renderer: Renderer,
}

impl Human {
    /// Plain text, or styled with ANSI escapes when `color`.
    pub(crate) fn new(color: bool) -> Self {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        Self { renderer }
    }
}

impl Incremental for Human {
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        // Each diagnostic renders on its own (annotate-snippets is most of the time of a
        // report with many findings): render them in parallel, then write them in order.
        let rendered: Vec<String> = file
            .diagnostics
            .par_iter()
            .map(|diagnostic| render_one(&self.renderer, file, diagnostic))
            .collect();
        for one in rendered {
            out.write_all(one.as_bytes())?;
            out.write_all(b"\n\n")?;
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, outline: &Report, totals: &Totals) -> io::Result<()> {
        for skipped in &outline.skipped {
            writeln!(out, "note: {skipped}")?;
        }
        for directory in &outline.directories {
            writeln!(out, "note: {}", note(directory))?;
        }
        for note in &outline.notes {
            writeln!(out, "note: {note}")?;
        }
        writeln!(out, "{}", super::summary(totals))
    }
}

/// One diagnostic, rustc-style.
fn render_one(renderer: &Renderer, file: &FileReport, diagnostic: &Diagnostic) -> String {
    let level = match diagnostic.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let (excerpt, excerpt_span) = excerpt(&file.source, &diagnostic.range);
    let mut group: Group<'_> = level
        .primary_title(diagnostic.message.as_str())
        .id(diagnostic.rule)
        .element(
            Snippet::source(excerpt)
                .line_start(diagnostic.start.line)
                .path(file.path.as_str())
                .annotation(AnnotationKind::Primary.span(excerpt_span.clone())),
        );
    if let Some(help) = &diagnostic.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let suppressible = super::meta(diagnostic.rule).category != Category::Meta;
    if suppressible {
        group = group.element(Level::NOTE.message(format!(
            "to accept the risk knowingly, put `-- migration-safety: ignore {} -- <reason>` on the line above the statement",
            diagnostic.rule
        )));
    }
    let rendered = renderer.render(&[group]);
    // The excerpt of a long line starts inside it, so the column annotate-snippets counts is
    // the one within the excerpt: put the file's column in its place.
    let counted = excerpt[..excerpt_span.start].chars().count() + 1;
    if counted == diagnostic.start.column {
        return rendered;
    }
    let (line, path) = (diagnostic.start.line, &file.path);
    rendered.replacen(
        &format!("{path}:{line}:{counted}"),
        &format!("{path}:{line}:{}", diagnostic.start.column),
        1,
    )
}

/// How much of a long line around a span the excerpt keeps, in bytes on each side.
const CONTEXT: usize = 256;

/// The lines a range covers, cut to [`CONTEXT`] bytes on either side of the range, and the
/// range within them: rendering a diagnostic costs the size of its statement, not of the
/// file, even when the whole file is one line.
fn excerpt<'s>(source: &'s str, range: &Range<usize>) -> (&'s str, Range<usize>) {
    let floor = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let ceil = |mut i: usize| {
        while !source.is_char_boundary(i) {
            i += 1;
        }
        i
    };
    let window_start = floor(range.start.saturating_sub(CONTEXT));
    let start = source[window_start..range.start]
        .rfind('\n')
        .map_or(window_start, |i| window_start + i + 1);
    let window_end = ceil((range.end + CONTEXT).min(source.len()));
    let mut end = source[range.end..window_end]
        .find('\n')
        .map_or(window_end, |i| range.end + i);
    if end > range.end && source[..end].ends_with('\r') {
        end -= 1;
    }
    (&source[start..end], range.start - start..range.end - start)
}

/// How a directory was read, or that it holds nothing to check.
pub(crate) fn note(directory: &Directory) -> String {
    let how = if directory.detected {
        "detected from its files"
    } else {
        "as configured"
    };
    if directory.migrations == 0 {
        format!("`{}` holds no migrations: nothing to check", directory.path)
    } else {
        format!(
            "read `{}` as {} migrations ({how})",
            directory.path, directory.framework
        )
    }
}

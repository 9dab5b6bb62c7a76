//! `check`'s output, written to standard output as the run checks each file: memory follows
//! the largest file, not the directory.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::changed::Changed;
use crate::render::{Format, Renderer, Totals};
use crate::{FailOn, Lint, Report};

/// What `check` of paths wrote, counted.
pub(crate) struct Checked {
    /// The report without files: its directories and notes.
    pub(crate) outline: Report,
    /// What the files written added up to.
    pub(crate) totals: Totals,
    /// The migration files checked and reported (not the application's code).
    pub(crate) migrations: usize,
    /// Those of them written: the ones `--changed-since` names, or all.
    pub(crate) changed: usize,
}

/// How many checked files may wait for the output: enough to keep the checks going while a
/// file with many findings is written, few enough that memory still follows the largest file.
const AHEAD: usize = 16;

/// Check the migrations of `lint`, writing each file's part of the output in `format` to
/// `stdout` as soon as it is checked. With `changed`, only the migrations it holds are
/// written (the application's code always is).
///
/// The checks, which replay the schema in order, run on a thread of their own and hand each
/// file over to this one, which renders and writes it: rendering (most of the time of output
/// for people) goes on beside the checks instead of between them.
pub(crate) fn check(
    lint: Lint<'_>,
    changed: Option<&Changed>,
    format: Format,
    fail_on: FailOn,
    color: bool,
    stdout: &mut dyn Write,
) -> Result<Checked, String> {
    let out = Output::new(stdout, format != Format::Human);
    let mut renderer =
        Renderer::start(out, format, fail_on, color, lint.outline()).map_err(cannot_write)?;
    let (mut migrations, mut written) = (0, 0);
    let mut failed = None;
    let (files, checked) = std::sync::mpsc::sync_channel(AHEAD);
    let outline = std::thread::scope(|scope| {
        let checks = std::thread::Builder::new()
            .name("checks".to_owned())
            // The stack of a main thread: the checks ran there before.
            .stack_size(8 << 20)
            .spawn_scoped(scope, move || {
                // A closed channel means the output side is gone; the checks end anyway.
                lint.each(|file| drop(files.send(file)))
            })
            .map_err(|e| format!("cannot start the checks: {e}"))?;
        for file in checked {
            if !file.application_code {
                migrations += 1;
                if changed.is_some_and(|changed| !changed.contains(Path::new(&file.path))) {
                    continue;
                }
                written += 1;
            }
            // Once the output is gone, the rest of the run only counts.
            if failed.is_none() {
                failed = renderer.file(&file).err();
            }
        }
        match checks.join() {
            Ok(outline) => outline.map_err(|e| e.to_string()),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })?;
    if let Some(error) = failed {
        return Err(cannot_write(error));
    }
    let (out, totals) = renderer.finish(&outline.notes).map_err(cannot_write)?;
    out.finish().map_err(cannot_write)?;
    Ok(Checked {
        outline,
        totals,
        migrations,
        changed: written,
    })
}

/// Write a finished report (standard input's) as [`check`] writes a run's.
pub(crate) fn report(
    report: &Report,
    format: Format,
    fail_on: FailOn,
    color: bool,
    stdout: &mut dyn Write,
) -> Result<(), String> {
    let out = Output::new(stdout, format != Format::Human);
    let mut renderer =
        Renderer::start(out, format, fail_on, color, report).map_err(cannot_write)?;
    for file in &report.files {
        renderer.file(file).map_err(cannot_write)?;
    }
    let (out, _) = renderer.finish(&report.notes).map_err(cannot_write)?;
    out.finish().map_err(cannot_write)
}

/// The message of a failed write to standard output.
fn cannot_write(error: io::Error) -> String {
    format!("cannot write output: {error}")
}

/// Standard output, buffered. Every format but the human one is printed as it was when it
/// was printed whole, its trailing whitespace trimmed to one line break: the whitespace
/// written last is held back until more text follows it.
struct Output<'a> {
    inner: BufWriter<&'a mut dyn Write>,
    /// The whitespace held back, when trimming.
    held: Option<Vec<u8>>,
}

impl<'a> Output<'a> {
    /// `stdout`, with its trailing whitespace trimmed when `trim`.
    fn new(stdout: &'a mut dyn Write, trim: bool) -> Self {
        Self {
            inner: BufWriter::with_capacity(1 << 16, stdout),
            held: trim.then(Vec::new),
        }
    }

    /// End the output: the line break that trimmed output ends with, then a flush.
    fn finish(mut self) -> io::Result<()> {
        if self.held.is_some() {
            self.inner.write_all(b"\n")?;
        }
        self.inner.flush()
    }
}

impl Write for Output<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(held) = &mut self.held else {
            return self.inner.write(buf);
        };
        // The renderers write whole strings, so a character is never cut between two writes.
        let kept = std::str::from_utf8(buf).map_or(buf.len(), |text| text.trim_end().len());
        if kept > 0 {
            self.inner.write_all(held)?;
            held.clear();
            self.inner.write_all(&buf[..kept])?;
        }
        held.extend_from_slice(&buf[kept..]);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `Output` writes of `pieces`, trimmed or not.
    fn written(pieces: &[&str], trim: bool) -> String {
        let mut stdout = Vec::new();
        let mut out = Output::new(&mut stdout, trim);
        for piece in pieces {
            out.write_all(piece.as_bytes()).unwrap();
        }
        out.finish().unwrap();
        String::from_utf8(stdout).unwrap()
    }

    #[test]
    fn trimmed_output_ends_as_printed_whole() {
        for pieces in [
            &["a \n", "b\n"][..],
            &[],
            &["\n", " \u{a0}"],
            &["a", " \n\n", "\t", "b  ", "\n"],
        ] {
            let whole = format!("{}\n", pieces.concat().trim_end());
            assert_eq!(written(pieces, true), whole, "{pieces:?}");
        }
        assert_eq!(written(&["a \n", "\n"], false), "a \n\n");
    }
}

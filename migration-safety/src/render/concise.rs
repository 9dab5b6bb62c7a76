//! `concise`: one line per finding, `path:line:col: severity[rule] message`, for grep and
//! editors' error parsers.

use std::io::{self, Write};

use super::Incremental;
use crate::diagnostic::FileReport;

/// A line per finding, as it comes; nothing before or after.
pub(crate) struct Concise;

impl Incremental for Concise {
    fn file(&mut self, out: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        for d in &file.diagnostics {
            writeln!(
                out,
                "{}:{}:{}: {}[{}] {}",
                file.path,
                d.start.line,
                d.start.column,
                d.severity,
                d.rule,
                d.message.replace(['\r', '\n'], " ")
            )?;
        }
        Ok(())
    }
}

//! `junit`: JUnit XML with one test case per migration file, so CI systems list migrations as
//! tests. A finding that fails the run (under `--fail-on`) is a `<failure>` of its file's test
//! case; the others are listed in the test case's `<system-out>`.

use std::io::{self, Write};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::{Incremental, Totals};
use crate::diagnostic::{Diagnostic, FileReport, Report};
use crate::settings::FailOn;

/// The JUnit document. Its counts are attributes of the opening elements, known only at the
/// end: the test cases are written as their files come to a document of their own, whose
/// opening elements carry no counts, and its text (each file's XML, not the file) is kept
/// until the end, when the opening elements with the counts take the place of those.
pub(crate) struct Junit {
    fail_on: FailOn,
    cases: Writer<Vec<u8>>,
    /// The length of the declaration and the opening elements without counts in `cases`.
    opening: usize,
}

impl Junit {
    /// Findings that fail under `fail_on` are failures of their test cases.
    pub(crate) fn new(fail_on: FailOn) -> Self {
        Self {
            fail_on,
            cases: writer(),
            opening: 0,
        }
    }
}

impl Incremental for Junit {
    fn start(&mut self, _: &mut dyn Write, _: &Report) -> io::Result<()> {
        opening(&mut self.cases, &[])?;
        self.opening = self.cases.get_ref().len();
        Ok(())
    }

    fn file(&mut self, _: &mut dyn Write, file: &FileReport) -> io::Result<()> {
        test_case(&mut self.cases, file, self.fail_on)
    }

    fn finish(&mut self, out: &mut dyn Write, _: &Report, totals: &Totals) -> io::Result<()> {
        for name in ["testsuite", "testsuites"] {
            self.cases.write_event(Event::End(BytesEnd::new(name)))?;
        }
        let (tests, failures) = (totals.files.to_string(), totals.failing_files.to_string());
        let mut head = writer();
        opening(
            &mut head,
            &[
                ("tests", tests.as_str()),
                ("failures", failures.as_str()),
                ("errors", "0"),
                ("skipped", "0"),
            ],
        )?;
        out.write_all(head.get_ref())?;
        out.write_all(&self.cases.get_ref()[self.opening..])?;
        out.write_all(b"\n")
    }
}

/// A writer that indents as the document does.
fn writer() -> Writer<Vec<u8>> {
    Writer::new_with_indent(Vec::new(), b' ', 2)
}

/// The XML declaration, and the opening `testsuites` and `testsuite` elements with `counts`.
fn opening(writer: &mut Writer<Vec<u8>>, counts: &[(&str, &str)]) -> io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    for name in ["testsuites", "testsuite"] {
        let element = BytesStart::new(name)
            .with_attributes([("name", "migration-safety")])
            .with_attributes(counts.iter().copied());
        writer.write_event(Event::Start(element))?;
    }
    Ok(())
}

fn test_case(writer: &mut Writer<Vec<u8>>, file: &FileReport, fail_on: FailOn) -> io::Result<()> {
    let path = xml_text(&file.path);
    let element = writer.create_element("testcase").with_attributes([
        ("name", path.as_str()),
        ("classname", "migration-safety"),
        ("file", path.as_str()),
    ]);
    if file.diagnostics.is_empty() {
        element.write_empty()?;
        return Ok(());
    }
    let (failing, passing): (Vec<&Diagnostic>, Vec<&Diagnostic>) = file
        .diagnostics
        .iter()
        .partition(|d| fail_on.fails(d.severity));
    element.write_inner_content(|writer| {
        for d in &failing {
            let message = xml_text(&d.message);
            writer
                .create_element("failure")
                .with_attributes([("type", d.rule), ("message", message.as_str())])
                .write_text_content(BytesText::new(&xml_text(&details(file, d))))?;
        }
        if !passing.is_empty() {
            let text: Vec<String> = passing.iter().map(|d| details(file, d)).collect();
            writer
                .create_element("system-out")
                .write_text_content(BytesText::new(&xml_text(&text.join("\n\n"))))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// A finding as a test failure's text: where, what, and the safe alternative.
fn details(file: &FileReport, d: &Diagnostic) -> String {
    let mut text = format!(
        "{}:{}:{}: {}[{}] {}",
        file.path, d.start.line, d.start.column, d.severity, d.rule, d.message
    );
    if let Some(help) = &d.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    text
}

/// Text XML 1.0 can carry: characters it forbids even escaped become U+FFFD.
fn xml_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => char::REPLACEMENT_CHARACTER,
            _ => c,
        })
        .collect()
}

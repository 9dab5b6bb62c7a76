//! `junit`: JUnit XML with one test case per migration file, so CI systems list migrations as
//! tests. A finding that fails the run (under `--fail-on`) is a `<failure>` of its file's test
//! case; the others are listed in the test case's `<system-out>`.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::diagnostic::{Diagnostic, FileReport, Report};
use crate::settings::FailOn;

pub(crate) fn render(report: &Report, fail_on: FailOn) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 2);
    write(&mut writer, report, fail_on).expect("writing to memory does not fail");
    let mut xml = String::from_utf8(writer.into_inner()).expect("the XML is UTF-8");
    xml.push('\n');
    xml
}

fn write(writer: &mut Writer<Vec<u8>>, report: &Report, fail_on: FailOn) -> io::Result<()> {
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let tests = report.files.len().to_string();
    let failures = report
        .files
        .iter()
        .filter(|f| f.diagnostics.iter().any(|d| fail_on.fails(d.severity)))
        .count()
        .to_string();
    let counts = [
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", "0"),
    ];
    writer
        .create_element("testsuites")
        .with_attribute(("name", "migration-safety"))
        .with_attributes(counts)
        .write_inner_content(|writer| {
            writer
                .create_element("testsuite")
                .with_attribute(("name", "migration-safety"))
                .with_attributes(counts)
                .write_inner_content(|writer| {
                    for file in &report.files {
                        test_case(writer, file, fail_on)?;
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
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

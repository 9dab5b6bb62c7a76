//! Never call valid PostgreSQL a syntax error, proven on a public corpus.
//!
//! The corpus is the schema and migration files that public packages ship (pinned in
//! `bench/corpus/manifest.toml`, fetched by `bench/corpus/fetch.py` into the directory
//! `MIGRATION_SAFETY_CORPUS` names). Every file is checked as a `plain` migration; every
//! statement reported as `syntax-error` or `unanalyzed-statement` is then sent to a real server
//! (one of [`servers`]: the one `MIGRATION_SAFETY_TEST_PG` names, as `.ci/run` sets it, else
//! the newest), inside a transaction that is rolled back, in a database of its own. The server's parser runs before anything else, so SQLSTATE 42601 (`syntax_error`) means
//! PostgreSQL rejects the statement's syntax; success or any other error (an unknown table, "cannot
//! run inside a transaction block", a PL/pgSQL body that fails at run time) means it parsed it.
//! A statement we call a syntax error that the server parses fails the test.
//!
//! Without the corpus or a server the test says so and does nothing, except under CI, where it
//! fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

use migration_safety::trace::postgres::{self, Client};
use migration_safety::{Framework, Settings, lint_paths, split_statements};
use migration_safety_e2e::server::{Server, servers};

/// The database the statements are parsed in.
const DATABASE: &str = "migration_safety_corpus";

/// What the server made of one statement.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// SQLSTATE 42601: the server rejects its syntax too.
    SyntaxError(String),
    /// It parsed: it ran, or failed for another reason (given).
    Parsed(Option<String>),
}

struct Parser {
    client: Client,
}

/// The server to parse on: the one `MIGRATION_SAFETY_TEST_PG` names (CI: PostgreSQL 15), else
/// the newest one started.
fn parsing_server() -> Option<Server> {
    let named = std::env::var("MIGRATION_SAFETY_TEST_PG").ok();
    let mut servers = servers();
    let at = servers
        .iter()
        .position(|s| Some(&s.url) == named.as_ref())
        .unwrap_or(servers.len().checked_sub(1)?);
    Some(servers.swap_remove(at))
}

impl Parser {
    /// A session in a fresh database [`DATABASE`] on `server`.
    fn connect(server: &Server) -> Self {
        server.create_database(DATABASE, None);
        Self {
            client: server.session(DATABASE, "migration_safety_corpus"),
        }
    }

    fn verdict(&mut self, statement: &str) -> Verdict {
        self.client
            .batch_execute("BEGIN; SET LOCAL statement_timeout = '10s'")
            .expect("a transaction");
        let result = self.client.batch_execute(statement);
        // The statement may have ended the transaction already (an error aborts it).
        let _ = self.client.batch_execute("ROLLBACK");
        match result {
            Ok(()) => Verdict::Parsed(None),
            Err(error) => {
                let message = error
                    .as_db_error()
                    .map_or_else(|| error.to_string(), |e| e.message().to_owned());
                if error.code() == Some(&postgres::error::SqlState::SYNTAX_ERROR) {
                    Verdict::SyntaxError(message)
                } else {
                    Verdict::Parsed(Some(message))
                }
            }
        }
    }
}

/// A line of the summary: how many statements of a rule the server parsed or rejected.
#[derive(Default)]
struct Tally {
    reported: usize,
    /// The statements whose syntax PostgreSQL rejects too.
    rejected: Vec<String>,
    /// The statements PostgreSQL parses.
    parsed: Vec<String>,
}

#[test]
fn the_public_corpus_has_no_false_syntax_error() {
    let (Some(corpus), Some(server)) = (
        std::env::var_os("MIGRATION_SAFETY_CORPUS"),
        parsing_server(),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "MIGRATION_SAFETY_CORPUS and a MIGRATION_SAFETY_TEST_PG_<major> server must be set: .ci/run fetches the corpus and starts PostgreSQL"
        );
        eprintln!(
            "skipped: run `export MIGRATION_SAFETY_CORPUS=\"$(python3 bench/corpus/fetch.py | tail -n 1)\"` and start a server with .ci/postgres.sh"
        );
        return;
    };
    let corpus = PathBuf::from(corpus);
    let settings = Settings::default().framework(Framework::Plain);
    let report = lint_paths(std::slice::from_ref(&corpus), &settings).expect("the corpus lints");
    assert!(
        report.files.len() > 1000,
        "the corpus at {} has {} files: run bench/corpus/fetch.py",
        corpus.display(),
        report.files.len()
    );

    let mut parser = Parser::connect(&server);
    let mut statements = 0;
    let mut tallies: BTreeMap<&str, Tally> = BTreeMap::new();
    for file in &report.files {
        let ranges = split_statements(&file.source);
        statements += ranges.len();
        let mut seen = Vec::new();
        for diagnostic in &file.diagnostics {
            if !matches!(diagnostic.rule, "syntax-error" | "unanalyzed-statement") {
                continue;
            }
            let at = diagnostic.range.start;
            let Some(range) = ranges
                .iter()
                .find(|r| r.contains(&at) || r.end == at)
                .cloned()
            else {
                panic!("{}: no statement holds the finding at byte {at}", file.path);
            };
            if seen.contains(&(diagnostic.rule, range.start)) {
                continue;
            }
            seen.push((diagnostic.rule, range.start));
            let tally = tallies.entry(diagnostic.rule).or_default();
            tally.reported += 1;
            let (verdict, list) = match parser.verdict(&file.source[range.clone()]) {
                Verdict::SyntaxError(message) => (message, &mut tally.rejected),
                Verdict::Parsed(error) => {
                    (error.unwrap_or_else(|| "ran".to_owned()), &mut tally.parsed)
                }
            };
            list.push(format!(
                "{}:{}:{}: {} ({verdict})\n    {}",
                file.path,
                diagnostic.start.line,
                diagnostic.start.column,
                diagnostic.message,
                file.source[range].trim().replace('\n', "\n    "),
            ));
        }
    }
    drop(parser);
    server.drop_database(DATABASE);

    eprintln!(
        "corpus: {} files, {statements} statements, parsed by PostgreSQL {}",
        report.files.len(),
        server.major
    );
    for (rule, tally) in &tallies {
        eprintln!(
            "{rule}: {} statements reported; PostgreSQL rejects the syntax of {}, parses {}",
            tally.reported,
            tally.rejected.len(),
            tally.parsed.len()
        );
    }
    if let Some(tally) = tallies.get("unanalyzed-statement") {
        for line in &tally.parsed {
            eprintln!("unanalysed, parsed by PostgreSQL: {line}");
        }
        for line in &tally.rejected {
            eprintln!("unanalysed, rejected by PostgreSQL: {line}");
        }
    }
    let false_errors = tallies
        .get("syntax-error")
        .map_or(&[][..], |t| &t.parsed[..]);
    assert!(
        false_errors.is_empty(),
        "{} statements PostgreSQL parses are reported as syntax errors:\n{}",
        false_errors.len(),
        false_errors.join("\n")
    );
}

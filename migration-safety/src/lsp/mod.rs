//! The language server (feature `lsp`, run by `migration-safety lsp`): findings while the
//! migration is being written.
//!
//! - **Diagnostics** when a document opens and on every change, for the files that their
//!   directory's layout lists as migrations. Each is linted against the schema the migrations
//!   before it build, replayed once and kept, so a keystroke re-lints one file; the settings
//!   come from the `migration-safety.toml` found from the file's directory up.
//! - **Code actions**: a finding's fix ([`crate::fix`]) as a workspace edit: edits in the
//!   migration (and in other files it names), and new phase files created and filled; and
//!   "suppress with a reason", which inserts a statement directive whose reason is a
//!   placeholder to fill in (a snippet placeholder where the client supports snippets).
//! - **Hover** on a finding or a statement: the statement's locks, and the documentation and
//!   measured claims of the rules that report it.
//! - A migration, side file or configuration file created, changed or deleted on disk (a new
//!   migration, a renamed one), or the application's code (its Rust sources, `.sqlx/`),
//!   refreshes the histories and re-lints the open documents. The server asks the client to
//!   watch them where it can register watchers, and refreshes on every save otherwise.
//! - The backward-incompatible rules consult the application's code as `check` does (`app`
//!   and `base_ref` in `migration-safety.toml`, see [`crate::app`]); the code at the base ref
//!   is read when a history is built, so a ref that moves (a fetch) is seen on the next
//!   refresh.
//!
//! Positions count UTF-8 bytes when the client offers that encoding
//! (`general.positionEncodings`), UTF-16 code units otherwise.

mod actions;
mod hover;
mod text;
mod workspace;

use std::collections::HashMap;
use std::error::Error;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{CodeActionRequest, HoverRequest, RegisterCapability, Request as _};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CodeDescription,
    DiagnosticSeverity, DidChangeWatchedFilesRegistrationOptions, FileSystemWatcher, GlobPattern,
    Hover, HoverContents, HoverProviderCapability, InitializeResult, MarkupContent, MarkupKind,
    NumberOrString, PublishDiagnosticsParams, Registration, RegistrationParams, SaveOptions,
    ServerCapabilities, ServerInfo, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri,
};
use serde_json::Value;

use crate::Severity;
use text::{Encoding, Lines};
use workspace::{Document, Histories, Lint};

/// The files whose change on disk changes a history: migrations, the side files that say how
/// one runs, the files framework detection reads, the configuration, and the application's
/// code that the backward-incompatible rules consult (its Rust sources, sqlx's offline data,
/// `diesel.toml`).
const WATCHED: &[&str] = &[
    "**/*.sql",
    "**/*.sql.conf",
    "**/metadata.toml",
    "**/migration_lock.toml",
    "**/atlas.sum",
    "**/Cargo.toml",
    "**/migration-safety.toml",
    "**/*.rs",
    "**/.sqlx/*.json",
    "**/diesel.toml",
];

/// Serve one client on standard input and output, until it asks the server to exit.
pub fn stdio() -> Result<(), Box<dyn Error + Send + Sync>> {
    let (connection, threads) = Connection::stdio();
    serve(connection)?;
    threads.join()?;
    Ok(())
}

/// Serve one client over `connection`: the initialize handshake, then requests and
/// notifications until `shutdown`. The client's `exit` notification follows it.
///
/// ```
/// use lsp_server::{Connection, Message, Notification, Request};
/// use serde_json::json;
///
/// # let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("1_users.sql"), "CREATE TABLE users (id bigint, email text);")?;
/// let migration = dir.path().join("2_index.sql");
/// std::fs::write(&migration, "")?;
/// let uri = url::Url::from_file_path(&migration).unwrap().to_string();
///
/// let (client, server) = Connection::memory();
/// let server = std::thread::spawn(move || migration_safety::lsp::serve(server).unwrap());
/// let send = |message: Message| client.sender.send(message).unwrap();
/// send(Request::new(1.into(), "initialize".into(), json!({ "capabilities": {} })).into());
/// let Message::Response(initialized) = client.receiver.recv()? else { panic!() };
/// assert_eq!(initialized.response_result.unwrap()["capabilities"]["positionEncoding"], "utf-16");
/// send(Notification::new("initialized".into(), json!({})).into());
/// send(Notification::new("textDocument/didOpen".into(), json!({ "textDocument": {
///     "uri": uri, "languageId": "sql", "version": 1,
///     "text": "CREATE INDEX users_email_idx ON users (email);",
/// }})).into());
/// let Message::Notification(published) = client.receiver.recv()? else { panic!() };
/// let diagnostic = &published.params["diagnostics"][0];
/// assert_eq!(diagnostic["code"], "create-index-non-concurrently");
/// assert_eq!(diagnostic["range"]["end"], json!({ "line": 0, "character": 46 }));
/// send(Request::new(2.into(), "shutdown".into(), json!(null)).into());
/// send(Notification::new("exit".into(), json!(null)).into());
/// server.join().unwrap();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve(connection: Connection) -> Result<(), Box<dyn Error + Send + Sync>> {
    let (id, params) = connection.initialize_start()?;
    let client = Client::from_capabilities(&params["capabilities"]);
    let result = InitializeResult {
        capabilities: capabilities(client.encoding),
        server_info: Some(ServerInfo {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
        }),
    };
    connection.initialize_finish(id, serde_json::to_value(result)?)?;
    let mut server = Server {
        connection,
        client,
        documents: HashMap::new(),
        histories: Histories::default(),
        next_request: 0,
    };
    if server.client.watches_files {
        server.watch_files()?;
    }
    server.run()
}

/// What the client supports, from its `initialize` capabilities.
struct Client {
    encoding: Encoding,
    /// It registers file watchers the server asks for (`workspace/didChangeWatchedFiles`).
    watches_files: bool,
    /// Workspace edits may be `documentChanges` with versions.
    document_changes: bool,
    /// Text edits in `documentChanges` may be snippets (LSP 3.18 `snippetEditSupport`).
    snippets: bool,
    /// `documentChanges` may create files.
    creates_files: bool,
}

impl Client {
    fn from_capabilities(capabilities: &Value) -> Self {
        let flag = |pointer: &str| capabilities.pointer(pointer) == Some(&Value::Bool(true));
        let offered: Option<Vec<lsp_types::PositionEncodingKind>> = capabilities
            .pointer("/general/positionEncodings")
            .and_then(|kinds| serde_json::from_value(kinds.clone()).ok());
        Self {
            encoding: Encoding::negotiate(offered.as_deref()),
            watches_files: flag("/workspace/didChangeWatchedFiles/dynamicRegistration"),
            document_changes: flag("/workspace/workspaceEdit/documentChanges"),
            snippets: flag("/workspace/workspaceEdit/snippetEditSupport"),
            creates_files: capabilities
                .pointer("/workspace/workspaceEdit/resourceOperations")
                .and_then(Value::as_array)
                .is_some_and(|kinds| kinds.contains(&Value::from("create"))),
        }
    }
}

fn capabilities(encoding: Encoding) -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(encoding.kind()),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

struct Server {
    connection: Connection,
    client: Client,
    documents: HashMap<Uri, Document>,
    histories: Histories,
    next_request: i32,
}

type Outcome = Result<(), Box<dyn Error + Send + Sync>>;

impl Server {
    fn run(&mut self) -> Outcome {
        while let Ok(message) = self.connection.receiver.recv() {
            match message {
                Message::Request(request) => {
                    if self.connection.handle_shutdown(&request)? {
                        return Ok(());
                    }
                    let response = self.respond(request);
                    self.connection.sender.send(response.into())?;
                }
                Message::Notification(notification) => self.notified(notification)?,
                // The answers to `client/registerCapability`: nothing to do.
                Message::Response(_) => {}
            }
        }
        Ok(())
    }

    /// Ask the client to report changes to the files that make up the histories.
    fn watch_files(&mut self) -> Outcome {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: WATCHED
                .iter()
                .map(|glob| FileSystemWatcher {
                    glob_pattern: GlobPattern::String((*glob).to_owned()),
                    kind: None,
                })
                .collect(),
        };
        let params = RegistrationParams {
            registrations: vec![Registration {
                id: "migration-safety-watched-files".to_owned(),
                method: DidChangeWatchedFiles::METHOD.to_owned(),
                register_options: Some(serde_json::to_value(options)?),
            }],
        };
        self.next_request += 1;
        let request = Request::new(
            RequestId::from(self.next_request),
            RegisterCapability::METHOD.to_owned(),
            params,
        );
        self.connection.sender.send(request.into())?;
        Ok(())
    }

    fn respond(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            HoverRequest::METHOD => request
                .extract::<lsp_types::HoverParams>(HoverRequest::METHOD)
                .map(|(_, params)| serde_json::to_value(self.hover(&params))),
            CodeActionRequest::METHOD => request
                .extract::<lsp_types::CodeActionParams>(CodeActionRequest::METHOD)
                .map(|(_, params)| Ok(Value::Array(self.code_actions(&params)))),
            method => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("migration-safety does not handle `{method}`"),
                );
            }
        };
        match result {
            Ok(Ok(value)) => Response::new_ok(id, value),
            Ok(Err(error)) => {
                Response::new_err(id, ErrorCode::InternalError as i32, error.to_string())
            }
            Err(error) => Response::new_err(id, ErrorCode::InvalidParams as i32, error.to_string()),
        }
    }

    fn notified(&mut self, notification: Notification) -> Outcome {
        match notification.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let params: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                let document = params.text_document;
                let opened = Document::new(&document.uri, document.version, document.text);
                self.documents.insert(document.uri.clone(), opened);
                self.lint(&document.uri)?;
            }
            DidChangeTextDocument::METHOD => {
                let params: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                let uri = params.text_document.uri;
                if let Some(document) = self.documents.get_mut(&uri) {
                    text::apply(
                        &mut document.text,
                        params.content_changes,
                        self.client.encoding,
                    );
                    document.version = params.text_document.version;
                    self.lint(&uri)?;
                }
            }
            DidSaveTextDocument::METHOD if !self.client.watches_files => {
                // Without watchers, a save is the one sign that a migration changed on disk.
                self.refresh()?;
            }
            DidCloseTextDocument::METHOD => {
                let params: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(notification.params)?;
                let uri = params.text_document.uri;
                if let Some(document) = self.documents.remove(&uri) {
                    self.publish(uri, Vec::new(), Some(document.version))?;
                }
            }
            DidChangeWatchedFiles::METHOD => self.refresh()?,
            _ => {}
        }
        Ok(())
    }

    /// Forget the histories and re-lint every open document.
    fn refresh(&mut self) -> Outcome {
        self.histories.clear();
        let uris: Vec<Uri> = self.documents.keys().cloned().collect();
        for uri in uris {
            self.lint(&uri)?;
        }
        Ok(())
    }

    /// Lint a document and publish its diagnostics.
    fn lint(&mut self, uri: &Uri) -> Outcome {
        let Some(document) = self.documents.get_mut(uri) else {
            return Ok(());
        };
        document.lint = workspace::lint(document, &mut self.histories);
        let diagnostics = diagnostics(document, self.client.encoding);
        let version = document.version;
        self.publish(uri.clone(), diagnostics, Some(version))
    }

    fn publish(
        &self,
        uri: Uri,
        diagnostics: Vec<lsp_types::Diagnostic>,
        version: Option<i32>,
    ) -> Outcome {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        let notification = Notification::new(PublishDiagnostics::METHOD.to_owned(), params);
        self.connection.sender.send(notification.into())?;
        Ok(())
    }

    fn hover(&self, params: &lsp_types::HoverParams) -> Option<Hover> {
        let at = &params.text_document_position_params;
        let document = self.documents.get(&at.text_document.uri)?;
        let Lint::Linted {
            history,
            diagnostics,
        } = &document.lint
        else {
            return None;
        };
        let bom = document.bom();
        let offset = Lines::new(&document.text, self.client.encoding)
            .offset(at.position)
            .saturating_sub(bom);
        let markdown = hover::markdown(history, &document.text[bom..], diagnostics, offset)?;
        Some(Hover {
            contents: HoverContents::Markup(MarkupContent {
                kind: MarkupKind::Markdown,
                value: markdown,
            }),
            range: None,
        })
    }

    fn code_actions(&self, params: &lsp_types::CodeActionParams) -> Vec<Value> {
        let uri = &params.text_document.uri;
        let Some(document) = self.documents.get(uri) else {
            return Vec::new();
        };
        let Lint::Linted { diagnostics, .. } = &document.lint else {
            return Vec::new();
        };
        let lines = Lines::new(&document.text, self.client.encoding);
        let bom = document.bom();
        let start = lines.offset(params.range.start).saturating_sub(bom);
        let end = lines.offset(params.range.end).saturating_sub(bom);
        let context = actions::Context {
            uri,
            document,
            lines: &lines,
            client: &self.client,
            documents: &self.documents,
        };
        diagnostics
            .iter()
            .filter(|d| d.range.start <= end && start <= d.range.end)
            .flat_map(|d| context.actions(d, diagnostic(document, &lines, d)))
            .collect()
    }
}

/// The document's findings as the client shows them.
fn diagnostics(document: &Document, encoding: Encoding) -> Vec<lsp_types::Diagnostic> {
    let lines = Lines::new(&document.text, encoding);
    match &document.lint {
        Lint::NotAMigration => Vec::new(),
        Lint::Failed(message) => vec![lsp_types::Diagnostic {
            range: lines.range(&(0..0)),
            severity: Some(DiagnosticSeverity::ERROR),
            source: Some(env!("CARGO_PKG_NAME").to_owned()),
            message: message.clone(),
            ..lsp_types::Diagnostic::default()
        }],
        Lint::Linted { diagnostics, .. } => diagnostics
            .iter()
            .map(|d| diagnostic(document, &lines, d))
            .collect(),
    }
}

/// One finding as the client shows it: the message, then the safe alternative.
fn diagnostic(
    document: &Document,
    lines: &Lines<'_>,
    finding: &crate::Diagnostic,
) -> lsp_types::Diagnostic {
    let bom = document.bom();
    let rule = crate::render::meta(finding.rule);
    let message = match &finding.help {
        Some(help) => format!("{}\n\nhelp: {help}", finding.message),
        None => finding.message.clone(),
    };
    lsp_types::Diagnostic {
        range: lines.range(&(finding.range.start + bom..finding.range.end + bom)),
        severity: Some(match finding.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(finding.rule.to_owned())),
        code_description: crate::render::docs_url(rule)
            .parse()
            .ok()
            .map(|href| CodeDescription { href }),
        source: Some(env!("CARGO_PKG_NAME").to_owned()),
        message,
        ..lsp_types::Diagnostic::default()
    }
}

//! The language server driven as editors drive it: the real `migration-safety lsp` binary,
//! over standard input and output, with JSON-RPC messages written here by hand; then Neovim's
//! built-in client (Neovim from Debian's packages, which `.ci/run` installs: where `nvim` is
//! missing that test says so on standard error and does nothing, except under CI, where it
//! fails).
//!
//! The migrations carry emoji and accented identifiers before the hazard, so that every
//! position proves the encoding: UTF-16 code units by default, UTF-8 bytes when offered.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use migration_safety_e2e::{available, cli_binary, git};
use serde_json::{Value, json};

/// The `migration-safety` binary, built once for all the tests of this file.
fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| cli_binary(env!("CARGO_CRATE_NAME")))
}

/// Long enough for any machine; only reached when the server stops answering.
const PATIENCE: Duration = Duration::from_secs(120);

/// A running server and the messages it sent that no request has consumed yet.
struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
    next_id: i64,
}

impl Server {
    /// Start `migration-safety lsp` and initialize it with the client `capabilities`; returns
    /// the server's capabilities.
    fn start(capabilities: Value) -> (Server, Value) {
        let mut child = Command::new(binary())
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (sender, messages) = channel();
        std::thread::spawn(move || {
            while let Some(message) = read_message(&mut stdout) {
                if sender.send(message).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            stdin,
            messages,
            next_id: 0,
        };
        let result = server.request("initialize", json!({ "capabilities": capabilities }));
        server.notify("initialized", json!({}));
        (server, result["capabilities"].clone())
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        write!(self.stdin, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        self.stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({ "jsonrpc": "2.0", "method": method, "params": params }));
    }

    /// Send a request and return its result, answering the server's own requests on the way.
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }));
        loop {
            let message = self.receive();
            if message["id"] == id && message.get("method").is_none() {
                assert!(message.get("error").is_none(), "{method} failed: {message}");
                return message["result"].clone();
            }
        }
    }

    /// The next message; a request from the server (`client/registerCapability`) is answered.
    fn receive(&mut self) -> Value {
        let message = match self.messages.recv_timeout(PATIENCE) {
            Ok(message) => message,
            Err(RecvTimeoutError::Timeout) => panic!("the server sent nothing for {PATIENCE:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
        };
        if message.get("method").is_some() && message.get("id").is_some() {
            let id = message["id"].clone();
            self.send(json!({ "jsonrpc": "2.0", "id": id, "result": null }));
        }
        message
    }

    /// The next message that is not a diagnostics notification.
    fn receive_other(&mut self) -> Value {
        loop {
            let message = self.receive();
            if message["method"] != "textDocument/publishDiagnostics" {
                return message;
            }
        }
    }

    /// The diagnostics published next for `uri`.
    fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        loop {
            let message = self.receive();
            if message["method"] == "textDocument/publishDiagnostics"
                && message["params"]["uri"] == uri
            {
                return message["params"]["diagnostics"].as_array().unwrap().clone();
            }
        }
    }

    /// Shut down and exit; the server ends with status 0.
    fn stop(mut self) {
        assert_eq!(self.request("shutdown", json!(null)), json!(null));
        self.notify("exit", json!(null));
        assert!(self.child.wait().unwrap().success());
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some(value) = header.strip_prefix("Content-Length: ") {
            length = Some(value.parse().unwrap());
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    Some(serde_json::from_slice(&body).unwrap())
}

/// A plain migrations directory: `1_cafe.sql` creates the table `café`.
fn migrations() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_cafe.sql"),
        "CREATE TABLE café (id bigint PRIMARY KEY, naïve text);\n",
    )
    .unwrap();
    dir
}

/// The second migration: multi-byte text before the hazard on its line.
const LINE: &str = "/* 🚀 déjà */ CREATE INDEX café_naïve_idx ON café (naïve);";
const TEXT: &str =
    "SET lock_timeout = '5s';\n/* 🚀 déjà */ CREATE INDEX café_naïve_idx ON café (naïve);\n";

fn uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The position of byte `offset` of [`LINE`] (on line 1) in UTF-16 units or UTF-8 bytes.
fn at(offset: usize, utf8: bool) -> Value {
    let prefix = &LINE[..offset];
    let character = if utf8 {
        prefix.len()
    } else {
        prefix.encode_utf16().count()
    };
    json!({ "line": 1, "character": character })
}

fn open(server: &mut Server, path: &Path, text: &str) -> Vec<Value> {
    std::fs::write(path, text).unwrap();
    let uri = uri(path);
    server.notify(
        "textDocument/didOpen",
        json!({ "textDocument": { "uri": uri, "languageId": "sql", "version": 1, "text": text } }),
    );
    server.diagnostics(&uri)
}

/// Insert `text` at a position of line 1 of the document; returns the diagnostics published.
fn insert(server: &mut Server, uri: &str, version: i32, character: u32, text: &str) -> Vec<Value> {
    let at = json!({ "line": 1, "character": character });
    server.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": version },
            "contentChanges": [{ "range": { "start": at, "end": at }, "text": text }],
        }),
    );
    server.diagnostics(uri)
}

/// The Markdown shown on hovering a position of line 1; `None` when there is nothing to show.
fn hover(server: &mut Server, uri: &str, character: u32) -> Option<String> {
    let hover = server.request(
        "textDocument/hover",
        json!({ "textDocument": { "uri": uri }, "position": { "line": 1, "character": character } }),
    );
    hover["contents"]["value"].as_str().map(str::to_owned)
}

/// The code action for `rule` at a position of line 1.
fn action(server: &mut Server, uri: &str, character: u32, rule: &str) -> Value {
    let at = json!({ "line": 1, "character": character });
    let actions = server.request(
        "textDocument/codeAction",
        json!({
            "textDocument": { "uri": uri },
            "range": { "start": at, "end": at },
            "context": { "diagnostics": [] },
        }),
    );
    actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["diagnostics"][0]["code"] == rule)
        .unwrap_or_else(|| panic!("no action for {rule} in {actions}"))
        .clone()
}

fn find<'a>(diagnostics: &'a [Value], rule: &str) -> Option<&'a Value> {
    diagnostics.iter().find(|d| d["code"] == rule)
}

#[test]
fn utf16_positions_by_default_and_a_suppression_round_trip() {
    let dir = migrations();
    let path = dir.path().join("2_index.sql");
    let (mut server, capabilities) = Server::start(json!({}));
    assert_eq!(capabilities["positionEncoding"], "utf-16");
    let uri = uri(&path);

    let diagnostics = open(&mut server, &path, TEXT);
    let create = LINE.find("CREATE").unwrap();
    let end = LINE.len();
    let index = find(&diagnostics, "create-index-non-concurrently").expect("the hazard");
    // 🚀 is 2 UTF-16 units, é and à one each: the statement starts at unit 14 (byte 18).
    assert_eq!(at(create, false), json!({ "line": 1, "character": 14 }));
    assert_eq!(
        index["range"],
        json!({ "start": at(create, false), "end": at(end, false) })
    );
    assert_eq!(index["severity"], 1);
    assert_eq!(index["source"], "migration-safety");
    let message = index["message"].as_str().unwrap();
    assert!(message.contains("SHARE lock on `\"café\"`"), "{message}");
    assert!(
        message.contains("CREATE INDEX CONCURRENTLY café_naïve_idx ON café (naïve);"),
        "{message}"
    );

    // An incremental change whose position is in UTF-16 units: a second rocket right after
    // the first (unit 5, byte 7). Read as bytes, it would land inside the first rocket.
    let diagnostics = insert(&mut server, &uri, 2, 5, "🚀");
    let index = find(&diagnostics, "create-index-non-concurrently").expect("still there");
    assert_eq!(
        index["range"]["start"],
        json!({ "line": 1, "character": 16 })
    );

    // Hover on `INDEX`: the locks and the rule's documentation.
    let hover = hover(&mut server, &uri, 25).expect("a hover");
    assert!(hover.contains("**CREATE INDEX**"), "{hover}");
    assert!(
        hover.contains("`SHARE` on `\"café\"`: blocks every INSERT, UPDATE and DELETE"),
        "{hover}"
    );
    assert!(
        hover.contains("`create-index-non-concurrently` (error)"),
        "{hover}"
    );
    assert!(hover.contains("## Why is this bad?"), "{hover}");
    assert!(
        hover.contains("Measured on PostgreSQL 12–18: table: SHARE, scan."),
        "{hover}"
    );

    // Suppress it: the directive goes on the line above, with a placeholder reason.
    let suppress = action(&mut server, &uri, 20, "create-index-non-concurrently");
    assert_eq!(suppress["kind"], "quickfix");
    let edits = &suppress["edit"]["changes"][uri.as_str()];
    assert_eq!(
        edits,
        &json!([{
            "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } },
            "newText": "-- migration-safety: ignore create-index-non-concurrently -- <reason>\n",
        }])
    );

    // The author applies it and writes the reason: the finding is gone.
    let directive = "-- migration-safety: ignore create-index-non-concurrently -- café is empty in production\n";
    server.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": 3 },
            "contentChanges": [{ "range": edits[0]["range"], "text": directive }],
        }),
    );
    let diagnostics = server.diagnostics(&uri);
    assert!(
        find(&diagnostics, "create-index-non-concurrently").is_none(),
        "{diagnostics:?}"
    );
    server.stop();
}

#[test]
fn utf8_positions_when_the_client_offers_them() {
    let dir = migrations();
    let path = dir.path().join("2_index.sql");
    let capabilities = json!({ "general": { "positionEncodings": ["utf-8", "utf-16"] } });
    let (mut server, capabilities) = Server::start(capabilities);
    assert_eq!(capabilities["positionEncoding"], "utf-8");
    let uri = uri(&path);

    let diagnostics = open(&mut server, &path, TEXT);
    let create = LINE.find("CREATE").unwrap();
    let index = find(&diagnostics, "create-index-non-concurrently").expect("the hazard");
    assert_eq!(at(create, true), json!({ "line": 1, "character": 18 }));
    assert_eq!(
        index["range"],
        json!({ "start": at(create, true), "end": at(LINE.len(), true) })
    );

    // A change at byte 7, right after the rocket: `CREATE` moves to byte 20 (unit 15).
    let diagnostics = insert(&mut server, &uri, 2, 7, "é");
    let index = find(&diagnostics, "create-index-non-concurrently").expect("still there");
    assert_eq!(
        index["range"]["start"],
        json!({ "line": 1, "character": 20 })
    );

    // Byte 17 is in the comment before the statement (unit 17 would be in `CREATE`): nothing
    // to show. Byte 22 is in `CREATE`.
    assert_eq!(hover(&mut server, &uri, 17), None);
    assert!(
        hover(&mut server, &uri, 22)
            .unwrap()
            .contains("**CREATE INDEX**")
    );
    server.stop();
}

#[test]
fn a_fix_is_a_code_action() {
    let dir = migrations();
    let path = dir.path().join("2_note.sql");
    let (mut server, _) = Server::start(json!({}));
    let uri = uri(&path);
    let diagnostics = open(
        &mut server,
        &path,
        "-- 🚀 déjà\nALTER TABLE café ADD COLUMN note text;\n",
    );
    assert!(
        find(&diagnostics, "missing-lock-timeout").is_some(),
        "{diagnostics:?}"
    );

    let fix = action(&mut server, &uri, 3, "missing-lock-timeout");
    assert_eq!(fix["isPreferred"], true, "the fix comes first: {fix}");
    let edits = fix["edit"]["changes"][uri.as_str()]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edits.len(), 1, "{fix}");
    assert!(
        edits[0]["newText"]
            .as_str()
            .unwrap()
            .contains("SET lock_timeout"),
        "{fix}"
    );
    // Applied as the client applies it, the finding is gone.
    server.notify(
        "textDocument/didChange",
        json!({
            "textDocument": { "uri": uri, "version": 2 },
            "contentChanges": [{ "range": edits[0]["range"], "text": edits[0]["newText"] }],
        }),
    );
    let diagnostics = server.diagnostics(&uri);
    assert!(
        find(&diagnostics, "missing-lock-timeout").is_none(),
        "{diagnostics:?}"
    );
    server.stop();
}

#[test]
fn files_changed_on_disk_refresh_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("3_index.sql");
    let capabilities = json!({ "workspace": {
        "didChangeWatchedFiles": { "dynamicRegistration": true },
        "workspaceEdit": { "documentChanges": true, "snippetEditSupport": true },
    }});
    let (mut server, _) = Server::start(capabilities);
    // The server asks the client to watch the migrations.
    let registration = server.receive_other();
    assert_eq!(registration["method"], "client/registerCapability");
    let watchers = &registration["params"]["registrations"][0];
    assert_eq!(watchers["method"], "workspace/didChangeWatchedFiles");
    assert!(
        watchers["registerOptions"]["watchers"]
            .as_array()
            .unwrap()
            .contains(&json!({ "globPattern": "**/*.sql" }))
    );
    let uri = uri(&path);
    let text = "SET lock_timeout = '5s';\nCREATE INDEX events_user_idx ON events (user_id);\n";
    let diagnostics = open(&mut server, &path, text);
    let message = find(&diagnostics, "create-index-non-concurrently").unwrap()["message"].clone();
    assert!(
        !message.as_str().unwrap().contains("partitioned"),
        "{message}"
    );

    // A new, earlier migration makes `events` a partitioned table.
    let created = dir.path().join("1_events.sql");
    std::fs::write(
        &created,
        "CREATE TABLE events (id bigint, user_id bigint) PARTITION BY RANGE (id);\n",
    )
    .unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": self::uri(&created), "type": 1 }] }),
    );
    let diagnostics = server.diagnostics(&uri);
    let message = find(&diagnostics, "create-index-non-concurrently").unwrap()["message"].clone();
    assert!(
        message
            .as_str()
            .unwrap()
            .contains("the partitioned table `events`"),
        "{message}"
    );

    // This client takes snippets: the reason is a placeholder to tab to.
    let suppress = action(&mut server, &uri, 0, "create-index-non-concurrently");
    assert_eq!(
        suppress["edit"]["documentChanges"][0],
        json!({
            "textDocument": { "uri": uri, "version": 1 },
            "edits": [{
                "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 0 } },
                "snippet": { "kind": "snippet", "value": "-- migration-safety: ignore create-index-non-concurrently -- ${1:<reason>}\n" },
            }],
        })
    );

    // Renamed after the open file, the migration no longer comes before it.
    let renamed = dir.path().join("4_events.sql");
    std::fs::rename(&created, &renamed).unwrap();
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [
            { "uri": self::uri(&created), "type": 3 },
            { "uri": self::uri(&renamed), "type": 1 },
        ]}),
    );
    let diagnostics = server.diagnostics(&uri);
    let message = find(&diagnostics, "create-index-non-concurrently").unwrap()["message"].clone();
    assert!(
        !message.as_str().unwrap().contains("partitioned"),
        "{message}"
    );

    // A file the layout does not list gets no diagnostics.
    let notes = dir.path().join("notes.txt");
    assert_eq!(
        open(&mut server, &notes, "DROP TABLE events;"),
        Vec::<Value>::new()
    );
    server.stop();
}

/// The backward-incompatible rules read the application's code as `check` does: with
/// `base_ref` in `migration-safety.toml`, dropping a column that the diesel schema at the base
/// still reads is an error naming the place; once the base stops reading it, the schema file
/// changed on disk (a watched `.rs` file) makes it a warning that says so.
#[test]
fn the_application_code_at_the_base_decides_a_dropped_column() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let schema = |columns: &str| {
        format!("diesel::table! {{\n    users (id) {{\n        id -> Int8,\n{columns}    }}\n}}\n")
    };
    for (path, text) in [
        (
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[dependencies]\ndiesel = \"2\"\n".to_owned(),
        ),
        ("migration-safety.toml", "base_ref = \"main\"\n".to_owned()),
        (
            "migrations/1_create.sql",
            "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n".to_owned(),
        ),
        ("src/schema.rs", schema("        name -> Nullable<Text>,\n")),
    ] {
        std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
        std::fs::write(root.join(path), text).unwrap();
    }
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "release 1 reads users.name"]);

    let capabilities =
        json!({ "workspace": { "didChangeWatchedFiles": { "dynamicRegistration": true } } });
    let (mut server, _) = Server::start(capabilities);
    let registration = server.receive_other();
    let watchers = &registration["params"]["registrations"][0]["registerOptions"]["watchers"];
    assert!(
        watchers
            .as_array()
            .unwrap()
            .contains(&json!({ "globPattern": "**/*.rs" })),
        "{watchers}"
    );
    let path = root.join("migrations/2_drop_name.sql");
    let text = "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN name;\n";
    let diagnostics = open(&mut server, &path, text);
    let dropped = find(&diagnostics, "drop-column").unwrap();
    assert_eq!(dropped["severity"], 1, "{dropped}");
    assert!(
        dropped["message"]
            .as_str()
            .unwrap()
            .contains("the code at `main` still reads `users.name`: src/schema.rs:4: users.name"),
        "{dropped}"
    );

    // Release 2, which no longer reads the column, is on `main`.
    let schema_file = root.join("src/schema.rs");
    std::fs::write(&schema_file, schema("")).unwrap();
    git(root, &["add", "src/schema.rs"]);
    git(
        root,
        &["commit", "-q", "-m", "release 2 stops reading users.name"],
    );
    server.notify(
        "workspace/didChangeWatchedFiles",
        json!({ "changes": [{ "uri": uri(&schema_file), "type": 2 }] }),
    );
    let diagnostics = server.diagnostics(&uri(&path));
    let dropped = find(&diagnostics, "drop-column").unwrap();
    assert_eq!(dropped["severity"], 2, "{dropped}");
    assert!(
        dropped["message"]
            .as_str()
            .unwrap()
            .contains("no code at `main` reads `users.name`"),
        "{dropped}"
    );
    server.stop();
}

/// Neovim's own client (`vim.lsp.start_client`, which Neovim 0.7, Debian 12's, has): it opens
/// the migration, the server lints it, and Neovim's diagnostics say what and where, in the
/// byte columns Neovim converts the server's UTF-16 positions to.
#[test]
fn neovim_shows_the_diagnostics() {
    if !available("nvim", "the Neovim test (Debian: `apt-get install neovim`)") {
        return;
    }
    let dir = migrations();
    let path = dir.path().join("2_index.sql");
    std::fs::write(&path, TEXT).unwrap();
    let out = dir.path().join("diagnostics.txt");
    let script = dir.path().join("check.lua");
    std::fs::write(&script, NVIM_SCRIPT).unwrap();
    let output = Command::new("nvim")
        .args([
            "--headless",
            "--clean",
            "-n",
            "-i",
            "NONE",
            "-u",
            "NONE",
            "-c",
        ])
        .arg(format!("luafile {}", script.display()))
        .env("MS_BIN", binary())
        .env("MS_FILE", &path)
        .env("MS_OUT", &out)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = std::fs::read_to_string(&out).unwrap_or_else(|_| {
        panic!(
            "Neovim wrote no diagnostics:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let lines: Vec<&str> = report.lines().collect();
    let create = LINE.find("CREATE").unwrap();
    let expected =
        format!("1:{create}:create-index-non-concurrently:E:creating index `\"café_naïve_idx\"`");
    assert!(
        lines.iter().any(|l| l.starts_with(&expected)),
        "expected a line starting with {expected:?} in:\n{report}"
    );
}

/// Open the file, start the server on it, wait for its diagnostics, write them one a line:
/// `line:byte column:code:severity letter:message`, 0-based as Neovim keeps them.
const NVIM_SCRIPT: &str = r#"
local file, out = vim.env.MS_FILE, vim.env.MS_OUT
vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local client = vim.lsp.start_client({
  name = 'migration-safety',
  cmd = { vim.env.MS_BIN, 'lsp' },
  root_dir = vim.fn.fnamemodify(file, ':h'),
})
vim.lsp.buf_attach_client(buf, client)
vim.wait(120000, function() return #vim.diagnostic.get(buf) > 0 end, 50)
local lines = {}
local letters = { 'E', 'W', 'I', 'H' }
for _, d in ipairs(vim.diagnostic.get(buf)) do
  local message = d.message:gsub('\n.*', '')
  table.insert(lines, string.format('%d:%d:%s:%s:%s', d.lnum, d.col, d.code or '', letters[d.severity], message))
end
vim.fn.writefile(lines, out)
vim.lsp.stop_client(client)
vim.cmd('qa!')
"#;

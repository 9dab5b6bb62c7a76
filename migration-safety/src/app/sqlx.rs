//! sqlx: the queries of the offline data `cargo sqlx prepare` writes (`.sqlx/query-<hash>.json`:
//! `db_name`, `query`, `describe`, `hash`), and the SQL of the query macros and functions in
//! `src/`, read with syn. The tables and columns come from the query text, through
//! [`crate::parse::query_references`].

use syn::punctuated::Punctuated;
use syn::visit::Visit;
use syn::{Expr, Lit, Token};

use super::{Code, RustFile, Tree, position};

/// The macros whose first argument is the SQL, and those whose second is (after the type).
const MACROS: &[&str] = &[
    "query",
    "query_scalar",
    "query_unchecked",
    "query_scalar_unchecked",
];
const TYPED_MACROS: &[&str] = &["query_as", "query_as_unchecked"];
/// The same, with a path to a `.sql` file (relative to the crate root) instead of the SQL.
const FILE_MACROS: &[&str] = &[
    "query_file",
    "query_file_scalar",
    "query_file_unchecked",
    "query_file_scalar_unchecked",
];
const TYPED_FILE_MACROS: &[&str] = &["query_file_as", "query_file_as_unchecked"];
/// Functions whose first argument is the SQL, called by a path through sqlx
/// (`sqlx::query("…")`).
const FUNCTIONS: &[&str] = &["query", "query_as", "query_scalar", "query_as_with"];

pub(super) fn read(tree: &dyn Tree, rust: &[RustFile], code: &mut Code) {
    let offline: Vec<&str> = tree
        .files()
        .iter()
        .map(String::as_str)
        .filter(|p| {
            p.strip_prefix(".sqlx/query-")
                .is_some_and(|rest| rest.ends_with(".json") && !rest.contains('/'))
        })
        .collect();
    for (path, text) in offline.iter().zip(tree.read(&offline)) {
        match text {
            Some(text) => offline_query(path, &text, code),
            None => code.problem(path, None, "cannot be read"),
        }
    }
    let mut files: Vec<(String, String, usize, usize)> = Vec::new();
    for file in rust {
        let mut finder = Finder {
            file: &file.path,
            code,
            files: &mut files,
        };
        finder.visit_file(&file.syntax);
    }
    let paths: Vec<&str> = files.iter().map(|(sql, ..)| sql.as_str()).collect();
    let texts = tree.read(&paths);
    for ((sql_path, rust_path, line, column), text) in files.iter().zip(texts) {
        match text {
            Some(sql) => query(code, &sql, rust_path, (*line, *column)),
            None => code.problem(
                rust_path,
                Some(*line),
                format!("the query file `{sql_path}` cannot be read"),
            ),
        }
    }
}

/// The fields of an offline query file that matter here.
#[derive(serde::Deserialize)]
struct Offline {
    db_name: String,
    query: String,
}

fn offline_query(path: &str, text: &str, code: &mut Code) {
    let data: Offline = match serde_json::from_str(text) {
        Ok(data) => data,
        Err(error) => {
            code.problem(
                path,
                Some(error.line()),
                format!("is not sqlx offline query data: {error}"),
            );
            return;
        }
    };
    if data.db_name != "PostgreSQL" {
        code.problem(
            path,
            None,
            format!("holds a {} query, not a PostgreSQL one", data.db_name),
        );
        return;
    }
    // The line of `"query":`, where `cargo sqlx prepare` puts it.
    let line = text
        .lines()
        .position(|l| l.trim_start().starts_with("\"query\""))
        .map_or(1, |i| i + 1);
    query(code, &data.query, path, (line, 1));
}

/// Record the tables and columns of `sql`, found at `file:line`.
fn query(code: &mut Code, sql: &str, file: &str, at: (usize, usize)) {
    match crate::parse::query_references(sql) {
        Ok(references) => code.add(references, file, at),
        Err(error) => code.problem(
            file,
            Some(at.0),
            format!("this query does not parse: {error}"),
        ),
    }
}

/// Finds the query macros and functions of one file.
struct Finder<'a> {
    file: &'a str,
    code: &'a mut Code,
    /// `query_file…!` paths to read: `(sql file, rust file, line, column)`.
    files: &'a mut Vec<(String, String, usize, usize)>,
}

impl Finder<'_> {
    fn literal(&mut self, expr: Option<&Expr>, what: &str, at: (usize, usize)) -> Option<String> {
        match expr {
            Some(Expr::Lit(syn::ExprLit {
                lit: Lit::Str(text),
                ..
            })) => Some(text.value()),
            _ => {
                self.code.problem(
                    self.file,
                    Some(at.0),
                    format!("the {what} of this query is not a string literal, so its tables and columns cannot be read"),
                );
                None
            }
        }
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        let Some(name) = mac.path.segments.last().map(|s| s.ident.to_string()) else {
            return;
        };
        let name = name.as_str();
        let (sql_at, is_file) = if MACROS.contains(&name) {
            (0, false)
        } else if TYPED_MACROS.contains(&name) {
            (1, false)
        } else if FILE_MACROS.contains(&name) {
            (0, true)
        } else if TYPED_FILE_MACROS.contains(&name) {
            (1, true)
        } else {
            return;
        };
        let at = position(
            mac.path
                .segments
                .last()
                .map_or_else(proc_macro2::Span::call_site, |s| s.ident.span()),
        );
        let args = match mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            Ok(args) => args,
            Err(error) => {
                self.code.problem(
                    self.file,
                    Some(at.0),
                    format!("the arguments of `{name}!` do not parse: {error}"),
                );
                return;
            }
        };
        let arg = args.iter().nth(sql_at);
        let at = arg.map_or(at, |a| position(syn::spanned::Spanned::span(a)));
        if is_file {
            if let Some(path) = self.literal(arg, "file path", at) {
                self.files.push((path, self.file.to_owned(), at.0, at.1));
            }
        } else if let Some(sql) = self.literal(arg, "SQL", at) {
            query(self.code, &sql, self.file, at);
        }
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let Expr::Path(path) = &*call.func {
            let segments = &path.path.segments;
            let name = segments.last().map(|s| s.ident.to_string());
            // `sqlx::query("…")`: a bare `query("…")` may be any function.
            let from_sqlx = segments.iter().any(|s| s.ident == "sqlx");
            if from_sqlx
                && name.is_some_and(|n| FUNCTIONS.contains(&n.as_str()))
                && let Some(Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(sql), ..
                })) = call.args.first()
            {
                query(self.code, &sql.value(), self.file, position(sql.span()));
            }
        }
        syn::visit::visit_expr_call(self, call);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::Files;
    use super::super::{Code, RustFile};

    fn read(files: &[(&str, &str)]) -> Code {
        let tree = Files::new(files);
        let rust: Vec<RustFile> = files
            .iter()
            .filter(|(p, _)| p.ends_with(".rs"))
            .map(|(p, t)| RustFile {
                path: (*p).to_owned(),
                syntax: syn::parse_file(t).unwrap(),
            })
            .collect();
        let mut code = Code::default();
        super::read(&tree, &rust, &mut code);
        code
    }

    #[test]
    fn offline_data_and_macros() {
        let code = read(&[
            (
                ".sqlx/query-5d3a.json",
                "{\n  \"db_name\": \"PostgreSQL\",\n  \"query\": \"SELECT u.id, u.name AS \\\"name!\\\" FROM users u JOIN orgs ON orgs.id = u.org_id WHERE email = $1\",\n  \"describe\": {\n    \"columns\": [],\n    \"parameters\": {\n      \"Left\": [\"Text\"]\n    },\n    \"nullable\": []\n  },\n  \"hash\": \"5d3a\"\n}",
            ),
            (
                "src/db.rs",
                "async fn f(pool: &PgPool) {\n    let n = sqlx::query_scalar!(\"SELECT count(*) FROM events\")\n        .fetch_one(pool).await;\n    let u = sqlx::query_as!(User, r#\"INSERT INTO users (email) VALUES ($1) RETURNING *\"#, email);\n    sqlx::query(\"UPDATE users SET name = $1\").execute(pool).await;\n    let s = query_file!(\"queries/sessions.sql\");\n}\n",
            ),
            (
                "queries/sessions.sql",
                "DELETE FROM sessions WHERE expires_at < now()",
            ),
        ]);
        let uses: Vec<String> = code.usages.iter().map(ToString::to_string).collect();
        assert_eq!(
            uses,
            [
                ".sqlx/query-5d3a.json:3: users",
                ".sqlx/query-5d3a.json:3: orgs",
                ".sqlx/query-5d3a.json:3: orgs.id",
                ".sqlx/query-5d3a.json:3: users.org_id",
                ".sqlx/query-5d3a.json:3: users.id",
                ".sqlx/query-5d3a.json:3: users.name",
                ".sqlx/query-5d3a.json:3: email (of users or orgs)",
                "src/db.rs:2: events",
                "src/db.rs:4: users",
                "src/db.rs:4: users.email",
                "src/db.rs:4: users.*",
                "src/db.rs:5: users",
                "src/db.rs:5: users.name",
                "src/db.rs:6: sessions",
                "src/db.rs:6: sessions.expires_at",
            ]
        );
        assert!(code.problems.is_empty(), "{:?}", code.problems);
    }

    #[test]
    fn what_cannot_be_read_is_a_problem() {
        let code = read(&[
            (".sqlx/query-1.json", "{\"db_name\": \"PostgreSQL\""),
            (
                "src/db.rs",
                "fn f() {\n    sqlx::query!(SQL);\n    sqlx::query!(\"SELEC 1\");\n}\n",
            ),
        ]);
        let problems: Vec<String> = code.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with(".sqlx/query-1.json:1: is not sqlx offline query data"));
        assert_eq!(
            problems[1],
            "src/db.rs:2: the SQL of this query is not a string literal, so its tables and columns cannot be read"
        );
        assert!(
            problems[2].starts_with("src/db.rs:3: this query does not parse:"),
            "{problems:?}"
        );
    }
}

//! diesel: the `table!` declarations of the schema file (`src/schema.rs`, or the file
//! `diesel.toml` names under `[print_schema]`), read with syn. `joinable!` and
//! `allow_tables_to_appear_in_same_query!` say nothing about columns and are passed over.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident, Token, braced, parenthesized};

use super::{Code, Tree, position};
use crate::model::{Name, Part, Reference};

/// The schema file when `diesel.toml` names none.
const DEFAULT_SCHEMA: &str = "src/schema.rs";

pub(super) fn read(tree: &dyn Tree, code: &mut Code) {
    let has = |path: &str| tree.files().iter().any(|f| f == path);
    let mut schema = DEFAULT_SCHEMA.to_owned();
    if has("diesel.toml") {
        let text = tree.read(&["diesel.toml"]).pop().flatten();
        match text.as_deref().map(str::parse::<toml::Table>) {
            Some(Ok(config)) => {
                if let Some(file) = config
                    .get("print_schema")
                    .and_then(|p| p.get("file"))
                    .and_then(toml::Value::as_str)
                {
                    schema = file.trim_start_matches("./").to_owned();
                }
            }
            Some(Err(error)) => code.problem(
                "diesel.toml",
                None,
                format!("does not parse: {}", error.message()),
            ),
            None => code.problem("diesel.toml", None, "cannot be read"),
        }
    }
    if !has(&schema) {
        code.problem(
            &schema,
            None,
            "diesel's schema file is missing (set `[print_schema] file` in diesel.toml if it is elsewhere)",
        );
        return;
    }
    let Some(text) = tree.read(&[schema.as_str()]).pop().flatten() else {
        code.problem(&schema, None, "cannot be read");
        return;
    };
    let file = match syn::parse_file(&text) {
        Ok(file) => file,
        Err(error) => {
            let line = error.span().start().line;
            code.problem(
                &schema,
                Some(line),
                format!("does not parse as Rust: {error}"),
            );
            return;
        }
    };
    code.sources.insert(schema.clone(), text);
    for item in &file.items {
        let syn::Item::Macro(item) = item else {
            continue;
        };
        let is_table = item
            .mac
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "table");
        if !is_table {
            continue;
        }
        match item.mac.parse_body::<Tables>() {
            Ok(tables) => {
                for table in tables.0 {
                    table.record(&schema, code);
                }
            }
            Err(error) => {
                let line = error.span().start().line;
                code.problem(
                    &schema,
                    Some(line),
                    format!("this `table!` does not parse: {error}"),
                );
            }
        }
    }
}

/// The declarations of one `table!` invocation.
struct Tables(Vec<Table>);

struct Table {
    /// `#[sql_name = "…"]`, else the Rust name.
    name: Name,
    at: (usize, usize),
    columns: Vec<(String, (usize, usize))>,
}

impl Table {
    fn record(self, file: &str, code: &mut Code) {
        let table = vec![self.name];
        code.add(
            vec![Reference {
                tables: table.clone(),
                part: Part::Table,
            }],
            file,
            self.at,
        );
        for (column, at) in self.columns {
            code.add(
                vec![Reference {
                    tables: table.clone(),
                    part: Part::Column(column),
                }],
                file,
                at,
            );
        }
    }
}

/// The value of `#[sql_name = "…"]` among `attrs`.
fn sql_name(attrs: &[Attribute]) -> syn::Result<Option<String>> {
    for attr in attrs {
        if attr.path().is_ident("sql_name") {
            let value = &attr.meta.require_name_value()?.value;
            if let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(name),
                ..
            }) = value
            {
                return Ok(Some(name.value()));
            }
            return Err(syn::Error::new_spanned(value, "expected a string"));
        }
    }
    Ok(None)
}

fn unraw(ident: &Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

impl Parse for Tables {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut tables = Vec::new();
        while !input.is_empty() {
            // `use diesel::sql_types::*;` and friends.
            if input.peek(Token![use]) {
                input.parse::<syn::ItemUse>()?;
                continue;
            }
            let attrs = input.call(Attribute::parse_outer)?;
            let first: Ident = input.call(Ident::parse_any)?;
            let at = position(first.span());
            let (schema, rust_name) = if input.peek(Token![.]) {
                input.parse::<Token![.]>()?;
                let table: Ident = input.call(Ident::parse_any)?;
                (Some(unraw(&first)), table)
            } else {
                (None, first)
            };
            if input.peek(syn::token::Paren) {
                let keys;
                parenthesized!(keys in input);
                keys.parse::<proc_macro2::TokenStream>()?;
            }
            let body;
            braced!(body in input);
            let mut columns = Vec::new();
            while !body.is_empty() {
                let attrs = body.call(Attribute::parse_outer)?;
                let column: Ident = body.call(Ident::parse_any)?;
                body.parse::<Token![->]>()?;
                body.parse::<syn::Type>()?;
                let name = sql_name(&attrs)?.unwrap_or_else(|| unraw(&column));
                columns.push((name, position(column.span())));
                if body.is_empty() {
                    break;
                }
                body.parse::<Token![,]>()?;
            }
            let name = sql_name(&attrs)?.unwrap_or_else(|| unraw(&rust_name));
            tables.push(Table {
                name: Name { schema, name },
                at,
                columns,
            });
        }
        Ok(Tables(tables))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Code;
    use super::super::tests::Files;

    fn read(files: &[(&str, &str)]) -> Code {
        let mut code = Code::default();
        super::read(&Files::new(files), &mut code);
        code
    }

    #[test]
    fn tables_columns_sql_names_and_schemas() {
        let code = read(&[(
            "src/schema.rs",
            "// @generated automatically by Diesel CLI.\n\npub mod auth {\n}\n\ndiesel::table! {\n    use diesel::sql_types::*;\n\n    /// Representation of the `users` table.\n    users (id) {\n        id -> Int8,\n        #[sql_name = \"type\"]\n        type_ -> Text,\n        r#ref -> Nullable<Varchar>,\n    }\n}\n\ntable! {\n    #[sql_name = \"Audit Log\"]\n    auth.audit_log (id) {\n        id -> Int4,\n    }\n}\n\ndiesel::joinable!(audit_log -> users (id));\ndiesel::allow_tables_to_appear_in_same_query!(users, audit_log);\n",
        )]);
        assert!(code.problems.is_empty(), "{:?}", code.problems);
        let uses: Vec<String> = code.usages.iter().map(ToString::to_string).collect();
        assert_eq!(
            uses,
            [
                "src/schema.rs:10: users",
                "src/schema.rs:11: users.id",
                "src/schema.rs:13: users.type",
                "src/schema.rs:14: users.ref",
                "src/schema.rs:20: auth.\"Audit Log\"",
                "src/schema.rs:21: auth.\"Audit Log\".id",
            ]
        );
        assert!(code.problems.is_empty(), "{:?}", code.problems);
    }

    #[test]
    fn diesel_toml_names_the_file_and_mistakes_are_problems() {
        let code = read(&[
            (
                "diesel.toml",
                "[print_schema]\nfile = \"src/db/schema.rs\"\n",
            ),
            (
                "src/db/schema.rs",
                "diesel::table! {\n    users (id) {\n        id -> Int8\n        name -> Text,\n    }\n}\n",
            ),
        ]);
        let problems: Vec<String> = code.problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("src/db/schema.rs:4: this `table!` does not parse:"),
            "{problems:?}"
        );
        let missing = read(&[("src/main.rs", "fn main() {}")]);
        assert_eq!(
            missing.problems[0].to_string(),
            "src/schema.rs: diesel's schema file is missing (set `[print_schema] file` in diesel.toml if it is elsewhere)"
        );
    }
}

//! SeaORM: the entity structs of `src/` (`#[sea_orm(table_name = "…")]`, with
//! `schema_name`), their fields, `column_name` overrides, and `ignore`d fields left out.

use syn::visit::Visit;

use super::{Code, RustFile, position};
use crate::model::{Name, Part, Reference};

pub(super) fn read(rust: &[RustFile], code: &mut Code) {
    for file in rust {
        let mut finder = Finder {
            file: &file.path,
            code,
        };
        finder.visit_file(&file.syntax);
    }
}

struct Finder<'a> {
    file: &'a str,
    code: &'a mut Code,
}

/// What one `#[sea_orm(…)]` attribute says.
#[derive(Default)]
struct Options {
    table_name: Option<String>,
    schema_name: Option<String>,
    column_name: Option<String>,
    ignore: bool,
}

/// The `#[sea_orm(…)]` attributes among `attrs`, merged.
fn options(attrs: &[syn::Attribute]) -> syn::Result<Options> {
    let mut options = Options::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("sea_orm")) {
        attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            if meta.input.peek(syn::Token![=]) {
                let value: syn::Expr = meta.value()?.parse()?;
                let text = match &value {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(text),
                        ..
                    }) => Some(text.value()),
                    _ => None,
                };
                match key.as_str() {
                    "table_name" => options.table_name = text,
                    "schema_name" => options.schema_name = text,
                    "column_name" => options.column_name = text,
                    _ => {}
                }
            } else if meta.input.peek(syn::token::Paren) {
                // `sea_orm(column_type = "Decimal(Some((10, 2)))")` and other nested forms.
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<proc_macro2::TokenStream>()?;
            } else if key == "ignore" {
                options.ignore = true;
            }
            Ok(())
        })?;
    }
    Ok(options)
}

impl Finder<'_> {
    /// The options of `attrs`; `None`, reported, when they do not parse.
    fn options(&mut self, attrs: &[syn::Attribute]) -> Option<Options> {
        options(attrs)
            .map_err(|error| {
                self.code.problem(
                    self.file,
                    Some(position(error.span()).0),
                    format!("this `#[sea_orm(…)]` attribute does not parse: {error}"),
                );
            })
            .ok()
    }
}

impl<'ast> Visit<'ast> for Finder<'_> {
    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        let at = position(item.ident.span());
        let Some(entity) = self.options(&item.attrs) else {
            return;
        };
        let Some(table) = entity.table_name else {
            return;
        };
        let table = vec![Name {
            schema: entity.schema_name,
            name: table,
        }];
        self.code.add(
            vec![Reference {
                tables: table.clone(),
                part: Part::Table,
            }],
            self.file,
            at,
        );
        for field in &item.fields {
            let Some(ident) = &field.ident else {
                continue;
            };
            let Some(column) = self.options(&field.attrs) else {
                continue;
            };
            if column.ignore {
                continue;
            }
            let name = column.column_name.unwrap_or_else(|| {
                let text = ident.to_string();
                text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
            });
            self.code.add(
                vec![Reference {
                    tables: table.clone(),
                    part: Part::Column(name),
                }],
                self.file,
                position(ident.span()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Code, RustFile};

    #[test]
    fn entities_fields_and_overrides() {
        let source = "use sea_orm::entity::prelude::*;\n\n#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]\n#[sea_orm(table_name = \"users\", schema_name = \"app\")]\npub struct Model {\n    #[sea_orm(primary_key, auto_increment = false)]\n    pub id: i64,\n    #[sea_orm(column_name = \"full_name\", column_type = \"Text\", nullable)]\n    pub name: Option<String>,\n    #[sea_orm(ignore)]\n    pub cached: String,\n    pub r#type: String,\n}\n\n#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]\npub enum Relation {}\n\nstruct NotAnEntity { field: u8 }\n";
        let rust = [RustFile {
            path: "src/entities/users.rs".to_owned(),
            syntax: syn::parse_file(source).unwrap(),
        }];
        let mut code = Code::default();
        super::read(&rust, &mut code);
        let uses: Vec<String> = code.usages.iter().map(ToString::to_string).collect();
        assert_eq!(
            uses,
            [
                "src/entities/users.rs:5: app.users",
                "src/entities/users.rs:7: app.users.id",
                "src/entities/users.rs:9: app.users.full_name",
                "src/entities/users.rs:12: app.users.type",
            ]
        );
        assert!(code.problems.is_empty());
    }
}

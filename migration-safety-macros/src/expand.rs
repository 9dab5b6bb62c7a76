//! From the attribute and the directory to the generated module.

use std::collections::BTreeMap;
use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Item, ItemMod};

use crate::args::Args;
use crate::config::FileConfig;
use crate::layout::{self, Direction, Framework, Migration};

/// Expand `#[check_migrations(args)] item`, resolving the directory against `manifest_dir`.
pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    manifest_dir: &Path,
) -> syn::Result<TokenStream> {
    let module = match syn::parse2::<Item>(item)? {
        Item::Mod(module) => module,
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "#[check_migrations] goes on an inline module, such as `mod migrations {}`: the tests are generated inside it",
            ));
        }
    };
    let args: Args = syn::parse2(args)?;
    let Some((_, items)) = &module.content else {
        return Err(syn::Error::new_spanned(
            &module,
            format!(
                "#[check_migrations] needs an inline module: write `mod {} {{}}`. On stable Rust an attribute macro cannot be given a file module (`mod {};`, error E0658), and the tests are generated inside the module",
                module.ident, module.ident
            ),
        ));
    };
    let written = args.dir.value();
    let span = args.dir.span();
    if Path::new(&written).is_absolute() || written.starts_with('/') || written.starts_with('\\') {
        return Err(syn::Error::new(
            span,
            "an absolute path only works on this machine: give the migrations directory relative to the crate root (where Cargo.toml is)",
        ));
    }
    let dir = manifest_dir.join(&written);
    if !dir.is_dir() {
        return Err(syn::Error::new(
            span,
            format!(
                "`{written}` is not a directory: the path is relative to the crate root (the directory of its Cargo.toml)"
            ),
        ));
    }
    // The attribute's options override the configuration file's.
    let file = FileConfig::find(manifest_dir);
    let (framework, detected) = match args.framework.or(file.as_ref().and_then(|f| f.framework)) {
        Some(framework) => (framework, false),
        None => (Framework::detect(&dir), true),
    };
    let check_down = args
        .check_down
        .or(file.as_ref().and_then(|f| f.check_down))
        .unwrap_or(false);
    let start_after = args
        .start_after
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.start_after.clone()));
    // Whether the application's code is read: then a test compares it with the migrations.
    let app = args
        .app
        .clone()
        .or_else(|| file.as_ref().and_then(|f| f.app.clone()));
    let reads_code = match app.as_deref() {
        Some("none") => false,
        Some("auto") | None => !migration_safety_core::detect_apps(manifest_dir).is_empty(),
        Some(_) => true,
    };
    let migrations: Vec<Migration> = layout::discover(&dir, framework)
        .map_err(|e| syn::Error::new(span, e.to_string()))?
        .into_iter()
        .filter(|m| check_down || m.direction == Direction::Up)
        .collect();
    let mut names: BTreeMap<String, &Migration> = BTreeMap::new();
    for migration in &migrations {
        let name = migration.test_name();
        if let Some(other) = names.insert(name.clone(), migration) {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{written}/{}` and `{written}/{}` both give the test name `{name}`: rename one of them",
                    other.file, migration.file
                ),
            ));
        }
    }
    let path_of = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let embedded = migrations.iter().map(|m| {
        let file = &m.file;
        let down = m.direction == Direction::Down;
        let path = path_of(file);
        quote! {
            ::migration_safety::__private::Embedded {
                file: #file,
                down: #down,
                bytes: ::core::include_bytes!(#path),
            }
        }
    });
    let mut sidecars: Vec<String> = Vec::new();
    for m in &migrations {
        let candidate = match framework {
            Framework::Diesel => m
                .file
                .rsplit_once('/')
                .map(|(parent, _)| format!("{parent}/metadata.toml")),
            Framework::Flyway => Some(format!("{}.conf", m.file)),
            _ => None,
        };
        if let Some(candidate) = candidate
            && dir.join(&candidate).is_file()
            && !sidecars.contains(&candidate)
        {
            sidecars.push(candidate);
        }
    }
    let sidecars = sidecars.iter().map(|file| {
        let path = path_of(file);
        quote!((#file, ::core::include_bytes!(#path)))
    });
    let tests = migrations.iter().enumerate().map(|(index, m)| {
        let name = format_ident!("{}", m.test_name(), span = Span::call_site());
        let applied = start_after.as_deref().is_some_and(|after| !m.is_after(after));
        let excluded = file.as_ref().is_some_and(|f| f.excludes(&dir.join(&m.file)));
        let reason = if applied {
            Some(format!(
                "at or before start_after = \"{}\": already applied in production",
                start_after.as_deref().unwrap_or_default()
            ))
        } else {
            excluded.then(|| "excluded by `exclude` in migration-safety.toml".to_owned())
        };
        let ignore = reason.map(|reason| quote!(#[ignore = #reason]));
        let doc = format!(" Checks `{}/{}`.", written.trim_start_matches("./"), m.file);
        quote! {
            #[doc = #doc]
            #[test]
            #ignore
            fn #name() {
                ::migration_safety::__private::Suite::get(&__MIGRATION_SAFETY_SUITE, &__MIGRATION_SAFETY_CONFIG).check(#index);
            }
        }
    });
    let framework_name = framework.name();
    let pg_version = match args.pg_version {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    };
    let (allow, warn, deny, options) = (&args.allow, &args.warn, &args.deny, &args.written);
    let optional = |value: &Option<String>| match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let (app_option, base_ref) = (optional(&args.app), optional(&args.base_ref));
    let code_test = reads_code.then(|| {
        quote! {
            /// Fails when the application's code declares or queries a table or column that no
            /// migration creates (`schema-drift`).
            #[test]
            fn application_code_matches_the_migrations() {
                ::migration_safety::__private::Suite::get(&__MIGRATION_SAFETY_SUITE, &__MIGRATION_SAFETY_CONFIG).check_application();
            }
        }
    });
    // Embedded, so that an edit to the file rebuilds the tests, and read by them at run time.
    let config_file = match &file {
        Some(file) => {
            let path = file.path.to_string_lossy().into_owned();
            quote!(::core::option::Option::Some((#path, ::core::include_bytes!(#path))))
        }
        None => quote!(::core::option::Option::None),
    };
    let ItemMod {
        attrs,
        vis,
        unsafety,
        mod_token,
        ident,
        ..
    } = &module;
    Ok(quote! {
        #(#attrs)*
        #vis #unsafety #mod_token #ident {
            #(#items)*

            static __MIGRATION_SAFETY_CONFIG: ::migration_safety::__private::Config = ::migration_safety::__private::Config {
                dir: #written,
                manifest_dir: ::core::env!("CARGO_MANIFEST_DIR"),
                framework: #framework_name,
                detected: #detected,
                pg_version: #pg_version,
                allow: &[#(#allow),*],
                warn: &[#(#warn),*],
                deny: &[#(#deny),*],
                check_down: #check_down,
                app: #app_option,
                base_ref: #base_ref,
                options: &[#(#options),*],
                config_file: #config_file,
                migrations: &[#(#embedded),*],
                sidecars: &[#(#sidecars),*],
            };

            static __MIGRATION_SAFETY_SUITE: ::std::sync::OnceLock<::migration_safety::__private::Suite> = ::std::sync::OnceLock::new();

            #(#tests)*

            #code_test

            /// Fails when a migration was added to (or removed from) the directory after the
            /// tests were compiled.
            #[test]
            fn migrations_directory_matches_the_tests() {
                ::migration_safety::__private::Suite::get(&__MIGRATION_SAFETY_SUITE, &__MIGRATION_SAFETY_CONFIG).check_directory();
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, files: &[(&str, &str)]) {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
    }

    /// The expansion, pretty-printed, with the temporary directory replaced by `$CRATE`.
    fn expansion(root: &Path, args: TokenStream) -> String {
        let tokens = expand(
            args,
            quote!(
                mod migrations {}
            ),
            root,
        )
        .unwrap();
        let file: syn::File = syn::parse2(tokens).unwrap();
        prettyplease::unparse(&file).replace(&root.to_string_lossy().into_owned(), "$CRATE")
    }

    fn error(root: &Path, args: TokenStream, item: TokenStream) -> String {
        match expand(args, item, root) {
            Ok(_) => panic!("expected a compile error"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn sqlx_expansion() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "migrations/20240101000000_create_users.sql",
                    "CREATE TABLE users (id bigint);",
                ),
                (
                    "migrations/20240201000000_users_email.up.sql",
                    "ALTER TABLE users ADD COLUMN email text;",
                ),
                (
                    "migrations/20240201000000_users_email.down.sql",
                    "ALTER TABLE users DROP COLUMN email;",
                ),
                ("migrations/README.md", "not a migration"),
            ],
        );
        insta::assert_snapshot!(expansion(
            root.path(),
            quote!(
                "migrations",
                framework = "sqlx",
                pg_version = 16,
                allow("drop-column"),
                start_after = "20240101000000"
            )
        ));
    }

    #[test]
    fn diesel_expansion_with_down_migrations_and_metadata() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "migrations/2024-01-01-000000_create_users/up.sql",
                    "CREATE TABLE users (id bigint);",
                ),
                (
                    "migrations/2024-01-01-000000_create_users/down.sql",
                    "DROP TABLE users;",
                ),
                (
                    "migrations/2024-02-01-000000_users_email_idx/up.sql",
                    "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
                ),
                (
                    "migrations/2024-02-01-000000_users_email_idx/metadata.toml",
                    "run_in_transaction = false\n",
                ),
            ],
        );
        insta::assert_snapshot!(expansion(
            root.path(),
            quote!("./migrations", check_down = true)
        ));
    }

    #[test]
    fn the_configuration_file_is_found_upwards_and_the_attribute_overrides_it() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                (
                    "migration-safety.toml",
                    "framework = \"sqlx\"\ncheck_down = true\nstart_after = 20240101000000\nexclude = [\"app/migrations/*_seed.up.sql\"]\n\n[rules]\ndrop-column = \"allow\"\n",
                ),
                (
                    "app/migrations/20240101000000_users.up.sql",
                    "CREATE TABLE users (id bigint);",
                ),
                (
                    "app/migrations/20240101000000_users.down.sql",
                    "DROP TABLE users;",
                ),
                (
                    "app/migrations/20240201000000_seed.up.sql",
                    "INSERT INTO users VALUES (1);",
                ),
                (
                    "app/migrations/20240301000000_email.up.sql",
                    "ALTER TABLE users ADD COLUMN email text;",
                ),
            ],
        );
        let crate_dir = root.path().join("app");
        let from_file = expansion(&crate_dir, quote!("migrations"))
            .replace(&root.path().to_string_lossy().into_owned(), "$ROOT");
        for expected in [
            "framework: \"sqlx\"",
            "detected: false",
            "check_down: true",
            "::core::include_bytes!(\"$ROOT/migration-safety.toml\"),",
            "#[ignore = \"at or before start_after = \\\"20240101000000\\\": already applied in production\"]\n    fn v20240101000000_users()",
            "#[ignore = \"excluded by `exclude` in migration-safety.toml\"]\n    fn v20240201000000_seed()",
            "#[test]\n    fn v20240301000000_email()",
            "fn v20240101000000_users_down()",
        ] {
            assert!(
                from_file.contains(expected),
                "{expected}\nnot in:\n{from_file}"
            );
        }
        let overridden = expansion(
            &crate_dir,
            quote!(
                "migrations",
                framework = "golang-migrate",
                check_down = false,
                start_after = "0"
            ),
        );
        for expected in [
            "framework: \"golang-migrate\"",
            "check_down: false",
            "\"check_down = false\",\n",
            "#[test]\n    fn v20240101000000_users()",
        ] {
            assert!(
                overridden.contains(expected),
                "{expected}\nnot in:\n{overridden}"
            );
        }
        assert!(!overridden.contains("_down()"), "{overridden}");
    }

    #[test]
    fn the_application_code_test_exists_when_its_library_is_known() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[
                ("migrations/1_users.sql", "CREATE TABLE users (id bigint);"),
                ("Cargo.toml", "[dependencies]\nsqlx = \"0.8\"\n"),
            ],
        );
        let test = "fn application_code_matches_the_migrations()";
        let detected = expansion(root.path(), quote!("migrations"));
        assert!(detected.contains(test), "{detected}");
        assert!(detected.contains("app: ::core::option::Option::None"));
        let off = expansion(root.path(), quote!("migrations", app = "none"));
        assert!(!off.contains(test), "{off}");
        std::fs::write(root.path().join("Cargo.toml"), "[package]\n").unwrap();
        let named = expansion(
            root.path(),
            quote!("migrations", app = "diesel", base_ref = "origin/main"),
        );
        assert!(named.contains(test), "{named}");
        assert!(named.contains("base_ref: ::core::option::Option::Some(\"origin/main\")"));
        assert!(!expansion(root.path(), quote!("migrations")).contains(test));
    }

    #[test]
    fn goose_files_give_up_and_down_tests() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            &[(
                "db/00001_users.sql",
                "-- +goose Up\nCREATE TABLE users (id bigint);\n-- +goose Down\nDROP TABLE users;\n",
            )],
        );
        let up_only = expansion(root.path(), quote!("db"));
        assert!(
            up_only.contains("fn v00001_users()") && !up_only.contains("fn v00001_users_down"),
            "{up_only}"
        );
        let both = expansion(root.path(), quote!("db", check_down = true));
        assert!(both.contains("fn v00001_users_down()"), "{both}");
    }

    #[test]
    fn directory_errors_name_the_path() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("empty")).unwrap();
        let empty = error(
            root.path(),
            quote!("empty"),
            quote!(
                mod m {}
            ),
        );
        assert!(
            empty.ends_with("empty` holds no plain migration (no `.sql` file)"),
            "{empty}"
        );
        let missing = error(
            root.path(),
            quote!("nowhere"),
            quote!(
                mod m {}
            ),
        );
        assert!(
            missing.starts_with(
                "`nowhere` is not a directory: the path is relative to the crate root"
            ),
            "{missing}"
        );
        let absolute = error(
            root.path(),
            quote!("/srv/migrations"),
            quote!(
                mod m {}
            ),
        );
        assert!(
            absolute.starts_with("an absolute path only works on this machine"),
            "{absolute}"
        );
    }

    #[test]
    fn duplicate_versions_and_colliding_names_are_errors() {
        let root = tempfile::tempdir().unwrap();
        write(root.path(), &[("dup/1_a.sql", ""), ("dup/1_b.sql", "")]);
        let duplicate = error(
            root.path(),
            quote!("dup", framework = "sqlx"),
            quote!(
                mod m {}
            ),
        );
        assert_eq!(
            duplicate,
            "`1_a.sql` and `1_b.sql` both have version 1: the framework refuses duplicate versions, renumber one of them"
        );
        write(
            root.path(),
            &[("same/1_a-b.sql", ""), ("same/1_a_b.sql", "")],
        );
        let collision = error(
            root.path(),
            quote!("same"),
            quote!(
                mod m {}
            ),
        );
        assert_eq!(
            collision,
            "`same/1_a-b.sql` and `same/1_a_b.sql` both give the test name `v1_a_b`: rename one of them"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_file_names_are_errors() {
        use std::os::unix::ffi::OsStrExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("m");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join(std::ffi::OsStr::from_bytes(b"1_\xff.sql")), "").unwrap();
        let message = error(
            root.path(),
            quote!("m"),
            quote!(
                mod m {}
            ),
        );
        assert!(message.ends_with("is not UTF-8: rename it"), "{message}");
    }

    #[test]
    fn only_inline_modules_take_the_attribute() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("m")).unwrap();
        let file_module = error(
            root.path(),
            quote!("m"),
            quote!(
                mod migrations;
            ),
        );
        assert!(
            file_module.contains("write `mod migrations {}`"),
            "{file_module}"
        );
        assert!(file_module.contains("E0658"), "{file_module}");
        let function = error(
            root.path(),
            quote!("m"),
            quote!(
                fn migrations() {}
            ),
        );
        assert!(
            function.starts_with("#[check_migrations] goes on an inline module"),
            "{function}"
        );
    }

    #[test]
    fn option_errors_suggest_the_intended_name() {
        let root = tempfile::tempdir().unwrap();
        let item = quote!(
            mod m {}
        );
        let cases = [
            (
                quote!("m", framwork = "sqlx"),
                "unknown option `framwork` (did you mean `framework`?)",
            ),
            (
                quote!("m", framework = "sqlxx"),
                "unknown framework `sqlxx` (did you mean `sqlx`?)",
            ),
            (
                quote!("m", allow("drop-tabel")),
                "unknown rule `drop-tabel` (did you mean `drop-table`?)",
            ),
            (
                quote!("m", pg_version = 9),
                "PostgreSQL 9 is not supported: choose a major version from 10 to 18",
            ),
            (
                quote!("m", check_down = "yes"),
                "`check_down` takes `true` or `false`",
            ),
            (
                quote!("m", pg_version = 15, pg_version = 16),
                "`pg_version` is given twice",
            ),
            (quote!(), "expected the migrations directory"),
            (
                quote!("m", allow("drop-column"), deny("drop-column")),
                "`drop-column` is in both `allow(…)` and `deny(…)`: give it one level",
            ),
            (
                quote!("m", warn("drop-column", "drop-column")),
                "`drop-column` is given twice in `warn(…)`",
            ),
            (
                quote!("m", app = "disel"),
                "unknown app `disel` (did you mean `diesel`?); expected `auto`, `none`, `diesel`, `sea-orm`, `sqlx`",
            ),
            (
                quote!("m", base_ref = " "),
                "`base_ref` needs the git ref of the code running in production",
            ),
            (
                quote!("m", allow("desing")),
                "unknown rule `desing` (did you mean `design`?); `migration-safety rules` lists the rules and their categories",
            ),
        ];
        for (args, expected) in cases {
            let message = error(root.path(), args, item.clone());
            assert!(message.contains(expected), "{message}");
        }
    }
}

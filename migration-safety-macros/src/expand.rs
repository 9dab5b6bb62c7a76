//! From the attribute and the directory to the generated module.

use std::collections::BTreeMap;
use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;
use syn::{Item, ItemMod};

use crate::args::Args;
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
            return Err(syn::Error::new(
                other.span(),
                "#[check_migrations] goes on an inline module, such as `mod migrations {}`: the tests are generated inside it",
            ));
        }
    };
    let args: Args = syn::parse2(args)?;
    let Some((_, items)) = &module.content else {
        return Err(syn::Error::new(
            module.span(),
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
                "`{}` is not a directory (the path is relative to the crate root, `{}`)",
                dir.display(),
                manifest_dir.display()
            ),
        ));
    }
    let (framework, detected) = match args.framework {
        Some(framework) => (framework, false),
        None => (Framework::detect(&dir), true),
    };
    let migrations: Vec<Migration> = layout::discover(&dir, framework)
        .map_err(|e| syn::Error::new(span, e.to_string()))?
        .into_iter()
        .filter(|m| args.check_down || m.direction == Direction::Up)
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
    let start_after = args
        .start_after
        .as_deref()
        .map(|v| layout::natural_key(&v.replace('-', "")));
    let tests = migrations.iter().enumerate().map(|(index, m)| {
        let name = format_ident!("{}", m.test_name(), span = Span::call_site());
        let applied = start_after.as_ref().is_some_and(|after| {
            !m.version.is_empty() && layout::natural_key(&m.version.replace('-', "")) <= *after
        });
        let ignore = applied.then(|| {
            let reason = format!(
                "at or before start_after = \"{}\": already applied in production",
                args.start_after.as_deref().unwrap_or_default()
            );
            quote!(#[ignore = #reason])
        });
        let doc = format!("Checks `{written}/{}`.", m.file);
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
    let (allow, warn, deny, check_down) = (&args.allow, &args.warn, &args.deny, args.check_down);
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
                migrations: &[#(#embedded),*],
                sidecars: &[#(#sidecars),*],
            };

            static __MIGRATION_SAFETY_SUITE: ::std::sync::OnceLock<::migration_safety::__private::Suite> = ::std::sync::OnceLock::new();

            #(#tests)*

            /// Fails when a migration was added to (or removed from) the directory after the
            /// tests were compiled.
            #[test]
            fn migrations_directory_matches_the_tests() {
                ::migration_safety::__private::Suite::get(&__MIGRATION_SAFETY_SUITE, &__MIGRATION_SAFETY_CONFIG).check_directory();
            }
        }
    })
}

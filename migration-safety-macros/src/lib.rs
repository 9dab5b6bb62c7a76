//! Implementation detail of the `migration-safety` crate: the `#[check_migrations]` attribute.
//! Use it as `migration_safety::check_migrations`, documented there.
//!
//! This crate finds the migrations and validates the options at compile time; the generated
//! tests lint at run time through `migration-safety`, so this crate stays small and does not
//! depend on the SQL parser.

use std::path::PathBuf;

use proc_macro::TokenStream;

mod args;
mod config;
mod expand;
mod rules;

use migration_safety_core::layout;

/// Generate one `#[test]` per migration of a directory: see `migration_safety::check_migrations`.
#[proc_macro_attribute]
pub fn check_migrations(args: TokenStream, item: TokenStream) -> TokenStream {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    expand::expand(args.into(), item.into(), &manifest_dir)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

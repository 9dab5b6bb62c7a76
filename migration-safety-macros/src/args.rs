//! The attribute's arguments: `"dir"` then `key = value` and `key("…", …)` options, each
//! validated with an error on the offending token.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitBool, LitInt, LitStr, Token};

use crate::layout::Framework;
use crate::rules::suggestion;
use migration_safety_core::{APP_NAMES, CATEGORY_NAMES, RULE_NAMES, SUPPORTED_PG_VERSIONS};

const KEYS: &[&str] = &[
    "framework",
    "pg_version",
    "allow",
    "warn",
    "deny",
    "start_after",
    "check_down",
    "app",
    "base_ref",
];

/// What the attribute says.
pub(crate) struct Args {
    /// The migrations directory, relative to the crate.
    pub(crate) dir: LitStr,
    /// `framework = "…"`; `None` for `auto` or absent.
    pub(crate) framework: Option<Framework>,
    pub(crate) pg_version: Option<u32>,
    pub(crate) allow: Vec<String>,
    pub(crate) warn: Vec<String>,
    pub(crate) deny: Vec<String>,
    /// `start_after = "…"`: migrations up to this version get ignored tests.
    pub(crate) start_after: Option<String>,
    /// `check_down = …`; `None` when absent (the configuration file decides).
    pub(crate) check_down: Option<bool>,
    /// `app = "…"`: `auto`, `none` or a library's name; `None` when absent.
    pub(crate) app: Option<String>,
    /// `base_ref = "…"`: the git ref of the code running in production.
    pub(crate) base_ref: Option<String>,
    /// The options other than `allow`, `warn` and `deny`, as written, in order (for the
    /// attribute a failing test suggests).
    pub(crate) written: Vec<String>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(
                proc_macro2::Span::call_site(),
                "expected the migrations directory, relative to the crate: #[check_migrations(\"migrations\")]",
            ));
        }
        let dir: LitStr = input.parse()?;
        let mut args = Args {
            dir,
            framework: None,
            pg_version: None,
            allow: Vec::new(),
            warn: Vec::new(),
            deny: Vec::new(),
            start_after: None,
            check_down: None,
            app: None,
            base_ref: None,
            written: Vec::new(),
        };
        // Each rule's level so far, to refuse one given two levels.
        let mut levels: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        let mut errors: Option<syn::Error> = None;
        let mut push = |error: syn::Error| match &mut errors {
            Some(all) => all.combine(error),
            None => errors = Some(error),
        };
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            let name = key.to_string();
            if seen.contains(&name) {
                push(syn::Error::new(
                    key.span(),
                    format!("`{name}` is given twice"),
                ));
            }
            seen.push(name.clone());
            match name.as_str() {
                "framework" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    let text = value.value();
                    args.written.push(format!("framework = {text:?}"));
                    if text != "auto" {
                        match Framework::from_name(&text) {
                            Some(framework) => args.framework = Some(framework),
                            None => {
                                let names = Framework::ALL.iter().map(|f| f.name());
                                let known: Vec<_> = names.clone().collect();
                                push(syn::Error::new(
                                    value.span(),
                                    format!(
                                        "unknown framework `{text}`{}; expected `auto`, `{}`",
                                        suggestion(&text, names),
                                        known.join("`, `")
                                    ),
                                ));
                            }
                        }
                    }
                }
                "pg_version" => {
                    input.parse::<Token![=]>()?;
                    let value: LitInt = input.parse()?;
                    match value.base10_parse::<u32>() {
                        Ok(v) if SUPPORTED_PG_VERSIONS.contains(&v) => {
                            args.written.push(format!("pg_version = {v}"));
                            args.pg_version = Some(v);
                        }
                        _ => push(syn::Error::new(
                            value.span(),
                            migration_safety_core::unsupported_pg_version(&value),
                        )),
                    }
                }
                "allow" | "warn" | "deny" => {
                    let content;
                    syn::parenthesized!(content in input);
                    let rules = content.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
                    for rule in rules {
                        let value = rule.value();
                        if !RULE_NAMES.contains(&value.as_str())
                            && !CATEGORY_NAMES.contains(&value.as_str())
                        {
                            let names = RULE_NAMES.iter().chain(CATEGORY_NAMES).copied();
                            push(syn::Error::new(
                                rule.span(),
                                format!(
                                    "unknown rule `{value}`{}; `migration-safety rules` lists the rules and their categories",
                                    suggestion(&value, names)
                                ),
                            ));
                        }
                        match levels.iter().find(|(r, _)| *r == value) {
                            Some((_, level)) if *level != name => push(syn::Error::new(
                                rule.span(),
                                format!(
                                    "`{value}` is in both `{level}(…)` and `{name}(…)`: give it one level"
                                ),
                            )),
                            Some(_) => push(syn::Error::new(
                                rule.span(),
                                format!("`{value}` is given twice in `{name}(…)`"),
                            )),
                            None => levels.push((value.clone(), name.clone())),
                        }
                        match name.as_str() {
                            "allow" => args.allow.push(value),
                            "warn" => args.warn.push(value),
                            _ => args.deny.push(value),
                        }
                    }
                }
                "start_after" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    if value.value().trim().is_empty() {
                        push(syn::Error::new(
                            value.span(),
                            "`start_after` needs a migration version, such as \"20240101000000\"",
                        ));
                    }
                    args.written
                        .push(format!("start_after = {:?}", value.value()));
                    args.start_after = Some(value.value());
                }
                "check_down" => {
                    input.parse::<Token![=]>()?;
                    let value: LitBool = input.parse().map_err(|e| {
                        syn::Error::new(e.span(), "`check_down` takes `true` or `false`")
                    })?;
                    args.written.push(format!("check_down = {}", value.value));
                    args.check_down = Some(value.value);
                }
                "app" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    let text = value.value();
                    let names = ["auto", "none"]
                        .into_iter()
                        .chain(APP_NAMES.iter().copied());
                    if !names.clone().any(|n| n == text) {
                        push(syn::Error::new(
                            value.span(),
                            format!(
                                "unknown app `{text}`{}; expected `{}`",
                                suggestion(&text, names.clone()),
                                names.collect::<Vec<_>>().join("`, `")
                            ),
                        ));
                    }
                    args.written.push(format!("app = {text:?}"));
                    args.app = Some(text);
                }
                "base_ref" => {
                    input.parse::<Token![=]>()?;
                    let value: LitStr = input.parse()?;
                    if value.value().trim().is_empty() {
                        push(syn::Error::new(
                            value.span(),
                            "`base_ref` needs the git ref of the code running in production, such as \"origin/main\"",
                        ));
                    }
                    args.written.push(format!("base_ref = {:?}", value.value()));
                    args.base_ref = Some(value.value());
                }
                _ => {
                    push(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown option `{name}`{}; the options are `{}`",
                            suggestion(&name, KEYS.iter().copied()),
                            KEYS.join("`, `")
                        ),
                    ));
                    // Skip its value so that the options after it are still checked.
                    if input.peek(Token![=]) {
                        input.parse::<Token![=]>()?;
                        input.parse::<syn::Lit>()?;
                    } else if input.peek(syn::token::Paren) {
                        let _content;
                        syn::parenthesized!(_content in input);
                    }
                }
            }
        }
        match errors {
            Some(errors) => Err(errors),
            None => Ok(args),
        }
    }
}

//! Every mistake in `#[check_migrations(…)]` that can be shown without a migrations directory is
//! a compile error on the offending token: each case of `ui/` must fail to compile with the
//! error of its `.stderr` file, checked with trybuild. (Under trybuild the crate root is
//! trybuild's own scratch crate, so the errors about a directory's contents, such as an empty
//! directory or duplicate versions, are tested on the expansion in `migration-safety-macros`.)

#[cfg(test)]
#[test]
fn compile_errors() {
    trybuild::TestCases::new().compile_fail("ui/*.rs");
}

//! The `migration-safety` command line; see [`migration_safety::cli`].

fn main() -> std::process::ExitCode {
    migration_safety::cli::main()
}

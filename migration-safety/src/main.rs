//! The `migration-safety` command line; see [`migration_safety::cli`].

/// Linting allocates many small strings (tokens, names, messages); mimalloc serves them
/// faster than the system allocator (see the README's Performance section).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    migration_safety::cli::main()
}

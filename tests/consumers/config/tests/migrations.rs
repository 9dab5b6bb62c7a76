//! The generated tests, with every setting from `migration-safety.toml`.

#[migration_safety::check_migrations("migrations")]
mod migrations {}

//! The generated tests: one per migration.

#[migration_safety::check_migrations("migrations")]
mod migrations {}

//! The generated tests: one per migration.

#[migration_safety::check_migrations("migrations", start_after = "1")]
mod migrations {}

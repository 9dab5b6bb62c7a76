//! The generated tests: one per migration.

#[migration_safety::check_migrations("migrations", pg_version = 16)]
mod migrations {}

//! The generated tests: one per migration.

#[migration_safety::check_migrations("db/migrations", check_down = true)]
mod migrations {}

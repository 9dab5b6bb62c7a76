//! The generated tests: one per migration.

#[migration_safety::check_migrations("db/migrations", framework = "dbmate")]
mod migrations {}

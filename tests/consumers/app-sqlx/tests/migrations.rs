//! The generated tests, checked against the sqlx queries at the base ref.

#[migration_safety::check_migrations("migrations")]
mod migrations {}

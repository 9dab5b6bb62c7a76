//! The generated tests, checked against the SeaORM entities at the base ref.

#[migration_safety::check_migrations("migrations")]
mod migrations {}

//! The generated tests, checked against the diesel schema at the base ref.

#[migration_safety::check_migrations("migrations", app = "diesel", base_ref = "main")]
mod migrations {}

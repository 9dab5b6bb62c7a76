//! The generated tests: one per migration.

#[migration_safety::check_migrations("migrations", allow("missing-lock-timeout"))]
mod migrations {}

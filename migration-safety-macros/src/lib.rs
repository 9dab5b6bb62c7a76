//! Implementation detail of the `migration-safety` crate; use `migration_safety::check_migrations`.

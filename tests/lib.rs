//! End-to-end tests of migration-safety, run as a user runs them: see `api.rs`, and the
//! consumer crates under `tests/`.
//!
//! The library holds what the test targets share: [`server`], the real PostgreSQL servers of
//! the verification suite and the helpers to apply and observe statements on them.

pub mod server;

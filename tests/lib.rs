//! End-to-end tests of migration-safety, run as a user runs them: see `api.rs`, and the
//! consumer crates under `tests/`.

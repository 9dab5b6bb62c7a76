//! Empty: the consumer's sqlx code is read, never compiled.

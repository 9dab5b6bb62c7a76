#[migration_safety::check_migrations("migrations", pg_version = 15, pg_version = 16)]
mod migrations {}

fn main() {}

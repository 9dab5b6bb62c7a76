#[migration_safety::check_migrations("migrations", pg_version = 9)]
mod migrations {}

fn main() {}

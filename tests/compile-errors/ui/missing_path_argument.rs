#[migration_safety::check_migrations]
mod migrations {}

fn main() {}

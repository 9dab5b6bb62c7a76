#[migration_safety::check_migrations("does/not/exist")]
mod migrations {}

fn main() {}

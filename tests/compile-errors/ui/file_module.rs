#[migration_safety::check_migrations("migrations")]
mod migrations;

fn main() {}

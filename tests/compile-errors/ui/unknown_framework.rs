#[migration_safety::check_migrations("migrations", framework = "diesle")]
mod migrations {}

fn main() {}

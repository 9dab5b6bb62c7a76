#[migration_safety::check_migrations("migrations", check_down = "yes")]
mod migrations {}

fn main() {}

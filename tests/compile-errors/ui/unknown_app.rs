#[migration_safety::check_migrations("migrations", app = "seaorm")]
mod migrations {}

fn main() {}

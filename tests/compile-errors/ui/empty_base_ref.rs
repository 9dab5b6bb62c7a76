#[migration_safety::check_migrations("migrations", app = "diesel", base_ref = "")]
mod migrations {}

fn main() {}

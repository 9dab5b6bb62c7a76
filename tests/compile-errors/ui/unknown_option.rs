#[migration_safety::check_migrations("migrations", framwork = "sqlx")]
mod migrations {}

fn main() {}

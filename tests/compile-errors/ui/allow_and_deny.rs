#[migration_safety::check_migrations("migrations", allow("drop-column"), deny("set-not-null", "drop-column"))]
mod migrations {}

fn main() {}

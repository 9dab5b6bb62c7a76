#[migration_safety::check_migrations("migrations", allow("drop-tabel", "set-not-null"))]
mod migrations {}

fn main() {}

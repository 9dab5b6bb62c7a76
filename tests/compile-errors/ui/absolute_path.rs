#[migration_safety::check_migrations("/srv/app/migrations")]
mod migrations {}

fn main() {}

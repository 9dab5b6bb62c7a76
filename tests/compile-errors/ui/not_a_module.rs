#[migration_safety::check_migrations("migrations")]
fn migrations() {}

fn main() {}

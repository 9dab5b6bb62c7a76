//! Users, through sqlx's checked queries.

pub struct User {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
}

pub async fn find(pool: &sqlx::PgPool, id: i64) -> sqlx::Result<User> {
    sqlx::query_as!(User, "SELECT id, email, name FROM users WHERE id = $1", id)
        .fetch_one(pool)
        .await
}

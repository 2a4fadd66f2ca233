use crate::{Result, Store, StoreError, on_backend};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: i64,
    /// Set when an administrator disabled the account: it cannot sign in.
    pub disabled_at: Option<i64>,
}

impl Store {
    pub async fn create_user(&self, user: &UserRecord) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(user.is_admin)
        .bind(user.created_at)
        .execute(pool)
        .await
        .map(|_| ()))
        .map_err(|e| StoreError::conflict_or(e, &format!("user '{}'", user.username)))?;
        Ok(())
    }

    pub async fn find_user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, UserRecord>(
            "SELECT id, username, password_hash, is_admin, created_at, disabled_at FROM users WHERE username = $1"
        )
        .bind(username)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn find_user(&self, id: &str) -> Result<Option<UserRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, UserRecord>(
            "SELECT id, username, password_hash, is_admin, created_at, disabled_at FROM users WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, UserRecord>(
            "SELECT id, username, password_hash, is_admin, created_at, disabled_at FROM users ORDER BY username"
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn count_users(&self) -> Result<i64> {
        let (count,): (i64,) =
            on_backend!(self, |pool| sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(count)
    }
}

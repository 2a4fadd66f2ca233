use crate::{Result, Store, on_backend};

/// A logged-in browser. The cookie value itself is never stored, only its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

impl Store {
    pub async fn create_session(&self, session: &SessionRecord) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, auth_time, expires_at) VALUES ($1, $2, $3, $4)"
        )
        .bind(&session.id_hash)
        .bind(&session.user_id)
        .bind(session.auth_time)
        .bind(session.expires_at)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn find_live_session(&self, id_hash: &str, now: i64) -> Result<Option<SessionRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, SessionRecord>(
            "SELECT id_hash, user_id, auth_time, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2"
        )
        .bind(id_hash)
        .bind(now)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn delete_session(&self, id_hash: &str) -> Result<()> {
        on_backend!(self, |pool| sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Housekeeping: drops expired sessions and codes. Returns the number of rows removed.
    pub async fn purge_expired(&self, now: i64) -> Result<u64> {
        on_backend!(self, |pool| {
            let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            // Consumed codes are kept until they expire so that a replay is still recognised.
            let codes = sqlx::query("DELETE FROM authorization_codes WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            let revoked = sqlx::query("DELETE FROM revoked_access_tokens WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            let assertions = sqlx::query("DELETE FROM client_assertion_jtis WHERE expires_at <= $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(sessions + codes + revoked + assertions)
        })
    }
}

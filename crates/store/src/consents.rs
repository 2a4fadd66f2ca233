use crate::{Result, Store, on_backend};

/// A user's remembered approval of a client for one resource.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    pub resource: String,
    /// Space-separated scopes the user approved.
    pub scope: String,
    pub granted_at: i64,
}

impl Store {
    pub async fn find_consent(&self, user_id: &str, client_id: &str, resource: &str) -> Result<Option<ConsentRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, ConsentRecord>(
            "SELECT user_id, client_id, resource, scope, granted_at FROM consents
             WHERE user_id = $1 AND client_id = $2 AND resource = $3"
        )
        .bind(user_id)
        .bind(client_id)
        .bind(resource)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn save_consent(&self, consent: &ConsentRecord) -> Result<()> {
        on_backend!(self, |pool| {
            sqlx::query(
            "INSERT INTO consents (user_id, client_id, resource, scope, granted_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (user_id, client_id, resource) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at"
        )
        .bind(&consent.user_id)
        .bind(&consent.client_id)
        .bind(&consent.resource)
        .bind(&consent.scope)
        .bind(consent.granted_at)
        .execute(pool)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }
}

use crate::{Result, Store, on_backend};

/// A user's remembered approval of a client for one resource.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    /// R097: for a CIMD client, the registered redirect URI the approval was given for (one
    /// CIMD client_id is shared by every installation); `""` for pre-registered clients.
    pub redirect_uri: String,
    pub resource: String,
    /// Space-separated scopes the user approved.
    pub scope: String,
    /// For a CIMD client, the fingerprint of the document the user saw; an approval is not
    /// reused once redirect URIs, auth method or keys change. `""` for pre-registered clients.
    pub client_fingerprint: String,
    pub granted_at: i64,
}

impl Store {
    pub async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
        redirect_uri: &str,
        resource: &str,
    ) -> Result<Option<ConsentRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, ConsentRecord>(
            "SELECT user_id, client_id, redirect_uri, resource, scope, client_fingerprint, granted_at FROM consents
             WHERE user_id = $1 AND client_id = $2 AND redirect_uri = $3 AND resource = $4"
        )
        .bind(user_id)
        .bind(client_id)
        .bind(redirect_uri)
        .bind(resource)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn save_consent(&self, consent: &ConsentRecord) -> Result<()> {
        on_backend!(self, |pool| {
            sqlx::query(
            "INSERT INTO consents (user_id, client_id, redirect_uri, resource, scope, client_fingerprint, granted_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id, client_id, redirect_uri, resource)
             DO UPDATE SET scope = excluded.scope, client_fingerprint = excluded.client_fingerprint, granted_at = excluded.granted_at"
        )
        .bind(&consent.user_id)
        .bind(&consent.client_id)
        .bind(&consent.redirect_uri)
        .bind(&consent.resource)
        .bind(&consent.scope)
        .bind(&consent.client_fingerprint)
        .bind(consent.granted_at)
        .execute(pool)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }
}

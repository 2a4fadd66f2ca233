//! A user's own view of their grants ("connected apps"): what they authorized, and revoking
//! one of them. Every query is scoped by the user's id, so one user can never see or revoke
//! another's grant.

use crate::audit::insert_audit;
use crate::{AuditEvent, Result, Store, StoreError, on_backend};

/// One live grant with what is known about its client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConnectedApp {
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
    /// The name of a registered client (pre-registered or self-registered).
    pub registered_name: Option<String>,
    /// `config`, `cli` or `dcr` for a registered client; None for a metadata-document client.
    pub registered_source: Option<String>,
    /// The name from a metadata-document client's last valid document.
    pub document_name: Option<String>,
    /// The host that published a metadata-document client's document.
    pub document_host: Option<String>,
}

/// Most grants one page lists; a user with more sees the newest.
pub const MAX_CONNECTED_APPS: i64 = 500;

impl Store {
    /// The user's live grants, newest first (at most [`MAX_CONNECTED_APPS`]).
    pub async fn connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, ConnectedApp>(
            "SELECT g.grant_id, g.client_id, g.scope, g.resource, g.created_at,
                    c.client_name AS registered_name, c.source AS registered_source,
                    m.client_name AS document_name, m.host AS document_host
             FROM grants g
             LEFT JOIN clients c ON c.client_id = g.client_id
             LEFT JOIN cimd_clients m ON m.client_id = g.client_id
             WHERE g.user_id = $1 AND g.revoked_at IS NULL
             ORDER BY g.created_at DESC, g.grant_id
             LIMIT $2"
        )
        .bind(user_id)
        .bind(MAX_CONNECTED_APPS)
        .fetch_all(pool)
        .await)?)
    }

    /// Revokes `grant_id` only if it is a live grant of `user_id`, with its refresh tokens, and
    /// forgets the user's consent for that client and resource so the next authorization asks
    /// again. Returns false (and records nothing) for an unknown grant, another user's grant or
    /// one already revoked: the caller cannot tell these apart.
    pub async fn revoke_grant_of_user(
        &self,
        user_id: &str,
        grant_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let revoked: Option<(String, String)> = sqlx::query_as(
                "UPDATE grants SET revoked_at = $3 WHERE grant_id = $1 AND user_id = $2 AND revoked_at IS NULL
                 RETURNING client_id, resource",
            )
            .bind(grant_id)
            .bind(user_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((client_id, resource)) = revoked else {
                tx.rollback().await?;
                return Ok(false);
            };
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3")
                .bind(user_id)
                .bind(&client_id)
                .bind(&resource)
                .execute(&mut *tx)
                .await?;
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }
}

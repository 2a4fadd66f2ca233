//! What the inventory shows about one client beyond its list entry: the users who consented,
//! the grants that are live, and for a metadata-document client the documents it served and
//! its recent fetches. Each list is newest first and bounded by the caller's limit.

use crate::{AuditRecord, Result, Store, on_backend};

/// A user's remembered consent to a client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientConsent {
    pub user_id: String,
    /// `None` when the user no longer exists.
    pub username: Option<String>,
    /// The registered redirect URI the consent is bound to (`""` for registered clients).
    pub redirect_uri: String,
    pub resource: String,
    pub scope: String,
    pub granted_at: i64,
}

/// A live grant of a client, with its user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientGrant {
    pub grant_id: String,
    pub user_id: String,
    pub username: Option<String>,
    pub resource: String,
    pub scope: String,
    pub created_at: i64,
}

/// One distinct document a metadata-document client served.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DocumentHistoryEntry {
    pub fetched_at: i64,
    pub document_hash: String,
    pub fingerprint: Option<String>,
    /// The client as validated from that document (JSON written by the server).
    pub snapshot: Option<String>,
}

/// How many documents of one client the history keeps; older ones are dropped as new ones
/// arrive, so a document that changes on every fetch cannot grow the table without bound.
pub const DOCUMENT_HISTORY_KEPT: i64 = 50;

impl Store {
    pub async fn client_consents(&self, client_id: &str, limit: i64) -> Result<Vec<ClientConsent>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, ClientConsent>(
            "SELECT c.user_id, u.username, c.redirect_uri, c.resource, c.scope, c.granted_at
             FROM consents c LEFT JOIN users u ON u.id = c.user_id
             WHERE c.client_id = $1 ORDER BY c.granted_at DESC, c.user_id, c.resource LIMIT $2"
        )
        .bind(client_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn client_live_grants(&self, client_id: &str, limit: i64) -> Result<Vec<ClientGrant>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, ClientGrant>(
            "SELECT g.grant_id, g.user_id, u.username, g.resource, g.scope, g.created_at
             FROM grants g LEFT JOIN users u ON u.id = g.user_id
             WHERE g.client_id = $1 AND g.revoked_at IS NULL ORDER BY g.created_at DESC, g.grant_id LIMIT $2"
        )
        .bind(client_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// The documents a metadata-document client served, newest first.
    pub async fn cimd_document_history(&self, client_id: &str, limit: i64) -> Result<Vec<DocumentHistoryEntry>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, DocumentHistoryEntry>(
            "SELECT fetched_at, document_hash, fingerprint, snapshot FROM cimd_document_history
             WHERE client_id = $1 ORDER BY id DESC LIMIT $2"
        )
        .bind(client_id)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// The latest audit events of one kind about one client, newest first.
    pub async fn client_audit_events(&self, client_id: &str, kind: &str, limit: i64) -> Result<Vec<AuditRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, AuditRecord>(
            "SELECT id, occurred_at, kind, client_id, user_id, ip, detail FROM audit_events
             WHERE client_id = $1 AND kind = $2 ORDER BY id DESC LIMIT $3"
        )
        .bind(client_id)
        .bind(kind)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }
}

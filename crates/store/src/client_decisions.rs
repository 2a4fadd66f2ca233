//! An administrator's decisions on a client: approve, deny, block, unblock. Each is a
//! compare-and-set on the status the administrator saw, so two administrators acting at once
//! cannot silently overwrite each other, and each writes its audit event in the same
//! transaction. Blocking revokes everything the client holds at once.

use crate::audit::insert_audit;
use crate::{AuditEvent, CimdStatus, ClientStatus, Result, Store, StoreError, on_backend};

/// Revokes everything a client holds, inside the caller's transaction, and evaluates to the
/// number of grants revoked: its grants and their refresh tokens (access tokens minted from
/// them turn inactive at introspection, which checks the grant), its outstanding
/// authorization codes (expired, so another node that still trusts the client for a few
/// seconds cannot redeem one into a new grant), and its users' remembered consents (after an
/// unblock, users are asked again).
macro_rules! revoke_client_access {
    ($tx:expr, $client_id:expr, $now:expr) => {{
        let grants = sqlx::query("UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
            .bind($client_id)
            .bind($now)
            .execute(&mut *$tx)
            .await?
            .rows_affected();
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
            .bind($client_id)
            .bind($now)
            .execute(&mut *$tx)
            .await?;
        sqlx::query(
            "UPDATE authorization_codes SET expires_at = $2 WHERE client_id = $1 AND consumed_at IS NULL AND expires_at > $2",
        )
        .bind($client_id)
        .bind($now)
        .execute(&mut *$tx)
        .await?;
        sqlx::query("DELETE FROM consents WHERE client_id = $1").bind($client_id).execute(&mut *$tx).await?;
        grants
    }};
}
pub(crate) use revoke_client_access;

/// Adds `revoked_grants` to an audit event's detail object.
pub(crate) fn with_revoked_grants(mut audit: AuditEvent, revoked: u64) -> AuditEvent {
    if let serde_json::Value::Object(detail) = &mut audit.detail {
        detail.insert("revoked_grants".to_owned(), revoked.into());
    } else if audit.detail.is_null() {
        audit.detail = serde_json::json!({ "revoked_grants": revoked });
    }
    audit
}

/// A decision on a metadata-document client, for [`Store::decide_metadata_client`].
#[derive(Debug, Clone, Copy)]
pub struct CimdDecision<'a> {
    pub client_id: &'a str,
    /// The client_id's host, for a client recorded by this decision (a pre-decision).
    pub host: &'a str,
    /// The status the administrator saw; `None`: not in the inventory yet.
    pub from: Option<CimdStatus>,
    pub to: CimdStatus,
    /// Who decided (`token:<id>` or `user:<id>`), kept with the inventory entry.
    pub by: &'a str,
    /// Revoke everything the client holds (blocking).
    pub revoke: bool,
}

impl Store {
    /// Moves a registered client from `from` to `to`, revoking its grants when `revoke`, and
    /// records `audit` (with `revoked_grants` added). Returns the number of grants revoked, or
    /// `None` (and changes nothing) when the client no longer has status `from`.
    pub async fn decide_registered_client(
        &self,
        client_id: &str,
        from: ClientStatus,
        to: ClientStatus,
        revoke: bool,
        audit: AuditEvent,
        now: i64,
    ) -> Result<Option<u64>> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE clients SET status = $2 WHERE client_id = $1 AND status = $3")
                .bind(client_id)
                .bind(to.as_str())
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let revoked = if revoke { revoke_client_access!(tx, client_id, now) } else { 0 };
            let audit = with_revoked_grants(audit, revoked);
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some(revoked))
        })
    }

    /// Records a decision on a metadata-document client (creating the inventory entry for a
    /// client not seen yet: a pre-decision the server keeps when the client shows up), revoking
    /// its grants when `decision.revoke`, with `audit`. Returns the number of grants revoked,
    /// or `None` (and changes nothing) when the client's status is no longer `decision.from`.
    pub async fn decide_metadata_client(
        &self,
        decision: CimdDecision<'_>,
        audit: AuditEvent,
        now: i64,
    ) -> Result<Option<u64>> {
        let CimdDecision { client_id, host, from, to, by, revoke } = decision;
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = match from {
                None => sqlx::query(
                    "INSERT INTO cimd_clients (client_id, host, status, first_seen, last_seen, decided_by, decided_at)
                     VALUES ($1, $2, $3, $4, $4, $5, $4) ON CONFLICT (client_id) DO NOTHING",
                )
                .bind(client_id)
                .bind(host)
                .bind(to.as_str())
                .bind(now)
                .bind(by)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
                Some(from) => sqlx::query(
                    "UPDATE cimd_clients SET status = $2, decided_by = $3, decided_at = $4 WHERE client_id = $1 AND status = $5",
                )
                .bind(client_id)
                .bind(to.as_str())
                .bind(by)
                .bind(now)
                .bind(from.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected(),
            };
            if changed != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            let revoked = if revoke { revoke_client_access!(tx, client_id, now) } else { 0 };
            let audit = with_revoked_grants(audit, revoked);
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some(revoked))
        })
    }
}

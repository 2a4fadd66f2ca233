//! Dynamic Client Registration (RFC 7591/7592): registrations and initial access tokens. A
//! registered client lives in `clients` (source `dcr`); `dcr_registrations` keeps the hashed
//! registration access token, the metadata to echo, and what de-duplication needs.

use crate::audit::insert_audit;
use crate::clients::{insert_client_query, revoke_client_grants};
use crate::{AuditEvent, ClientRecord, Result, Store, StoreError, on_backend};

/// What registration keeps besides the client record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DcrRegistration {
    pub client_id: String,
    pub registration_token_hash: String,
    /// The effective metadata as JSON, echoed by RFC 7592 reads.
    pub metadata: String,
    pub dedupe_key: Option<String>,
    pub registered_ip: Option<String>,
    pub created_at: i64,
}

/// An initial access token, by the hash of its value.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InitialAccessToken {
    pub id: String,
    pub token_hash: String,
    pub label: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub uses_left: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// `SELECT <all registration columns> FROM dcr_registrations <tail>` as one string literal.
macro_rules! select_registrations {
    ($tail:literal) => {
        concat!(
            "SELECT client_id, registration_token_hash, metadata, dedupe_key, registered_ip, created_at FROM dcr_registrations ",
            $tail
        )
    };
}

impl Store {
    /// Stores a new client and its registration in one transaction, with the audit event.
    pub async fn insert_dcr_client(
        &self,
        client: &ClientRecord,
        registration: &DcrRegistration,
        audit: &AuditEvent,
    ) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            insert_client_query!(client).execute(&mut *tx).await?;
            sqlx::query(
                "INSERT INTO dcr_registrations (client_id, registration_token_hash, metadata, dedupe_key, registered_ip,
                 created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&registration.client_id)
            .bind(&registration.registration_token_hash)
            .bind(&registration.metadata)
            .bind(&registration.dedupe_key)
            .bind(&registration.registered_ip)
            .bind(registration.created_at)
            .execute(&mut *tx)
            .await?;
            insert_audit!(audit, registration.created_at).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn count_dcr_clients(&self) -> Result<i64> {
        let (count,): (i64,) =
            on_backend!(self, |pool| sqlx::query_as("SELECT COUNT(*) FROM dcr_registrations").fetch_one(pool).await)?;
        Ok(count)
    }

    pub async fn find_dcr_registration(&self, client_id: &str) -> Result<Option<DcrRegistration>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, DcrRegistration>(select_registrations!(
            "WHERE client_id = $1"
        ))
        .bind(client_id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn find_dcr_registration_by_dedupe_key(&self, dedupe_key: &str) -> Result<Option<DcrRegistration>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, DcrRegistration>(select_registrations!(
            "WHERE dedupe_key = $1 ORDER BY created_at LIMIT 1"
        ))
        .bind(dedupe_key)
        .fetch_optional(pool)
        .await)?)
    }

    /// Gives a registration a new access token (the old one stops working). Returns false when
    /// the client is gone.
    pub async fn rotate_registration_token(&self, client_id: &str, token_hash: &str) -> Result<bool> {
        let updated = on_backend!(self, |pool| sqlx::query(
            "UPDATE dcr_registrations SET registration_token_hash = $2 WHERE client_id = $1"
        )
        .bind(client_id)
        .bind(token_hash)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// RFC 7592 update: replaces the client record and the echoed metadata (never the secret or
    /// the registration token). Returns false when the client is gone.
    pub async fn replace_dcr_client(
        &self,
        client: &ClientRecord,
        metadata: &str,
        audit: &AuditEvent,
        now: i64,
    ) -> Result<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query(
                "UPDATE clients SET client_name = $2, redirect_uris = $3, grant_types = $4, token_endpoint_auth_method = $5,
                 scope = $6, jwks = $7, jwks_uri = $8 WHERE client_id = $1 AND source = 'dcr'",
            )
            .bind(&client.client_id)
            .bind(&client.client_name)
            .bind(crate::to_json_list(&client.redirect_uris))
            .bind(crate::to_json_list(&client.grant_types))
            .bind(&client.token_endpoint_auth_method)
            .bind(&client.scope)
            .bind(&client.jwks)
            .bind(&client.jwks_uri)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if updated != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("UPDATE dcr_registrations SET metadata = $2, dedupe_key = NULL WHERE client_id = $1")
                .bind(&client.client_id)
                .bind(metadata)
                .execute(&mut *tx)
                .await?;
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// RFC 7592 delete (R109b): the client, its secret and registration token stop working, and
    /// every grant it holds is revoked. Returns false when there was no such DCR client.
    pub async fn delete_dcr_client(&self, client_id: &str, now: i64, audit: &AuditEvent) -> Result<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM dcr_registrations WHERE client_id = $1").bind(client_id).execute(&mut *tx).await?;
            let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1 AND source = 'dcr'")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if deleted != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            revoke_client_grants!(&mut *tx, client_id, now);
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// DCR clients to remove (at most 500 per call, oldest first): registered before
    /// `unused_before` and never used (no grant at all), or registered before `idle_before` with
    /// no grant created and no refresh token issued since then.
    pub async fn dcr_clients_to_reap(&self, unused_before: i64, idle_before: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = on_backend!(self, |pool| {
            sqlx::query_as(
            "SELECT r.client_id FROM dcr_registrations r
             WHERE (r.created_at < $1 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = r.client_id))
                OR (r.created_at < $2
                    AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.client_id = r.client_id AND g.created_at >= $2)
                    AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.client_id = r.client_id AND t.issued_at >= $2))
             ORDER BY r.created_at, r.client_id LIMIT 500"
        )
        .bind(unused_before)
        .bind(idle_before)
        .fetch_all(pool)
        .await
        })?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    pub async fn create_initial_access_token(&self, token: &InitialAccessToken) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO dcr_initial_access_tokens (id, token_hash, label, created_at, expires_at, uses_left)
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&token.id)
        .bind(&token.token_hash)
        .bind(&token.label)
        .bind(token.created_at)
        .bind(token.expires_at)
        .bind(token.uses_left)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    pub async fn list_initial_access_tokens(&self) -> Result<Vec<InitialAccessToken>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, InitialAccessToken>(
            "SELECT id, token_hash, label, created_at, expires_at, uses_left, revoked_at
             FROM dcr_initial_access_tokens ORDER BY created_at, id"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Returns false when no live token has this id.
    pub async fn revoke_initial_access_token(&self, id: &str, now: i64) -> Result<bool> {
        let updated = on_backend!(self, |pool| sqlx::query(
            "UPDATE dcr_initial_access_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Spends one use of a live initial access token; one conditional update, so two
    /// registrations can never both spend the last use.
    pub async fn use_initial_access_token(&self, token_hash: &str, now: i64) -> Result<bool> {
        let updated = on_backend!(self, |pool| {
            sqlx::query(
            "UPDATE dcr_initial_access_tokens SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END
             WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
               AND (uses_left IS NULL OR uses_left > 0)"
        )
        .bind(token_hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(updated == 1)
    }
}

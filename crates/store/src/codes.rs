use crate::audit::insert_audit;
use crate::{AuditEvent, GrantRecord, NewRefreshToken, Result, Store, StoreError, on_backend};

/// An issued authorization code, stored under the hash of the code. `grant_id` is chosen when
/// the code is issued so that a replay can revoke exactly what the code produced (R139).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthorizationCodeRecord {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub resource: String,
    pub auth_time: i64,
    pub issued_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// JSON of the client as validated at /authorize, for clients resolved from a metadata
    /// document; the token endpoint uses it instead of fetching again.
    pub client_snapshot: Option<String>,
}

/// The outcome of trying to consume a code together with issuing its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeLookup {
    Redeemed,
    /// Someone consumed it first (a replay or a race), or it expired meanwhile.
    NotRedeemable,
}

impl Store {
    pub async fn insert_authorization_code(&self, code: &AuthorizationCodeRecord, audit: &AuditEvent) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, code_challenge, scope, resource, auth_time, issued_at, expires_at, client_snapshot)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&code.code_hash)
            .bind(&code.grant_id)
            .bind(&code.client_id)
            .bind(&code.user_id)
            .bind(&code.redirect_uri)
            .bind(&code.code_challenge)
            .bind(&code.scope)
            .bind(&code.resource)
            .bind(code.auth_time)
            .bind(code.issued_at)
            .bind(code.expires_at)
            .bind(&code.client_snapshot)
            .execute(&mut *tx)
            .await?;
            insert_audit!(audit, code.issued_at).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn find_authorization_code(&self, code_hash: &str) -> Result<Option<AuthorizationCodeRecord>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, AuthorizationCodeRecord>(
            "SELECT code_hash, grant_id, client_id, user_id, redirect_uri, code_challenge, scope, resource, auth_time, issued_at, expires_at, consumed_at, client_snapshot
             FROM authorization_codes WHERE code_hash = $1"
        )
        .bind(code_hash)
        .fetch_optional(pool)
        .await
        })?)
    }

    /// Consumes the code and creates its grant and refresh token in one transaction. The
    /// conditional update is the single-use guarantee across nodes: of two concurrent
    /// redemptions exactly one sees a row change.
    pub async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        now: i64,
        grant: &GrantRecord,
        refresh: Option<&NewRefreshToken>,
        audit: &AuditEvent,
    ) -> Result<CodeLookup> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let consumed = sqlx::query(
                "UPDATE authorization_codes SET consumed_at = $2 WHERE code_hash = $1 AND consumed_at IS NULL AND expires_at > $2",
            )
            .bind(code_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if consumed != 1 {
                tx.rollback().await?;
                return Ok(CodeLookup::NotRedeemable);
            }
            sqlx::query(
                "INSERT INTO grants (grant_id, client_id, user_id, scope, resource, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&grant.grant_id)
            .bind(&grant.client_id)
            .bind(&grant.user_id)
            .bind(&grant.scope)
            .bind(&grant.resource)
            .bind(grant.created_at)
            .execute(&mut *tx)
            .await?;
            if let Some(refresh) = refresh {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&refresh.token_hash)
                .bind(&refresh.grant_id)
                .bind(&refresh.client_id)
                .bind(&refresh.scope)
                .bind(refresh.issued_at)
                .bind(refresh.expires_at)
                .execute(&mut *tx)
                .await?;
            }
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(CodeLookup::Redeemed)
        })
    }
}

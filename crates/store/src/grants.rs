use crate::audit::insert_audit;
use crate::{AuditEvent, Result, Store, StoreError, on_backend};

/// What a user approved for a client and resource; the family root of its refresh tokens.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRecord {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// A refresh token joined with its grant. `revoked_at` is set when either was revoked.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: String,
    pub resource: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Inserts a refresh token only while its grant is live, so a concurrent family revocation can
/// never be outrun by a rotation.
macro_rules! insert_refresh_if_grant_live {
    ($token:expr) => {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, scope, issued_at, expires_at)
             SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM grants WHERE grant_id = $2 AND revoked_at IS NULL)",
        )
        .bind(&$token.token_hash)
        .bind(&$token.grant_id)
        .bind(&$token.client_id)
        .bind(&$token.scope)
        .bind($token.issued_at)
        .bind($token.expires_at)
    };
}

impl Store {
    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, RefreshTokenRecord>(
            "SELECT r.token_hash, r.grant_id, r.client_id, g.user_id, r.scope, g.resource, r.issued_at, r.expires_at,
                    r.rotated_at, COALESCE(r.revoked_at, g.revoked_at) AS revoked_at
             FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id WHERE r.token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?)
    }

    /// Marks `old_hash` rotated and stores its successor in one transaction. Returns false when
    /// the old token was no longer rotatable (a concurrent refresh won, or it was revoked).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        successor: &NewRefreshToken,
        audit: &AuditEvent,
    ) -> Result<bool> {
        let now = successor.issued_at;
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let rotated = sqlx::query(
                "UPDATE refresh_tokens SET rotated_at = $2 WHERE token_hash = $1 AND rotated_at IS NULL AND revoked_at IS NULL",
            )
            .bind(old_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let inserted = if rotated == 1 {
                insert_refresh_if_grant_live!(successor).execute(&mut *tx).await?.rows_affected()
            } else {
                0
            };
            if inserted != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Adds another live token to a family without rotating anything (the grace-window
    /// reissue). Returns false when the grant has been revoked meanwhile.
    pub async fn add_refresh_token(&self, token: &NewRefreshToken, audit: &AuditEvent) -> Result<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let inserted = insert_refresh_if_grant_live!(token).execute(&mut *tx).await?.rows_affected();
            if inserted != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            insert_audit!(audit, token.issued_at).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Revokes a grant with every refresh token in its family; access tokens minted from it
    /// become inactive at introspection. Idempotent.
    pub async fn revoke_grant(&self, grant_id: &str, now: i64, audit: &AuditEvent) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE grants SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL")
                .bind(grant_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn find_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, GrantRecord>(
            "SELECT grant_id, client_id, user_id, scope, resource, created_at, revoked_at FROM grants WHERE grant_id = $1"
        )
        .bind(grant_id)
        .fetch_optional(pool)
        .await
        })?)
    }

    /// Revokes one access token until it would have expired anyway.
    pub async fn revoke_access_token(&self, jti: &str, expires_at: i64, now: i64, audit: &AuditEvent) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO revoked_access_tokens (jti, expires_at, revoked_at) VALUES ($1, $2, $3) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// True while the token's grant is live and the token itself was not revoked: one query.
    pub async fn access_token_is_live(&self, jti: &str, grant_id: &str) -> Result<bool> {
        let row: Option<(bool,)> = on_backend!(self, |pool| sqlx::query_as(
            "SELECT NOT EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = $1) AS live
             FROM grants g WHERE g.grant_id = $2 AND g.revoked_at IS NULL"
        )
        .bind(jti)
        .bind(grant_id)
        .fetch_optional(pool)
        .await)?;
        Ok(row.is_some_and(|(live,)| live))
    }
}

//! Account administration: the user list with live grant counts, disabling and enabling an
//! account, and resetting a password. Each change and its audit event commit together.

use crate::audit::insert_audit;
use crate::{AuditEvent, Result, Store, StoreError, on_backend};

/// A user as the admin API lists it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserSummary {
    pub id: String,
    pub username: String,
    pub is_admin: bool,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    /// Grants not revoked: the applications this user has authorized and not been cut off from.
    pub live_grants: i64,
}

/// What disabling a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisableOutcome {
    NoSuchUser,
    /// Already disabled: nothing changed and nothing was audited.
    AlreadyDisabled,
    Disabled {
        sessions_ended: u64,
        grants_revoked: u64,
    },
}

/// What enabling a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnableOutcome {
    NoSuchUser,
    /// The account was not disabled: nothing changed and nothing was audited.
    AlreadyEnabled,
    Enabled,
}

impl Store {
    /// Every user, by username, with the number of live grants each holds.
    pub async fn list_user_summaries(&self) -> Result<Vec<UserSummary>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, UserSummary>(
            "SELECT u.id, u.username, u.is_admin, u.created_at, u.disabled_at,
                    (SELECT COUNT(*) FROM grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL) AS live_grants
             FROM users u ORDER BY u.username"
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn find_user_summary(&self, user_id: &str) -> Result<Option<UserSummary>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, UserSummary>(
            "SELECT u.id, u.username, u.is_admin, u.created_at, u.disabled_at,
                    (SELECT COUNT(*) FROM grants g WHERE g.user_id = u.id AND g.revoked_at IS NULL) AS live_grants
             FROM users u WHERE u.id = $1"
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Disables an account in one transaction: it can no longer sign in, its sessions end, its
    /// unredeemed codes are dropped and its grants (with every refresh token) are revoked, so
    /// introspection reports its access tokens inactive at once.
    pub async fn disable_user(&self, user_id: &str, now: i64, audit: &AuditEvent) -> Result<DisableOutcome> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                let exists: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(if exists.is_some() { DisableOutcome::AlreadyDisabled } else { DisableOutcome::NoSuchUser });
            }
            // Codes first: on PostgreSQL this waits for a redemption in flight, whose new grant
            // the next statement (a fresh snapshot under READ COMMITTED) then sees and revokes.
            sqlx::query("DELETE FROM authorization_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            let grants_revoked =
                sqlx::query("UPDATE grants SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            sqlx::query(
                "UPDATE refresh_tokens SET revoked_at = $2
                 WHERE revoked_at IS NULL AND grant_id IN (SELECT grant_id FROM grants WHERE user_id = $1)",
            )
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let sessions_ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(DisableOutcome::Disabled { sessions_ended, grants_revoked })
        })
    }

    /// Lets a disabled account sign in again. Its revoked grants stay revoked.
    pub async fn enable_user(&self, user_id: &str, now: i64, audit: &AuditEvent) -> Result<EnableOutcome> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1 AND disabled_at IS NOT NULL")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                let exists: Option<(String,)> =
                    sqlx::query_as("SELECT id FROM users WHERE id = $1").bind(user_id).fetch_optional(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(if exists.is_some() { EnableOutcome::AlreadyEnabled } else { EnableOutcome::NoSuchUser });
            }
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(EnableOutcome::Enabled)
        })
    }

    /// Replaces a password hash and ends every session of the account, so whoever knew the old
    /// password and signed in with it is signed out. Returns the number of sessions ended, or
    /// None when there is no such user.
    pub async fn reset_user_password(
        &self,
        user_id: &str,
        password_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<Option<u64>> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let updated = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id)
                .bind(password_hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if updated == 0 {
                tx.rollback().await?;
                return Ok(None);
            }
            let sessions_ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            insert_audit!(audit, now).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Some(sessions_ended))
        })
    }
}

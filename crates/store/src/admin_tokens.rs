//! Admin API tokens (`postern admin-tokens`): bearer tokens for `/admin/api/v1`, stored as the
//! SHA-256 of their value, with read or write access, an optional expiry and revocation.

use crate::{Result, Store, StoreError, on_backend};

/// What an admin token may do. Read tokens see everything; only write tokens change anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdminAccess {
    Read,
    Write,
}

impl AdminAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    pub id: String,
    pub label: String,
    pub access: AdminAccess,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl AdminTokenRecord {
    /// Neither revoked nor expired at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

#[derive(sqlx::FromRow)]
struct AdminTokenRow {
    id: String,
    label: String,
    access: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl TryFrom<AdminTokenRow> for AdminTokenRecord {
    type Error = StoreError;

    fn try_from(row: AdminTokenRow) -> Result<Self> {
        let access = AdminAccess::parse(&row.access)
            .ok_or_else(|| StoreError::Corrupt(format!("admin token {} has access '{}'", row.id, row.access)))?;
        Ok(Self {
            id: row.id,
            label: row.label,
            access,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}

/// `SELECT <all token columns but the hash> FROM admin_tokens <tail>` as one string literal.
macro_rules! select_tokens {
    ($tail:literal) => {
        concat!("SELECT id, label, access, created_at, expires_at, last_used_at, revoked_at FROM admin_tokens ", $tail)
    };
}

/// `last_used_at` is written at most this often per token, so a busy API client does not
/// turn every read into a write.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

impl Store {
    pub async fn create_admin_token(&self, token: &AdminTokenRecord, token_hash: &str) -> Result<()> {
        on_backend!(self, |pool| {
            sqlx::query(
            "INSERT INTO admin_tokens (id, token_hash, label, access, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(&token.id)
        .bind(token_hash)
        .bind(&token.label)
        .bind(token.access.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(pool)
        .await
        .map(|_| ())
        })?;
        Ok(())
    }

    /// Oldest first.
    pub async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>> {
        let sql = select_tokens!("ORDER BY created_at, id");
        let rows = on_backend!(self, |pool| sqlx::query_as::<_, AdminTokenRow>(sql).fetch_all(pool).await)?;
        rows.into_iter().map(AdminTokenRecord::try_from).collect()
    }

    /// The token whose value hashes to `token_hash`, live or not (the caller decides).
    pub async fn find_admin_token(&self, token_hash: &str) -> Result<Option<AdminTokenRecord>> {
        let sql = select_tokens!("WHERE token_hash = $1");
        let row = on_backend!(self, |pool| sqlx::query_as::<_, AdminTokenRow>(sql)
            .bind(token_hash)
            .fetch_optional(pool)
            .await)?;
        row.map(AdminTokenRecord::try_from).transpose()
    }

    /// Revokes a token; false when no live token has that id.
    pub async fn revoke_admin_token(&self, id: &str, now: i64) -> Result<bool> {
        let result = on_backend!(self, |pool| sqlx::query(
            "UPDATE admin_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL"
        )
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(result == 1)
    }

    /// Records a use, at most once a minute per token.
    pub async fn touch_admin_token(&self, id: &str, now: i64) -> Result<()> {
        on_backend!(self, |pool| sqlx::query(
            "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)"
        )
        .bind(id)
        .bind(now)
        .bind(now - LAST_USED_RESOLUTION_SECS)
        .execute(pool)
        .await
        .map(|_| ()))?;
        Ok(())
    }
}

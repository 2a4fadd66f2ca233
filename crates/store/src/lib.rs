//! Postern's persistence. [`Store`] is SQLite (the embedded default) or PostgreSQL (shared by
//! several nodes). Each query is one method named by intent with the same signature on both
//! backends; the SQL text is shared (`$n` placeholders work on both) and the schema lives in
//! per-backend migrations. Secrets arrive here already hashed.

mod admin_tokens;
mod admin_users;
mod audit;
mod cimd_clients;
mod client_decisions;
mod client_detail;
mod client_inventory;
mod clients;
mod codes;
mod consents;
mod dcr;
mod domain_rules;
mod error;
mod grants;
mod inventory;
mod keys;
mod sessions;
#[cfg(feature = "test-support")]
pub mod test_support;
mod user_grants;
mod users;

pub use admin_tokens::{AdminAccess, AdminTokenRecord};
pub use admin_users::{DisableOutcome, EnableOutcome, UserSummary};
pub use audit::{AUDIT_LOG_TARGET, AuditEvent, AuditFilter, AuditRecord};
pub use cimd_clients::{CimdClientRecord, CimdStatus, DocumentChange, ValidatedDocument};
pub use client_decisions::CimdDecision;
pub use client_detail::{ClientConsent, ClientGrant, DOCUMENT_HISTORY_KEPT, DocumentHistoryEntry};
pub use client_inventory::{
    ClientKind, DomainFilter, InventoryItem, InventoryPosition, InventoryQuery, InventorySort, InventoryStatus,
};
pub use clients::{ClientRecord, ClientSource, ClientStatus};
pub use codes::{AuthorizationCodeRecord, CodeLookup};
pub use consents::ConsentRecord;
pub use dcr::{DcrRegistration, InitialAccessToken};
pub use domain_rules::{
    DomainList, DomainPolicyChange, DomainPolicyChangeOutcome, DomainRuleRecord, RuntimeDomainPolicy, RuntimeSetting,
    UNKNOWN_DOMAINS_SETTING,
};
pub use error::StoreError;
pub use grants::{GrantRecord, NewRefreshToken, RefreshTokenRecord};
pub use inventory::{CountBy, InventoryCounts};
pub use keys::SigningKeyRecord;
pub use sessions::SessionRecord;
pub use user_grants::{ConnectedApp, MAX_CONNECTED_APPS};
pub use users::UserRecord;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Duration;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database behind Postern.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same statement on whichever backend the store is. Each arm is monomorphic, so the
/// body is written once and type-checked for both databases.
macro_rules! on_backend {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

impl Store {
    /// Opens `sqlite://path` (created with its directory if missing) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Self::Postgres(pool))
        } else if let Some(path) = url.strip_prefix("sqlite://") {
            let path = path.split('?').next().unwrap_or(path);
            if let Some(dir) = std::path::Path::new(path).parent()
                && !dir.as_os_str().is_empty()
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Config(format!("cannot create database directory {}: {e}", dir.display()))
                })?;
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // WAL + NORMAL survives application crashes; a power loss can drop the last
                // transactions but never corrupts the database.
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else {
            Err(StoreError::Config("database must be a sqlite://PATH or postgres://... URL".to_owned()))
        }
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Self::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Self::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Readiness probe: one round trip to the database.
    pub async fn ping(&self) -> Result<()> {
        on_backend!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_backend!(self, |pool| pool.close().await);
    }
}

/// JSON array column helpers: lists are stored as JSON text on both backends.
pub(crate) fn to_json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(crate) fn from_json_list(raw: &str) -> Result<Vec<String>> {
    serde_json::from_str(raw).map_err(|e| StoreError::Corrupt(format!("bad JSON list in database: {e}")))
}

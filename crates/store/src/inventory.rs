//! Counts for the admin overview: clients of every kind by status, users, live grants.

use crate::{Result, Store, on_backend};

/// How many of something are in one state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CountBy {
    /// `source/status` for registered clients (`dcr/pending`), the status for CIMD clients.
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryCounts {
    /// Pre-registered (`config`, `cli`) and self-registered (`dcr`) clients by source and status.
    pub registered_clients: Vec<CountBy>,
    /// Clients identified by a metadata document, by inventory status.
    pub cimd_clients: Vec<CountBy>,
    pub users: i64,
    pub disabled_users: i64,
    /// Grants not revoked (each is one user's authorization of one client for one resource).
    pub live_grants: i64,
}

impl Store {
    pub async fn inventory_counts(&self) -> Result<InventoryCounts> {
        let registered_clients = on_backend!(self, |pool| {
            sqlx::query_as::<_, CountBy>(
            "SELECT source || '/' || status AS key, COUNT(*) AS count FROM clients GROUP BY source, status ORDER BY 1"
        )
        .fetch_all(pool)
        .await
        })?;
        let cimd_clients = on_backend!(self, |pool| sqlx::query_as::<_, CountBy>(
            "SELECT status AS key, COUNT(*) AS count FROM cimd_clients GROUP BY status ORDER BY 1"
        )
        .fetch_all(pool)
        .await)?;
        let (users, disabled_users, live_grants): (i64, i64, i64) = on_backend!(self, |pool| sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL),
                    (SELECT COUNT(*) FROM grants WHERE revoked_at IS NULL)"
        )
        .fetch_one(pool)
        .await)?;
        Ok(InventoryCounts { registered_clients, cimd_clients, users, disabled_users, live_grants })
    }
}

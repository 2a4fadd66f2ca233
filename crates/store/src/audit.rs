use crate::{Result, Store, on_backend};

/// One append-only audit entry. `detail` is JSON and must never hold a secret or token: callers
/// record identifiers and outcomes only.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub kind: &'static str,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

impl AuditEvent {
    pub fn new(kind: &'static str) -> Self {
        Self { kind, client_id: None, user_id: None, ip: None, detail: serde_json::Value::Null }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRecord {
    pub id: i64,
    pub occurred_at: i64,
    pub kind: String,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
}

/// Builds the insert for an audit event; usable on a pool or inside a transaction.
macro_rules! insert_audit {
    ($event:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, kind, client_id, user_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($now)
        .bind($event.kind)
        .bind(&$event.client_id)
        .bind(&$event.user_id)
        .bind(&$event.ip)
        .bind(if $event.detail.is_null() { None } else { Some($event.detail.to_string()) })
    };
}
pub(crate) use insert_audit;

impl Store {
    pub async fn record_audit(&self, event: &AuditEvent, now: i64) -> Result<()> {
        on_backend!(self, |pool| insert_audit!(event, now).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Most recent events first.
    pub async fn recent_audit_events(&self, limit: i64) -> Result<Vec<AuditRecord>> {
        Ok(on_backend!(self, |pool| sqlx::query_as::<_, AuditRecord>(
            "SELECT id, occurred_at, kind, client_id, user_id, ip, detail FROM audit_events ORDER BY id DESC LIMIT $1"
        )
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Retention: deletes events older than `cutoff`. The schema refuses to delete any event
    /// younger than 30 days by the database's clock, whatever `cutoff` says.
    pub async fn delete_audit_events_before(&self, cutoff: i64) -> Result<u64> {
        Ok(on_backend!(self, |pool| sqlx::query("DELETE FROM audit_events WHERE occurred_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?)
    }
}

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

/// Builds the insert for an audit event; usable on a pool or inside a transaction. Every audit
/// write in the store goes through here, so this is also where each event becomes a log line.
macro_rules! insert_audit {
    ($event:expr, $now:expr) => {{
        $crate::audit::log_event(&$event, $now);
        sqlx::query(
            "INSERT INTO audit_events (occurred_at, kind, client_id, user_id, ip, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind($now)
        .bind($event.kind)
        .bind(&$event.client_id)
        .bind(&$event.user_id)
        .bind(&$event.ip)
        .bind(if $event.detail.is_null() { None } else { Some($event.detail.to_string()) })
    }};
}
pub(crate) use insert_audit;

/// The log target of audit events, for log pipelines that route them (`postern::audit`).
pub const AUDIT_LOG_TARGET: &str = "postern::audit";

/// Detail members kept out of the log line although the database keeps them: a failed login
/// records the name that was typed, and people type passwords into the username field.
const NOT_LOGGED: &[&str] = &["username"];

/// Emits an audit event as a structured log line (target [`AUDIT_LOG_TARGET`]), as it is
/// written. Details never hold secrets (see [`AuditEvent`]); what a user typed is left out
/// too ([`NOT_LOGGED`]), so the line may go anywhere the log goes. Should the write then fail,
/// the caller's operation fails and logs that too.
pub(crate) fn log_event(event: &AuditEvent, now: i64) {
    let detail = match &event.detail {
        serde_json::Value::Object(members) if NOT_LOGGED.iter().any(|name| members.contains_key(*name)) => {
            let mut kept = members.clone();
            kept.retain(|name, _| !NOT_LOGGED.contains(&name.as_str()));
            serde_json::Value::Object(kept)
        }
        other => other.clone(),
    };
    tracing::info!(
        target: "postern::audit",
        occurred_at = now,
        kind = event.kind,
        client_id = event.client_id.as_deref(),
        user_id = event.user_id.as_deref(),
        ip = event.ip.as_deref(),
        detail = (!detail.is_null()).then(|| tracing::field::display(&detail)),
        "audit event"
    );
}

/// Which audit events a query selects. Every field narrows the selection; the default selects
/// every event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events at or after this time (Unix seconds).
    pub since: Option<i64>,
    /// Events before this time (Unix seconds, exclusive).
    pub until: Option<i64>,
    /// Only events of these kinds; `Some` of an empty list selects nothing.
    pub kinds: Option<Vec<String>>,
    /// No events of these kinds.
    pub excluded_kinds: Vec<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
}

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

    /// One page of the events `filter` selects, newest first by id; with `before_id`, only
    /// events older than that one (the cursor of the previous page). Ids never repeat, so paging
    /// this way returns each event exactly once even while new events arrive.
    pub async fn query_audit_events(
        &self,
        filter: &AuditFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        if filter.kinds.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        Ok(on_backend!(self, |pool| {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT id, occurred_at, kind, client_id, user_id, ip, detail FROM audit_events WHERE 1 = 1",
            );
            if let Some(before_id) = before_id {
                query.push(" AND id < ").push_bind(before_id);
            }
            if let Some(since) = filter.since {
                query.push(" AND occurred_at >= ").push_bind(since);
            }
            if let Some(until) = filter.until {
                query.push(" AND occurred_at < ").push_bind(until);
            }
            if let Some(client_id) = &filter.client_id {
                query.push(" AND client_id = ").push_bind(client_id.as_str());
            }
            if let Some(user_id) = &filter.user_id {
                query.push(" AND user_id = ").push_bind(user_id.as_str());
            }
            for (kinds, operator) in [
                (filter.kinds.as_deref().unwrap_or_default(), " AND kind IN ("),
                (&filter.excluded_kinds[..], " AND kind NOT IN ("),
            ] {
                if kinds.is_empty() {
                    continue;
                }
                query.push(operator);
                let mut list = query.separated(", ");
                for kind in kinds {
                    list.push_bind(kind.as_str());
                }
                query.push(")");
            }
            query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
            query.build_query_as::<AuditRecord>().fetch_all(pool).await
        })?)
    }

    /// Retention: deletes at most `batch` of the oldest events older than `cutoff` and returns how
    /// many went. The caller loops: one bounded statement at a time keeps SQLite's write lock short
    /// when a year of events expires at once. The schema refuses to delete any event younger than
    /// 30 days by the database's clock, whatever `cutoff` says.
    pub async fn delete_audit_events_before(&self, cutoff: i64, batch: i64) -> Result<u64> {
        Ok(on_backend!(self, |pool| sqlx::query(
            "DELETE FROM audit_events WHERE id IN \
             (SELECT id FROM audit_events WHERE occurred_at < $1 ORDER BY occurred_at LIMIT $2)"
        )
        .bind(cutoff)
        .bind(batch)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

//! The inventory of metadata-document clients as /authorize and the token endpoints see it:
//! read through a short per-node cache, written only for signed-in users, within each user's
//! allowance of never-seen clients.

use super::CimdRefusal;
use crate::metrics::Limiter;
use crate::state::AppState;
use crate::throttle::TokenBuckets;
use axum::http::StatusCode;
use postern_core::ClientIdUrl;
use postern_core::domain_policy::DomainDecision;
use postern_store::{AuditEvent, CimdClientRecord, CimdStatus, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long an admitted (user, client_id) pair is remembered; by then the inventory row exists.
const ADMISSION_TTL_SECS: i64 = 3600;
const MAX_ADMISSIONS: usize = 10_000;

/// The new client_ids each user was admitted for, per node. Until the first request's inventory
/// row is visible, every request for that client_id looks new: concurrent first requests (a
/// client retrying, a double click, a burst) must spend the user's allowance once, not each.
#[derive(Default)]
pub struct NewClientAdmissions {
    admitted: Mutex<HashMap<(String, String), i64>>,
}

impl NewClientAdmissions {
    /// Whether `user_id` may bring `url`: already admitted, or admitted now by spending one token.
    fn admit(&self, user_id: &str, url: &ClientIdUrl, now: i64, allowance: &TokenBuckets) -> bool {
        let mut admitted = self.admitted.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (user_id.to_owned(), url.as_str().to_owned());
        if admitted.get(&key).is_some_and(|at| now - at < ADMISSION_TTL_SECS) {
            return true;
        }
        if !allowance.try_take(user_id, now) {
            return false;
        }
        if admitted.len() >= MAX_ADMISSIONS {
            admitted.retain(|_, at| now - *at < ADMISSION_TTL_SECS);
            if admitted.len() >= MAX_ADMISSIONS {
                admitted.clear();
            }
        }
        admitted.insert(key, now);
        true
    }
}

/// The inventory entry, read at most every few seconds per node. A signed-in request records
/// the client as seen (creating it as allowed or pending by domain policy), spending one of the
/// user's new-client allowance when the server has never seen it; an anonymous one only reads,
/// so it cannot grow the inventory.
pub(super) async fn inventory(
    state: &AppState,
    url: &ClientIdUrl,
    decision: DomainDecision,
    signed_in_user: Option<&str>,
) -> Result<Option<CimdClientRecord>, CimdRefusal> {
    let Some(user_id) = signed_in_user else { return Ok(read_inventory(state, url).await?) };
    let now = state.now();
    if let Some(record) = state.cimd.cached_inventory(url, now) {
        return Ok(Some(record));
    }
    if state.store.find_cimd_client(url.as_str()).await?.is_none() {
        spend_new_client_allowance(state, user_id, url).await?;
    }
    let initial = if decision == DomainDecision::NeedsApproval { CimdStatus::Pending } else { CimdStatus::Allowed };
    let record = state.store.record_cimd_client_seen(url.as_str(), url.host(), initial, now).await?;
    if record.first_seen == now && record.status == CimdStatus::Pending {
        let event = AuditEvent {
            client_id: Some(record.client_id.clone()),
            detail: serde_json::json!({ "host": record.host }),
            ..AuditEvent::new("cimd_client_pending")
        };
        state.store.record_audit(&event, now).await?;
    }
    state.cimd.remember_inventory(url, now, &record);
    Ok(Some(record))
}

/// The inventory entry without recording anything (anonymous requests and the token,
/// revocation and introspection endpoints).
pub(super) async fn read_inventory(
    state: &AppState,
    url: &ClientIdUrl,
) -> Result<Option<CimdClientRecord>, StoreError> {
    let now = state.now();
    if let Some(record) = state.cimd.cached_inventory(url, now) {
        return Ok(Some(record));
    }
    let record = state.store.find_cimd_client(url.as_str()).await?;
    if let Some(record) = &record {
        state.cimd.remember_inventory(url, now, record);
    }
    Ok(record)
}

/// Signing in is cheap for anyone with an account, and each client_id the server has never seen
/// costs an inventory row and a fetch: one user may bring `cimd.new_clients_per_user_per_hour`
/// of them (per node). Exhaustion is audited once per user and hour, so the audit log does not
/// grow with the attempts either.
async fn spend_new_client_allowance(state: &AppState, user_id: &str, url: &ClientIdUrl) -> Result<(), CimdRefusal> {
    let now = state.now();
    if state.cimd.admissions.admit(user_id, url, now, &state.new_cimd_clients_by_user) {
        return Ok(());
    }
    state.metrics.rate_limit_rejections.inc(Limiter::CimdNewClients);
    let limit = state.settings.cimd.new_clients_per_user_per_hour;
    if state.cimd_quota_exhaustion_audited.blocked_for(user_id, now).is_none() {
        state.cimd_quota_exhaustion_audited.record_failure(user_id, now);
        let event = AuditEvent {
            client_id: Some(url.as_str().to_owned()),
            user_id: Some(user_id.to_owned()),
            detail: serde_json::json!({ "host": url.host(), "limit_per_hour": limit }),
            ..AuditEvent::new("cimd_new_client_limit_reached")
        };
        state.store.record_audit(&event, now).await?;
    }
    Err(CimdRefusal {
        status: StatusCode::TOO_MANY_REQUESTS,
        title: "Too many new applications",
        message: format!(
            "{url} is new to this server, and your account has already brought {limit} applications this server had \
             never seen within the last hour, the most it accepts. Try again later, or ask an administrator to approve \
             {url} in advance."
        ),
        by_policy: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> ClientIdUrl {
        ClientIdUrl::parse(&format!("https://app.example.com/{path}"), false).unwrap()
    }

    #[test]
    fn a_client_id_admitted_for_a_user_spends_the_allowance_once() {
        let (admissions, allowance) = (NewClientAdmissions::default(), TokenBuckets::new(2, 3600));
        for _ in 0..100 {
            assert!(admissions.admit("u_alice", &url("a.json"), 1000, &allowance));
        }
        assert!(admissions.admit("u_alice", &url("b.json"), 1000, &allowance), "the second token");
        assert!(!admissions.admit("u_alice", &url("c.json"), 1000, &allowance), "the allowance is spent");
        assert!(admissions.admit("u_alice", &url("a.json"), 1000, &allowance), "still admitted");
        assert!(admissions.admit("u_bob", &url("c.json"), 1000, &allowance), "per user");
        // After an hour an admission is forgotten (the inventory row exists by then); the
        // allowance has refilled meanwhile.
        assert!(admissions.admit("u_alice", &url("c.json"), 1000 + ADMISSION_TTL_SECS, &allowance));
    }
}

//! Audit retention: housekeeping deletes events older than `audit.retention_days`.

use crate::state::AppState;
use postern_store::StoreError;

const DAY_SECS: i64 = 86_400;

/// Events are kept this much longer than the retention. The database refuses to delete an
/// event younger than 30 days by its own clock, and refuses the whole statement if any row is:
/// a node whose clock runs ahead of the database's would otherwise never purge anything at the
/// 30-day minimum.
pub const CLOCK_SLACK_SECS: i64 = 3600;

/// The oldest time an event must be kept until, by this node's clock.
pub fn cutoff(now: i64, retention_days: u32) -> i64 {
    now - i64::from(retention_days) * DAY_SECS - CLOCK_SLACK_SECS
}

/// Rows deleted per statement. A first purge after raising the retention can expire millions of
/// events; one statement for all of them would hold SQLite's only write lock for seconds, stalling
/// every token request behind it.
pub const PURGE_BATCH: i64 = 5_000;

/// Deletes the events retention no longer keeps, oldest first, one batch per statement with a
/// pause between batches so waiting writers get the lock; returns how many.
pub async fn purge_expired_audit_events(state: &AppState) -> Result<u64, StoreError> {
    purge_expired_audit_events_in_batches(state, PURGE_BATCH).await
}

/// [`purge_expired_audit_events`] with the batch size chosen by the caller (tests use tiny ones).
pub async fn purge_expired_audit_events_in_batches(state: &AppState, batch_size: i64) -> Result<u64, StoreError> {
    let cutoff = cutoff(state.now(), state.settings.audit_retention_days);
    let mut removed = 0;
    loop {
        let batch = state.store.delete_audit_events_before(cutoff, batch_size).await?;
        removed += batch;
        if batch < batch_size as u64 {
            return Ok(removed);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_the_retention_plus_an_hour_of_slack_before_now() {
        assert_eq!(cutoff(100 * DAY_SECS, 30), 70 * DAY_SECS - 3600);
        assert_eq!(cutoff(1_700_000_000, 365), 1_700_000_000 - 365 * DAY_SECS - 3600);
    }
}

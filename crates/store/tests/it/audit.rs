//! The audit log: newest first, JSON detail as text, and append-only in the schema itself.

use crate::support::{NOW, execute_raw, on_both_backends};
use postern_store::{AuditEvent, Store};
use serde_json::json;

fn event(kind: &'static str, detail: serde_json::Value) -> AuditEvent {
    AuditEvent {
        client_id: Some("client-1".to_owned()),
        user_id: Some("user-1".to_owned()),
        ip: Some("203.0.113.7".to_owned()),
        detail,
        ..AuditEvent::new(kind)
    }
}

on_both_backends!(
    lists_recent_audit_events_newest_first,
    stores_json_detail_as_text_and_null_detail_as_null,
    the_audit_log_refuses_updates,
    the_audit_log_refuses_deletes_of_recent_events,
    retention_deletes_only_events_older_than_the_cutoff_and_the_30_day_floor,
    retention_deletes_the_oldest_events_first_and_at_most_one_batch_per_call,
);

/// The retention floor is enforced with the database's own clock, so these tests use real time.
fn real_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

const DAY: i64 = 86_400;

async fn lists_recent_audit_events_newest_first(store: Store) {
    store.record_audit(&AuditEvent::new("first"), NOW).await.unwrap();
    store.record_audit(&event("second", json!({"n": 2})), NOW + 1).await.unwrap();
    // Same second as the previous one: the order is insertion order, not the clock.
    store.record_audit(&AuditEvent::new("third"), NOW + 1).await.unwrap();

    let all = store.recent_audit_events(10).await.unwrap();
    let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["third", "second", "first"]);
    assert!(all.windows(2).all(|pair| pair[0].id > pair[1].id), "ids grow with insertion");

    let second = &all[1];
    assert_eq!(second.occurred_at, NOW + 1);
    assert_eq!(
        (second.client_id.as_deref(), second.user_id.as_deref(), second.ip.as_deref()),
        (Some("client-1"), Some("user-1"), Some("203.0.113.7"))
    );
    let first = &all[2];
    assert_eq!((first.client_id.as_deref(), first.user_id.as_deref(), first.ip.as_deref()), (None, None, None));

    let newest: Vec<String> = store.recent_audit_events(2).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(newest, ["third", "second"], "the limit keeps the newest");
}

async fn stores_json_detail_as_text_and_null_detail_as_null(store: Store) {
    let detail = json!({"reason": "refresh_token_reuse", "grant_id": "g-1", "count": 2});
    store.record_audit(&event("with_detail", detail.clone()), NOW).await.unwrap();
    store.record_audit(&event("without_detail", serde_json::Value::Null), NOW).await.unwrap();

    let events = store.recent_audit_events(10).await.unwrap();

    assert_eq!(events[1].kind, "with_detail");
    let stored: serde_json::Value = serde_json::from_str(events[1].detail.as_deref().unwrap()).unwrap();
    assert_eq!(stored, detail);
    assert_eq!(events[0].kind, "without_detail");
    assert_eq!(events[0].detail, None, "a Null detail is SQL NULL, not the text \"null\"");
}

async fn the_audit_log_refuses_updates(store: Store) {
    store.record_audit(&AuditEvent::new("login_failed"), NOW).await.unwrap();

    let outcome = execute_raw(&store, "UPDATE audit_events SET kind = 'login_succeeded'").await;

    assert!(outcome.is_err(), "UPDATE on audit_events succeeded: {outcome:?}");
    let kinds: Vec<String> = store.recent_audit_events(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["login_failed"]);
}

async fn the_audit_log_refuses_deletes_of_recent_events(store: Store) {
    store.record_audit(&AuditEvent::new("login_failed"), real_now() - 29 * DAY).await.unwrap();

    let outcome = execute_raw(&store, "DELETE FROM audit_events").await;

    assert!(outcome.is_err(), "DELETE on audit_events succeeded: {outcome:?}");
    assert_eq!(store.recent_audit_events(10).await.unwrap().len(), 1);
    // Not through the retention method either, whatever cutoff it is given.
    assert!(store.delete_audit_events_before(real_now() + DAY, 100).await.is_err());
    assert_eq!(store.recent_audit_events(10).await.unwrap().len(), 1);
}

async fn retention_deletes_only_events_older_than_the_cutoff_and_the_30_day_floor(store: Store) {
    let now = real_now();
    store.record_audit(&AuditEvent::new("ancient"), now - 400 * DAY).await.unwrap();
    store.record_audit(&AuditEvent::new("old"), now - 100 * DAY).await.unwrap();
    store.record_audit(&AuditEvent::new("recent"), now - DAY).await.unwrap();

    assert_eq!(store.delete_audit_events_before(now - 365 * DAY, 100).await.unwrap(), 1);
    let kinds: Vec<String> = store.recent_audit_events(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["recent", "old"]);
    assert_eq!(store.delete_audit_events_before(now - 90 * DAY, 100).await.unwrap(), 1);
    assert_eq!(store.recent_audit_events(10).await.unwrap().len(), 1);
}

async fn retention_deletes_the_oldest_events_first_and_at_most_one_batch_per_call(store: Store) {
    let now = real_now();
    for (kind, age_days) in
        [("aged_300", 300), ("aged_400", 400), ("aged_200", 200), ("aged_500", 500), ("aged_100", 100)]
    {
        store.record_audit(&AuditEvent::new(kind), now - age_days * DAY).await.unwrap();
    }
    store.record_audit(&AuditEvent::new("recent"), now - DAY).await.unwrap();

    assert_eq!(store.delete_audit_events_before(now - 90 * DAY, 2).await.unwrap(), 2);
    let kinds = |events: Vec<postern_store::AuditRecord>| events.into_iter().map(|e| e.kind).collect::<Vec<_>>();
    assert_eq!(kinds(store.recent_audit_events(10).await.unwrap()), ["recent", "aged_100", "aged_200", "aged_300"]);
    assert_eq!(store.delete_audit_events_before(now - 90 * DAY, 2).await.unwrap(), 2);
    assert_eq!(store.delete_audit_events_before(now - 90 * DAY, 2).await.unwrap(), 1);
    assert_eq!(store.delete_audit_events_before(now - 90 * DAY, 2).await.unwrap(), 0);
    assert_eq!(kinds(store.recent_audit_events(10).await.unwrap()), ["recent"]);
}

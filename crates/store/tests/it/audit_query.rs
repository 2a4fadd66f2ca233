//! Querying the audit log (the admin API's filters and cursor) and the structured log line that
//! every audit write also emits.

use crate::support::{NOW, on_both_backends};
use postern_store::{AUDIT_LOG_TARGET, AuditEvent, AuditFilter, AuditRecord, Store};
use serde_json::json;
use std::io;
use std::sync::{Arc, Mutex};

on_both_backends!(
    each_filter_narrows_the_selection_and_they_combine,
    paging_below_the_last_id_returns_each_event_exactly_once_newest_first,
    an_empty_kind_list_selects_nothing_and_excluded_kinds_are_left_out,
    every_audit_write_is_also_a_structured_log_line,
);

fn event(kind: &'static str, client: Option<&str>, user: Option<&str>) -> AuditEvent {
    AuditEvent {
        client_id: client.map(str::to_owned),
        user_id: user.map(str::to_owned),
        ip: Some("203.0.113.9".to_owned()),
        ..AuditEvent::new(kind)
    }
}

/// Ten events, one a second from NOW: kinds alternate, clients and users vary.
async fn ten_events(store: &Store) {
    for i in 0..10i64 {
        let kind = if i % 2 == 0 { "login_failed" } else { "token_issued" };
        let client = if i < 5 { "client-a" } else { "client-b" };
        let user = if i % 3 == 0 { Some("user-3") } else { None };
        store.record_audit(&event(kind, Some(client), user), NOW + i).await.unwrap();
    }
}

fn times(records: &[AuditRecord]) -> Vec<i64> {
    records.iter().map(|r| r.occurred_at - NOW).collect()
}

async fn select(store: &Store, filter: AuditFilter) -> Vec<i64> {
    times(&store.query_audit_events(&filter, None, 100).await.unwrap())
}

async fn each_filter_narrows_the_selection_and_they_combine(store: Store) {
    ten_events(&store).await;

    assert_eq!(select(&store, AuditFilter::default()).await, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    let since_until = AuditFilter { since: Some(NOW + 3), until: Some(NOW + 6), ..AuditFilter::default() };
    assert_eq!(select(&store, since_until).await, [5, 4, 3], "since inclusive, until exclusive");
    let kinds = AuditFilter { kinds: Some(vec!["token_issued".into()]), ..AuditFilter::default() };
    assert_eq!(select(&store, kinds).await, [9, 7, 5, 3, 1]);
    let client = AuditFilter { client_id: Some("client-b".into()), ..AuditFilter::default() };
    assert_eq!(select(&store, client).await, [9, 8, 7, 6, 5]);
    let user = AuditFilter { user_id: Some("user-3".into()), ..AuditFilter::default() };
    assert_eq!(select(&store, user).await, [9, 6, 3, 0]);
    let all = AuditFilter {
        since: Some(NOW + 1),
        until: Some(NOW + 10),
        kinds: Some(vec!["login_failed".into(), "token_issued".into()]),
        excluded_kinds: vec!["token_issued".into()],
        client_id: Some("client-b".into()),
        user_id: Some("user-3".into()),
    };
    assert_eq!(select(&store, all).await, [6]);
    // Values are bound, never spliced into the SQL.
    let hostile = AuditFilter { client_id: Some("x' OR '1'='1".into()), ..AuditFilter::default() };
    assert!(select(&store, hostile).await.is_empty());
}

async fn paging_below_the_last_id_returns_each_event_exactly_once_newest_first(store: Store) {
    ten_events(&store).await;
    let filter =
        AuditFilter { kinds: Some(vec!["login_failed".into(), "token_issued".into()]), ..AuditFilter::default() };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.query_audit_events(&filter, cursor, 3).await.unwrap();
        assert!(page.len() <= 3);
        if page.is_empty() {
            break;
        }
        cursor = page.last().map(|e| e.id);
        seen.extend(times(&page));
        // Events written while paging are newer than the cursor and never show up in later pages.
        store.record_audit(&event("token_issued", None, None), NOW + 100).await.unwrap();
    }
    assert_eq!(seen, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
}

async fn an_empty_kind_list_selects_nothing_and_excluded_kinds_are_left_out(store: Store) {
    ten_events(&store).await;

    assert!(select(&store, AuditFilter { kinds: Some(vec![]), ..AuditFilter::default() }).await.is_empty());
    let excluded = AuditFilter { excluded_kinds: vec!["login_failed".into()], ..AuditFilter::default() };
    assert_eq!(select(&store, excluded).await, [9, 7, 5, 3, 1]);
    let page = store.query_audit_events(&AuditFilter::default(), None, 2).await.unwrap();
    assert_eq!(times(&page), [9, 8], "the limit keeps the newest");
}

/// A log sink for one thread's default subscriber.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn every_audit_write_is_also_a_structured_log_line(store: Store) {
    crate::admin_users::grant_of(&store, "user-1", "g-1").await;
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // The audit line is emitted while the statement is built, on the task's own thread.
    let guard = tracing::subscriber::set_default(subscriber);
    // A typed username may be a mistyped password: the database keeps it, the log line does not.
    let direct = AuditEvent {
        detail: json!({"username": "hunter2-typed-in-the-wrong-field", "reason": "bad_password"}),
        ..event("login_failed", Some("c-1"), Some("u-1"))
    };
    store.record_audit(&direct, NOW).await.unwrap();
    // A write inside a transaction, through the same macro.
    store.revoke_grant("g-1", NOW + 1, &event("refresh_token_revoked", Some("c-2"), None)).await.unwrap();
    drop(guard);

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["target"] == AUDIT_LOG_TARGET)
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let fields = &lines[0]["fields"];
    assert_eq!(fields["kind"], "login_failed");
    assert_eq!((fields["client_id"].as_str(), fields["user_id"].as_str()), (Some("c-1"), Some("u-1")));
    assert_eq!(fields["ip"], "203.0.113.9");
    assert_eq!(fields["occurred_at"], NOW);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(fields["detail"].as_str().unwrap()).unwrap(),
        json!({"reason": "bad_password"})
    );
    assert!(!text.contains("hunter2"), "{text}");
    let stored = store.recent_audit_events(5).await.unwrap();
    assert!(stored.iter().any(|e| e.detail.as_deref().is_some_and(|d| d.contains("hunter2"))));
    assert_eq!(lines[1]["fields"]["kind"], "refresh_token_revoked");
    assert!(lines[1]["fields"].get("user_id").is_none(), "absent values are left out");
    assert!(lines[1]["fields"].get("detail").is_none());
}

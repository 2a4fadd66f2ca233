//! `/admin/api/v1/audit` and `/audit/export`: filters, cursor paging, JSON Lines export, hostile
//! parameters; and retention, purged by housekeeping by the server's (injected) clock.

use crate::admin_support::*;
use crate::support::*;
use postern_core::Clock;
use postern_store::test_support::Backend;
use postern_store::{AdminAccess, AuditEvent};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    each_filter_selects_what_it_names_and_events_carry_their_outcome,
    cursor_paging_returns_each_event_exactly_once_newest_first,
    the_export_streams_json_lines_that_match_the_query_across_database_pages,
    hostile_parameters_are_refused_with_400_naming_the_parameter,
    reading_the_audit_log_needs_an_admin;
    own_server: housekeeping_deletes_events_older_than_the_retention_and_keeps_recent_ones,
);

const DAY: i64 = 86_400;

/// Seeded events happen ten days before the test's own admin calls, which `until` leaves out,
/// and well within the retention (the server's housekeeping runs during the tests).
fn t0(app: &TestApp) -> i64 {
    app.clock.now() - 10 * DAY
}

/// Records an event `n` seconds after T0, with `{"n": n}` as its detail.
async fn seed(app: &TestApp, kind: &'static str, n: i64, client: Option<&str>, user: Option<&str>) {
    let event = AuditEvent {
        client_id: client.map(str::to_owned),
        user_id: user.map(str::to_owned),
        ip: Some("198.51.100.4".into()),
        detail: json!({"n": n}),
        ..AuditEvent::new(kind)
    };
    app.store.record_audit(&event, t0(app) + n).await.unwrap();
}

/// Six events, one a second from T0.
async fn six_events(app: &TestApp) {
    seed(app, "login_failed", 0, Some("c-1"), Some("u-1")).await;
    seed(app, "token_issued", 1, Some("c-1"), Some("u-1")).await;
    seed(app, "consent_denied", 2, Some("c-2"), Some("u-2")).await;
    seed(app, "token_issued", 3, Some("c-2"), Some("u-1")).await;
    seed(app, "refresh_reuse_detected", 4, Some("c-1"), None).await;
    seed(app, "consent_granted", 5, None, Some("u-2")).await;
}

async fn get(app: &TestApp, token: &str, path_and_query: &str) -> Reply {
    app.admin(Method::GET, path_and_query, AdminAuth::Token(token), None).await
}

/// The `n` (seconds after T0) of each event on a page, in order.
fn ns(reply: &Reply) -> Vec<i64> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["events"].as_array().unwrap().iter().map(|e| e["detail"]["n"].as_i64().unwrap()).collect()
}

async fn each_filter_selects_what_it_names_and_events_carry_their_outcome(app: TestApp) {
    six_events(&app).await;
    let token = app.admin_token(AdminAccess::Read).await;
    let t0 = t0(&app);
    let until = format!("until={}", t0 + 100);
    let query = |filters: &str| format!("/audit?{until}&{filters}");

    assert_eq!(ns(&get(&app, &token, &query("")).await), [5, 4, 3, 2, 1, 0]);
    assert_eq!(ns(&get(&app, &token, &format!("/audit?since={}&until={}", t0 + 1, t0 + 3)).await), [2, 1]);
    assert_eq!(ns(&get(&app, &token, &query("type=token_issued&type=consent_denied")).await), [3, 2, 1]);
    assert_eq!(ns(&get(&app, &token, &query("client_id=c-1")).await), [4, 1, 0]);
    assert_eq!(ns(&get(&app, &token, &query("user_id=u-2")).await), [5, 2]);
    assert_eq!(ns(&get(&app, &token, &query("outcome=failure")).await), [4, 2, 0]);
    assert_eq!(ns(&get(&app, &token, &query("outcome=success")).await), [5, 3, 1]);
    assert_eq!(ns(&get(&app, &token, &query("outcome=failure&client_id=c-1&type=login_failed")).await), [0]);
    assert!(ns(&get(&app, &token, &query("outcome=failure&type=token_issued")).await).is_empty());

    let page = get(&app, &token, &query("type=login_failed")).await.json();
    assert_eq!(page["next_cursor"], Value::Null);
    let event = &page["events"][0];
    assert!(event["id"].as_i64().unwrap() > 0);
    assert_eq!(event["occurred_at"], t0);
    assert_eq!(event["kind"], "login_failed");
    assert_eq!(event["outcome"], "failure");
    assert_eq!((event["client_id"].as_str(), event["user_id"].as_str()), (Some("c-1"), Some("u-1")));
    assert_eq!(event["ip"], "198.51.100.4");
    assert_eq!(event["detail"], json!({"n": 0}), "detail is the recorded JSON object, not a string");
    let success = &get(&app, &token, &query("type=consent_granted")).await.json()["events"][0];
    assert_eq!((success["outcome"].as_str(), success["client_id"].clone()), (Some("success"), Value::Null));
}

async fn cursor_paging_returns_each_event_exactly_once_newest_first(app: TestApp) {
    for i in 0..23 {
        seed(&app, "token_issued", i, Some("c-1"), None).await;
    }
    let token = app.admin_token(AdminAccess::Read).await;
    let mut seen = Vec::new();
    let mut ids = Vec::new();
    let until = t0(&app) + 100;
    let mut path = format!("/audit?client_id=c-1&limit=5&until={until}");
    let mut pages = 0;
    loop {
        let reply = get(&app, &token, &path).await;
        let page = reply.json();
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= 5);
        seen.extend(ns(&reply));
        ids.extend(events.iter().map(|e| e["id"].as_i64().unwrap()));
        pages += 1;
        // An event written between pages is newer than the cursor: it never shows up below it.
        seed(&app, "token_issued", 50, Some("c-1"), None).await;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/audit?client_id=c-1&limit=5&until={until}&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, (0..23).rev().collect::<Vec<_>>(), "each event once, newest first");
    assert!(ids.windows(2).all(|w| w[0] > w[1]));
    assert_eq!(pages, 5, "23 events in pages of 5; the last page says there is no next one");
    // The default page size is 100 and the maximum 500.
    let all = get(&app, &token, "/audit?client_id=c-1&limit=500").await.json();
    assert_eq!(all["events"].as_array().unwrap().len(), 23 + 5);
}

async fn the_export_streams_json_lines_that_match_the_query_across_database_pages(app: TestApp) {
    six_events(&app).await;
    // More than one database page of the export (1,000 rows).
    for i in 0..1_100 {
        seed(&app, "token_issued", 10 + i, Some("bulk"), None).await;
    }
    let token = app.admin_token(AdminAccess::Read).await;

    let until = t0(&app) + 5000;
    let export = get(&app, &token, &format!("/audit/export?client_id=bulk&until={until}")).await;

    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.header("content-type").as_deref(), Some("application/x-ndjson"));
    assert_eq!(export.header("cache-control").as_deref(), Some("no-store"));
    let lines: Vec<Value> = export.body.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 1_100);
    assert!(export.body.ends_with('\n'));
    let ns: Vec<i64> = lines.iter().map(|l| l["detail"]["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, (10..1_110).rev().collect::<Vec<_>>(), "each event once, newest first");
    assert!(lines.iter().all(|l| l["client_id"] == "bulk" && l["outcome"] == "success"));

    // The same filters give the same events as the paged query.
    let filters = format!("until={until}&outcome=failure");
    let exported: Vec<Value> = get(&app, &token, &format!("/audit/export?{filters}"))
        .await
        .body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let queried = get(&app, &token, &format!("/audit?{filters}")).await.json()["events"].clone();
    assert_eq!(Value::Array(exported.clone()), queried);
    assert_eq!(exported.len(), 3);
    // before_id continues an export below an event.
    let below = exported[0]["id"].as_i64().unwrap();
    let rest = get(&app, &token, &format!("/audit/export?{filters}&before_id={below}")).await;
    assert_eq!(rest.body.lines().count(), 2);
    let nothing = get(&app, &token, &format!("/audit/export?{filters}&type=token_issued")).await;
    assert_eq!((nothing.status, nothing.body.as_str()), (200, ""));
}

async fn hostile_parameters_are_refused_with_400_naming_the_parameter(app: TestApp) {
    let token = app.admin_token(AdminAccess::Read).await;
    let many_types = (0..21).map(|i| format!("type=kind_{i}")).collect::<Vec<_>>().join("&");
    let long = "x".repeat(5000);
    for (path, named) in [
        ("/audit?since=yesterday".to_owned(), "since"),
        ("/audit?since=-5".to_owned(), "since"),
        ("/audit?until=99999999999999999999".to_owned(), "until"),
        ("/audit?since=10&until=5".to_owned(), "since"),
        ("/audit?since=1&since=2".to_owned(), "since"),
        ("/audit?type=Login%20Failed".to_owned(), "type"),
        (format!("/audit?{many_types}"), "type"),
        ("/audit?outcome=partial".to_owned(), "outcome"),
        ("/audit?limit=0".to_owned(), "limit"),
        ("/audit?limit=501".to_owned(), "limit"),
        ("/audit?limit=ten".to_owned(), "limit"),
        ("/audit?cursor=not-a-cursor".to_owned(), "cursor"),
        ("/audit?cursor=YXVkaXQudjEuLTE".to_owned(), "cursor"),
        ("/audit?client_id=a%00b".to_owned(), "client_id"),
        (format!("/audit?user_id={long}"), "user_id"),
        ("/audit?kind=login_failed".to_owned(), "kind"),
        ("/audit/export?limit=5".to_owned(), "limit"),
        ("/audit/export?cursor=abc".to_owned(), "cursor"),
        ("/audit/export?before_id=0".to_owned(), "before_id"),
        ("/audit/export?before_id=x".to_owned(), "before_id"),
        ("/audit/export?type=x&type=y&outcome=nope".to_owned(), "outcome"),
    ] {
        let reply = get(&app, &token, &path).await;
        assert_eq!(reply.status, 400, "{path:.80}: {}", reply.body);
        assert_eq!(reply.json()["error"], "invalid_request");
        let description = reply.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(named), "{path:.80}: {description}");
    }
}

async fn reading_the_audit_log_needs_an_admin(app: TestApp) {
    for path in ["/audit", "/audit/export"] {
        assert_eq!(app.admin(Method::GET, path, AdminAuth::Anonymous, None).await.status, 401, "{path}");
        let (alice, _) = app.session_of(USERNAME, PASSWORD).await;
        assert_eq!(app.admin(Method::GET, path, AdminAuth::Session(&alice, None), None).await.status, 403, "{path}");
    }
    let token = app.admin_token(AdminAccess::Read).await;
    let reply = get(&app, &token, "/audit?type=admin_api_call").await;
    assert_eq!(reply.status, 200);
    // Every call is audited: the failed ones above are not (no caller), the successful one is.
    let calls = reply.json()["events"].as_array().unwrap().len();
    let again = get(&app, &token, "/audit?type=admin_api_call").await.json()["events"].as_array().unwrap().len();
    assert_eq!(again, calls + 1);
}

async fn housekeeping_deletes_events_older_than_the_retention_and_keeps_recent_ones(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.audit.retention_days = 30).await;
    let now = app.clock.now();
    // The database refuses to delete events younger than 30 days by its own clock, so the
    // events are placed around that floor relative to real time (the test clock starts there).
    for age in [400 * DAY, 31 * DAY, 30 * DAY + 1800, 29 * DAY, 0] {
        seed(&app, "token_issued", now - age - t0(&app), None, None).await;
    }
    // The age in minutes of each seeded event still there, newest first.
    let ages = || async {
        let events = app.store.recent_audit_events(1000).await.unwrap();
        events
            .iter()
            .filter(|e| e.ip.as_deref() == Some("198.51.100.4"))
            .map(|e| (now - e.occurred_at) / 60)
            .collect::<Vec<_>>()
    };

    // (The server's own housekeeping loop runs this too, at start and every minute: the test
    // checks what is left, whichever of the two deleted it.) Batches of one: the purge must keep
    // going until nothing expired is left, not stop after the first statement.
    postern_server::audit_retention::purge_expired_audit_events_in_batches(&app.state, 1).await.unwrap();

    // 30 days + 1 hour of slack: 400 and 31 days go, 30 days and 30 minutes stays for now.
    assert_eq!(ages().await, [0, 29 * 24 * 60, 30 * 24 * 60 + 30]);

    // A day later by the server's clock, the event that was 30 days and 30 minutes old goes too.
    app.clock.advance(DAY);
    postern_server::audit_retention::purge_expired_audit_events(&app.state).await.unwrap();
    assert_eq!(ages().await, [0, 29 * 24 * 60]);
}

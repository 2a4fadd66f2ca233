//! The client address recorded in the audit log and used for login throttling: the TCP peer,
//! unless that peer is a configured trusted proxy (then `X-Forwarded-For`).

use crate::support::*;
use postern_store::test_support::Backend;

backend_tests!(; own_server: forwarded_for_is_believed_only_from_trusted_proxies);

async fn failed_login_ip(app: &TestApp, forwarded_for: &str) -> Option<String> {
    let params = app.authorize_params();
    let page = app.authorize(&params, None).await;
    let cookie = page.session_cookie().unwrap();
    let mut form = params.clone();
    form.push(("csrf_token".into(), page.csrf_token()));
    form.push(("username".into(), USERNAME.into()));
    form.push(("password".into(), "not the password".into()));
    let reply = app
        .http
        .post(app.url("/login"))
        .header("cookie", cookie)
        .header("x-forwarded-for", forwarded_for)
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 401);
    let events = app.store.recent_audit_events(1).await.unwrap();
    assert_eq!(events[0].kind, "login_failed");
    events[0].ip.clone()
}

async fn forwarded_for_is_believed_only_from_trusted_proxies(backend: Backend) {
    let direct = TestApp::spawn(backend).await;
    assert_eq!(failed_login_ip(&direct, "203.0.113.9").await.as_deref(), Some("127.0.0.1"));

    let proxied = TestApp::spawn_with(backend, |config| config.trusted_proxies = vec!["127.0.0.1/32".into()]).await;
    assert_eq!(failed_login_ip(&proxied, "203.0.113.9").await.as_deref(), Some("203.0.113.9"));
    // A client-sent entry left of the proxy's own is not believed.
    assert_eq!(failed_login_ip(&proxied, "1.2.3.4, 203.0.113.10").await.as_deref(), Some("203.0.113.10"));
}

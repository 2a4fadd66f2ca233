//! The admin console (issue 6): server-rendered pages under `/admin`, driven here as a browser
//! would drive them (cookies, the forms' CSRF fields, redirects not followed). Only an
//! administrator gets in; every page carries the security headers and no script; a change
//! without the session's CSRF token is refused; what clients supply is escaped and secrets are
//! never shown. The changes themselves are in `admin_console_changes.rs`.

use crate::admin_client_support::*;
use crate::admin_support::*;
use crate::support::*;
use postern_core::{Clock, TokenHash};
use postern_store::CimdStatus;

backend_tests!(
    only_active_administrators_get_into_the_console,
    an_administrator_signs_in_with_the_console_form_and_out_again,
    every_page_renders_with_the_security_headers_and_no_script,
    a_change_without_the_sessions_csrf_token_is_refused,
    client_supplied_text_is_escaped_and_secrets_are_never_shown,
);

fn assert_page_headers(reply: &Reply, path: &str) {
    let csp = reply.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script"), "{path}: CSP {csp}");
    assert_eq!(reply.header("x-frame-options").as_deref(), Some("DENY"), "{path}");
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"), "{path}");
    assert_eq!(reply.header("referrer-policy").as_deref(), Some("no-referrer"), "{path}");
    assert!(reply.header("content-type").unwrap_or_default().starts_with("text/html"), "{path}");
    assert!(!reply.body.to_ascii_lowercase().contains("<script"), "{path}: a page has no script");
}

async fn only_active_administrators_get_into_the_console(app: TestApp) {
    // Anonymous: sent to the sign-in page.
    let anonymous = app.console_page(None, "/admin").await;
    assert_eq!(anonymous.status, 302);
    assert!(anonymous.location().ends_with("/admin/sign-in"), "{}", anonymous.location());

    // A user who is not an administrator: the right password, and still no way in.
    let form = app.console_page(None, "/admin/sign-in").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let cookie = form.session_cookie().expect("an anonymous cookie binds the form");
    let csrf = form.csrf_token();
    let refused = app
        .console_post(
            &cookie,
            "/admin/sign-in",
            &[("csrf_token", &csrf), ("username", USERNAME), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("This account is not an administrator"), "{}", refused.body);
    assert!(refused.session_cookie().is_none(), "no session is started for a non-administrator");
    assert_eq!(app.console_page(Some(&cookie), "/admin").await.status, 302, "still signed out");
    let (_, _, detail) = last_event(&app, "admin_console_refused").await;
    assert_eq!(detail["username"], USERNAME);

    // Signed in elsewhere (the authorization login) as that user: every page and form says no.
    let (user_cookie, user_csrf) = app.session_of(USERNAME, PASSWORD).await;
    let page_reply = app.console_page(Some(&user_cookie), "/admin/clients").await;
    assert_eq!(page_reply.status, 403);
    assert!(page_reply.body.contains("This account is not an administrator"));
    let change = app
        .console_post(
            &user_cookie,
            &format!("/admin/clients/{PUBLIC_CLIENT}/block"),
            &[("csrf_token", &user_csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(change.status, 403, "{}", change.body);
    assert_eq!(inventory_status(&app, PUBLIC_CLIENT).await, "active");

    // An administrator whose account is disabled is out at the next request, and signing in
    // again says why.
    app.add_bob(true).await;
    let (bob_cookie, _) = app.session_of(BOB, BOB_PASSWORD).await;
    assert_eq!(app.console_page(Some(&bob_cookie), "/admin").await.status, 200);
    let (admin_cookie, admin_csrf) = app.admin_session().await;
    let disabled = app
        .console_post(&admin_cookie, "/admin/users/u_bob/disable", &[("csrf_token", &admin_csrf), ("confirm", "yes")])
        .await;
    assert_eq!(disabled.status, 303, "{}", disabled.body);
    assert_eq!(app.console_page(Some(&bob_cookie), "/admin").await.status, 302);
    let again = app
        .console_post(
            &cookie,
            "/admin/sign-in",
            &[("csrf_token", &csrf), ("username", BOB), ("password", BOB_PASSWORD)],
        )
        .await;
    assert_eq!(again.status, 403);
    assert!(again.body.contains("This account is disabled."), "{}", again.body);
}

async fn an_administrator_signs_in_with_the_console_form_and_out_again(app: TestApp) {
    app.admin_session().await; // creates the administrator
    let form = app.console_page(None, "/admin/sign-in").await;
    let cookie = form.session_cookie().unwrap();
    let csrf = form.csrf_token();
    let wrong = app
        .console_post(
            &cookie,
            "/admin/sign-in",
            &[("csrf_token", &csrf), ("username", ADMIN_USERNAME), ("password", "wrong")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Incorrect username or password."), "the same check as every sign-in form");

    let signed_in = app
        .console_post(
            &cookie,
            "/admin/sign-in",
            &[("csrf_token", &csrf), ("username", ADMIN_USERNAME), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert!(signed_in.location().ends_with("/admin"));
    let session = signed_in.session_cookie().expect("a new session cookie (no fixation)");
    assert_ne!(session, cookie);
    let overview = app.console_page(Some(&session), "/admin").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("Signed in as <strong>root</strong>"));
    assert!(app.audit_kinds().await.contains(&"login_succeeded".to_owned()));
    assert_eq!(app.console_page(Some(&session), "/admin/sign-in").await.status, 302, "signed in: on to the overview");

    let csrf = overview.csrf_token();
    let signed_out = app.console_post(&session, "/admin/sign-out", &[("csrf_token", &csrf)]).await;
    assert_eq!(signed_out.status, 200);
    assert!(signed_out.body.contains("You are signed out."));
    assert_eq!(app.console_page(Some(&session), "/admin").await.status, 302, "the session ended");
}

async fn every_page_renders_with_the_security_headers_and_no_script(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;
    app.add_bob(false).await;
    app.tokens().await; // a grant of the public client
    pending_dcr_client(&app, "dcr_pending", "https://dcr.example.net/cb").await;
    let cimd = "https://agent.example.org/c.json";
    seen_cimd_client(&app, cimd, "agent.example.org", CimdStatus::Pending, "Agent").await;
    app.store.record_audit(&postern_store::AuditEvent::new("login_failed"), app.clock.now()).await.unwrap();
    let runtime_rule = app
        .console_post(
            &cookie,
            "/admin/domains/rules",
            &[("csrf_token", &csrf), ("pattern", "good.example"), ("list", "allow")],
        )
        .await;
    assert_eq!(runtime_rule.status, 303, "{}", runtime_rule.body);
    let grant = app.store.client_live_grants(PUBLIC_CLIENT, 1).await.unwrap().remove(0).grant_id;

    let sign_in = app.console_page(None, "/admin/sign-in").await;
    assert_eq!(sign_in.status, 200);
    assert_page_headers(&sign_in, "/admin/sign-in");
    for path in [
        "/admin".to_owned(),
        "/admin?done=blocked&n=2".to_owned(),
        "/admin/clients".to_owned(),
        "/admin/clients?kind=metadata_document&status=pending&domain=*.example.org&q=agent".to_owned(),
        format!("/admin/clients/{PUBLIC_CLIENT}"),
        format!("/admin/clients/{CONFIDENTIAL_CLIENT}"),
        "/admin/clients/dcr_pending".to_owned(),
        format!("/admin/clients/{}", encoded(cimd)),
        format!("/admin/clients/{PUBLIC_CLIENT}/block"),
        format!("/admin/clients/{}/deny?return=approvals", encoded(cimd)),
        format!("/admin/grants/{grant}/revoke"),
        "/admin/approvals".to_owned(),
        "/admin/domains".to_owned(),
        "/admin/domains/rules/remove?pattern=good.example".to_owned(),
        "/admin/users".to_owned(),
        "/admin/users/u_bob/disable".to_owned(),
        "/admin/users/u_bob/password".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/audit?since=2020-01-01T00%3A00&until=2100-01-01T00%3A00&type=login_failed&outcome=failure".to_owned(),
        format!("/admin/audit?client_id={PUBLIC_CLIENT}&user_id=u_alice"),
    ] {
        let reply = app.console_page(Some(&cookie), &path).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert_page_headers(&reply, &path);
        assert!(reply.body.contains("<nav aria-label=\"Admin console\">"), "{path}: the console frame");
    }
    // Bad input is a page that says what is wrong, never a server error.
    for (path, status) in [
        ("/admin/clients?status=denied", 400),
        ("/admin/clients?page=2", 400),
        ("/admin/audit?since=yesterday", 400),
        ("/admin/clients/no-such-client", 404),
        ("/admin/clients/public-client/obliterate", 404),
        ("/admin/users/u_nobody/disable", 404),
        ("/admin/grants/g_nothing/revoke", 404),
        ("/admin/domains/rules/remove?pattern=not-a-rule.example", 404),
    ] {
        let reply = app.console_page(Some(&cookie), path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert_page_headers(&reply, path);
    }
    let overview = app.console_page(Some(&cookie), "/admin?done=blocked&n=2").await;
    assert!(overview.body.contains("Client blocked. 2 grants were revoked."), "the notice named in the query");
    assert!(overview.body.contains("<strong>2</strong> waiting for approval"), "{}", overview.body);
    assert!(overview.body.contains("login_failed"), "recent failures from the audit log");
    let filtered = app.console_page(Some(&cookie), "/admin/audit?type=login_failed").await;
    assert!(filtered.body.contains("login_failed") && !filtered.body.contains("<code>code_issued</code>"));
    // Several event types at once, as the field's hint says.
    let either = app.console_page(Some(&cookie), "/admin/audit?type=login_failed%2C+login_succeeded").await;
    assert_eq!(either.status, 200, "{}", either.body);
    assert!(either.body.contains(">login_failed<") && either.body.contains(">login_succeeded<"), "{}", either.body);
    assert!(either.body.contains("export?type=login_failed&#38;type=login_succeeded"), "{}", either.body);
}

async fn a_change_without_the_sessions_csrf_token_is_refused(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;
    let (_, other_csrf) = app.session_of(USERNAME, PASSWORD).await;
    pending_dcr_client(&app, "dcr_pending", "https://dcr.example.net/cb").await;
    for form in [vec![], vec![("csrf_token", "forged")], vec![("csrf_token", other_csrf.as_str())]] {
        let reply = app.console_post(&cookie, "/admin/clients/dcr_pending/approve", &form).await;
        assert_eq!(reply.status, 403, "{form:?}: {}", reply.body);
        assert!(reply.body.contains("This form has expired or was not sent from this site"));
        assert_page_headers(&reply, "refused form");
    }
    // Without the cookie the token alone is nothing.
    let reply = app.post_form("/admin/clients/dcr_pending/approve", None, &[("csrf_token".into(), csrf.clone())]).await;
    assert_eq!(reply.status, 403);
    assert_eq!(inventory_status(&app, "dcr_pending").await, "pending", "nothing changed");
    assert_eq!(app.audit_count("admin_client_approved").await, 0);
    let reply = app.console_post(&cookie, "/admin/clients/dcr_pending/approve", &[("csrf_token", &csrf)]).await;
    assert_eq!(reply.status, 303, "the same post with the token works: {}", reply.body);
}

async fn client_supplied_text_is_escaped_and_secrets_are_never_shown(app: TestApp) {
    let (cookie, _) = app.admin_session().await;
    pending_dcr_client(&app, "<script>alert(1)</script>", "https://evil.example/cb").await;
    for path in ["/admin/clients", "/admin/approvals", "/admin"] {
        let reply = app.console_page(Some(&cookie), path).await;
        assert!(!reply.body.contains("<script>alert(1)</script>"), "{path}");
        assert!(reply.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "{path}: {}", reply.body);
    }
    let confidential = app.console_page(Some(&cookie), &format!("/admin/clients/{CONFIDENTIAL_CLIENT}")).await;
    assert!(confidential.body.contains("yes, does not expire"), "{}", confidential.body);
    assert!(!confidential.body.contains(TokenHash::of(CONFIDENTIAL_SECRET).as_str()), "never the secret's hash");
    let users = app.console_page(Some(&cookie), "/admin/users").await;
    assert!(!users.body.contains("$argon2"), "never a password hash");
}

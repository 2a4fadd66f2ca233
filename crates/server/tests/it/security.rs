//! Response hardening, body limits and health endpoints (R096 anti-framing, R161).

use crate::support::*;

backend_tests!(
    every_html_page_forbids_framing_script_and_referrers,
    body_over_32_kib_is_413_and_nothing_is_stored,
    health_and_readiness_endpoints_answer_200,
);

/// R096: CSP `frame-ancestors 'none'` and `X-Frame-Options: DENY`; no script may run; no
/// referrer carries the request's query (codes, state) to another site.
#[track_caller]
fn assert_hardened_page(reply: &Reply, why: &str) {
    assert!(reply.header("content-type").unwrap_or_default().starts_with("text/html"), "{why}");
    let csp = reply.header("content-security-policy").unwrap_or_else(|| panic!("{why}: no CSP"));
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    assert!(directives.contains(&"frame-ancestors 'none'"), "{why}: {csp}");
    assert!(!csp.contains("'unsafe-inline'") && !csp.contains("'unsafe-eval'"), "{why}: {csp}");
    // Scripts fall back to default-src 'none' unless script-src is 'none' itself.
    let script_src = directives.iter().find(|d| d.starts_with("script-src"));
    match script_src {
        Some(directive) => assert_eq!(*directive, "script-src 'none'", "{why}: {csp}"),
        None => assert!(directives.contains(&"default-src 'none'"), "{why}: {csp}"),
    }
    assert_eq!(reply.header("x-frame-options").as_deref(), Some("DENY"), "{why}");
    assert_eq!(reply.header("referrer-policy").as_deref(), Some("no-referrer"), "{why}");
    assert_eq!(reply.header("x-content-type-options").as_deref(), Some("nosniff"), "{why}");
    assert!(!reply.body.to_ascii_lowercase().contains("<script"), "{why}: page carries a script");
}

async fn every_html_page_forbids_framing_script_and_referrers(app: TestApp) {
    // R096: anti-framing on every page, not only consent.
    let params = app.authorize_params();
    let login = app.authorize(&params, None).await;
    let cookie = login.session_cookie().unwrap();
    let (wrong_password, _) = app.login(&login, &cookie, &params, "not the password at all").await;
    let (consent, signed_in) = app.login(&login, &cookie, &params, PASSWORD).await;
    let error = app.authorize(&without_param(&params, "client_id"), None).await;
    let csrf = app.post_form("/consent", Some(&signed_in), &and_param(&params, "decision", "approve")).await;
    // A mistyped address: a page, not an empty answer without headers.
    let missing = app.get("/admin/clientz").await;
    assert!(missing.body.contains("Page not found"), "{}", missing.body);
    let pages = [
        ("login page", 200, login),
        ("wrong password page", 401, wrong_password),
        ("consent page", 200, consent),
        ("error page", 400, error),
        ("csrf page", 400, csrf),
        ("not found page", 404, missing),
    ];
    for (why, status, page) in pages {
        assert_eq!(page.status, status, "{why}: {}", page.body);
        assert_hardened_page(&page, why);
    }
    // The only subresource the pages load is the stylesheet CSP allows ('self').
    let css = app.get("/static/postern.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap_or_default().starts_with("text/css"));
}

async fn body_over_32_kib_is_413_and_nothing_is_stored(app: TestApp) {
    // R135: token requests are small forms; the server caps every body at 32 KiB.
    let code = app.code().await;
    let padding = "a".repeat(33 * 1024);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", PUBLIC_CLIENT),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("padding", padding.as_str()),
    ];
    let reply = app.token(&form).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(!reply.body.contains("access_token"), "{}", reply.body);
    // Nothing was issued and the code was not consumed.
    assert_eq!(app.audit_count("token_issued").await, 0);
    assert_eq!(app.exchange(&code).await.status, 200);

    // The same limit guards the browser forms.
    let params = and_param(&app.authorize_params(), "padding", &padding);
    assert_eq!(app.post_form("/authorize", None, &params).await.status, 413);
    assert_eq!(app.post_form("/login", None, &params).await.status, 413);
    // Only the sign-in of `app.code()` happened.
    assert_eq!(app.audit_count("login_succeeded").await, 1);
}

async fn health_and_readiness_endpoints_answer_200(app: TestApp) {
    // No SPEC rule: deployment health checks (README, deployment).
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "ok");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body, "ready");
}

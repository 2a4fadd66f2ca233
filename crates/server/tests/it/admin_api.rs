//! The admin API's door: who may call it, with what access, and that every call is audited.

use crate::admin_support::*;
use crate::support::*;
use postern_core::Clock;
use postern_store::AdminAccess;
use reqwest::Method;

backend_tests!(
    without_credentials_the_admin_api_answers_401_with_a_bearer_challenge,
    unknown_revoked_and_expired_tokens_are_refused,
    a_read_token_sees_the_overview_and_the_call_is_audited,
    an_administrators_browser_session_may_call_it_and_other_users_may_not,
    repeated_failed_authentication_from_one_address_is_throttled,
    refused_calls_are_audited_with_who_and_why,
    a_non_administrators_refused_calls_count_toward_the_throttle,
);

/// The detail of each `admin_api_call_refused` event, oldest first.
async fn refusals(app: &TestApp) -> Vec<(Option<String>, serde_json::Value)> {
    let mut events = app.store.recent_audit_events(100).await.unwrap();
    events.reverse();
    events
        .into_iter()
        .filter(|e| e.kind == "admin_api_call_refused")
        .map(|e| (e.user_id, serde_json::from_str(e.detail.as_deref().unwrap()).unwrap()))
        .collect()
}

async fn without_credentials_the_admin_api_answers_401_with_a_bearer_challenge(app: TestApp) {
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Anonymous, None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.header("www-authenticate").as_deref(), Some("Bearer realm=\"postern-admin\""));
    assert_eq!(reply.json()["error"], "invalid_token");
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    // Not let through, so no admin_api_call; the refusal is audited.
    assert_eq!(app.audit_count("admin_api_call").await, 0);
    let refused = refusals(&app).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].1["status"], 401);
    assert_eq!(refused[0].1["path"], "/admin/api/v1/overview");
}

async fn unknown_revoked_and_expired_tokens_are_refused(app: TestApp) {
    for bad in ["padm_never-issued", "", "x".repeat(500).as_str()] {
        let reply = app.admin(Method::GET, "/overview", AdminAuth::Token(bad), None).await;
        assert_eq!(reply.status, 401, "token {bad:.20}: {}", reply.body);
    }
    let token = app.admin_token(AdminAccess::Read).await;
    let record = app.store.find_admin_token(postern_core::TokenHash::of(&token).as_str()).await.unwrap().unwrap();
    assert!(app.store.revoke_admin_token(&record.id, app.clock.now()).await.unwrap());
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 401);
    assert!(reply.json()["error_description"].as_str().unwrap().contains("revoked"));
}

async fn a_read_token_sees_the_overview_and_the_call_is_audited(app: TestApp) {
    let token = app.admin_token(AdminAccess::Read).await;
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let overview = reply.json();
    // The test configuration pre-registers three clients (public, confidential, resource server).
    assert_eq!(overview["clients"]["registered"]["config/active"], 3, "{overview}");
    // The first-start `admin` and the test user.
    assert_eq!(overview["users"]["total"], 2);
    assert_eq!(overview["pending_approvals"], 0);

    let events = app.store.recent_audit_events(5).await.unwrap();
    let call = events.iter().find(|e| e.kind == "admin_api_call").expect("the call is audited");
    let detail: serde_json::Value = serde_json::from_str(call.detail.as_deref().unwrap()).unwrap();
    assert!(detail["actor"].as_str().unwrap().starts_with("token:adm_"), "{detail}");
    assert_eq!(detail["path"], "/admin/api/v1/overview");
    assert_eq!(detail["status"], 200);
    assert!(!call.detail.as_deref().unwrap().contains(&token), "the token itself is never recorded");
}

async fn an_administrators_browser_session_may_call_it_and_other_users_may_not(app: TestApp) {
    let (cookie, _csrf) = app.admin_session().await;
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Session(&cookie, None), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let (alice, _) = app.session_of(USERNAME, PASSWORD).await;
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Session(&alice, None), None).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.json()["error"], "insufficient_access");
}

async fn repeated_failed_authentication_from_one_address_is_throttled(app: TestApp) {
    for _ in 0..10 {
        let reply = app.admin(Method::GET, "/overview", AdminAuth::Token("padm_guess"), None).await;
        assert_eq!(reply.status, 401);
    }
    let token = app.admin_token(AdminAccess::Read).await;
    // Even a good token waits: the address is throttled, not the token.
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 429, "{}", reply.body);
    // The throttle bounds the audit log too: the ten refusals are events, the throttled call is not.
    assert_eq!(refusals(&app).await.len(), 10);
    assert_eq!(app.audit_count("admin_api_call").await, 0);
    app.clock.advance(61);
    let reply = app.admin(Method::GET, "/overview", AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

async fn refused_calls_are_audited_with_who_and_why(app: TestApp) {
    let guess = "padm_a-guessed-token";
    assert_eq!(app.admin(Method::GET, "/clients", AdminAuth::Token(guess), None).await.status, 401);
    let read = app.admin_token(AdminAccess::Read).await;
    let block = format!("/clients/{PUBLIC_CLIENT}/block");
    assert_eq!(app.admin(Method::POST, &block, AdminAuth::Token(&read), None).await.status, 403);
    let (alice, _) = app.session_of(USERNAME, PASSWORD).await;
    assert_eq!(app.admin(Method::GET, "/users", AdminAuth::Session(&alice, None), None).await.status, 403);
    let (admin, _) = app.admin_session().await;
    assert_eq!(app.admin(Method::POST, &block, AdminAuth::Session(&admin, None), None).await.status, 403);

    let refused = refusals(&app).await;
    let summary: Vec<_> = refused
        .iter()
        .map(|(user, detail)| {
            (
                user.as_deref(),
                detail["method"].as_str().unwrap(),
                detail["path"].as_str().unwrap(),
                detail["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (None, "GET", "/admin/api/v1/clients", 401),
            (None, "POST", "/admin/api/v1/clients/{client_id}/block", 403),
            (Some("u_alice"), "GET", "/admin/api/v1/users", 403),
            (Some(ADMIN_USER_ID), "POST", "/admin/api/v1/clients/{client_id}/block", 403),
        ]
    );
    assert!(refused[1].1["actor"].as_str().unwrap().starts_with("token:adm_"), "{}", refused[1].1);
    assert!(refused[1].1["reason"].as_str().unwrap().contains("read-only"), "{}", refused[1].1);
    assert!(refused[2].1["reason"].as_str().unwrap().contains("not an administrator"), "{}", refused[2].1);
    assert!(refused[3].1["reason"].as_str().unwrap().contains("CSRF"), "{}", refused[3].1);
    let everything = serde_json::to_string(&refused.iter().map(|(_, d)| d).collect::<Vec<_>>()).unwrap();
    assert!(!everything.contains(guess) && !everything.contains(&read), "credentials are never recorded");
    // Nothing was changed or let through.
    assert_eq!(app.audit_count("admin_api_call").await, 0);
    assert_eq!(app.audit_count("admin_client_blocked").await, 0);
}

async fn a_non_administrators_refused_calls_count_toward_the_throttle(app: TestApp) {
    let (alice, _) = app.session_of(USERNAME, PASSWORD).await;
    for _ in 0..10 {
        assert_eq!(app.admin(Method::GET, "/users", AdminAuth::Session(&alice, None), None).await.status, 403);
    }
    assert_eq!(app.admin(Method::GET, "/users", AdminAuth::Session(&alice, None), None).await.status, 429);
    assert_eq!(refusals(&app).await.len(), 10, "each refusal is audited, the throttled call is not");
}

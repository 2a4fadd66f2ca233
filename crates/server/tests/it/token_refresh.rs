//! `POST /token` with `grant_type=refresh_token`: rotation, the 30-second reuse grace window
//! (DESIGN §4), family revocation on reuse, client binding, scope and expiry (R148–R152).

use crate::support::*;

backend_tests!(
    refresh_rotates_the_refresh_token_and_the_new_one_works,
    rotated_refresh_token_reused_within_the_grace_window_gets_a_new_token,
    rotated_refresh_token_reused_after_the_grace_window_revokes_the_whole_family,
    refresh_token_presented_by_another_client_is_invalid_grant_and_revokes_nothing,
    narrower_scope_limits_the_access_token_while_the_refresh_token_keeps_the_grant,
    wider_or_unknown_scope_is_invalid_scope,
    resource_other_than_the_granted_one_is_invalid_target,
    expired_refresh_token_is_invalid_grant,
    missing_or_unknown_refresh_token_is_rejected,
);

/// Refreshes as the public client with extra form fields.
async fn refresh_with(app: &TestApp, refresh_token: &str, extra: &[(&str, &str)]) -> Reply {
    let mut form =
        vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", PUBLIC_CLIENT)];
    form.extend_from_slice(extra);
    app.token(&form).await
}

/// The access and refresh token of a successful token response.
fn pair(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

/// Tokens for a grant of `scope`.
async fn tokens_for_scope(app: &TestApp, scope: &str) -> (String, String) {
    let code = app.code_for(&with_param(&app.authorize_params(), "scope", scope)).await;
    pair(&app.exchange(&code).await)
}

async fn refresh_rotates_the_refresh_token_and_the_new_one_works(app: TestApp) {
    let (_, first) = app.tokens().await;
    let reply = app.refresh(&first).await;
    // R136 on the refresh response too.
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let (access, second) = pair(&reply);
    // R148: a new refresh token on every refresh. (Only its own confidential client can see that
    // the old one is inactive; see introspect_revoke.rs.)
    assert_ne!(second, first);
    assert_eq!(app.introspect(&access).await["active"], true);
    let (_, third) = pair(&app.refresh(&second).await);
    assert_ne!(third, second);
    assert_eq!(app.audit_count("token_refreshed").await, 2);
}

async fn rotated_refresh_token_reused_within_the_grace_window_gets_a_new_token(app: TestApp) {
    let (_, first) = app.tokens().await;
    let (_, second) = pair(&app.refresh(&first).await);
    // DESIGN §4: a client that lost the response may retry with the old token for 30 seconds.
    app.clock.advance(30);
    let (access, retried) = pair(&app.refresh(&first).await);
    assert_ne!(retried, first);
    assert_ne!(retried, second);
    assert_eq!(app.introspect(&access).await["active"], true);
    assert_eq!(app.audit_count("token_refreshed_in_grace").await, 1);
    assert_eq!(app.audit_count("refresh_reuse_detected").await, 0);
    // The family is intact: both successors still work.
    assert_eq!(app.refresh(&retried).await.status, 200);
    assert_eq!(app.refresh(&second).await.status, 200);
}

async fn rotated_refresh_token_reused_after_the_grace_window_revokes_the_whole_family(app: TestApp) {
    let (first_access, first) = app.tokens().await;
    let (second_access, second) = pair(&app.refresh(&first).await);
    app.clock.advance(31);
    // R149, RFC 9700 §4.14: reuse after the window means a stolen copy; revoke the grant.
    assert_oauth_error(&app.refresh(&first).await, 400, "invalid_grant");
    assert_eq!(app.audit_count("refresh_reuse_detected").await, 1);
    // The newest refresh token fails too, and every access token of the grant is inactive.
    assert_oauth_error(&app.refresh(&second).await, 400, "invalid_grant");
    for token in [&first_access, &second_access] {
        assert_eq!(app.introspect(token).await, serde_json::json!({"active": false}));
    }
    // Another grant of the same user and client is untouched.
    let (other_access, other_refresh) = app.tokens().await;
    assert_eq!(app.refresh(&other_refresh).await.status, 200);
    assert_eq!(app.introspect(&other_access).await["active"], true);
}

async fn refresh_token_presented_by_another_client_is_invalid_grant_and_revokes_nothing(app: TestApp) {
    let (access, first) = app.tokens().await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", first.as_str())];
    // R150: bound to its client; the confidential client authenticates fine but is refused.
    let stolen = app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
    assert_oauth_error(&stolen, 400, "invalid_grant");
    assert_eq!(app.introspect(&access).await["active"], true);
    let (_, second) = pair(&app.refresh(&first).await);
    // Even a rotated token, past the grace window, presented by another client says nothing
    // about the holder: refused, and the family stays alive.
    app.clock.advance(31);
    let stolen = app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
    assert_oauth_error(&stolen, 400, "invalid_grant");
    assert_eq!(app.audit_count("refresh_reuse_detected").await, 0);
    assert_eq!(app.refresh(&second).await.status, 200);
}

async fn narrower_scope_limits_the_access_token_while_the_refresh_token_keeps_the_grant(app: TestApp) {
    let (_, full) = tokens_for_scope(&app, "mcp:read mcp:write").await;
    // R150: a subset of the grant may be asked for ...
    let reply = refresh_with(&app, &full, &[("scope", "mcp:read")]).await;
    let (narrow_access, successor) = pair(&reply);
    // R117, R136: the response names the granted scope.
    assert_eq!(reply.json()["scope"], "mcp:read");
    assert_eq!(app.introspect(&narrow_access).await["scope"], "mcp:read");
    // ... while the new refresh token keeps exactly the old one's scope.
    let reply = app.refresh(&successor).await;
    assert_eq!(reply.json()["scope"], "mcp:read mcp:write", "{}", reply.body);
}

async fn wider_or_unknown_scope_is_invalid_scope(app: TestApp) {
    let (_, refresh) = tokens_for_scope(&app, "mcp:read").await;
    // R150: never beyond the original grant.
    for scope in ["mcp:read mcp:write", "mcp:write", "files:read", "mcp:admin"] {
        assert_oauth_error(&refresh_with(&app, &refresh, &[("scope", scope)]).await, 400, "invalid_scope");
    }
    // The refused requests did not rotate the token.
    let reply = app.refresh(&refresh).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["scope"], "mcp:read");
}

async fn resource_other_than_the_granted_one_is_invalid_target(app: TestApp) {
    let (_, refresh) = app.tokens().await;
    // R129, R131: bound to the consented resource.
    let reply = refresh_with(&app, &refresh, &[("resource", SECOND_RESOURCE)]).await;
    assert_oauth_error(&reply, 400, "invalid_target");
    let resource = app.resource.clone();
    let reply = refresh_with(&app, &refresh, &[("resource", &resource)]).await;
    let (access, _) = pair(&reply);
    assert_eq!(app.introspect(&access).await["aud"], app.resource.as_str());
}

async fn expired_refresh_token_is_invalid_grant(app: TestApp) {
    let (_, refresh) = app.tokens().await;
    // R152: refresh tokens live 30 days (refresh_token_ttl_secs) from their issue.
    app.clock.advance(30 * 24 * 3600 + 1);
    assert_oauth_error(&app.refresh(&refresh).await, 400, "invalid_grant");
    assert_eq!(app.audit_count("refresh_reuse_detected").await, 0);
}

async fn missing_or_unknown_refresh_token_is_rejected(app: TestApp) {
    // R137, R150
    let form = [("grant_type", "refresh_token"), ("client_id", PUBLIC_CLIENT)];
    assert_oauth_error(&app.token(&form).await, 400, "invalid_request");
    assert_oauth_error(&app.refresh("prt_not-a-real-token").await, 400, "invalid_grant");
    assert_oauth_error(&app.refresh(&"x".repeat(200)).await, 400, "invalid_grant");
}

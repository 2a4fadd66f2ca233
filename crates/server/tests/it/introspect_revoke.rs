//! Token introspection (RFC 7662, R156) and revocation (RFC 7009, R157).

use crate::support::*;

backend_tests!(
    introspection_without_client_authentication_or_by_a_public_client_is_invalid_client,
    unknown_tampered_or_expired_tokens_introspect_as_exactly_active_false,
    access_token_introspects_with_its_claims,
    refresh_token_introspects_active_with_token_type_refresh_token,
    revoking_an_access_token_makes_it_inactive_but_leaves_the_refresh_token_usable,
    a_client_cannot_revoke_another_clients_tokens,
    revoking_an_unknown_token_is_200,
    revocation_authenticates_confidential_clients,
);

async fn introspect_as(app: &TestApp, form: &[(&str, &str)]) -> Reply {
    let request = app.http.post(app.url("/introspect")).form(form);
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Reply { status, headers, body: response.text().await.unwrap() }
}

async fn introspection_without_client_authentication_or_by_a_public_client_is_invalid_client(app: TestApp) {
    let (access, _) = app.tokens().await;
    // R156: the caller must authenticate ...
    assert_oauth_error(&introspect_as(&app, &[("token", &access)]).await, 401, "invalid_client");
    // ... and a public client has nothing to authenticate with.
    let public = introspect_as(&app, &[("token", &access), ("client_id", PUBLIC_CLIENT)]).await;
    assert_oauth_error(&public, 401, "invalid_client");
    let wrong = app.post_basic("/introspect", CONFIDENTIAL_CLIENT, "pcs_wrong", &[("token", &access)]).await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert!(wrong.header("www-authenticate").is_some_and(|c| c.starts_with("Basic")));
    let right = app.post_basic("/introspect", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &[("token", &access)]).await;
    assert_eq!(right.status, 200);
    assert_eq!(right.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(right.json()["active"], true);
}

async fn unknown_tampered_or_expired_tokens_introspect_as_exactly_active_false(app: TestApp) {
    let (access, refresh) = app.tokens().await;
    let inactive = serde_json::json!({"active": false});
    // R156: no reason, no other members.
    // One signature character changed (not the last, whose low bits are padding).
    let mut tampered = access.clone();
    let at = tampered.len() - 10;
    let flipped = if &tampered[at..=at] == "A" { "B" } else { "A" };
    tampered.replace_range(at..=at, flipped);
    let (header, rest) = access.split_once('.').unwrap();
    let unsigned = format!("{header}.{}.", rest.split('.').next().unwrap());
    for token in ["prt_unknown", "eyJhbGciOiJub25lIn0.e30.", unsigned.as_str(), tampered.as_str(), &"x".repeat(4096)] {
        assert_eq!(app.introspect(token).await, inactive, "{token}");
    }
    // A refresh token's hash is not a token.
    let hash = postern_core::TokenHash::of(&refresh);
    assert_eq!(app.introspect(hash.as_str()).await, inactive);
    // R033: expired after its lifetime (3600 s).
    app.clock.advance(3601);
    assert_eq!(app.introspect(&access).await, inactive);
}

async fn access_token_introspects_with_its_claims(app: TestApp) {
    let (access, _) = app.tokens().await;
    let body = app.introspect(&access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["aud"], app.resource.as_str());
    let (iat, exp) = (body["iat"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 3600);
    // The hint orders lookups but never limits them (RFC 7662 §2.1).
    let hinted = app
        .post_basic(
            "/introspect",
            CONFIDENTIAL_CLIENT,
            CONFIDENTIAL_SECRET,
            &[("token", &access), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(hinted.json()["active"], true);
}

async fn refresh_token_introspects_active_with_token_type_refresh_token(app: TestApp) {
    // R156: refresh tokens are introspectable too, and say what they are.
    let (_, refresh) = app.tokens().await;
    let body = app.introspect(&refresh).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], PUBLIC_CLIENT);
    assert_eq!(body["scope"], "mcp:read");
    assert_eq!(body["sub"], "u_alice");
    let hinted = app
        .post_basic(
            "/introspect",
            CONFIDENTIAL_CLIENT,
            CONFIDENTIAL_SECRET,
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(hinted.json()["token_type"], "refresh_token");
}

async fn revoking_an_access_token_makes_it_inactive_but_leaves_the_refresh_token_usable(app: TestApp) {
    let (access, refresh) = app.tokens().await;
    let reply = app.revoke(&access, PUBLIC_CLIENT).await;
    // R157
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(app.introspect(&access).await, serde_json::json!({"active": false}));
    assert_eq!(app.audit_count("access_token_revoked").await, 1);
    // Only that access token: the grant lives on.
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let new_access = refreshed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&new_access).await["active"], true);
}

async fn a_client_cannot_revoke_another_clients_tokens(app: TestApp) {
    let (access, refresh) = app.tokens().await;
    for token in [&access, &refresh] {
        let form = [("token", token.as_str())];
        let reply = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
        // RFC 7009 §2.2: 200 without saying whether the token was known.
        assert_eq!(reply.status, 200);
        assert_eq!(app.introspect(token).await["active"], true, "revoked by another client");
    }
    let kinds = app.audit_kinds().await;
    assert!(!kinds.iter().any(|k| k.ends_with("_revoked")), "{kinds:?}");
    assert_eq!(app.refresh(&refresh).await.status, 200);
}

async fn revoking_an_unknown_token_is_200(app: TestApp) {
    // R157: 200 even for invalid or unknown tokens.
    for token in ["prt_unknown", "eyJhbGciOiJub25lIn0.e30.", "x"] {
        let reply = app.revoke(token, PUBLIC_CLIENT).await;
        assert_eq!(reply.status, 200, "{token}: {}", reply.body);
    }
    // A missing token is a malformed request, not an unknown token.
    let reply = app.post_form("/revoke", None, &[("client_id".into(), PUBLIC_CLIENT.into())]).await;
    assert_oauth_error(&reply, 400, "invalid_request");
}

async fn revocation_authenticates_confidential_clients(app: TestApp) {
    let code = app.code_for(&app.confidential_authorize_params()).await;
    let tokens = app.exchange_confidential(&code).await;
    let refresh = tokens.json()["refresh_token"].as_str().unwrap().to_owned();
    // R157: the confidential client must present its secret.
    assert_oauth_error(&app.revoke(&refresh, CONFIDENTIAL_CLIENT).await, 401, "invalid_client");
    let wrong = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, "pcs_wrong", &[("token", &refresh)]).await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert_eq!(app.introspect(&refresh).await["active"], true);
    let right = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &[("token", &refresh)]).await;
    assert_eq!(right.status, 200);
    assert_eq!(app.introspect(&refresh).await, serde_json::json!({"active": false}));
}

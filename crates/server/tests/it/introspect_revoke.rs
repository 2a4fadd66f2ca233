//! Token introspection (RFC 7662, R156) and revocation (RFC 7009, R157).

use crate::support::*;
use serde_json::json;

backend_tests!(
    introspection_without_client_authentication_or_by_a_public_client_is_invalid_client,
    unknown_tampered_or_expired_tokens_introspect_as_exactly_active_false,
    access_token_introspects_with_its_claims,
    r156_access_tokens_introspect_as_active_for_any_confidential_client,
    an_access_token_of_a_client_blocked_since_introspects_inactive_even_with_a_live_grant,
    r156_r157_a_refresh_token_introspected_by_another_client_is_exactly_active_false,
    r156_a_refresh_token_introspected_by_its_own_client_is_active_without_aud,
    r156_r148_its_own_client_sees_a_refresh_token_inactive_once_rotated_revoked_or_expired,
    revoking_an_access_token_makes_it_inactive_but_leaves_the_refresh_token_usable,
    a_client_cannot_revoke_another_clients_tokens,
    revoking_an_unknown_token_is_200,
    revocation_authenticates_confidential_clients,
);

/// Posts to `/introspect` without HTTP Basic credentials.
async fn introspect_form(app: &TestApp, form: &[(&str, &str)]) -> Reply {
    let request = app.http.post(app.url("/introspect")).form(form);
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Reply { status, headers, body: response.text().await.unwrap() }
}

async fn introspection_without_client_authentication_or_by_a_public_client_is_invalid_client(app: TestApp) {
    let (access, _) = app.tokens().await;
    // R156: the caller must authenticate ...
    assert_oauth_error(&introspect_form(&app, &[("token", &access)]).await, 401, "invalid_client");
    // ... and a public client has nothing to authenticate with.
    let public = introspect_form(&app, &[("token", &access), ("client_id", PUBLIC_CLIENT)]).await;
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
    let inactive = json!({"active": false});
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

async fn r156_access_tokens_introspect_as_active_for_any_confidential_client(app: TestApp) {
    let (public_access, _) = app.tokens().await;
    let (confidential_access, _) = app.confidential_tokens().await;
    // R156: resource servers introspect access tokens issued to other clients; that is what
    // introspection is for, so ownership does not matter here.
    let callers = [(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET), (RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET)];
    for (token, issued_to) in [(&public_access, PUBLIC_CLIENT), (&confidential_access, CONFIDENTIAL_CLIENT)] {
        for (caller, secret) in callers {
            let body = app.introspect_as(caller, secret, token).await;
            assert_eq!(body["active"], true, "{issued_to}'s token, introspected by {caller}: {body}");
            assert_eq!(body["token_type"], "Bearer");
            assert_eq!(body["client_id"], issued_to);
            assert_eq!(body["aud"], app.resource.as_str());
        }
    }
}

async fn r156_r157_a_refresh_token_introspected_by_another_client_is_exactly_active_false(app: TestApp) {
    let (_, public_refresh) = app.tokens().await;
    let (_, confidential_refresh) = app.confidential_tokens().await;
    let unknown = app
        .post_basic("/introspect", RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET, &[("token", "prt_unknown")])
        .await;
    // Token confusion: described as active to a resource server, a refresh token would pass for
    // an access token. As at /revoke (R157), only the client it was issued to learns anything;
    // every other caller gets the unknown-token answer byte for byte, whatever the hint (R156).
    for (token, caller, secret) in [
        (&confidential_refresh, RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET),
        (&public_refresh, RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET),
        (&public_refresh, CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
    ] {
        for hint in [None, Some("refresh_token"), Some("access_token")] {
            let mut form = vec![("token", token.as_str())];
            form.extend(hint.map(|hint| ("token_type_hint", hint)));
            let reply = app.post_basic("/introspect", caller, secret, &form).await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            assert_eq!(reply.json(), json!({"active": false}), "introspected by {caller}, hint {hint:?}");
            assert_eq!(reply.body, unknown.body);
            assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
        }
    }
    // Both tokens are live: the answer was about the caller, not the token.
    assert_eq!(app.introspect(&confidential_refresh).await["active"], true);
    assert_eq!(app.refresh(&public_refresh).await.status, 200);
}

async fn r156_a_refresh_token_introspected_by_its_own_client_is_active_without_aud(app: TestApp) {
    let (_, refresh) = app.confidential_tokens().await;
    for hint in [None, Some("refresh_token")] {
        let mut form = vec![("token", refresh.as_str())];
        form.extend(hint.map(|hint| ("token_type_hint", hint)));
        let body = app.post_basic("/introspect", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await.json();
        assert_eq!(body["active"], true, "{body}");
        // R156: it says what it is, and names no audience, so no audience check can accept it.
        assert_eq!(body["token_type"], "refresh_token");
        assert!(body.get("aud").is_none(), "{body}");
        assert_eq!(body["client_id"], CONFIDENTIAL_CLIENT);
        assert_eq!(body["scope"], "mcp:read");
        assert_eq!(body["sub"], "u_alice");
        assert_eq!(body["iss"], app.issuer.as_str());
        // R152: 30 days.
        let (iat, exp) = (body["iat"].as_i64().unwrap(), body["exp"].as_i64().unwrap());
        assert_eq!(exp - iat, 30 * 24 * 3600);
    }
}

async fn r156_r148_its_own_client_sees_a_refresh_token_inactive_once_rotated_revoked_or_expired(app: TestApp) {
    let inactive = json!({"active": false});
    let (_, first) = app.confidential_tokens().await;
    let form = [("grant_type", "refresh_token"), ("refresh_token", first.as_str())];
    let refreshed = app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let second = refreshed.json()["refresh_token"].as_str().unwrap().to_owned();
    // R148: rotation retires the old token.
    assert_eq!(app.introspect(&first).await, inactive);
    assert_eq!(app.introspect(&second).await["active"], true);
    // R157: revocation ends it.
    let revoked = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &[("token", &second)]).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(app.introspect(&second).await, inactive);
    // R152: so does its lifetime.
    let (_, third) = app.confidential_tokens().await;
    assert_eq!(app.introspect(&third).await["active"], true);
    app.clock.advance(30 * 24 * 3600 + 1);
    assert_eq!(app.introspect(&third).await, inactive);
}

async fn revoking_an_access_token_makes_it_inactive_but_leaves_the_refresh_token_usable(app: TestApp) {
    let (access, refresh) = app.tokens().await;
    let reply = app.revoke(&access, PUBLIC_CLIENT).await;
    // R157
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(app.introspect(&access).await, json!({"active": false}));
    assert_eq!(app.audit_count("access_token_revoked").await, 1);
    // Only that access token: the grant lives on.
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let new_access = refreshed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&new_access).await["active"], true);
}

async fn a_client_cannot_revoke_another_clients_tokens(app: TestApp) {
    let (access, refresh) = app.tokens().await;
    let (confidential_access, confidential_refresh) = app.confidential_tokens().await;
    for (token, caller, secret) in [
        (&access, CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
        (&refresh, CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET),
        (&confidential_access, RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET),
        (&confidential_refresh, RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET),
    ] {
        let reply = app.post_basic("/revoke", caller, secret, &[("token", token.as_str())]).await;
        // RFC 7009 §2.2: 200 without saying whether the token was known.
        assert_eq!(reply.status, 200);
    }
    // R157: nothing was revoked; revoking a refresh token would have ended its access token too.
    let kinds = app.audit_kinds().await;
    assert!(!kinds.iter().any(|k| k.ends_with("_revoked")), "{kinds:?}");
    for token in [&access, &confidential_access, &confidential_refresh] {
        assert_eq!(app.introspect(token).await["active"], true, "revoked by another client");
    }
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
    let (_, refresh) = app.confidential_tokens().await;
    // R157: the confidential client must present its secret.
    assert_oauth_error(&app.revoke(&refresh, CONFIDENTIAL_CLIENT).await, 401, "invalid_client");
    let wrong = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, "pcs_wrong", &[("token", &refresh)]).await;
    assert_oauth_error(&wrong, 401, "invalid_client");
    assert_eq!(app.introspect(&refresh).await["active"], true);
    let right = app.post_basic("/revoke", CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &[("token", &refresh)]).await;
    assert_eq!(right.status, 200);
    assert_eq!(app.introspect(&refresh).await, json!({"active": false}));
}

/// Blocking revokes a client's grants in the same transaction; a grant another node issued
/// before it saw the block is not among them. Introspection also checks the client itself.
async fn an_access_token_of_a_client_blocked_since_introspects_inactive_even_with_a_live_grant(app: TestApp) {
    let (access, _) = app.tokens().await;
    assert_eq!(app.introspect(&access).await["active"], true);
    // The status alone changes, as if another node had issued this grant after the block.
    assert!(app.store.set_client_status(PUBLIC_CLIENT, postern_store::ClientStatus::Denied).await.unwrap());
    app.clock.advance(6); // past the per-node client cache
    assert_eq!(app.introspect(&access).await, json!({"active": false}));
    assert!(app.store.set_client_status(PUBLIC_CLIENT, postern_store::ClientStatus::Active).await.unwrap());
    app.clock.advance(6);
    assert_eq!(app.introspect(&access).await["active"], true, "unblocking restores it while the grant lives");
}

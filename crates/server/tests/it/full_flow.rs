//! The whole flow a real MCP client runs, over HTTP: login form, consent form, code, token,
//! refresh, introspection, revocation.

use crate::support::*;

backend_tests!(
    full_flow_login_consent_code_token_refresh_introspect_revoke,
    remembered_consent_skips_the_consent_page_and_prompt_consent_forces_it,
);

async fn full_flow_login_consent_code_token_refresh_introspect_revoke(app: TestApp) {
    let params = app.authorize_params();
    let (redirect, _cookie) = app.authorize_through_browser(&params).await;
    // R115, R113, R114, R118: 303 after the consent form, with code, state and iss.
    assert_eq!(redirect.status, 303);
    assert!(redirect.location().starts_with(&format!("{PUBLIC_REDIRECT}?")));
    assert_eq!(redirect.location_param("state").as_deref(), Some("xyz-state"));
    assert_eq!(redirect.location_param("iss").as_deref(), Some(app.issuer.as_str()));
    let code = redirect.location_param("code").unwrap();

    let tokens = app.exchange(&code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    // R136: no-store and the standard body.
    assert_eq!(tokens.header("cache-control").as_deref(), Some("no-store"));
    let body = tokens.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "mcp:read");
    assert_eq!(body["expires_in"], 3600);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    // R155: an RFC 9068 token whose audience is the resource.
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let introspection = app.introspect(&access).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["aud"], app.resource.as_str());
    assert_eq!(introspection["client_id"], PUBLIC_CLIENT);
    assert_eq!(introspection["sub"], "u_alice");
    assert_eq!(introspection["iss"], app.issuer.as_str());
    assert_eq!(introspection["scope"], "mcp:read");
    assert!(introspection["jti"].as_str().unwrap().starts_with("at_"));

    // R148: rotation hands out a new refresh token.
    let refreshed = app.refresh(&refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let new_refresh = refreshed.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, refresh);
    let new_access = refreshed.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&new_access).await["active"], true);

    // R157: revoking the refresh token revokes its grant, including live access tokens.
    let revoked = app.revoke(&new_refresh, PUBLIC_CLIENT).await;
    assert_eq!(revoked.status, 200);
    assert_eq!(app.introspect(&new_access).await, serde_json::json!({"active": false}));
    assert_eq!(app.introspect(&access).await, serde_json::json!({"active": false}));
    assert_eq!(app.refresh(&new_refresh).await.json()["error"], "invalid_grant");

    let kinds = app.audit_kinds().await;
    for kind in [
        "login_succeeded",
        "consent_granted",
        "code_issued",
        "token_issued",
        "token_refreshed",
        "refresh_token_revoked",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "audit lacks {kind}: {kinds:?}");
    }
}

async fn remembered_consent_skips_the_consent_page_and_prompt_consent_forces_it(app: TestApp) {
    let params = app.authorize_params();
    let (_, cookie) = app.authorize_through_browser(&params).await;
    // Same user, client, resource and scope: straight back to the client with a code (302).
    let again = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert!(again.location_param("code").is_some());
    // prompt=consent shows the page even though consent is remembered.
    let mut forced = params.clone();
    forced.push(("prompt".into(), "consent".into()));
    let page = app.authorize(&forced, Some(&cookie)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Authorize access"));
    // A wider scope than remembered needs consent again.
    let mut wider = params.clone();
    wider.retain(|(k, _)| k != "scope");
    wider.push(("scope".into(), "mcp:read mcp:write".into()));
    let page = app.authorize(&wider, Some(&cookie)).await;
    assert_eq!(page.status, 200);
    // R094: the consent page names the client, scopes, resource and redirect host.
    for needle in ["Public Test Client", PUBLIC_CLIENT, "mcp:write", app.resource.as_str(), "127.0.0.1"] {
        assert!(page.body.contains(needle), "consent page lacks {needle}");
    }
}

//! Authorization server metadata (RFC 8414), its OIDC discovery alias and the JWKS, for an
//! issuer with and without a path (R040–R050).

use crate::support::*;
use postern_store::test_support::Backend;
use serde_json::Value;

backend_tests!(
    authorization_server_metadata_describes_the_issuer_and_its_capabilities,
    openid_configuration_adds_the_oidc_fields_and_keeps_the_same_capabilities,
    jwks_publishes_an_ec_p256_signing_key_with_a_kid;
    own_server: issuer_with_a_path_serves_metadata_at_every_discovery_url_and_endpoints_under_the_path,
);

/// R049: 200 with a JSON content type; R049: no empty arrays anywhere.
fn metadata_json(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.body);
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("application/json"), "content-type {content_type}");
    let body = reply.json();
    for (name, value) in body.as_object().unwrap() {
        assert!(value.as_array().is_none_or(|a| !a.is_empty()), "{name} is an empty array");
    }
    body
}

fn strings(value: &Value) -> Vec<&str> {
    value.as_array().unwrap_or_else(|| panic!("not an array: {value}")).iter().map(|v| v.as_str().unwrap()).collect()
}

/// R042–R048: the fields every MCP client relies on.
fn assert_capabilities(body: &Value, issuer: &str) {
    // R042: byte-equal to the configured issuer (no trailing slash added).
    assert_eq!(body["issuer"], issuer);
    // R043
    assert_eq!(body["authorization_endpoint"], format!("{issuer}/authorize"));
    assert_eq!(body["token_endpoint"], format!("{issuer}/token"));
    assert!(strings(&body["response_types_supported"]).contains(&"code"));
    // R044: S256 only, so no client can fall back to plain.
    assert_eq!(strings(&body["code_challenge_methods_supported"]), ["S256"]);
    // R045: explicit, so the implicit default of RFC 8414 does not apply.
    assert_eq!(strings(&body["grant_types_supported"]), ["authorization_code", "refresh_token"]);
    // R046: public MCP clients authenticate with "none".
    assert!(strings(&body["token_endpoint_auth_methods_supported"]).contains(&"none"));
    // R048, R118
    assert_eq!(body["authorization_response_iss_parameter_supported"], true);
    let mut scopes = strings(&body["scopes_supported"]);
    scopes.sort_unstable();
    assert_eq!(scopes, ["files:read", "mcp:read", "mcp:write"]);
    assert_eq!(body["revocation_endpoint"], format!("{issuer}/revoke"));
    assert_eq!(body["introspection_endpoint"], format!("{issuer}/introspect"));
    assert_eq!(body["jwks_uri"], format!("{issuer}/jwks.json"));
}

async fn authorization_server_metadata_describes_the_issuer_and_its_capabilities(app: TestApp) {
    // R041: path-less issuer, root well-known URL.
    let body = metadata_json(&app.get("/.well-known/oauth-authorization-server").await);
    assert_capabilities(&body, &app.issuer);
    // The RFC 8414 document makes no OIDC claims.
    assert!(body.get("id_token_signing_alg_values_supported").is_none());
}

async fn openid_configuration_adds_the_oidc_fields_and_keeps_the_same_capabilities(app: TestApp) {
    let oauth = metadata_json(&app.get("/.well-known/oauth-authorization-server").await);
    let oidc = metadata_json(&app.get("/.well-known/openid-configuration").await);
    // R044, §4 Q13: the same capability fields in both documents.
    assert_capabilities(&oidc, &app.issuer);
    for (name, value) in oauth.as_object().unwrap() {
        assert_eq!(&oidc[name], value, "{name} differs between the two documents");
    }
    // R050: the OIDC-required members.
    assert!(!strings(&oidc["subject_types_supported"]).is_empty());
    assert!(strings(&oidc["id_token_signing_alg_values_supported"]).contains(&"RS256"));
}

async fn jwks_publishes_an_ec_p256_signing_key_with_a_kid(app: TestApp) {
    let metadata = app.get("/.well-known/oauth-authorization-server").await.json();
    let reply = app.http.get(metadata["jwks_uri"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let jwks: Value = reply.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let key = keys.iter().find(|k| k["kty"] == "EC").unwrap_or_else(|| panic!("no EC key: {jwks}"));
    assert_eq!(key["crv"], "P-256");
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(key["x"].is_string() && key["y"].is_string());
    // Public keys only.
    assert!(keys.iter().all(|k| k.get("d").is_none()), "private key material published: {jwks}");
    // R155: the access tokens are signed with a published key.
    let (access, _) = app.tokens().await;
    let kid = jsonwebtoken::decode_header(&access).unwrap().kid.unwrap();
    assert!(keys.iter().any(|k| k["kid"] == kid.as_str()), "token kid {kid} not in {jwks}");
}

async fn issuer_with_a_path_serves_metadata_at_every_discovery_url_and_endpoints_under_the_path(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.issuer = format!("{}/tenant1", config.issuer)).await;
    assert!(app.issuer.ends_with("/tenant1"));

    // R041: the RFC 8414 path-inserted form and both OIDC forms (SPEC §1 step 4, §2.21).
    let oauth = metadata_json(&app.get("/.well-known/oauth-authorization-server/tenant1").await);
    assert_capabilities(&oauth, &app.issuer);
    for path in ["/.well-known/openid-configuration/tenant1", "/tenant1/.well-known/openid-configuration"] {
        let oidc = metadata_json(&app.get(path).await);
        assert_capabilities(&oidc, &app.issuer);
        assert!(strings(&oidc["id_token_signing_alg_values_supported"]).contains(&"RS256"), "{path}");
    }
    // The root documents would name another issuer; they do not exist for this one.
    assert_eq!(app.get("/.well-known/oauth-authorization-server").await.status, 404);
    assert_eq!(app.get("/.well-known/openid-configuration").await.status, 404);

    // Endpoints live under the issuer path, and only there.
    assert_eq!(app.get("/jwks.json").await.status, 404);
    assert_eq!(app.get("/tenant1/jwks.json").await.status, 200);
    let root_authorize = app.http.get(format!("{}/authorize", app.origin)).query(&app.authorize_params()).send().await;
    assert_eq!(root_authorize.unwrap().status(), 404);
    // The whole flow runs through the advertised endpoints, and `iss` is the path issuer.
    let (redirect, _) = app.authorize_through_browser(&app.authorize_params()).await;
    assert_eq!(redirect.location_param("iss").as_deref(), Some(app.issuer.as_str()));
    let tokens = app.exchange(&redirect.location_param("code").unwrap()).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let introspection = app.introspect(tokens.json()["access_token"].as_str().unwrap()).await;
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["iss"], app.issuer.as_str());
}

//! Browser-based MCP clients (MCP Inspector, web apps) call discovery, token, revocation and
//! registration with fetch() from their own origin; the login and consent pages stay
//! same-origin and never let another origin use the session cookie.

use crate::support::*;
use postern_store::test_support::Backend;

backend_tests!(
    a_browser_client_may_fetch_metadata_and_tokens_from_another_origin,
    token_preflight_allows_the_headers_mcp_sdks_send,
    pages_and_introspection_are_not_opened_to_other_origins;
    own_server: registration_is_fetchable_when_dcr_is_on,
);

const ORIGIN: &str = "http://localhost:6274";

async fn preflight(app: &TestApp, url: &str, method: &str, headers: &str) -> Reply {
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, url)
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", headers)
        .send()
        .await
        .unwrap();
    Reply { status: response.status().as_u16(), headers: response.headers().clone(), body: String::new() }
}

async fn a_browser_client_may_fetch_metadata_and_tokens_from_another_origin(app: TestApp) {
    let metadata =
        app.http.get(format!("{}/.well-known/oauth-authorization-server", app.origin)).header("Origin", ORIGIN);
    let reply = metadata.send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
    // Never credentials: the session cookie must not ride along on a cross-origin fetch.
    assert!(reply.headers().get("access-control-allow-credentials").is_none());

    let code = app.code().await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", PUBLIC_CLIENT),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("resource", app.resource.as_str()),
    ];
    let reply = app.http.post(app.url("/token")).header("Origin", ORIGIN).form(&form).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");

    // Errors too: a browser client must be able to read why it was refused.
    let refused = app.http.post(app.url("/token")).header("Origin", ORIGIN).form(&[("grant_type", "nonsense")]);
    let reply = refused.send().await.unwrap();
    assert!(reply.status().is_client_error());
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
}

async fn token_preflight_allows_the_headers_mcp_sdks_send(app: TestApp) {
    let reply = preflight(&app, &app.url("/token"), "POST", "content-type,mcp-protocol-version").await;
    assert!(reply.status == 200 || reply.status == 204, "preflight status {}", reply.status);
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
    let allowed = reply.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(allowed.contains("content-type") && allowed.contains("mcp-protocol-version"), "{allowed}");
    let methods = reply.header("access-control-allow-methods").unwrap_or_default();
    assert!(methods.contains("POST"), "{methods}");
}

async fn pages_and_introspection_are_not_opened_to_other_origins(app: TestApp) {
    for (path, method) in [("/authorize", "GET"), ("/login", "POST"), ("/consent", "POST"), ("/introspect", "POST")] {
        let reply = preflight(&app, &app.url(path), method, "content-type").await;
        assert!(reply.header("access-control-allow-origin").is_none(), "{path} answered a preflight with CORS");
    }
    let page = app.http.get(app.url("/authorize")).header("Origin", ORIGIN).send().await.unwrap();
    assert!(page.headers().get("access-control-allow-origin").is_none());
}

async fn registration_is_fetchable_when_dcr_is_on(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| config.dcr.enabled = true).await;
    let reply = preflight(&app, &app.url("/register"), "POST", "content-type").await;
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
    let body =
        serde_json::json!({"redirect_uris": ["http://localhost:6274/oauth/callback"], "client_name": "Inspector"});
    let reply = app.http.post(app.url("/register")).header("Origin", ORIGIN).json(&body).send().await.unwrap();
    assert_eq!(reply.status(), 201);
    assert_eq!(reply.headers()["access-control-allow-origin"], "*");
}

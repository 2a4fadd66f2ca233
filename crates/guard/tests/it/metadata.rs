//! Protected Resource Metadata (R001–R014) as served next to the guarded MCP endpoint.

use crate::support::Harness;
use serde_json::json;

#[tokio::test]
async fn r006_prm_is_served_at_path_inserted_and_root_urls_with_the_resource_byte_for_byte() {
    let h = Harness::start().await;
    let expected = json!({
        "resource": h.resource,
        "authorization_servers": [h.issuer],
        "scopes_supported": ["mcp:read"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Notes",
    });
    for url in [h.metadata_url(), format!("{}/.well-known/oauth-protected-resource", h.mcp_origin)] {
        let reply = h.get(&url).await;
        assert_eq!(reply.status, 200, "{url}");
        assert_eq!(reply.header("content-type").as_deref(), Some("application/json"));
        assert_eq!(reply.json(), expected, "{url}");
        // The exact bytes of the configured resource, not a re-serialised URL.
        assert!(reply.body.contains(&format!("\"resource\":\"{}\"", h.resource)), "{}", reply.body);
        assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
        assert!(reply.header("cache-control").unwrap().contains("max-age"));
    }
}

#[tokio::test]
async fn r002_the_named_authorization_server_is_postern_and_serves_its_metadata() {
    let h = Harness::start().await;
    let prm = h.get(&h.metadata_url()).await.json();
    let issuer = prm["authorization_servers"][0].as_str().unwrap().to_owned();
    let metadata = h.get(&format!("{issuer}/.well-known/oauth-authorization-server")).await.json();
    assert_eq!(metadata["issuer"], issuer);
    assert!(metadata["code_challenge_methods_supported"].as_array().unwrap().contains(&json!("S256")));
}

#[tokio::test]
async fn prm_needs_no_token_and_answers_browser_preflights() {
    let h = Harness::start().await;
    let preflight = h
        .http
        .request(reqwest::Method::OPTIONS, h.metadata_url())
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "mcp-protocol-version");
    let reply = h.send(preflight).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
    assert_eq!(reply.header("access-control-allow-headers").as_deref(), Some("mcp-protocol-version"));
}

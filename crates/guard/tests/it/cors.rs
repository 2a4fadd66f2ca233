//! Browser clients: preflights need no token, and the challenge is readable (R029).

use crate::support::{Harness, LIST};

#[tokio::test]
async fn preflight_is_answered_without_a_token() {
    let h = Harness::start().await;
    let preflight = h
        .http
        .request(reqwest::Method::OPTIONS, &h.resource)
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type, mcp-protocol-version");
    let reply = h.send(preflight).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
    assert!(reply.header("access-control-allow-methods").unwrap().contains("POST"));
    assert_eq!(
        reply.header("access-control-allow-headers").as_deref(),
        Some("authorization, content-type, mcp-protocol-version")
    );
}

#[tokio::test]
async fn r029_www_authenticate_is_exposed_on_cross_origin_responses() {
    let h = Harness::start().await;
    let unauthenticated = h
        .http
        .post(&h.resource)
        .header("origin", "https://inspector.example")
        .header("content-type", "application/json")
        .body(LIST);
    let reply = h.send(unauthenticated).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("access-control-allow-origin").as_deref(), Some("*"));
    assert!(reply.header("access-control-expose-headers").unwrap().contains("WWW-Authenticate"));
    let authenticated = h
        .http
        .post(&h.resource)
        .header("origin", "https://inspector.example")
        .header("content-type", "application/json")
        .bearer_auth(h.mint("mcp:read"))
        .body(LIST);
    let reply = h.send(authenticated).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("access-control-expose-headers").unwrap().contains("WWW-Authenticate"));
}

//! The verified identity reaches the MCP server as a request extension.

use crate::support::{CLIENT, Harness, USER, WRITE};
use serde_json::json;

#[tokio::test]
async fn the_inner_handler_sees_sub_client_id_scopes_and_expiry_and_the_whole_body() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read mcp:write");
    let claims: serde_json::Value = {
        let payload = token.split('.').nth(1).unwrap();
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let reply = h.call_with(&token, WRITE).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json();
    assert_eq!(seen["sub"], USER);
    assert_eq!(seen["client_id"], CLIENT);
    assert_eq!(seen["scopes"], json!(["mcp:read", "mcp:write"]));
    assert_eq!(seen["jti"], claims["jti"]);
    assert_eq!(seen["exp"], claims["exp"]);
    // The body the guard read for the policy is handed on unchanged.
    assert_eq!(seen["body"], WRITE);
}

#[tokio::test]
async fn get_requests_are_guarded_with_the_base_scope() {
    let h = Harness::start().await;
    let reply = h.send(h.http.get(&h.resource)).await;
    assert_eq!(reply.status, 401);
    let reply = h.send(h.http.get(&h.resource).bearer_auth(h.mint("mcp:read"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["sub"], USER);
    let reply = h.send(h.http.get(&h.resource).bearer_auth(h.mint("mcp:write"))).await;
    assert_eq!(reply.status, 403);
}

//! Introspection mode (R037) against Postern's real `/token`, `/introspect` and `/revoke`: the
//! guard authenticates as Postern's confidential client `mcp-server`, found the endpoint in
//! Postern's metadata, and caches answers for 10 s of its (injected) clock.

use crate::support::{CLIENT, Harness, LIST, OTHER_RESOURCE, RS_CLIENT, RS_SECRET, USER, WRITE, assert_invalid};
use serde_json::json;

#[tokio::test]
async fn r037_an_active_token_passes_with_the_identity_postern_describes() {
    let h = Harness::introspecting().await;
    let issued = h.issue(&h.resource, "mcp:read mcp:write").await;
    let reply = h.call_with(&issued.access, WRITE).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = reply.json();
    let described = h.introspect(&issued.access).await;
    assert_eq!(described["active"], true);
    assert_eq!(seen["sub"], USER);
    assert_eq!(seen["client_id"], CLIENT);
    assert_eq!(seen["scopes"], json!(["mcp:read", "mcp:write"]));
    assert_eq!(seen["exp"], described["exp"]);
    assert_eq!(seen["jti"], described["jti"]);
    assert_eq!(seen["body"], WRITE);
}

#[tokio::test]
async fn r037_a_token_revoked_at_postern_is_refused_on_the_first_request_after_the_cache_window() {
    let h = Harness::introspecting().await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    assert_eq!(h.call_with(&issued.access, LIST).await.status, 200);
    h.revoke(&issued.access).await;
    assert_eq!(h.introspect(&issued.access).await, json!({"active": false}));
    // Within the window the guard answers from its cache: Postern is not asked again.
    h.clock.advance(9);
    assert_eq!(h.call_with(&issued.access, LIST).await.status, 200);
    // The first request after it gets Postern's verdict.
    h.clock.advance(1);
    assert_invalid(&h, &h.call_with(&issued.access, LIST).await, "not active");
}

#[tokio::test]
async fn r037_revoking_the_refresh_token_ends_the_grant_and_its_access_tokens() {
    let h = Harness::introspecting().await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    assert_eq!(h.call_with(&issued.access, LIST).await.status, 200);
    h.revoke(&issued.refresh).await;
    h.clock.advance(10);
    assert_invalid(&h, &h.call_with(&issued.access, LIST).await, "not active");
}

#[tokio::test]
async fn r034_r037_a_token_postern_issued_for_another_resource_is_refused() {
    let h = Harness::introspecting().await;
    let issued = h.issue(OTHER_RESOURCE, "mcp:read").await;
    // Postern calls it active (it is, for the other resource)...
    let described = h.introspect(&issued.access).await;
    assert_eq!((described["active"].clone(), described["aud"].clone()), (json!(true), json!(OTHER_RESOURCE)));
    // ...but it was not issued for this one.
    assert_invalid(&h, &h.call_with(&issued.access, LIST).await, "aud must contain");
}

#[tokio::test]
async fn r035_a_refresh_token_sent_as_a_bearer_token_is_refused() {
    let h = Harness::introspecting().await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    // Postern describes a refresh token only to the client it was issued to, never to the guard.
    assert_eq!(h.introspect(&issued.refresh).await, json!({"active": false}));
    assert_invalid(&h, &h.call_with(&issued.refresh, LIST).await, "not active");
}

#[tokio::test]
async fn r037_unknown_and_tampered_tokens_are_invalid() {
    let h = Harness::introspecting().await;
    assert_invalid(&h, &h.call_with("prt_not-a-token-postern-issued", LIST).await, "not active");
    let issued = h.issue(&h.resource, "mcp:read").await;
    let (message, _) = issued.access.rsplit_once('.').unwrap();
    assert_invalid(&h, &h.call_with(&format!("{message}.AAAA"), LIST).await, "not active");
}

#[tokio::test]
async fn r024_r037_scopes_from_introspection_drive_the_policy() {
    let h = Harness::introspecting().await;
    let read_only = h.issue(&h.resource, "mcp:read").await;
    assert_eq!(h.call_with(&read_only.access, LIST).await.status, 200);
    let reply = h.call_with(&read_only.access, WRITE).await;
    assert_eq!(reply.status, 403);
    assert!(reply.challenge().contains("error=\"insufficient_scope\", scope=\"mcp:read mcp:write\""));
}

#[tokio::test]
async fn r037_an_unreachable_introspection_endpoint_is_503_with_retry_after() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let h = Harness::start_with(|config, _| {
        config
            .with_introspection(RS_CLIENT, RS_SECRET)
            .with_introspection_endpoint(format!("http://{closed}/introspect"))
    })
    .await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    let reply = h.call_with(&issued.access, LIST).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.header("retry-after").as_deref(), Some("5"));
    assert!(reply.header("www-authenticate").is_none(), "no verdict on the token");
    assert_eq!(reply.json()["error"], "temporarily_unavailable");
}

#[tokio::test]
async fn r037_credentials_postern_refuses_are_503_not_a_verdict_on_the_token() {
    let h = Harness::start_with(|config, _| config.with_introspection(RS_CLIENT, "pcs_wrong-secret")).await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    let reply = h.call_with(&issued.access, LIST).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    // A public client has no secret to authenticate with: Postern refuses it too.
    let h = Harness::start_with(|config, _| config.with_introspection(CLIENT, "anything")).await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    assert_eq!(h.call_with(&issued.access, LIST).await.status, 503);
}

#[tokio::test]
async fn r037_a_configured_endpoint_is_used_as_given() {
    let h = Harness::start_with(|config, issuer| {
        config.with_introspection(RS_CLIENT, RS_SECRET).with_introspection_endpoint(format!("{issuer}/introspect"))
    })
    .await;
    let issued = h.issue(&h.resource, "mcp:read").await;
    assert_eq!(h.call_with(&issued.access, LIST).await.status, 200);
    h.revoke(&issued.access).await;
    h.clock.advance(10);
    assert_invalid(&h, &h.call_with(&issued.access, LIST).await, "not active");
}

//! Challenges exactly as SPEC §3.5 (R020–R026, R031).

use crate::support::{Harness, LIST, WHOAMI, WRITE};

#[tokio::test]
async fn r020_r023_no_token_is_401_with_metadata_and_scope_and_no_error() {
    let h = Harness::start().await;
    let reply = h.call("", None, LIST).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge(), format!("Bearer resource_metadata=\"{}\", scope=\"mcp:read\"", h.metadata_url()));
    // R022: the scopes of *this* request; a write call names the write scope up front.
    let reply = h.call("", None, WRITE).await;
    assert_eq!(
        reply.challenge(),
        format!("Bearer resource_metadata=\"{}\", scope=\"mcp:read mcp:write\"", h.metadata_url())
    );
}

#[tokio::test]
async fn r031_a_token_in_the_query_is_ignored() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read mcp:write");
    let reply = h.call(&format!("?access_token={token}"), None, LIST).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge(), format!("Bearer resource_metadata=\"{}\", scope=\"mcp:read\"", h.metadata_url()));
}

#[tokio::test]
async fn r026_a_token_in_the_query_and_the_header_is_invalid_request() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read");
    let reply = h.call(&format!("?access_token={token}"), Some(&format!("Bearer {token}")), LIST).await;
    assert_eq!(reply.status, 400);
    assert!(reply.challenge().starts_with("Bearer error=\"invalid_request\""), "{}", reply.challenge());
}

#[tokio::test]
async fn r024_r025_write_tool_with_read_scope_is_403_naming_every_needed_scope() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read");
    // tools/list and an unlisted tool pass with the read scope...
    assert_eq!(h.call_with(&token, LIST).await.status, 200);
    assert_eq!(h.call_with(&token, WHOAMI).await.status, 200);
    // ...a write tool does not, and the challenge lists read *and* write (R025).
    let reply = h.call_with(&token, WRITE).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.challenge(),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"mcp:read mcp:write\", resource_metadata=\"{}\", \
             error_description=\"this request needs scope mcp:write\"",
            h.metadata_url()
        )
    );
    assert_eq!(reply.json()["error"], "insufficient_scope");
    // Step-up: a token with both scopes goes through.
    assert_eq!(h.call_with(&h.mint("mcp:read mcp:write"), WRITE).await.status, 200);
}

#[tokio::test]
async fn r030_any_letter_case_of_the_bearer_scheme_works() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read");
    for scheme in ["bearer", "BEARER", "Bearer"] {
        assert_eq!(h.call("", Some(&format!("{scheme} {token}")), LIST).await.status, 200, "{scheme}");
    }
}

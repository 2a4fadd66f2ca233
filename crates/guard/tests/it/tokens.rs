//! Token checks against tokens signed by Postern's real keys (R033–R036).

use crate::support::{Harness, LIST, assert_invalid};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

#[tokio::test]
async fn a_token_minted_by_postern_is_accepted_with_keys_discovered_from_its_metadata() {
    let h = Harness::start().await;
    let reply = h.call_with(&h.mint("mcp:read"), LIST).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn r036_an_expired_token_is_invalid() {
    let h = Harness::start().await;
    // Minted 3,631 s ago with a one-hour lifetime: 31 s past `exp`, beyond the 30 s leeway.
    let token = h.mint_with(&h.resource, "mcp:read", h.now - 3631);
    assert_invalid(&h, &h.call_with(&token, LIST).await, "expired");
    // Within the leeway it still passes.
    let token = h.mint_with(&h.resource, "mcp:read", h.now - 3601);
    assert_eq!(h.call_with(&token, LIST).await.status, 200);
}

#[tokio::test]
async fn r034_a_token_for_another_resource_is_invalid() {
    let h = Harness::start().await;
    let token = h.mint_with("https://other.example/mcp", "mcp:read", h.now);
    assert_invalid(&h, &h.call_with(&token, LIST).await, "aud must contain");
    let token = h.mint_with(&format!("{}/", h.resource), "mcp:read", h.now);
    assert_invalid(&h, &h.call_with(&token, LIST).await, "aud must contain");
}

#[tokio::test]
async fn r036_a_token_from_another_issuer_is_invalid() {
    let h = Harness::start().await;
    let mut claims = h.claims("mcp:read");
    claims["iss"] = json!(format!("{}/", h.issuer));
    let token = h.forge(&json!({"typ": "at+jwt", "alg": "ES256"}), &claims).await;
    assert_invalid(&h, &h.call_with(&token, LIST).await, "not issued by");
    // The forging helper itself makes valid tokens.
    let token = h.forge(&json!({"typ": "at+jwt", "alg": "ES256"}), &h.claims("mcp:read")).await;
    assert_eq!(h.call_with(&token, LIST).await.status, 200);
}

#[tokio::test]
async fn r036_a_bad_signature_is_invalid() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read");
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[20] ^= 0x40;
    let tampered = format!("{message}.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_invalid(&h, &h.call_with(&tampered, LIST).await, "signature is invalid");
    // Escalating scope in the payload breaks the signature too.
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut claims = h.claims("mcp:read mcp:write");
    claims["jti"] = json!("at_escalated");
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    assert_invalid(&h, &h.call_with(&format!("{header}.{payload}.{signature}"), LIST).await, "signature is invalid");
}

#[tokio::test]
async fn r036_alg_none_and_hs256_with_the_public_key_are_invalid() {
    let h = Harness::start().await;
    let jwks = h.get(&format!("{}/jwks.json", h.issuer)).await.json();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    let claims = URL_SAFE_NO_PAD.encode(h.claims("mcp:read").to_string());

    let none_header = URL_SAFE_NO_PAD.encode(json!({"typ": "at+jwt", "alg": "none", "kid": kid}).to_string());
    assert_invalid(&h, &h.call_with(&format!("{none_header}.{claims}."), LIST).await, "not a well-formed JWT");
    assert_invalid(&h, &h.call_with(&format!("{none_header}.{claims}.AAAA"), LIST).await, "alg none is not accepted");

    let hs_header = URL_SAFE_NO_PAD.encode(json!({"typ": "at+jwt", "alg": "HS256", "kid": kid}).to_string());
    let message = format!("{hs_header}.{claims}");
    let secret = jwks["keys"][0].to_string();
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = URL_SAFE_NO_PAD.encode(aws_lc_rs::hmac::sign(&key, message.as_bytes()).as_ref());
    assert_invalid(&h, &h.call_with(&format!("{message}.{tag}"), LIST).await, "alg HS256 is not accepted");
}

#[tokio::test]
async fn r036_a_token_whose_typ_is_not_at_jwt_is_invalid() {
    let h = Harness::start().await;
    for header in [json!({"typ": "JWT", "alg": "ES256"}), json!({"alg": "ES256"})] {
        let token = h.forge(&header, &h.claims("mcp:read")).await;
        assert_invalid(&h, &h.call_with(&token, LIST).await, "typ header must be at+jwt");
    }
    let token = h.forge(&json!({"typ": "application/AT+JWT", "alg": "ES256"}), &h.claims("mcp:read")).await;
    assert_eq!(h.call_with(&token, LIST).await.status, 200);
}

#[tokio::test]
async fn r032_every_request_is_checked_even_after_a_good_one() {
    let h = Harness::start().await;
    let token = h.mint("mcp:read");
    assert_eq!(h.call_with(&token, LIST).await.status, 200);
    // The guard's clock moves past expiry: the same token is refused on the next request.
    h.clock.advance(3600 + 30);
    assert_invalid(&h, &h.call_with(&token, LIST).await, "expired");
}

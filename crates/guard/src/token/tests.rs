#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_keys::{ISSUER, NOW, RESOURCE, TestKey, claims, hs256_token, jwks, unsigned_token};
use crate::{FixedClock, Guard, GuardConfig};
use serde_json::{Value, json};
use std::sync::Arc;

fn guard_for(keys: &[&TestKey], algorithms: &[SigningAlgorithm]) -> Guard {
    let config = GuardConfig::new(RESOURCE, ISSUER)
        .with_static_jwks(jwks(keys))
        .with_algorithms(algorithms.iter().copied())
        .with_clock(Arc::new(FixedClock::at(NOW)));
    Guard::new(config).unwrap()
}

fn es256() -> (TestKey, Guard) {
    let key = TestKey::es256("k1");
    let guard = guard_for(&[&key], &[SigningAlgorithm::ES256]);
    (key, guard)
}

fn with(claims: Value, key: &str, value: Value) -> Value {
    let mut claims = claims;
    claims[key] = value;
    claims
}

fn without(claims: Value, key: &str) -> Value {
    let mut claims = claims;
    claims.as_object_mut().unwrap().remove(key);
    claims
}

#[tokio::test]
async fn accepts_a_valid_token_and_returns_its_identity() {
    let (key, guard) = es256();
    let identity = guard.verify(&key.token("mcp:read mcp:write")).await.unwrap();
    assert_eq!(identity.sub, "user-1");
    assert_eq!(identity.client_id, "client-1");
    assert_eq!(identity.jti, "at_1");
    assert_eq!(identity.exp, NOW + 3600);
    assert_eq!(identity.aud, [RESOURCE]);
    assert!(identity.has_scope("mcp:read") && identity.has_scope("mcp:write"));
}

#[tokio::test]
async fn r036_typ_must_be_at_jwt_in_any_case_with_or_without_application_prefix() {
    let (key, guard) = es256();
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+Jwt"] {
        let token = key.token_with(&json!({"typ": typ, "alg": "ES256", "kid": "k1"}), &claims(""));
        assert!(guard.verify(&token).await.is_ok(), "{typ} must be accepted");
    }
    for header in [
        json!({"typ": "JWT", "alg": "ES256", "kid": "k1"}),
        json!({"typ": "application/jwt", "alg": "ES256", "kid": "k1"}),
        json!({"typ": "xat+jwt", "alg": "ES256", "kid": "k1"}),
        json!({"alg": "ES256", "kid": "k1"}),
    ] {
        let token = key.token_with(&header, &claims(""));
        assert_eq!(guard.verify(&token).await, Err(TokenError::WrongType), "{header}");
    }
}

#[tokio::test]
async fn r036_alg_none_and_hs256_are_refused() {
    let (key, guard) = es256();
    let none = unsigned_token(&json!({"typ": "at+jwt", "alg": "none", "kid": "k1"}), &claims(""));
    assert!(matches!(guard.verify(&none).await, Err(TokenError::Malformed)));
    let none_signed = format!("{none}AAAA");
    assert!(matches!(guard.verify(&none_signed).await, Err(TokenError::AlgorithmNotAccepted(alg, _)) if alg == "none"));
    // Algorithm confusion: HMAC keyed with the public key.
    let public_jwk = key.jwk().to_string();
    let confused = hs256_token(public_jwk.as_bytes(), "k1", &claims(""));
    assert!(matches!(guard.verify(&confused).await, Err(TokenError::AlgorithmNotAccepted(alg, _)) if alg == "HS256"));
}

#[tokio::test]
async fn r036_algorithms_outside_the_pinned_list_are_refused_even_with_a_published_key() {
    let ed = TestKey::eddsa("ed1");
    let es = TestKey::es256("es1");
    let guard = guard_for(&[&ed, &es], &[SigningAlgorithm::ES256]);
    assert!(guard.verify(&es.token("")).await.is_ok());
    assert!(
        matches!(guard.verify(&ed.token("")).await, Err(TokenError::AlgorithmNotAccepted(alg, _)) if alg == "EdDSA")
    );
}

#[tokio::test]
async fn eddsa_and_rs256_verify_when_allowed() {
    let ed = TestKey::eddsa("ed1");
    let rs = TestKey::rs256("rs1");
    let guard = guard_for(&[&ed, &rs], &[SigningAlgorithm::EdDSA, SigningAlgorithm::RS256]);
    assert!(guard.verify(&ed.token("")).await.is_ok());
    assert!(guard.verify(&rs.token("")).await.is_ok());
    // A kid of one key type with another algorithm does not verify.
    let header = json!({"typ": "at+jwt", "alg": "RS256", "kid": "ed1"});
    assert_eq!(guard.verify(&rs.token_with(&header, &claims(""))).await, Err(TokenError::KeyAlgorithmMismatch));
}

#[tokio::test]
async fn r036_signature_must_verify_with_the_as_key() {
    let (key, guard) = es256();
    let token = key.token("");
    let (message, signature) = token.rsplit_once('.').unwrap();
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let tampered = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    assert_eq!(guard.verify(&tampered).await, Err(TokenError::BadSignature));
    // Signed by another key that claims the AS's kid.
    let impostor = TestKey::es256("k1");
    assert_eq!(guard.verify(&impostor.token("")).await, Err(TokenError::BadSignature));
    // Claims swapped under a valid signature.
    let (header, _) = token.split_once('.').unwrap();
    let other_claims = URL_SAFE_NO_PAD.encode(with(claims(""), "sub", json!("admin")).to_string());
    let forged = format!("{header}.{other_claims}.{signature}");
    assert_eq!(guard.verify(&forged).await, Err(TokenError::BadSignature));
}

#[tokio::test]
async fn r036_unknown_kid_is_refused() {
    let (_, guard) = es256();
    let stranger = TestKey::es256("k-unknown");
    assert_eq!(guard.verify(&stranger.token("")).await, Err(TokenError::UnknownKey));
}

#[tokio::test]
async fn a_token_without_kid_uses_the_only_key_of_its_algorithm() {
    let (key, guard) = es256();
    let token = key.token_with(&json!({"typ": "at+jwt", "alg": "ES256"}), &claims(""));
    assert!(guard.verify(&token).await.is_ok());
    let second = TestKey::es256("k2");
    let guard = guard_for(&[&key, &second], &[SigningAlgorithm::ES256]);
    assert_eq!(guard.verify(&token).await, Err(TokenError::AmbiguousKey));
}

#[tokio::test]
async fn r036_iss_must_match_exactly() {
    let (key, guard) = es256();
    for iss in ["https://auth.example.com/", "https://AUTH.example.com", "https://evil.example"] {
        let token = key.token_with(&key.header(), &with(claims(""), "iss", json!(iss)));
        assert_eq!(guard.verify(&token).await, Err(TokenError::WrongIssuer(ISSUER.into())), "{iss}");
    }
    // An array of issuers is not an issuer.
    let token = key.token_with(&key.header(), &with(claims(""), "iss", json!([ISSUER])));
    assert_eq!(guard.verify(&token).await, Err(TokenError::Malformed));
}

#[tokio::test]
async fn r034_aud_must_contain_the_resource_byte_for_byte() {
    let (key, guard) = es256();
    let array = key.token_with(&key.header(), &with(claims(""), "aud", json!(["https://other.example", RESOURCE])));
    assert_eq!(guard.verify(&array).await.unwrap().aud.len(), 2);
    for aud in
        [json!("https://mcp.example.com/mcp/"), json!("https://mcp.example.com"), json!(["https://other.example"])]
    {
        let token = key.token_with(&key.header(), &with(claims(""), "aud", aud.clone()));
        assert_eq!(guard.verify(&token).await, Err(TokenError::WrongAudience(RESOURCE.into())), "{aud}");
    }
}

#[tokio::test]
async fn r036_exp_and_nbf_allow_only_the_leeway() {
    let (key, guard) = es256();
    let leeway = 30;
    let expiring = |exp: i64| key.token_with(&key.header(), &with(claims(""), "exp", json!(exp)));
    assert!(guard.verify(&expiring(NOW - leeway + 1)).await.is_ok());
    assert_eq!(guard.verify(&expiring(NOW - leeway)).await, Err(TokenError::Expired));
    assert_eq!(guard.verify(&expiring(NOW - 3600)).await, Err(TokenError::Expired));
    let maturing = |nbf: i64| key.token_with(&key.header(), &with(claims(""), "nbf", json!(nbf)));
    assert!(guard.verify(&maturing(NOW + leeway)).await.is_ok());
    assert_eq!(guard.verify(&maturing(NOW + leeway + 1)).await, Err(TokenError::NotYetValid));
    // Fractional NumericDates are accepted.
    assert!(
        guard.verify(&key.token_with(&key.header(), &with(claims(""), "exp", json!(NOW as f64 + 0.5)))).await.is_ok()
    );
}

#[tokio::test]
async fn expiry_follows_the_injected_clock() {
    let key = TestKey::es256("k1");
    let clock = FixedClock::at(NOW);
    let config = GuardConfig::new(RESOURCE, ISSUER).with_static_jwks(jwks(&[&key])).with_clock(Arc::new(clock.clone()));
    let guard = Guard::new(config).unwrap();
    let token = key.token("");
    assert!(guard.verify(&token).await.is_ok());
    clock.advance(3600 + 30);
    assert_eq!(guard.verify(&token).await, Err(TokenError::Expired));
}

#[tokio::test]
async fn r036_required_claims_must_be_present() {
    let (key, guard) = es256();
    for claim in ["iss", "aud", "exp", "iat", "sub", "client_id", "jti"] {
        let token = key.token_with(&key.header(), &without(claims(""), claim));
        assert_eq!(guard.verify(&token).await, Err(TokenError::MissingClaim(claim)), "{claim}");
    }
    // `scope` is optional: no scope, no scopes.
    let token = key.token_with(&key.header(), &without(claims(""), "scope"));
    assert!(guard.verify(&token).await.unwrap().scopes.is_empty());
}

#[tokio::test]
async fn malformed_and_oversized_tokens_are_refused_before_any_key_lookup() {
    let (key, guard) = es256();
    for token in ["", "abc", "a.b", "a.b.c.d", "!!.??.**", &format!("{}.", key.token(""))] {
        assert_eq!(guard.verify(token).await, Err(TokenError::Malformed), "{token}");
    }
    let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
    assert_eq!(guard.verify(&huge).await, Err(TokenError::TooLong));
    let crit = key.token_with(&json!({"typ": "at+jwt", "alg": "ES256", "kid": "k1", "crit": ["exp"]}), &claims(""));
    assert_eq!(guard.verify(&crit).await, Err(TokenError::CriticalHeader));
}

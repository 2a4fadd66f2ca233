//! The verified-token cache through [`Guard::verify`], with the injected clock: what a hit
//! still checks, what makes an entry unusable, and its bounds. Signature checks are counted
//! ([`token::signature_checks`]) to tell a hit from a fresh verification.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_keys::{FakeAs, ISSUER, NOW, RESOURCE, TestKey, claims, jwks};
use crate::{FixedClock, Guard, GuardConfig};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use std::future::Future;
use std::time::Duration;

fn static_guard(key: &TestKey, clock: &FixedClock, adjust: impl FnOnce(GuardConfig) -> GuardConfig) -> Guard {
    let config = GuardConfig::new(RESOURCE, ISSUER).with_static_jwks(jwks(&[key])).with_clock(Arc::new(clock.clone()));
    Guard::new(adjust(config)).unwrap()
}

/// A guard fetching its keys from `fake` (which must publish some first).
fn remote_guard(fake: &FakeAs, clock: &FixedClock, adjust: impl FnOnce(GuardConfig) -> GuardConfig) -> Guard {
    let config = GuardConfig::new(RESOURCE, ISSUER).with_jwks_uri(fake.jwks_uri()).with_clock(Arc::new(clock.clone()));
    Guard::new(adjust(config)).unwrap()
}

fn cache(guard: &Guard) -> &VerifiedTokens {
    &guard.inner().verified
}

/// What `future` returned, and how many signatures were checked while it ran.
async fn counting<T>(future: impl Future<Output = T>) -> (T, usize) {
    let before = token::signature_checks();
    let output = future.await;
    (output, token::signature_checks() - before)
}

fn token_expiring_at(key: &TestKey, exp: i64) -> String {
    let mut claims = claims("mcp:read");
    claims["exp"] = json!(exp);
    key.token_with(&key.header(), &claims)
}

/// `key`'s JWK without its `kid`, as some authorization servers publish a single key.
fn without_kid(key: &TestKey) -> String {
    let mut jwk = key.jwk();
    jwk.as_object_mut().unwrap().remove("kid");
    json!({"keys": [jwk]}).to_string()
}

#[tokio::test]
async fn a_token_presented_again_has_its_signature_checked_once() {
    let key = TestKey::es256("k1");
    let guard = static_guard(&key, &FixedClock::at(NOW), |c| c);
    let token = key.token("mcp:read mcp:write");
    let (first, checks) = counting(guard.verify(&token)).await;
    assert_eq!(checks, 1);
    for _ in 0..5 {
        let (again, checks) = counting(guard.verify(&token)).await;
        assert_eq!((&again, checks), (&first, 0), "the same identity, without a signature check");
    }
    assert_eq!(cache(&guard).len(), 1);
}

#[tokio::test]
async fn a_cached_token_is_refused_once_expired_and_its_entry_ends_at_exp() {
    let key = TestKey::es256("k1");
    let clock = FixedClock::at(NOW);
    let guard = static_guard(&key, &clock, |c| c);
    // Expires well within the default 5-minute age.
    let token = token_expiring_at(&key, NOW + 100);
    assert_eq!(counting(guard.verify(&token)).await.1, 1);
    clock.advance(99);
    assert_eq!(counting(guard.verify(&token)).await.1, 0);
    // From `exp` on the cache has nothing; the leeway (30 s) is granted per request.
    clock.advance(1);
    let (verdict, checks) = counting(guard.verify(&token)).await;
    assert!(verdict.is_ok());
    assert_eq!(checks, 1, "no entry at exp");
    clock.advance(29);
    assert_eq!(counting(guard.verify(&token)).await.1, 1, "and none is made past exp");
    clock.advance(1);
    assert_eq!(guard.verify(&token).await, Err(TokenError::Expired));
    assert_eq!(cache(&guard).len(), 0);
}

#[tokio::test]
async fn every_hit_checks_exp_and_nbf_again_at_the_clocks_now() {
    let key = TestKey::es256("k1");
    let guard = static_guard(&key, &FixedClock::at(NOW), |c| c);
    let token = key.token("");
    guard.verify(&token).await.unwrap();
    let hash = TokenHash::of(&token);
    let entry = cache(&guard).entries.get(&hash, NOW).unwrap();
    // Entries that outlive their token's window (which the cache never makes): the hit itself
    // must refuse them, without a signature check.
    let mut expired = (*entry).clone();
    expired.identity.exp = NOW - 30;
    cache(&guard).entries.insert(hash.clone(), Arc::new(expired), NOW + 1000, NOW);
    assert_eq!(counting(guard.verify(&token)).await, (Err(TokenError::Expired), 0));
    let mut immature = (*entry).clone();
    immature.nbf = Some(NOW + 31);
    cache(&guard).entries.insert(hash, Arc::new(immature), NOW + 1000, NOW);
    assert_eq!(counting(guard.verify(&token)).await, (Err(TokenError::NotYetValid), 0));
}

#[tokio::test]
async fn entries_are_kept_at_most_the_configured_age() {
    let key = TestKey::es256("k1");
    let clock = FixedClock::at(NOW);
    let guard = static_guard(&key, &clock, |c| c.with_verified_token_cache(Duration::from_secs(60), 100));
    let token = key.token("");
    assert_eq!(counting(guard.verify(&token)).await.1, 1);
    clock.advance(59);
    assert_eq!(counting(guard.verify(&token)).await.1, 0);
    clock.advance(1);
    assert_eq!(counting(guard.verify(&token)).await.1, 1, "verified again after 60 s");
    assert_eq!(counting(guard.verify(&token)).await.1, 0, "and cached again");
}

#[tokio::test]
async fn a_cached_token_is_refused_once_a_key_reload_drops_its_kid() {
    let fake = FakeAs::start(None).await;
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    fake.publish(&[&old, &new]);
    let guard = remote_guard(&fake, &FixedClock::at(NOW), |c| c);
    let token = old.token("");
    assert_eq!(counting(guard.verify(&token)).await.1, 1);
    // The AS stops publishing the key; until the guard reloads its keys, the key it holds
    // still verifies (cached or not).
    fake.publish(&[&new]);
    let (verdict, checks) = counting(guard.verify(&token)).await;
    assert!(verdict.is_ok());
    assert_eq!(checks, 0);
    assert_eq!(guard.refresh_keys().await.unwrap(), 1);
    assert_eq!(guard.verify(&token).await, Err(TokenError::UnknownKey));
    assert_eq!(cache(&guard).len(), 0, "the entry is dropped");
    assert!(guard.verify(&new.token("")).await.is_ok());
}

#[tokio::test]
async fn hits_still_refresh_stale_keys_so_a_dropped_kid_stops_working_within_the_key_max_age() {
    let fake = FakeAs::start(None).await;
    let (old, new) = (TestKey::es256("old"), TestKey::es256("new"));
    fake.publish(&[&old, &new]);
    let clock = FixedClock::at(NOW);
    // Entries would outlive the keys' max age: only the hit's key lookup can notice.
    let guard = remote_guard(&fake, &clock, |c| {
        c.with_key_max_age(Duration::from_secs(600)).with_verified_token_cache(Duration::from_secs(3600), 100)
    });
    let token = old.token("");
    guard.verify(&token).await.unwrap();
    fake.publish(&[&new]);
    clock.advance(599);
    assert_eq!(counting(guard.verify(&token)).await.1, 0);
    assert_eq!(fake.jwks_fetches(), 1);
    clock.advance(1);
    assert_eq!(guard.verify(&token).await, Err(TokenError::UnknownKey));
    assert_eq!(fake.jwks_fetches(), 2);
}

#[tokio::test]
async fn a_key_replaced_under_the_same_kid_or_without_kid_no_longer_covers_cached_tokens() {
    let fake = FakeAs::start(None).await;
    let guard = remote_guard(&fake, &FixedClock::at(NOW), |c| c);
    // Same kid, new key material: a check of the kid alone would still accept the token.
    let (first, second) = (TestKey::es256("k1"), TestKey::es256("k1"));
    fake.publish(&[&first]);
    let token = first.token("");
    guard.verify(&token).await.unwrap();
    fake.publish(&[&second]);
    guard.refresh_keys().await.unwrap();
    assert_eq!(counting(guard.verify(&token)).await, (Err(TokenError::BadSignature), 1));
    assert!(guard.verify(&second.token("")).await.is_ok());

    // No kid at all: the token names only its algorithm, and the only ES256 key changed.
    let unnamed = |key: &TestKey| key.token_with(&json!({"typ": "at+jwt", "alg": "ES256"}), &claims(""));
    let (first, second) = (TestKey::es256("ignored"), TestKey::es256("ignored"));
    fake.publish_document(without_kid(&first));
    guard.refresh_keys().await.unwrap();
    let token = unnamed(&first);
    guard.verify(&token).await.unwrap();
    assert_eq!(counting(guard.verify(&token)).await.1, 0);
    fake.publish_document(without_kid(&second));
    guard.refresh_keys().await.unwrap();
    assert_eq!(counting(guard.verify(&token)).await, (Err(TokenError::BadSignature), 1));
    assert!(guard.verify(&unnamed(&second)).await.is_ok());
}

#[tokio::test]
async fn a_tampered_token_is_not_answered_from_the_original_tokens_entry() {
    let key = TestKey::es256("k1");
    let guard = static_guard(&key, &FixedClock::at(NOW), |c| c);
    let token = key.token("mcp:read");
    guard.verify(&token).await.unwrap();
    let (message, signature) = token.rsplit_once('.').unwrap();
    // The cached message with another signature.
    let mut bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
    bytes[10] ^= 1;
    let flipped = format!("{message}.{}", URL_SAFE_NO_PAD.encode(&bytes));
    // The cached signature over other claims.
    let (header, _) = token.split_once('.').unwrap();
    let mut more = claims("mcp:read mcp:admin");
    more["sub"] = json!("admin");
    let forged = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(more.to_string()));
    for tampered in [flipped, forged] {
        assert_eq!(counting(guard.verify(&tampered)).await, (Err(TokenError::BadSignature), 1), "{tampered}");
    }
    assert_eq!(cache(&guard).len(), 1);
    assert_eq!(counting(guard.verify(&token)).await.1, 0, "the original is still cached");
}

#[tokio::test]
async fn a_zero_max_age_or_zero_entries_checks_every_signature() {
    let key = TestKey::es256("k1");
    let token = key.token("");
    // Ages are whole seconds: under one is zero.
    for (max_age, entries) in [(Duration::ZERO, 10_000), (Duration::from_millis(999), 10_000), (Duration::MAX, 0)] {
        let guard = static_guard(&key, &FixedClock::at(NOW), |c| c.with_verified_token_cache(max_age, entries));
        for _ in 0..3 {
            assert_eq!(counting(guard.verify(&token)).await.1, 1, "{max_age:?}, {entries}");
        }
        assert_eq!(cache(&guard).len(), 0);
    }
}

#[tokio::test]
async fn the_cache_is_bounded_and_a_full_cache_evicts_nothing() {
    let key = TestKey::es256("k1");
    let clock = FixedClock::at(NOW);
    let guard = static_guard(&key, &clock, |c| c.with_verified_token_cache(Duration::from_secs(300), 2));
    let soon = token_expiring_at(&key, NOW + 10);
    let (second, third) = (key.token(""), key.token(""));
    for token in [&soon, &second, &third] {
        guard.verify(token).await.unwrap();
    }
    assert_eq!(cache(&guard).len(), 2);
    assert_eq!(counting(guard.verify(&soon)).await.1, 0, "the first two stay");
    assert_eq!(counting(guard.verify(&second)).await.1, 0);
    for _ in 0..3 {
        assert_eq!(counting(guard.verify(&third)).await.1, 1, "the newcomer is verified every time");
    }
    // Once an entry has expired, there is room.
    clock.advance(10);
    assert_eq!(counting(guard.verify(&third)).await.1, 1);
    assert_eq!(counting(guard.verify(&third)).await.1, 0);
    assert_eq!(cache(&guard).len(), 2);
}

#[tokio::test]
async fn only_verified_tokens_are_cached() {
    let key = TestKey::es256("k1");
    let guard = static_guard(&key, &FixedClock::at(NOW), |c| c);
    let mut elsewhere = claims("");
    elsewhere["aud"] = json!("https://other.example/mcp");
    let refused = [
        key.token_with(&key.header(), &elsewhere),
        token_expiring_at(&key, NOW - 3600),
        TestKey::es256("k1").token(""),
        TestKey::es256("k9").token(""),
        "not.a.jwt".to_owned(),
    ];
    for token in &refused {
        for _ in 0..2 {
            assert!(guard.verify(token).await.is_err());
        }
    }
    assert_eq!(cache(&guard).len(), 0);
}

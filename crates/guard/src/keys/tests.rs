#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::FixedClock;
use crate::GuardConfig;
use crate::test_keys::{FakeAs, NOW, TestKey, jwks};
use serde_json::json;

const ALL: [SigningAlgorithm; 3] = [SigningAlgorithm::ES256, SigningAlgorithm::RS256, SigningAlgorithm::EdDSA];

#[test]
fn parse_keeps_signing_keys_of_accepted_algorithms_only() {
    let es = TestKey::es256("es");
    let ed = TestKey::eddsa("ed");
    let document = json!({"keys": [
        es.jwk(),
        ed.jwk(),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "EC", "crv": "P-384", "kid": "p384", "x": "AA", "y": "AA"},
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "crv": "P-256", "kid": "short", "x": "AA", "y": "AA"},
        {"kty": "EC", "crv": "P-256", "kid": "named-es384", "alg": "ES384", "x": es.jwk()["x"], "y": es.jwk()["y"]},
        {"kty": 7},
    ]});
    let set = KeySet::parse(document.to_string().as_bytes(), &ALL).unwrap();
    let kids: Vec<_> = set.keys.iter().map(|k| k.kid.clone().unwrap()).collect();
    assert_eq!(kids, ["es", "ed"]);
    let only_es = KeySet::parse(document.to_string().as_bytes(), &[SigningAlgorithm::ES256]).unwrap();
    assert_eq!(only_es.len(), 1);
    assert!(KeySet::parse(b"{\"nokeys\":[]}", &ALL).is_err());
}

#[test]
fn lookup_by_kid_and_algorithm() {
    let es = TestKey::es256("a");
    let ed = TestKey::eddsa("b");
    let set = KeySet::parse(jwks(&[&es, &ed]).as_bytes(), &ALL).unwrap();
    assert_eq!(set.lookup(Some("a"), SigningAlgorithm::ES256), Lookup::Found(0));
    assert_eq!(set.lookup(Some("a"), SigningAlgorithm::EdDSA), Lookup::WrongAlgorithm);
    assert_eq!(set.lookup(Some("z"), SigningAlgorithm::ES256), Lookup::NotFound);
    assert_eq!(set.lookup(None, SigningAlgorithm::EdDSA), Lookup::Found(1));
    assert_eq!(set.lookup(None, SigningAlgorithm::RS256), Lookup::NotFound);
}

#[tokio::test]
async fn discovers_jwks_uri_from_the_as_metadata_once() {
    let fake = FakeAs::start(None).await;
    let key = TestKey::es256("k1");
    fake.publish(&[&key]);
    let clock = FixedClock::at(NOW);
    let cache = fake.cache(fake.config(), &clock);
    assert!(cache.find(Some("k1"), SigningAlgorithm::ES256).await.is_ok());
    assert!(cache.find(Some("k1"), SigningAlgorithm::ES256).await.is_ok());
    assert_eq!(fake.metadata_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(fake.jwks_fetches(), 1, "warm cache: one fetch for many requests");
}

#[tokio::test]
async fn metadata_naming_another_issuer_is_refused() {
    let fake = FakeAs::start(Some("https://evil.example")).await;
    fake.publish(&[&TestKey::es256("k1")]);
    let clock = FixedClock::at(NOW);
    let cache = fake.cache(fake.config(), &clock);
    let error = cache.refresh_now().await.unwrap_err().to_string();
    assert!(error.contains("names issuer 'https://evil.example'"), "{error}");
    assert!(matches!(cache.find(Some("k1"), SigningAlgorithm::ES256).await, Err(KeyError::Unavailable(_))));
    assert_eq!(fake.jwks_fetches(), 0);
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_cooldown() {
    let fake = FakeAs::start(None).await;
    let old = TestKey::es256("old");
    fake.publish(&[&old]);
    let clock = FixedClock::at(NOW);
    let cache = fake.cache(fake.config().with_jwks_uri(format!("{}/keys", fake.origin)), &clock);
    assert!(cache.find(Some("old"), SigningAlgorithm::ES256).await.is_ok());
    assert_eq!(fake.jwks_fetches(), 1);

    // The AS rotates; a token with the new kid arrives within the cooldown: no fetch.
    let new = TestKey::es256("new");
    fake.publish(&[&new, &old]);
    for _ in 0..10 {
        assert_eq!(cache.find(Some("new"), SigningAlgorithm::ES256).await.err(), Some(KeyError::NotFound));
    }
    assert_eq!(fake.jwks_fetches(), 1, "made-up kids must not reach the AS");

    // After the cooldown the unknown kid triggers exactly one fetch, which finds it.
    clock.advance(30);
    assert!(cache.find(Some("new"), SigningAlgorithm::ES256).await.is_ok());
    assert!(cache.find(Some("old"), SigningAlgorithm::ES256).await.is_ok());
    assert_eq!(fake.jwks_fetches(), 2);
    assert_eq!(cache.find(Some("bogus"), SigningAlgorithm::ES256).await.err(), Some(KeyError::NotFound));
    assert_eq!(fake.jwks_fetches(), 2);
}

#[tokio::test]
async fn concurrent_unknown_kids_share_one_fetch() {
    let fake = FakeAs::start(None).await;
    let key = TestKey::es256("k1");
    fake.publish(&[&key]);
    let clock = FixedClock::at(NOW);
    let cache = Arc::new(fake.cache(fake.config().with_jwks_uri(format!("{}/keys", fake.origin)), &clock));
    let lookups: Vec<_> = (0..20)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.find(Some("k1"), SigningAlgorithm::ES256).await.is_ok() })
        })
        .collect();
    for lookup in lookups {
        assert!(lookup.await.unwrap());
    }
    assert_eq!(fake.jwks_fetches(), 1);
}

#[tokio::test]
async fn stale_keys_are_fetched_again_and_kept_if_the_as_is_down() {
    let fake = FakeAs::start(None).await;
    let key = TestKey::es256("k1");
    fake.publish(&[&key]);
    let clock = FixedClock::at(NOW);
    let config = fake
        .config()
        .with_jwks_uri(format!("{}/keys", fake.origin))
        .with_key_max_age(std::time::Duration::from_secs(600));
    let cache = fake.cache(config, &clock);
    assert!(cache.find(Some("k1"), SigningAlgorithm::ES256).await.is_ok());
    clock.advance(600);
    // The AS dropped the key: after max age it stops verifying.
    fake.publish(&[]);
    assert_eq!(cache.find(Some("k1"), SigningAlgorithm::ES256).await.err(), Some(KeyError::NotFound));
    assert_eq!(fake.jwks_fetches(), 2);
}

#[tokio::test]
async fn an_unreachable_as_is_retried_only_after_the_cooldown() {
    let fake = FakeAs::start(None).await;
    let clock = FixedClock::at(NOW);
    let cache = fake.cache(fake.config().with_jwks_uri(format!("{}/broken", fake.origin)), &clock);
    for _ in 0..3 {
        assert!(matches!(cache.find(Some("k1"), SigningAlgorithm::ES256).await, Err(KeyError::Unavailable(_))));
    }
    assert_eq!(cache.attempted_at.load(Ordering::SeqCst), NOW);
    clock.advance(30);
    assert!(matches!(cache.find(Some("k1"), SigningAlgorithm::ES256).await, Err(KeyError::Unavailable(_))));
    assert_eq!(cache.attempted_at.load(Ordering::SeqCst), NOW + 30);
}

#[tokio::test]
async fn static_keys_never_fetch() {
    let key = TestKey::es256("k1");
    let clock = FixedClock::at(NOW);
    let config = GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com");
    let settings = Settings::from_config(&config).unwrap();
    let cache =
        KeyCache::new(&settings, None, Some(&jwks(&[&key])), reqwest::Client::new(), Arc::new(clock.clone())).unwrap();
    assert!(cache.find(Some("k1"), SigningAlgorithm::ES256).await.is_ok());
    assert_eq!(cache.find(Some("k2"), SigningAlgorithm::ES256).await.err(), Some(KeyError::NotFound));
    assert_eq!(cache.attempted_at.load(Ordering::SeqCst), NEVER);
    assert!(KeyCache::new(&settings, None, Some("{\"keys\":[]}"), reqwest::Client::new(), Arc::new(clock)).is_err());
}

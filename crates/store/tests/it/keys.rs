//! Token-signing keys, shared by every node through the database.

use crate::support::{NOW, on_both_backends};
use postern_store::{SigningKeyRecord, Store};

fn key(kid: &str, created_at: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        alg: "ES256".to_owned(),
        private_key: format!("aes256gcm:{kid}-sealed"),
        public_jwk: format!(r#"{{"kty":"EC","crv":"P-256","kid":"{kid}","x":"x","y":"y"}}"#),
        created_at,
        retired_at: None,
    }
}

on_both_backends!(
    a_new_current_key_retires_the_previous_one,
    an_empty_store_has_no_signing_keys,
    the_current_key_lists_first_even_when_created_in_the_same_second,
);

async fn a_new_current_key_retires_the_previous_one(store: Store) {
    for (kid, created_at) in [("k1", NOW), ("k2", NOW + 100), ("k3", NOW + 200)] {
        store.add_current_signing_key(&key(kid, created_at)).await.unwrap();
    }

    let keys = store.list_signing_keys().await.unwrap();

    let summary: Vec<(&str, i64, Option<i64>)> =
        keys.iter().map(|k| (k.kid.as_str(), k.created_at, k.retired_at)).collect();
    assert_eq!(
        summary,
        [("k3", NOW + 200, None), ("k2", NOW + 100, Some(NOW + 200)), ("k1", NOW, Some(NOW + 100))],
        "newest first; each key retired when its successor was added, and only then"
    );
    let newest = &keys[0];
    assert_eq!((newest.alg.as_str(), newest.private_key.as_str()), ("ES256", "aes256gcm:k3-sealed"));
    assert_eq!(newest.public_jwk, key("k3", 0).public_jwk);
}

async fn an_empty_store_has_no_signing_keys(store: Store) {
    assert!(store.list_signing_keys().await.unwrap().is_empty());
}

async fn the_current_key_lists_first_even_when_created_in_the_same_second(store: Store) {
    // The current key's kid sorts last, so a creation-time-then-kid order would list it second.
    store.add_current_signing_key(&key("aa-old", NOW)).await.unwrap();
    store.add_current_signing_key(&key("zz-new", NOW)).await.unwrap();
    let keys = store.list_signing_keys().await.unwrap();
    let summary: Vec<(&str, Option<i64>)> = keys.iter().map(|k| (k.kid.as_str(), k.retired_at)).collect();
    assert_eq!(summary, [("zz-new", None), ("aa-old", Some(NOW))]);
}

//! Admin API tokens: found by hash, live until revoked or expired, last use recorded sparingly.

use crate::support::{NOW, on_both_backends};
use postern_store::{AdminAccess, AdminTokenRecord, Store};

fn token(id: &str, access: AdminAccess, expires_at: Option<i64>) -> AdminTokenRecord {
    AdminTokenRecord {
        id: id.to_owned(),
        label: format!("label of {id}"),
        access,
        created_at: NOW,
        expires_at,
        last_used_at: None,
        revoked_at: None,
    }
}

on_both_backends!(
    a_token_is_found_by_its_hash_only,
    revocation_and_expiry_end_a_token,
    last_use_is_recorded_at_most_once_a_minute,
);

async fn a_token_is_found_by_its_hash_only(store: Store) {
    store.create_admin_token(&token("at_1", AdminAccess::Read, None), "hash-1").await.unwrap();
    store.create_admin_token(&token("at_2", AdminAccess::Write, Some(NOW + 60)), "hash-2").await.unwrap();

    let found = store.find_admin_token("hash-2").await.unwrap().unwrap();
    assert_eq!(found, token("at_2", AdminAccess::Write, Some(NOW + 60)));
    assert!(store.find_admin_token("at_2").await.unwrap().is_none(), "the id is not a credential");
    assert!(store.find_admin_token("hash-3").await.unwrap().is_none());
    let ids: Vec<String> = store.list_admin_tokens().await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["at_1", "at_2"]);
}

async fn revocation_and_expiry_end_a_token(store: Store) {
    store.create_admin_token(&token("at_1", AdminAccess::Write, Some(NOW + 60)), "hash-1").await.unwrap();
    let live = store.find_admin_token("hash-1").await.unwrap().unwrap();
    assert!(live.is_live(NOW + 59));
    assert!(!live.is_live(NOW + 60), "expired at expires_at");

    assert!(store.revoke_admin_token("at_1", NOW + 1).await.unwrap());
    assert!(!store.revoke_admin_token("at_1", NOW + 2).await.unwrap(), "already revoked");
    assert!(!store.revoke_admin_token("nope", NOW + 2).await.unwrap());
    let revoked = store.find_admin_token("hash-1").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(NOW + 1));
    assert!(!revoked.is_live(NOW + 2));
}

async fn last_use_is_recorded_at_most_once_a_minute(store: Store) {
    store.create_admin_token(&token("at_1", AdminAccess::Read, None), "hash-1").await.unwrap();
    store.touch_admin_token("at_1", NOW + 10).await.unwrap();
    store.touch_admin_token("at_1", NOW + 30).await.unwrap();
    assert_eq!(store.find_admin_token("hash-1").await.unwrap().unwrap().last_used_at, Some(NOW + 10));
    store.touch_admin_token("at_1", NOW + 70).await.unwrap();
    assert_eq!(store.find_admin_token("hash-1").await.unwrap().unwrap().last_used_at, Some(NOW + 70));
}

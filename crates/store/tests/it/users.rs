//! Local accounts: the login page looks users up by name, sessions by id.

use crate::support::{NOW, on_both_backends, user};
use postern_store::{Store, StoreError, UserRecord};

fn assert_same_user(found: &UserRecord, expected: &UserRecord) {
    assert_eq!(found.id, expected.id);
    assert_eq!(found.username, expected.username);
    assert_eq!(found.password_hash, expected.password_hash);
    assert_eq!(found.is_admin, expected.is_admin);
    assert_eq!(found.created_at, expected.created_at);
}

on_both_backends!(
    creates_users_and_finds_them_by_name_and_by_id,
    counts_no_users_in_an_empty_store,
    rejects_a_duplicate_username_as_a_conflict,
);

async fn creates_users_and_finds_them_by_name_and_by_id(store: Store) {
    let admin = UserRecord { is_admin: true, created_at: NOW + 1, ..user("u-1", "zoe") };
    let alice = user("u-2", "alice");
    // Ids and creation order disagree with the name order, so the listing order is checked.
    for u in [&admin, &alice, &user("u-3", "bob")] {
        store.create_user(u).await.unwrap();
    }

    assert_same_user(&store.find_user_by_username("zoe").await.unwrap().unwrap(), &admin);
    assert_same_user(&store.find_user_by_username("alice").await.unwrap().unwrap(), &alice);
    assert_same_user(&store.find_user("u-1").await.unwrap().unwrap(), &admin);
    assert!(store.find_user_by_username("mallory").await.unwrap().is_none());
    assert!(store.find_user("u-9").await.unwrap().is_none());
    // Lookups are by exact name and by id, never one for the other.
    assert!(store.find_user_by_username("u-2").await.unwrap().is_none());
    assert!(store.find_user("alice").await.unwrap().is_none());

    let listed: Vec<String> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(listed, ["alice", "bob", "zoe"], "users are listed by username");
    assert_eq!(store.count_users().await.unwrap(), 3);
}

async fn counts_no_users_in_an_empty_store(store: Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());
}

async fn rejects_a_duplicate_username_as_a_conflict(store: Store) {
    store.create_user(&user("u-1", "alice")).await.unwrap();

    let again = store.create_user(&user("u-2", "alice")).await;

    assert!(matches!(again, Err(StoreError::Conflict(_))), "expected Conflict, got {again:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(store.find_user_by_username("alice").await.unwrap().unwrap().id, "u-1");
    assert!(store.find_user("u-2").await.unwrap().is_none());
}

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
    let admin = UserRecord {
        is_admin: true,
        created_at: NOW + 1,
        ..user("u-admin", "zoe")
    };
    let alice = user("u-alice", "alice");
    store.create_user(&admin).await.unwrap();
    store.create_user(&alice).await.unwrap();

    assert_same_user(
        &store.find_user_by_username("zoe").await.unwrap().unwrap(),
        &admin,
    );
    assert_same_user(
        &store.find_user_by_username("alice").await.unwrap().unwrap(),
        &alice,
    );
    assert_same_user(&store.find_user("u-admin").await.unwrap().unwrap(), &admin);
    assert!(
        store
            .find_user_by_username("mallory")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.find_user("u-mallory").await.unwrap().is_none());
    // Lookups are by exact name and by id, never one for the other.
    assert!(
        store
            .find_user_by_username("u-alice")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.find_user("alice").await.unwrap().is_none());

    let listed: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(listed, ["alice", "zoe"], "users are listed by username");
    assert_eq!(store.count_users().await.unwrap(), 2);
}

async fn counts_no_users_in_an_empty_store(store: Store) {
    assert_eq!(store.count_users().await.unwrap(), 0);
    assert!(store.list_users().await.unwrap().is_empty());
}

async fn rejects_a_duplicate_username_as_a_conflict(store: Store) {
    store.create_user(&user("u-1", "alice")).await.unwrap();

    let again = store.create_user(&user("u-2", "alice")).await;

    assert!(
        matches!(again, Err(StoreError::Conflict(_))),
        "expected Conflict, got {again:?}"
    );
    assert_eq!(store.count_users().await.unwrap(), 1);
    assert_eq!(
        store
            .find_user_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .id,
        "u-1"
    );
    assert!(store.find_user("u-2").await.unwrap().is_none());
}

//! Refresh-token families: rotation (R148), reuse detection and family revocation (R149), and
//! the live-grant check on every refresh (R150).

use crate::support::{CLIENT, NOW, SCOPE, issue_grant, on_both_backends, refresh_token};
use postern_store::{AuditEvent, NewRefreshToken, Store};

fn successor(token_hash: &str, issued_at: i64) -> NewRefreshToken {
    refresh_token(token_hash, "g-1", CLIENT, issued_at)
}

async fn rotate(store: &Store, old_hash: &str, next: &NewRefreshToken) -> bool {
    store.rotate_refresh_token(old_hash, next, &AuditEvent::new("refresh_rotated")).await.unwrap()
}

on_both_backends!(
    rotation_marks_the_old_token_rotated_and_stores_its_successor,
    a_rotated_token_cannot_be_rotated_again,
    an_unknown_token_cannot_be_rotated,
    concurrent_rotations_of_one_token_have_exactly_one_winner,
    a_grace_reissue_adds_a_token_only_while_the_grant_is_live,
    revoking_a_grant_revokes_every_refresh_token_of_its_family,
    revoking_a_grant_twice_keeps_the_first_revocation,
    a_token_of_a_revoked_family_cannot_be_rotated,
);

async fn rotation_marks_the_old_token_rotated_and_stores_its_successor(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;

    assert!(rotate(&store, "rt-0", &successor("rt-1", NOW + 60)).await);

    let old = store.find_refresh_token("rt-0").await.unwrap().unwrap();
    assert_eq!((old.rotated_at, old.revoked_at), (Some(NOW + 60), None));
    let new = store.find_refresh_token("rt-1").await.unwrap().unwrap();
    // R149: the successor stays in the family; R150: it keeps exactly the old scope.
    assert_eq!((new.grant_id.as_str(), new.client_id.as_str(), new.scope.as_str()), ("g-1", CLIENT, SCOPE));
    assert_eq!((new.issued_at, new.rotated_at, new.revoked_at), (NOW + 60, None, None));
}

async fn a_rotated_token_cannot_be_rotated_again(store: Store) {
    // R148: the old token is invalidated by its rotation.
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    assert!(rotate(&store, "rt-0", &successor("rt-1", NOW + 60)).await);

    assert!(!rotate(&store, "rt-0", &successor("rt-replay", NOW + 70)).await);

    assert!(store.find_refresh_token("rt-replay").await.unwrap().is_none());
    assert_eq!(store.find_refresh_token("rt-0").await.unwrap().unwrap().rotated_at, Some(NOW + 60));
    assert_eq!(store.find_refresh_token("rt-1").await.unwrap().unwrap().rotated_at, None);
    // The successor rotates normally.
    assert!(rotate(&store, "rt-1", &successor("rt-2", NOW + 80)).await);
}

async fn an_unknown_token_cannot_be_rotated(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    assert!(!rotate(&store, "never-issued", &successor("rt-1", NOW + 60)).await);
    assert!(store.find_refresh_token("rt-1").await.unwrap().is_none());
}

async fn concurrent_rotations_of_one_token_have_exactly_one_winner(store: Store) {
    const RACERS: usize = 8;
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;

    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move { rotate(&store, "rt-0", &successor(&format!("rt-next-{i}"), NOW + 60)).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap());
    }

    let winners: Vec<usize> = (0..RACERS).filter(|&i| outcomes[i]).collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for i in 0..RACERS {
        let stored = store.find_refresh_token(&format!("rt-next-{i}")).await.unwrap().is_some();
        assert_eq!(stored, winners.contains(&i), "successor of racer {i}");
    }
}

async fn a_grace_reissue_adds_a_token_only_while_the_grant_is_live(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;

    assert!(
        store.add_refresh_token(&successor("rt-extra", NOW + 10), &AuditEvent::new("refresh_reissued")).await.unwrap()
    );
    let extra = store.find_refresh_token("rt-extra").await.unwrap().unwrap();
    assert_eq!((extra.grant_id.as_str(), extra.rotated_at, extra.revoked_at), ("g-1", None, None));

    store.revoke_grant("g-1", NOW + 20, &AuditEvent::new("grant_revoked")).await.unwrap();

    // R150: a refresh must find its grant still active.
    assert!(
        !store.add_refresh_token(&successor("rt-late", NOW + 30), &AuditEvent::new("refresh_reissued")).await.unwrap()
    );
    assert!(store.find_refresh_token("rt-late").await.unwrap().is_none());
}

async fn revoking_a_grant_revokes_every_refresh_token_of_its_family(store: Store) {
    // R149 / RFC 9700 §4.14: reuse of a rotated token revokes the grant and the whole family.
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    issue_grant(&store, CLIENT, "g-other", "rt-other").await;
    assert!(rotate(&store, "rt-0", &successor("rt-1", NOW + 60)).await);
    assert!(
        store.add_refresh_token(&successor("rt-extra", NOW + 61), &AuditEvent::new("refresh_reissued")).await.unwrap()
    );

    store.revoke_grant("g-1", NOW + 100, &AuditEvent::new("grant_revoked")).await.unwrap();

    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 100));
    for token in ["rt-0", "rt-1", "rt-extra"] {
        assert_eq!(store.find_refresh_token(token).await.unwrap().unwrap().revoked_at, Some(NOW + 100), "{token}");
    }
    assert_eq!(store.find_grant("g-other").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("rt-other").await.unwrap().unwrap().revoked_at, None);
}

async fn revoking_a_grant_twice_keeps_the_first_revocation(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    store.revoke_grant("g-1", NOW + 100, &AuditEvent::new("grant_revoked")).await.unwrap();

    store.revoke_grant("g-1", NOW + 200, &AuditEvent::new("grant_revoked")).await.unwrap();

    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 100));
    assert_eq!(store.find_refresh_token("rt-0").await.unwrap().unwrap().revoked_at, Some(NOW + 100));
}

async fn a_token_of_a_revoked_family_cannot_be_rotated(store: Store) {
    // R150: on refresh the grant must still be active.
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    assert!(rotate(&store, "rt-0", &successor("rt-1", NOW + 60)).await);
    store.revoke_grant("g-1", NOW + 100, &AuditEvent::new("grant_revoked")).await.unwrap();

    assert!(!rotate(&store, "rt-1", &successor("rt-2", NOW + 110)).await);

    assert!(store.find_refresh_token("rt-2").await.unwrap().is_none());
    assert_eq!(
        store.find_refresh_token("rt-1").await.unwrap().unwrap().rotated_at,
        None,
        "the refused rotation rolled back"
    );
}

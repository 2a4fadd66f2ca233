//! Access-token liveness at introspection: a JWT is live while its grant is live and its own
//! `jti` was not revoked (R156, R157).

use crate::support::{CLIENT, NOW, issue_grant, on_both_backends};
use postern_store::{AuditEvent, Store};

on_both_backends!(
    an_access_token_of_a_live_grant_is_live,
    revoking_an_access_token_ends_only_that_token,
    revoking_an_access_token_twice_is_harmless,
    revoking_the_grant_ends_its_access_tokens,
    an_access_token_of_an_unknown_grant_is_not_live,
);

async fn an_access_token_of_a_live_grant_is_live(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    assert!(store.access_token_is_live("jti-1", "g-1").await.unwrap());
}

async fn revoking_an_access_token_ends_only_that_token(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;

    store.revoke_access_token("jti-1", NOW + 3600, NOW, &AuditEvent::new("access_token_revoked")).await.unwrap();

    assert!(!store.access_token_is_live("jti-1", "g-1").await.unwrap());
    assert!(store.access_token_is_live("jti-2", "g-1").await.unwrap(), "other tokens of the grant stay live");
    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("rt-0").await.unwrap().unwrap().revoked_at, None);
}

async fn revoking_an_access_token_twice_is_harmless(store: Store) {
    // RFC 7009 §2.2: revocation answers the same for an already revoked token.
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    store.revoke_access_token("jti-1", NOW + 3600, NOW, &AuditEvent::new("access_token_revoked")).await.unwrap();

    store.revoke_access_token("jti-1", NOW + 3600, NOW + 5, &AuditEvent::new("access_token_revoked")).await.unwrap();

    assert!(!store.access_token_is_live("jti-1", "g-1").await.unwrap());
}

async fn revoking_the_grant_ends_its_access_tokens(store: Store) {
    // R157: revoking the refresh family also revokes the access tokens of that grant.
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    issue_grant(&store, CLIENT, "g-other", "rt-other").await;

    store.revoke_grant("g-1", NOW + 10, &AuditEvent::new("grant_revoked")).await.unwrap();

    assert!(!store.access_token_is_live("jti-1", "g-1").await.unwrap());
    assert!(store.access_token_is_live("jti-1", "g-other").await.unwrap());
}

async fn an_access_token_of_an_unknown_grant_is_not_live(store: Store) {
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    assert!(!store.access_token_is_live("jti-1", "g-unknown").await.unwrap());
}

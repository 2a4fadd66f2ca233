//! Authorization codes: single-use (R139) and short-lived (R140), across nodes.

use crate::support::{CLIENT, NOW, RESOURCE, SCOPE, USER, code, grant, on_both_backends, refresh_token};
use postern_store::{AuditEvent, CodeLookup, Store};

async fn redeem(store: &Store, code_hash: &str, now: i64, grant_id: &str, refresh_hash: &str) -> CodeLookup {
    store
        .redeem_authorization_code(
            code_hash,
            now,
            &grant(grant_id, CLIENT),
            Some(&refresh_token(refresh_hash, grant_id, CLIENT, now)),
            &AuditEvent::new("code_redeemed"),
        )
        .await
        .unwrap()
}

async fn audit_kinds(store: &Store) -> Vec<String> {
    store.recent_audit_events(100).await.unwrap().into_iter().rev().map(|e| e.kind).collect()
}

on_both_backends!(
    stores_an_issued_code_with_its_bindings,
    redeeming_a_code_once_creates_its_grant_and_refresh_token,
    redeeming_without_a_refresh_token_creates_only_the_grant,
    a_second_redemption_is_refused_and_creates_nothing,
    an_unknown_code_is_not_redeemable,
    an_expired_code_is_not_redeemable,
    concurrent_redemptions_of_one_code_have_exactly_one_winner,
);

async fn stores_an_issued_code_with_its_bindings(store: Store) {
    let issued = code("code-hash", "g-1");
    store.insert_authorization_code(&issued, &AuditEvent::new("code_issued")).await.unwrap();

    // R140: the code stays bound to client, challenge, redirect_uri, scope and resource.
    let found = store.find_authorization_code("code-hash").await.unwrap().unwrap();
    assert_eq!(
        (&found.grant_id, &found.client_id, &found.user_id, &found.redirect_uri),
        (&issued.grant_id, &issued.client_id, &issued.user_id, &issued.redirect_uri)
    );
    assert_eq!(
        (&found.code_challenge, &found.scope, &found.resource),
        (&issued.code_challenge, &issued.scope, &issued.resource)
    );
    assert_eq!(
        (found.auth_time, found.issued_at, found.expires_at),
        (issued.auth_time, issued.issued_at, issued.expires_at)
    );
    assert_eq!(found.consumed_at, None);
    assert!(store.find_authorization_code("other-hash").await.unwrap().is_none());
    assert_eq!(audit_kinds(&store).await, ["code_issued"], "issuing a code is audited with it");
}

async fn redeeming_a_code_once_creates_its_grant_and_refresh_token(store: Store) {
    store.insert_authorization_code(&code("code-hash", "g-1"), &AuditEvent::new("code_issued")).await.unwrap();

    assert_eq!(redeem(&store, "code-hash", NOW + 10, "g-1", "rt-1").await, CodeLookup::Redeemed);

    assert_eq!(store.find_authorization_code("code-hash").await.unwrap().unwrap().consumed_at, Some(NOW + 10));
    let g = store.find_grant("g-1").await.unwrap().unwrap();
    assert_eq!(
        (g.client_id.as_str(), g.user_id.as_str(), g.scope.as_str(), g.resource.as_str()),
        (CLIENT, USER, SCOPE, RESOURCE)
    );
    assert_eq!(g.revoked_at, None);
    let rt = store.find_refresh_token("rt-1").await.unwrap().unwrap();
    assert_eq!((rt.grant_id.as_str(), rt.client_id.as_str(), rt.user_id.as_str()), ("g-1", CLIENT, USER));
    assert_eq!((rt.scope.as_str(), rt.resource.as_str()), (SCOPE, RESOURCE));
    assert_eq!((rt.issued_at, rt.rotated_at, rt.revoked_at), (NOW + 10, None, None));
    assert_eq!(audit_kinds(&store).await, ["code_issued", "code_redeemed"]);
}

async fn redeeming_without_a_refresh_token_creates_only_the_grant(store: Store) {
    store.insert_authorization_code(&code("code-hash", "g-1"), &AuditEvent::new("code_issued")).await.unwrap();

    let outcome = store
        .redeem_authorization_code("code-hash", NOW, &grant("g-1", CLIENT), None, &AuditEvent::new("code_redeemed"))
        .await
        .unwrap();

    assert_eq!(outcome, CodeLookup::Redeemed);
    assert!(store.find_grant("g-1").await.unwrap().is_some());
    assert!(store.access_token_is_live("jti-1", "g-1").await.unwrap());
}

async fn a_second_redemption_is_refused_and_creates_nothing(store: Store) {
    // R139: codes are single-use.
    store.insert_authorization_code(&code("code-hash", "g-1"), &AuditEvent::new("code_issued")).await.unwrap();
    assert_eq!(redeem(&store, "code-hash", NOW + 10, "g-1", "rt-1").await, CodeLookup::Redeemed);

    assert_eq!(redeem(&store, "code-hash", NOW + 20, "g-replay", "rt-replay").await, CodeLookup::NotRedeemable);

    assert!(store.find_grant("g-replay").await.unwrap().is_none());
    assert!(store.find_refresh_token("rt-replay").await.unwrap().is_none());
    assert_eq!(
        store.find_authorization_code("code-hash").await.unwrap().unwrap().consumed_at,
        Some(NOW + 10),
        "the first redemption's time is kept"
    );
    assert_eq!(store.find_refresh_token("rt-1").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(audit_kinds(&store).await, ["code_issued", "code_redeemed"], "the refused redemption was rolled back");
}

async fn an_unknown_code_is_not_redeemable(store: Store) {
    assert_eq!(redeem(&store, "never-issued", NOW, "g-1", "rt-1").await, CodeLookup::NotRedeemable);
    assert!(store.find_grant("g-1").await.unwrap().is_none());
}

async fn an_expired_code_is_not_redeemable(store: Store) {
    // R140: a code is dead from its expires_at second on.
    let expiring = code("expiring", "g-late");
    store.insert_authorization_code(&expiring, &AuditEvent::new("code_issued")).await.unwrap();
    let fresh = code("fresh", "g-on-time");
    store.insert_authorization_code(&fresh, &AuditEvent::new("code_issued")).await.unwrap();

    assert_eq!(redeem(&store, "expiring", expiring.expires_at, "g-late", "rt-late").await, CodeLookup::NotRedeemable);
    assert_eq!(redeem(&store, "fresh", fresh.expires_at - 1, "g-on-time", "rt-on-time").await, CodeLookup::Redeemed);

    assert!(store.find_grant("g-late").await.unwrap().is_none());
    assert!(store.find_refresh_token("rt-late").await.unwrap().is_none());
    assert_eq!(store.find_authorization_code("expiring").await.unwrap().unwrap().consumed_at, None);
    assert!(store.find_grant("g-on-time").await.unwrap().is_some());
}

async fn concurrent_redemptions_of_one_code_have_exactly_one_winner(store: Store) {
    // R139 across nodes: the conditional update lets exactly one racer through.
    const RACERS: usize = 8;
    store.insert_authorization_code(&code("code-hash", "g-0"), &AuditEvent::new("code_issued")).await.unwrap();

    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(
                async move { redeem(&store, "code-hash", NOW + 1, &format!("g-{i}"), &format!("rt-{i}")).await },
            )
        })
        .collect();
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap());
    }

    let winners: Vec<usize> = (0..RACERS).filter(|&i| outcomes[i] == CodeLookup::Redeemed).collect();
    assert_eq!(winners.len(), 1, "outcomes: {outcomes:?}");
    for i in 0..RACERS {
        let won = winners.contains(&i);
        assert_eq!(store.find_grant(&format!("g-{i}")).await.unwrap().is_some(), won, "grant of racer {i}");
        assert_eq!(store.find_refresh_token(&format!("rt-{i}")).await.unwrap().is_some(), won, "token of racer {i}");
    }
    assert_eq!(audit_kinds(&store).await, ["code_issued", "code_redeemed"]);
}

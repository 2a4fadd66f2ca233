//! Browser sessions, remembered consents and the housekeeping that purges what expired.

use crate::support::{CLIENT, NOW, RESOURCE, USER, code, issue_grant, on_both_backends, user};
use postern_store::{AuditEvent, AuthorizationCodeRecord, ConsentRecord, SessionRecord, Store};

fn session(id_hash: &str, expires_at: i64) -> SessionRecord {
    SessionRecord { id_hash: id_hash.to_owned(), user_id: USER.to_owned(), auth_time: NOW - 60, expires_at }
}

fn consent(resource: &str, scope: &str, granted_at: i64) -> ConsentRecord {
    ConsentRecord {
        user_id: USER.to_owned(),
        client_id: CLIENT.to_owned(),
        redirect_uri: String::new(),
        resource: resource.to_owned(),
        scope: scope.to_owned(),
        client_fingerprint: String::new(),
        granted_at,
    }
}

async fn with_user(store: &Store) {
    store.create_user(&user(USER, "alice")).await.unwrap();
}

on_both_backends!(
    a_session_is_found_only_while_it_is_live,
    deleting_a_session_ends_it,
    saving_a_consent_again_replaces_its_scope,
    r097_a_consent_is_per_redirect_uri_and_keeps_its_fingerprint,
    purging_removes_only_what_expired_and_counts_it,
);

async fn a_session_is_found_only_while_it_is_live(store: Store) {
    with_user(&store).await;
    store.create_session(&session("sess-hash", NOW + 100)).await.unwrap();

    let live = store.find_live_session("sess-hash", NOW + 99).await.unwrap().unwrap();
    assert_eq!((live.user_id.as_str(), live.auth_time, live.expires_at), (USER, NOW - 60, NOW + 100));
    assert!(store.find_live_session("sess-hash", NOW + 100).await.unwrap().is_none(), "expired at expires_at");
    assert!(store.find_live_session("other-hash", NOW).await.unwrap().is_none());
}

async fn deleting_a_session_ends_it(store: Store) {
    with_user(&store).await;
    store.create_session(&session("sess-hash", NOW + 100)).await.unwrap();
    store.create_session(&session("other-hash", NOW + 100)).await.unwrap();

    store.delete_session("sess-hash").await.unwrap();
    store.delete_session("never-existed").await.unwrap();

    assert!(store.find_live_session("sess-hash", NOW).await.unwrap().is_none());
    assert!(store.find_live_session("other-hash", NOW).await.unwrap().is_some());
}

async fn saving_a_consent_again_replaces_its_scope(store: Store) {
    with_user(&store).await;
    store.save_consent(&consent(RESOURCE, "mcp:read", NOW)).await.unwrap();
    store.save_consent(&consent("https://other.example.com/mcp", "mcp:admin", NOW)).await.unwrap();

    store.save_consent(&consent(RESOURCE, "mcp:read mcp:write", NOW + 50)).await.unwrap();

    let saved = store.find_consent(USER, CLIENT, "", RESOURCE).await.unwrap().unwrap();
    assert_eq!((saved.scope.as_str(), saved.granted_at), ("mcp:read mcp:write", NOW + 50));
    let other = store.find_consent(USER, CLIENT, "", "https://other.example.com/mcp").await.unwrap().unwrap();
    assert_eq!((other.scope.as_str(), other.granted_at), ("mcp:admin", NOW), "consent is per resource");
    assert!(store.find_consent(USER, "another-client", "", RESOURCE).await.unwrap().is_none(), "and per client");
}

async fn r097_a_consent_is_per_redirect_uri_and_keeps_its_fingerprint(store: Store) {
    with_user(&store).await;
    let for_redirect = |redirect: &str, fingerprint: &str| ConsentRecord {
        redirect_uri: redirect.to_owned(),
        client_fingerprint: fingerprint.to_owned(),
        ..consent(RESOURCE, "mcp:read", NOW)
    };
    store.save_consent(&for_redirect("http://127.0.0.1/callback", "fp-1")).await.unwrap();
    store.save_consent(&for_redirect("https://app.example/cb", "fp-1")).await.unwrap();
    store.save_consent(&for_redirect("http://127.0.0.1/callback", "fp-2")).await.unwrap();

    let loopback = store.find_consent(USER, CLIENT, "http://127.0.0.1/callback", RESOURCE).await.unwrap().unwrap();
    assert_eq!(loopback.client_fingerprint, "fp-2", "saving again replaces the fingerprint");
    let web = store.find_consent(USER, CLIENT, "https://app.example/cb", RESOURCE).await.unwrap().unwrap();
    assert_eq!(web.client_fingerprint, "fp-1", "each redirect URI has its own consent");
    assert!(store.find_consent(USER, CLIENT, "", RESOURCE).await.unwrap().is_none());
}

async fn purging_removes_only_what_expired_and_counts_it(store: Store) {
    with_user(&store).await;
    store.create_session(&session("sess-expired", NOW)).await.unwrap();
    store.create_session(&session("sess-live", NOW + 1)).await.unwrap();
    let expired_code = AuthorizationCodeRecord { expires_at: NOW, ..code("code-expired", "g-never") };
    store.insert_authorization_code(&expired_code, &AuditEvent::new("code_issued")).await.unwrap();
    store.insert_authorization_code(&code("code-live", "g-later"), &AuditEvent::new("code_issued")).await.unwrap();
    // Redeemed at NOW, valid until NOW + 600: kept so that a replay is still recognised (R139).
    issue_grant(&store, CLIENT, "g-1", "rt-0").await;
    let revoked = AuditEvent::new("access_token_revoked");
    store.revoke_access_token("jti-expired", NOW, NOW - 10, &revoked).await.unwrap();
    store.revoke_access_token("jti-live", NOW + 60, NOW - 10, &revoked).await.unwrap();

    assert_eq!(store.purge_expired(NOW).await.unwrap(), 3);

    // Looked up at an earlier time: only a deleted row can be missing.
    assert!(store.find_live_session("sess-expired", NOW - 1000).await.unwrap().is_none());
    assert!(store.find_live_session("sess-live", NOW).await.unwrap().is_some());
    assert!(store.find_authorization_code("code-expired").await.unwrap().is_none());
    assert!(store.find_authorization_code("code-live").await.unwrap().is_some());
    assert!(store.find_authorization_code("code-for-g-1").await.unwrap().is_some());
    // The expired revocation is gone (the JWT's own exp now rejects it); the live one stays.
    assert!(store.access_token_is_live("jti-expired", "g-1").await.unwrap());
    assert!(!store.access_token_is_live("jti-live", "g-1").await.unwrap());
    // Grants and refresh tokens are not housekeeping's business.
    assert!(store.find_refresh_token("rt-0").await.unwrap().is_some());

    assert_eq!(store.purge_expired(NOW).await.unwrap(), 0, "nothing left to purge");
}

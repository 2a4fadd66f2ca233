//! A user's connected apps: their own live grants with what is known of each client, and a
//! revocation that only ever touches the user's own grant.

use crate::admin_users::grant_of;
use crate::support::{CLIENT, NOW, RESOURCE, USER, client, on_both_backends, user};
use postern_store::{AuditEvent, CimdStatus, ClientSource, ConsentRecord, Store, ValidatedDocument};

const OTHER: &str = "user-2";
const CIMD_CLIENT: &str = "https://app.example.com/client.json";

on_both_backends!(
    lists_only_the_users_live_grants_with_each_clients_provenance,
    a_user_revokes_their_own_grant_with_its_refresh_tokens_and_consent,
    another_users_grant_an_unknown_one_and_a_revoked_one_are_refused_alike,
);

async fn two_users(store: &Store) {
    store.create_user(&user(USER, "alice")).await.unwrap();
    store.create_user(&user(OTHER, "bob")).await.unwrap();
}

async fn audit_count(store: &Store, kind: &str) -> usize {
    store.recent_audit_events(100).await.unwrap().iter().filter(|e| e.kind == kind).count()
}

async fn lists_only_the_users_live_grants_with_each_clients_provenance(store: Store) {
    two_users(&store).await;
    store.insert_client(&client(CLIENT, ClientSource::Dcr)).await.unwrap();
    grant_of(&store, USER, "g-registered").await;
    grant_of(&store, USER, "g-revoked").await;
    grant_of(&store, OTHER, "g-bob").await;
    store.revoke_grant("g-revoked", NOW, &AuditEvent::new("refresh_token_revoked")).await.unwrap();
    // A metadata-document client: its name comes from the document, vouched for by its host.
    store.record_cimd_client_seen(CIMD_CLIENT, "app.example.com", CimdStatus::Allowed, NOW).await.unwrap();
    let document =
        ValidatedDocument { client_name: "Example App", document_hash: "h", fingerprint: "f", snapshot: "{}" };
    store.record_cimd_document(CIMD_CLIENT, document, NOW).await.unwrap();
    let cimd_grant =
        postern_store::GrantRecord { created_at: NOW + 5, ..crate::support::grant("g-cimd-live", CIMD_CLIENT) };
    let code = postern_store::AuthorizationCodeRecord {
        client_id: CIMD_CLIENT.into(),
        ..crate::support::code("code-cimd", "g-cimd-live")
    };
    store.insert_authorization_code(&code, &AuditEvent::new("code_issued")).await.unwrap();
    store.redeem_authorization_code("code-cimd", NOW, &cimd_grant, None, &AuditEvent::new("r")).await.unwrap();

    let apps = store.connected_apps(USER).await.unwrap();

    let ids: Vec<&str> = apps.iter().map(|a| a.grant_id.as_str()).collect();
    assert_eq!(ids, ["g-cimd-live", "g-registered"], "live grants of this user only, newest first");
    let cimd = &apps[0];
    assert_eq!(
        (cimd.document_name.as_deref(), cimd.document_host.as_deref()),
        (Some("Example App"), Some("app.example.com"))
    );
    assert_eq!(cimd.registered_source, None);
    let registered = &apps[1];
    assert_eq!(registered.registered_name.as_deref(), Some("client-1 name"));
    assert_eq!(registered.registered_source.as_deref(), Some("dcr"));
    assert_eq!(registered.document_host, None);
    assert_eq!((registered.resource.as_str(), registered.created_at), (RESOURCE, NOW));
    assert!(store.connected_apps("nobody").await.unwrap().is_empty());
}

async fn a_user_revokes_their_own_grant_with_its_refresh_tokens_and_consent(store: Store) {
    two_users(&store).await;
    grant_of(&store, USER, "g-1").await;
    let consent = ConsentRecord {
        user_id: USER.into(),
        client_id: CLIENT.into(),
        redirect_uri: String::new(),
        resource: RESOURCE.into(),
        scope: "mcp:read".into(),
        client_fingerprint: String::new(),
        granted_at: NOW,
    };
    store.save_consent(&consent).await.unwrap();
    let audit = AuditEvent { user_id: Some(USER.into()), ..AuditEvent::new("grant_revoked_by_user") };

    assert!(store.revoke_grant_of_user(USER, "g-1", NOW + 1, &audit).await.unwrap());

    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 1));
    assert_eq!(store.find_refresh_token("refresh-g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 1));
    assert!(store.find_consent(USER, CLIENT, "", RESOURCE).await.unwrap().is_none(), "the next sign-in asks again");
    assert!(store.connected_apps(USER).await.unwrap().is_empty());
    assert_eq!(audit_count(&store, "grant_revoked_by_user").await, 1);
}

async fn another_users_grant_an_unknown_one_and_a_revoked_one_are_refused_alike(store: Store) {
    two_users(&store).await;
    grant_of(&store, OTHER, "g-bob").await;
    grant_of(&store, USER, "g-alice").await;
    let audit = AuditEvent::new("grant_revoked_by_user");
    assert!(store.revoke_grant_of_user(USER, "g-alice", NOW, &audit).await.unwrap());

    for grant_id in ["g-bob", "g-unknown", "g-alice"] {
        assert!(!store.revoke_grant_of_user(USER, grant_id, NOW + 1, &audit).await.unwrap(), "{grant_id}");
    }

    assert_eq!(store.find_grant("g-bob").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("refresh-g-bob").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_grant("g-alice").await.unwrap().unwrap().revoked_at, Some(NOW), "not revoked twice");
    assert_eq!(audit_count(&store, "grant_revoked_by_user").await, 1, "a refusal records nothing");
}

//! Dynamic Client Registration: registrations with their hashed access tokens, de-duplication
//! lookups, RFC 7592 replace and delete (R109b), and initial access tokens.

use crate::support::{NOW, client, issue_grant, on_both_backends};
use postern_store::{AuditEvent, ClientSource, DcrRegistration, InitialAccessToken, Store};

on_both_backends!(
    a_registration_is_stored_with_its_client_and_found_by_dedupe_key,
    rotating_the_registration_token_replaces_it,
    replace_changes_the_client_and_forgets_the_dedupe_key,
    r109b_delete_removes_the_client_and_revokes_its_grants,
    initial_access_tokens_are_spent_once_per_use_and_honour_expiry_and_revocation,
    unused_and_idle_clients_are_chosen_for_reaping,
);

fn registration(client_id: &str, dedupe_key: Option<&str>) -> DcrRegistration {
    DcrRegistration {
        client_id: client_id.to_owned(),
        registration_token_hash: format!("rat-hash-{client_id}"),
        metadata: r#"{"client_name":"Agent"}"#.to_owned(),
        dedupe_key: dedupe_key.map(str::to_owned),
        registered_ip: Some("203.0.113.7".to_owned()),
        created_at: NOW,
    }
}

async fn register(store: &Store, client_id: &str, dedupe_key: Option<&str>) {
    let record = client(client_id, ClientSource::Dcr);
    store
        .insert_dcr_client(&record, &registration(client_id, dedupe_key), &AuditEvent::new("client_registered"))
        .await
        .unwrap();
}

async fn a_registration_is_stored_with_its_client_and_found_by_dedupe_key(store: Store) {
    register(&store, "dcr_1", Some("key-1")).await;
    assert_eq!(store.find_client("dcr_1").await.unwrap().unwrap().source, ClientSource::Dcr);
    assert_eq!(store.find_dcr_registration("dcr_1").await.unwrap().unwrap(), registration("dcr_1", Some("key-1")));
    assert_eq!(store.find_dcr_registration_by_dedupe_key("key-1").await.unwrap().unwrap().client_id, "dcr_1");
    assert!(store.find_dcr_registration_by_dedupe_key("key-2").await.unwrap().is_none());
    assert_eq!(store.count_dcr_clients().await.unwrap(), 1);
    let kinds: Vec<String> = store.recent_audit_events(10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&"client_registered".to_owned()), "{kinds:?}");
}

async fn rotating_the_registration_token_replaces_it(store: Store) {
    register(&store, "dcr_1", None).await;
    assert!(store.rotate_registration_token("dcr_1", "new-hash").await.unwrap());
    assert_eq!(store.find_dcr_registration("dcr_1").await.unwrap().unwrap().registration_token_hash, "new-hash");
    assert!(!store.rotate_registration_token("dcr_gone", "x").await.unwrap());
}

async fn replace_changes_the_client_and_forgets_the_dedupe_key(store: Store) {
    register(&store, "dcr_1", Some("key-1")).await;
    let mut record = client("dcr_1", ClientSource::Dcr);
    record.client_name = "Renamed".into();
    record.redirect_uris = vec!["https://app.example/cb".into()];
    let audit = AuditEvent::new("client_updated");
    assert!(store.replace_dcr_client(&record, r#"{"client_name":"Renamed"}"#, &audit, NOW + 1).await.unwrap());
    let stored = store.find_client("dcr_1").await.unwrap().unwrap();
    assert_eq!((stored.client_name.as_str(), stored.redirect_uris.as_slice()), ("Renamed", &record.redirect_uris[..]));
    let registration = store.find_dcr_registration("dcr_1").await.unwrap().unwrap();
    assert_eq!((registration.metadata.as_str(), registration.dedupe_key), (r#"{"client_name":"Renamed"}"#, None));
    // Only DCR clients can be replaced this way.
    store.insert_client(&client("cli-client", ClientSource::Cli)).await.unwrap();
    let cli = client("cli-client", ClientSource::Cli);
    assert!(!store.replace_dcr_client(&cli, "{}", &audit, NOW).await.unwrap());
}

async fn r109b_delete_removes_the_client_and_revokes_its_grants(store: Store) {
    register(&store, "dcr_1", None).await;
    issue_grant(&store, "dcr_1", "g-1", "rt-1").await;
    assert!(store.delete_dcr_client("dcr_1", NOW + 5, &AuditEvent::new("client_deleted")).await.unwrap());
    assert!(store.find_client("dcr_1").await.unwrap().is_none());
    assert!(store.find_dcr_registration("dcr_1").await.unwrap().is_none());
    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 5));
    assert_eq!(store.find_refresh_token("rt-1").await.unwrap().unwrap().revoked_at, Some(NOW + 5));
    assert!(!store.delete_dcr_client("dcr_1", NOW + 6, &AuditEvent::new("client_deleted")).await.unwrap());
    store.insert_client(&client("cli-client", ClientSource::Cli)).await.unwrap();
    assert!(!store.delete_dcr_client("cli-client", NOW, &AuditEvent::new("client_deleted")).await.unwrap());
    assert!(store.find_client("cli-client").await.unwrap().is_some());
}

async fn initial_access_tokens_are_spent_once_per_use_and_honour_expiry_and_revocation(store: Store) {
    let token = |id: &str, expires_at, uses_left| InitialAccessToken {
        id: id.to_owned(),
        token_hash: format!("hash-{id}"),
        label: format!("label {id}"),
        created_at: NOW,
        expires_at,
        uses_left,
        revoked_at: None,
    };
    store.create_initial_access_token(&token("twice", None, Some(2))).await.unwrap();
    store.create_initial_access_token(&token("expiring", Some(NOW + 10), None)).await.unwrap();
    store.create_initial_access_token(&token("revoked", None, None)).await.unwrap();
    assert!(store.use_initial_access_token("hash-twice", NOW).await.unwrap());
    assert!(store.use_initial_access_token("hash-twice", NOW).await.unwrap());
    assert!(!store.use_initial_access_token("hash-twice", NOW).await.unwrap(), "uses exhausted");
    assert!(store.use_initial_access_token("hash-expiring", NOW + 9).await.unwrap());
    assert!(!store.use_initial_access_token("hash-expiring", NOW + 10).await.unwrap(), "expired");
    assert!(store.revoke_initial_access_token("revoked", NOW).await.unwrap());
    assert!(!store.revoke_initial_access_token("revoked", NOW).await.unwrap(), "already revoked");
    assert!(!store.use_initial_access_token("hash-revoked", NOW).await.unwrap());
    assert!(!store.use_initial_access_token("hash-unknown", NOW).await.unwrap());
    let listed = store.list_initial_access_tokens().await.unwrap();
    assert_eq!(
        listed.iter().map(|t| (t.id.as_str(), t.uses_left)).collect::<Vec<_>>()[..2],
        [("expiring", None), ("revoked", None)]
    );
    assert_eq!(listed.iter().find(|t| t.id == "twice").unwrap().uses_left, Some(0));
}

async fn unused_and_idle_clients_are_chosen_for_reaping(store: Store) {
    register(&store, "dcr_unused", None).await;
    register(&store, "dcr_used", None).await;
    issue_grant(&store, "dcr_used", "g-1", "rt-1").await;
    // Nothing is old enough yet.
    assert!(store.dcr_clients_to_reap(NOW, NOW).await.unwrap().is_empty());
    // An hour later with a one-hour unused limit: only the never-used client.
    assert_eq!(store.dcr_clients_to_reap(NOW + 1, NOW - 100).await.unwrap(), ["dcr_unused"]);
    // Idle since before NOW + 1: the used client's last activity (its grant at NOW) is older.
    assert_eq!(store.dcr_clients_to_reap(NOW - 100, NOW + 1).await.unwrap(), ["dcr_unused", "dcr_used"]);
}

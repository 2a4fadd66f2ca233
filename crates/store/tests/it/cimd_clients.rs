//! The CIMD client inventory, pinned client snapshots and client-assertion replay protection.

use crate::support::{NOW, code, on_both_backends};
use postern_store::{AuditEvent, CimdStatus, DocumentChange, Store, ValidatedDocument};

const CIMD: &str = "https://client.example.org/mcp/cimd.json";

on_both_backends!(
    a_new_client_is_recorded_with_its_initial_status,
    seeing_a_client_again_never_overwrites_an_administrators_decision,
    a_changed_document_is_reported_once,
    a_document_needs_the_client_recorded_first,
    deciding_an_unknown_client_changes_nothing,
    r142_a_client_assertion_jti_is_accepted_once_per_client,
    the_client_snapshot_travels_with_the_code,
);

async fn a_new_client_is_recorded_with_its_initial_status(store: Store) {
    let record = store.record_cimd_client_seen(CIMD, "client.example.org", CimdStatus::Pending, NOW).await.unwrap();
    assert_eq!((record.status, record.first_seen, record.last_seen), (CimdStatus::Pending, NOW, NOW));
    assert_eq!(record.host, "client.example.org");
    assert_eq!(record.client_name, None);
    assert_eq!(store.list_cimd_clients().await.unwrap(), [record]);
}

async fn seeing_a_client_again_never_overwrites_an_administrators_decision(store: Store) {
    store.record_cimd_client_seen(CIMD, "client.example.org", CimdStatus::Pending, NOW).await.unwrap();
    assert!(store.decide_cimd_client(CIMD, CimdStatus::Denied, "admin", NOW + 5).await.unwrap());
    let again = store.record_cimd_client_seen(CIMD, "client.example.org", CimdStatus::Allowed, NOW + 10).await.unwrap();
    assert_eq!(again.status, CimdStatus::Denied);
    assert_eq!((again.first_seen, again.last_seen), (NOW, NOW + 10));
    assert_eq!((again.decided_by.as_deref(), again.decided_at), (Some("admin"), Some(NOW + 5)));
}

fn document<'a>(name: &'a str, hash: &'a str, fingerprint: &'a str) -> ValidatedDocument<'a> {
    ValidatedDocument { client_name: name, document_hash: hash, fingerprint, snapshot: r#"{"client_name":"x"}"# }
}

async fn a_changed_document_is_reported_once(store: Store) {
    store.record_cimd_client_seen(CIMD, "client.example.org", CimdStatus::Allowed, NOW).await.unwrap();
    let change = |first, changed, security_relevant| DocumentChange { first, changed, security_relevant };
    let record = |d| store.record_cimd_document(CIMD, d, NOW);
    assert_eq!(record(document("Agent", "hash-1", "fp-1")).await.unwrap(), change(true, true, false), "first");
    assert_eq!(record(document("Agent", "hash-1", "fp-1")).await.unwrap(), change(false, false, false), "same");
    assert_eq!(
        store.record_cimd_document(CIMD, document("Agent 2", "hash-2", "fp-1"), NOW + 2).await.unwrap(),
        change(false, true, false),
        "a new name is a change, but not a security-relevant one"
    );
    assert_eq!(record(document("Agent 2", "hash-3", "fp-2")).await.unwrap(), change(false, true, true), "new keys");
    let stored = store.find_cimd_client(CIMD).await.unwrap().unwrap();
    assert_eq!(
        (stored.client_name.as_deref(), stored.document_hash.as_deref(), stored.fingerprint.as_deref()),
        (Some("Agent 2"), Some("hash-3"), Some("fp-2"))
    );
    assert_eq!(stored.snapshot.as_deref(), Some(r#"{"client_name":"x"}"#));
}

async fn a_document_needs_the_client_recorded_first(store: Store) {
    assert!(store.record_cimd_document(CIMD, document("Agent", "h", "f"), NOW).await.is_err());
}

async fn deciding_an_unknown_client_changes_nothing(store: Store) {
    assert!(!store.decide_cimd_client(CIMD, CimdStatus::Approved, "admin", NOW).await.unwrap());
    assert!(store.find_cimd_client(CIMD).await.unwrap().is_none());
}

async fn r142_a_client_assertion_jti_is_accepted_once_per_client(store: Store) {
    assert!(store.remember_client_assertion(CIMD, "jti-1", NOW + 60).await.unwrap());
    assert!(!store.remember_client_assertion(CIMD, "jti-1", NOW + 60).await.unwrap(), "replay");
    assert!(store.remember_client_assertion("other-client", "jti-1", NOW + 60).await.unwrap());
    // Purged once expired, so the table stays small.
    assert!(store.purge_expired(NOW + 61).await.unwrap() >= 2);
    assert!(store.remember_client_assertion(CIMD, "jti-1", NOW + 120).await.unwrap());
}

async fn the_client_snapshot_travels_with_the_code(store: Store) {
    let mut record = code("code-hash", "grant-1");
    record.client_snapshot = Some(r#"{"client_name":"Agent"}"#.to_owned());
    store.insert_authorization_code(&record, &AuditEvent::new("code_issued")).await.unwrap();
    let stored = store.find_authorization_code("code-hash").await.unwrap().unwrap();
    assert_eq!(stored.client_snapshot.as_deref(), Some(r#"{"client_name":"Agent"}"#));
}

//! The change history of metadata-document clients: each distinct document is kept (the
//! newest first), an unchanged one is not, and the history is bounded.

use crate::support::{NOW, on_both_backends};
use postern_store::{CimdStatus, DOCUMENT_HISTORY_KEPT, Store, ValidatedDocument};

on_both_backends!(each_distinct_document_is_kept_newest_first, the_history_keeps_only_the_newest_documents);

const CIMD: &str = "https://client.example.org/mcp/cimd.json";
const OTHER: &str = "https://client.example.org/other.json";

fn document<'a>(hash: &'a str, fingerprint: &'a str, snapshot: &'a str) -> ValidatedDocument<'a> {
    ValidatedDocument { client_name: "Agent", document_hash: hash, fingerprint, snapshot }
}

async fn each_distinct_document_is_kept_newest_first(store: Store) {
    for client_id in [CIMD, OTHER] {
        store.record_cimd_client_seen(client_id, "client.example.org", CimdStatus::Allowed, NOW).await.unwrap();
    }
    store.record_cimd_document(CIMD, document("h1", "f1", r#"{"v":1}"#), NOW).await.unwrap();
    store.record_cimd_document(CIMD, document("h1", "f1", r#"{"v":1}"#), NOW + 60).await.unwrap();
    store.record_cimd_document(CIMD, document("h2", "f2", r#"{"v":2}"#), NOW + 120).await.unwrap();
    store.record_cimd_document(OTHER, document("o1", "g1", "{}"), NOW).await.unwrap();

    let history = store.cimd_document_history(CIMD, 10).await.unwrap();
    let seen: Vec<(i64, &str, Option<&str>, Option<&str>)> = history
        .iter()
        .map(|h| (h.fetched_at, h.document_hash.as_str(), h.fingerprint.as_deref(), h.snapshot.as_deref()))
        .collect();
    assert_eq!(seen, [(NOW + 120, "h2", Some("f2"), Some(r#"{"v":2}"#)), (NOW, "h1", Some("f1"), Some(r#"{"v":1}"#))]);
    assert_eq!(store.cimd_document_history(OTHER, 10).await.unwrap().len(), 1);
    assert_eq!(store.cimd_document_history(CIMD, 1).await.unwrap()[0].document_hash, "h2");
}

async fn the_history_keeps_only_the_newest_documents(store: Store) {
    store.record_cimd_client_seen(CIMD, "client.example.org", CimdStatus::Allowed, NOW).await.unwrap();
    // A document that changes on every fetch (a timestamp in it, say).
    let total = DOCUMENT_HISTORY_KEPT + 5;
    for i in 0..total {
        let hash = format!("h{i}");
        store.record_cimd_document(CIMD, document(&hash, "f", "{}"), NOW + i).await.unwrap();
    }
    let history = store.cimd_document_history(CIMD, 1000).await.unwrap();
    assert_eq!(history.len() as i64, DOCUMENT_HISTORY_KEPT);
    assert_eq!(history.first().unwrap().document_hash, format!("h{}", total - 1));
    assert_eq!(history.last().unwrap().document_hash, format!("h{}", total - DOCUMENT_HISTORY_KEPT));
}

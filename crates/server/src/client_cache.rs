//! A short-lived, per-node cache of client records. Clients change rarely (configuration sync,
//! `postern clients add|remove`), while every token, introspection and revocation request looks
//! one up; caching saves a database round trip on each. A change made elsewhere is seen within
//! [`CLIENT_CACHE_TTL_SECS`]. Unknown client ids are never cached, so random ids cannot grow it.

use postern_store::{ClientRecord, Store, StoreError};
use std::collections::HashMap;
use std::sync::Mutex;

pub const CLIENT_CACHE_TTL_SECS: i64 = 5;
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub struct ClientCache {
    entries: Mutex<HashMap<String, (i64, ClientRecord)>>,
}

impl ClientCache {
    pub async fn find(&self, store: &Store, client_id: &str, now: i64) -> Result<Option<ClientRecord>, StoreError> {
        if let Some((fetched_at, record)) = self.lock().get(client_id)
            && now - fetched_at < CLIENT_CACHE_TTL_SECS
        {
            return Ok(Some(record.clone()));
        }
        let record = store.find_client(client_id).await?;
        let mut entries = self.lock();
        match &record {
            Some(record) => {
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
                entries.insert(client_id.to_owned(), (now, record.clone()));
            }
            None => {
                entries.remove(client_id);
            }
        }
        Ok(record)
    }

    /// Drops this node's copy of a client, so a change made through this node (an
    /// administrator's block) applies to the next request; other nodes follow within
    /// [`CLIENT_CACHE_TTL_SECS`].
    pub fn forget(&self, client_id: &str) {
        self.lock().remove(client_id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, ClientRecord)>> {
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_store::test_support::{Backend, isolated_store};
    use postern_store::{ClientSource, ClientStatus};

    fn client(name: &str) -> ClientRecord {
        ClientRecord {
            client_id: "c".into(),
            client_name: name.into(),
            redirect_uris: vec!["https://a.example/cb".into()],
            grant_types: vec!["authorization_code".into()],
            token_endpoint_auth_method: "none".into(),
            secret_hash: None,
            scope: None,
            jwks: None,
            jwks_uri: None,
            source: ClientSource::Cli,
            status: ClientStatus::Active,
            secret_expires_at: None,
            created_at: 0,
        }
    }

    #[tokio::test]
    async fn serves_cached_records_within_the_ttl_and_rereads_after_it() {
        let (store, _, _guard) = isolated_store(Backend::Sqlite).await.unwrap();
        let cache = ClientCache::default();
        assert!(cache.find(&store, "c", 100).await.unwrap().is_none(), "unknown ids are looked up, not cached");
        store.insert_client(&client("first")).await.unwrap();
        assert_eq!(cache.find(&store, "c", 100).await.unwrap().unwrap().client_name, "first");
        store.delete_cli_client("c", 101).await.unwrap();
        assert!(cache.find(&store, "c", 100 + CLIENT_CACHE_TTL_SECS - 1).await.unwrap().is_some());
        assert!(cache.find(&store, "c", 100 + CLIENT_CACHE_TTL_SECS).await.unwrap().is_none());
    }
}

//! The public keys of `private_key_jwt` clients (R080, R142): the registered `jwks`, or the
//! JWK Set at `jwks_uri`, fetched through postern-fetch, cached by its HTTP headers within the
//! CIMD bounds, and refetched when an assertion names a key the cached set lacks, at most once
//! per [`REFETCH_COOLDOWN_SECS`] per URL (so an attacker cannot turn bad assertions into fetches).

use crate::cimd::fetch_audited;
use crate::client_assertion::parse_jwks;
use crate::error::AppError;
use crate::state::AppState;
use jsonwebtoken::jwk::JwkSet;
use postern_fetch::{DocumentCache, FetchRequest, lifetime};
use postern_store::ClientRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const REFETCH_COOLDOWN_SECS: i64 = 60;
const MAX_CACHED_SETS: usize = 10_000;

pub struct ClientKeySets {
    fetched: DocumentCache<JwkSet, String>,
    last_forced_refetch: Mutex<HashMap<String, i64>>,
}

impl Default for ClientKeySets {
    fn default() -> Self {
        Self { fetched: DocumentCache::new(MAX_CACHED_SETS), last_forced_refetch: Mutex::new(HashMap::new()) }
    }
}

/// Why a client's keys could not be had; the message is for the client's developer.
pub enum KeysUnavailable {
    Client(String),
    Server(AppError),
}

impl ClientKeySets {
    /// The client's key set. `fresh` skips the cache (after an unknown `kid`); callers ask
    /// [`Self::may_refetch`] first.
    pub async fn for_client(
        &self,
        state: &AppState,
        client: &ClientRecord,
        fresh: bool,
    ) -> Result<Arc<JwkSet>, KeysUnavailable> {
        if let Some(inline) = &client.jwks {
            let value: serde_json::Value = serde_json::from_str(inline)
                .map_err(|e| KeysUnavailable::Server(AppError::Internal(format!("stored jwks: {e}"))))?;
            return parse_jwks(&value).map(Arc::new).map_err(|e| KeysUnavailable::Client(e.to_string()));
        }
        let Some(uri) = &client.jwks_uri else {
            return Err(KeysUnavailable::Client("the client has neither jwks nor jwks_uri".to_owned()));
        };
        if fresh {
            self.fetched.invalidate(uri);
        }
        let load = || async {
            let request = FetchRequest::jwks(uri).max_bytes(state.settings.cimd.max_document_bytes);
            let fetched = fetch_audited(state, &client.client_id, request)
                .await
                .map_err(|e| format!("recording the fetch failed: {e}"))?
                .map_err(|e| e.to_string())?;
            let value: serde_json::Value =
                serde_json::from_slice(&fetched.body).map_err(|e| format!("the JWKS at {uri} is not JSON: {e}"))?;
            let set = parse_jwks(&value).map_err(|e| format!("the JWKS at {uri}: {e}"))?;
            Ok((set, lifetime(&fetched.cache_headers(), state.settings.cimd.cache_bounds)))
        };
        let (result, _) = self.fetched.get_or_load(uri, load).await;
        result.map_err(|e| KeysUnavailable::Client(e.to_string()))
    }

    /// True at most once per cooldown per URL; inline keys are never refetched.
    pub fn may_refetch(&self, client: &ClientRecord, now: i64) -> bool {
        let Some(uri) = &client.jwks_uri else { return false };
        let mut last = self.last_forced_refetch.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if last.get(uri).is_some_and(|at| now - at < REFETCH_COOLDOWN_SECS) {
            return false;
        }
        if last.len() >= MAX_CACHED_SETS {
            last.retain(|_, at| now - *at < REFETCH_COOLDOWN_SECS);
        }
        last.insert(uri.clone(), now);
        true
    }
}

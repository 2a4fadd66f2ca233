//! The authorization server's public keys (R036): from a configured `jwks_uri` or one read from
//! the AS metadata, fetched with a size cap and no redirects, cached, and fetched again when a
//! token names an unknown `kid` (a rotation) or the cache is older than its maximum age. Both
//! refetches are limited to one per cooldown, so tokens with made-up `kid`s or an unreachable AS
//! do not turn every request into an outbound fetch; concurrent refetches share one request.

use crate::algorithm::SigningAlgorithm;
use crate::config::Settings;
use crate::discovery::{self, Endpoint};
use crate::error::GuardError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use postern_core::{Clock, Issuer};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

const NEVER: i64 = i64::MIN;

/// A public key that may verify tokens signed with exactly one algorithm.
pub(crate) struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: SigningAlgorithm,
    pub key: DecodingKey,
    /// The key's required JWK members as RFC 7638 §3 orders them (the thumbprint input): the
    /// same text for the same key in every fetch, so a cached verification can tell whether
    /// the key it was made with is still the one published under its `kid`.
    pub fingerprint: Arc<str>,
}

/// The keys of one fetch.
#[derive(Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyingKey>,
}

/// What a key lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    Found(usize),
    /// A key has this `kid` but is for another algorithm.
    WrongAlgorithm,
    /// The token has no `kid` and more than one key could have signed it.
    Ambiguous,
    NotFound,
}

/// One JWK, as far as verification needs (RFC 7517 §4, RFC 7518 §6).
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl Jwk {
    /// The algorithm this key verifies, or `None` for keys we cannot or must not use
    /// (encryption keys, symmetric keys, other curves, algorithms not accepted).
    fn into_key(self, accepted: &[SigningAlgorithm]) -> Option<VerifyingKey> {
        if self.usage.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let (alg, key, members) = match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => {
                let (x, y) = (self.x?, self.y?);
                // Uncompressed P-256 coordinates are 32 bytes each.
                if decoded_len(&x)? != 32 || decoded_len(&y)? != 32 {
                    return None;
                }
                let key = DecodingKey::from_ec_components(&x, &y).ok()?;
                (SigningAlgorithm::ES256, key, json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}))
            }
            ("RSA", _) => {
                let (n, e) = (self.n?, self.e?);
                let key = DecodingKey::from_rsa_components(&n, &e).ok()?;
                (SigningAlgorithm::RS256, key, json!({"e": e, "kty": "RSA", "n": n}))
            }
            ("OKP", Some("Ed25519")) => {
                let x = self.x?;
                if decoded_len(&x)? != 32 {
                    return None;
                }
                let key = DecodingKey::from_ed_components(&x).ok()?;
                (SigningAlgorithm::EdDSA, key, json!({"crv": "Ed25519", "kty": "OKP", "x": x}))
            }
            _ => return None,
        };
        // A key that names its algorithm is used for that algorithm only (RFC 7517 §4.4).
        if self.alg.as_deref().is_some_and(|named| named != alg.as_str()) || !accepted.contains(&alg) {
            return None;
        }
        Some(VerifyingKey { kid: self.kid, alg, key, fingerprint: members.to_string().into() })
    }
}

fn decoded_len(b64: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(b64).ok().map(|bytes| bytes.len())
}

impl KeySet {
    /// Parses a JWK Set, keeping the keys usable with `accepted` algorithms. Keys of other
    /// types are skipped, not errors: a set may hold encryption keys or future algorithms.
    pub(crate) fn parse(json: &[u8], accepted: &[SigningAlgorithm]) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct JwkSet {
            keys: Vec<serde_json::Value>,
        }
        let set: JwkSet = serde_json::from_slice(json).map_err(|e| format!("not a JWK Set: {e}"))?;
        let keys = set
            .keys
            .into_iter()
            .filter_map(|value| serde_json::from_value::<Jwk>(value).ok()?.into_key(accepted))
            .collect();
        Ok(Self { keys })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn get(&self, index: usize) -> Option<&VerifyingKey> {
        self.keys.get(index)
    }

    pub(crate) fn lookup(&self, kid: Option<&str>, alg: SigningAlgorithm) -> Lookup {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().enumerate().filter(|(_, k)| k.kid.as_deref() == Some(kid));
                match named.clone().find(|(_, k)| k.alg == alg) {
                    Some((index, _)) => Lookup::Found(index),
                    None if named.next().is_some() => Lookup::WrongAlgorithm,
                    None => Lookup::NotFound,
                }
            }
            None => {
                let mut candidates = self.keys.iter().enumerate().filter(|(_, k)| k.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some((index, _)), None) => Lookup::Found(index),
                    (Some(_), Some(_)) => Lookup::Ambiguous,
                    (None, _) => Lookup::NotFound,
                }
            }
        }
    }
}

/// Where keys come from.
enum Source {
    Static,
    Remote {
        /// Configured, or discovered from the metadata and kept until a fetch of it fails.
        jwks_uri: Mutex<Option<String>>,
        configured: bool,
        issuer: Issuer,
    },
}

/// Keys shared by every request of a guard.
pub(crate) struct KeyCache {
    source: Source,
    accepted: Vec<SigningAlgorithm>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cooldown: i64,
    max_age: i64,
    current: RwLock<Arc<KeySet>>,
    /// When the current keys were fetched (clock seconds), `NEVER` before the first success.
    fetched_at: AtomicI64,
    /// When a fetch last started, successful or not.
    attempted_at: AtomicI64,
    /// Held while fetching, so concurrent refetches become one.
    fetching: tokio::sync::Mutex<()>,
}

/// Why no key could be found for a token.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// Keys were never obtained (the message says why); not the token's fault.
    Unavailable(String),
    NotFound,
    WrongAlgorithm,
    Ambiguous,
}

impl KeyCache {
    pub(crate) fn new(
        settings: &Settings,
        jwks_uri: Option<String>,
        static_jwks: Option<&str>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, GuardError> {
        let (source, keys, fetched_at) = match static_jwks {
            Some(json) => {
                let keys = KeySet::parse(json.as_bytes(), &settings.algorithms).map_err(GuardError::Config)?;
                if keys.len() == 0 {
                    return Err(GuardError::Config("the static JWK Set holds no key for an accepted algorithm".into()));
                }
                (Source::Static, keys, clock.now())
            }
            None => (
                Source::Remote {
                    configured: jwks_uri.is_some(),
                    jwks_uri: Mutex::new(jwks_uri),
                    issuer: settings.issuer.clone(),
                },
                KeySet::default(),
                NEVER,
            ),
        };
        Ok(Self {
            source,
            accepted: settings.algorithms.clone(),
            http,
            clock,
            cooldown: settings.key_refetch_cooldown,
            max_age: settings.key_max_age,
            current: RwLock::new(Arc::new(keys)),
            fetched_at: AtomicI64::new(fetched_at),
            attempted_at: AtomicI64::new(NEVER),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn current(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(keys) => keys.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn cooled_down(&self, attempted: i64, now: i64) -> bool {
        attempted == NEVER || now.saturating_sub(attempted) >= self.cooldown
    }

    /// The keys to verify a token with `kid` and `alg`, and the index of the one to use.
    pub(crate) async fn find(
        &self,
        kid: Option<&str>,
        alg: SigningAlgorithm,
    ) -> Result<(Arc<KeySet>, usize), KeyError> {
        let now = self.clock.now();
        let mut keys = self.current();
        let remote = matches!(self.source, Source::Remote { .. });
        if remote {
            let attempted = self.attempted_at.load(Ordering::Acquire);
            let fetched = self.fetched_at.load(Ordering::Acquire);
            // Without keys, wait for a fetch in flight (or start one if the cooldown allows);
            // with stale keys, refresh only when the cooldown allows and keep them on failure.
            let stale = fetched != NEVER && now.saturating_sub(fetched) >= self.max_age;
            if fetched == NEVER || (stale && self.cooled_down(attempted, now)) {
                match self.refresh(now, Some(attempted)).await {
                    Ok(fresh) => keys = fresh,
                    Err(error) => tracing::warn!(%error, "fetching the authorization server's keys failed"),
                }
            }
            if self.fetched_at.load(Ordering::Acquire) == NEVER {
                return Err(KeyError::Unavailable(
                    "the authorization server's keys could not be fetched yet".to_owned(),
                ));
            }
        }
        match keys.lookup(kid, alg) {
            Lookup::Found(index) => return Ok((keys, index)),
            Lookup::WrongAlgorithm => return Err(KeyError::WrongAlgorithm),
            Lookup::Ambiguous => return Err(KeyError::Ambiguous),
            Lookup::NotFound => {}
        }
        // An unknown kid may be a key the AS has just rotated in.
        let attempted = self.attempted_at.load(Ordering::Acquire);
        if remote && kid.is_some() && self.cooled_down(attempted, now) {
            match self.refresh(now, Some(attempted)).await {
                Ok(fresh) => keys = fresh,
                Err(error) => tracing::warn!(%error, "fetching the authorization server's keys failed"),
            }
            if let Lookup::Found(index) = keys.lookup(kid, alg) {
                return Ok((keys, index));
            }
        }
        Err(KeyError::NotFound)
    }

    /// Fetches the keys now, whatever the cooldown (for startup and operators).
    pub(crate) async fn refresh_now(&self) -> Result<usize, GuardError> {
        match self.source {
            Source::Static => Ok(self.current().len()),
            Source::Remote { .. } => self.refresh(self.clock.now(), None).await.map(|keys| keys.len()),
        }
    }

    /// Fetches the keys, unless (for `observed = Some(attempt)`) another fetch started since
    /// the caller looked, or the cooldown since the last attempt has not passed: then the
    /// current keys are the answer. `None` forces a fetch.
    async fn refresh(&self, now: i64, observed: Option<i64>) -> Result<Arc<KeySet>, GuardError> {
        let _fetching = self.fetching.lock().await;
        let attempted = self.attempted_at.load(Ordering::Acquire);
        if let Some(observed) = observed
            && (attempted != observed || !self.cooled_down(attempted, now))
        {
            return Ok(self.current());
        }
        self.attempted_at.store(now, Ordering::Release);
        let keys = Arc::new(self.fetch().await?);
        tracing::debug!(keys = keys.len(), "fetched the authorization server's keys");
        match self.current.write() {
            Ok(mut current) => *current = keys.clone(),
            Err(poisoned) => *poisoned.into_inner() = keys.clone(),
        }
        self.fetched_at.store(now, Ordering::Release);
        Ok(keys)
    }

    async fn fetch(&self) -> Result<KeySet, GuardError> {
        let Source::Remote { jwks_uri, configured, issuer } = &self.source else {
            return Ok(KeySet::default());
        };
        let known = jwks_uri.lock().ok().and_then(|uri| uri.clone());
        let uri = match known {
            Some(uri) => uri,
            None => {
                let uri = discovery::discover(&self.http, issuer, Endpoint::Jwks).await.map_err(GuardError::Keys)?;
                if let Ok(mut slot) = jwks_uri.lock() {
                    *slot = Some(uri.clone());
                }
                uri
            }
        };
        let result = discovery::fetch_document(&self.http, &uri)
            .await
            .map_err(GuardError::Keys)
            .and_then(|body| KeySet::parse(&body, &self.accepted).map_err(|e| GuardError::Keys(format!("{uri}: {e}"))));
        if result.is_err()
            && !configured
            && let Ok(mut slot) = jwks_uri.lock()
        {
            // The AS may have moved its keys: read the metadata again next time.
            *slot = None;
        }
        result
    }
}

#[cfg(test)]
mod tests;

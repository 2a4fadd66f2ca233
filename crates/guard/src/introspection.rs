//! Introspection mode (RFC 7662, SPEC R037): instead of verifying a JWT locally, the guard asks
//! the authorization server whether the token is active, so a revoked token is refused within
//! the cache window rather than working until it expires.
//!
//! Locally the token is only checked for size (and by the layer for `b64token` syntax): it may
//! be opaque, and nothing in it is trusted. Then, per token:
//! cache -> one shared request per token at a time -> `POST` `token` and
//! `token_type_hint=access_token` with `client_secret_basic` (R037: authenticated), no
//! redirects, a timeout and a response size cap -> [`response::evaluate`] -> cache.
//!
//! Results are cached under the token's SHA-256, active ones until `exp` or the configured
//! maximum age, whichever is first (RFC 7662 §4), refused ones briefly. When the endpoint
//! cannot be reached or answers nonsense, the request gets `503` with `Retry-After` (nothing
//! is cached), exactly like unobtainable keys in JWT mode.

mod response;
mod settings;

pub(crate) use settings::IntrospectionSettings;

use crate::discovery::{self, Endpoint};
use crate::identity::AccessIdentity;
use crate::token::{Expectations, MAX_TOKEN_BYTES, TokenError};
use crate::token_cache::TokenCache;
use postern_core::{Clock, Issuer, TokenHash};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Introspection responses are a few hundred bytes; anything beyond this is refused.
pub(crate) const MAX_RESPONSE_BYTES: usize = 64 * 1024;

type Verdict = Result<AccessIdentity, TokenError>;

/// Introspection state shared by every request of a guard.
pub(crate) struct Introspector {
    /// Configured, or discovered from the metadata and kept until a request to it fails.
    endpoint: Mutex<Option<String>>,
    configured: bool,
    issuer: Issuer,
    /// `Basic …`, marked sensitive.
    authorization: HeaderValue,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    max_age: i64,
    negative_max_age: i64,
    active: TokenCache<AccessIdentity>,
    refused: TokenCache<TokenError>,
    in_flight: InFlight,
}

impl Introspector {
    pub(crate) fn new(
        settings: &IntrospectionSettings,
        issuer: Issuer,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            endpoint: Mutex::new(settings.endpoint.clone()),
            configured: settings.endpoint.is_some(),
            issuer,
            authorization: settings.client.basic_authorization(),
            http,
            clock,
            timeout: settings.timeout,
            max_age: settings.max_age,
            negative_max_age: settings.negative_max_age,
            active: TokenCache::new(settings.max_entries),
            refused: TokenCache::new(settings.max_entries),
            in_flight: InFlight::default(),
        }
    }

    /// The verdict on `token`, from the cache or from the authorization server.
    pub(crate) async fn check(&self, token: &str, expect: &Expectations<'_>) -> Verdict {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let key = TokenHash::of(token);
        let now = self.clock.now();
        if let Some(identity) = self.active.get(&key, now) {
            return Ok(identity);
        }
        if let Some(error) = self.refused.get(&key, now) {
            return Err(error);
        }
        // Concurrent requests with the same token wait for one introspection. If the request
        // that started it goes away, the next waiter runs its own.
        let flight = self.in_flight.join(&key);
        flight.cell.get_or_init(|| self.introspect(token, &key, expect)).await.clone()
    }

    async fn introspect(&self, token: &str, key: &TokenHash, expect: &Expectations<'_>) -> Verdict {
        let verdict = match self.ask(token).await {
            Ok(body) => response::evaluate(&body, expect, self.clock.now()),
            Err(why) => Err(TokenError::IntrospectionUnavailable(why)),
        };
        let now = self.clock.now();
        match &verdict {
            // RFC 7662 §4: never beyond `exp`.
            Ok(identity) => {
                let until = identity.exp.min(now.saturating_add(self.max_age));
                self.active.insert(key.clone(), identity.clone(), until, now);
            }
            Err(TokenError::IntrospectionUnavailable(why)) => {
                tracing::warn!(error = %why, "token introspection failed; answering 503");
            }
            Err(error) => {
                self.refused.insert(key.clone(), error.clone(), now.saturating_add(self.negative_max_age), now);
            }
        }
        verdict
    }

    /// POSTs the token to the endpoint; the body of a `200`, or why there is none. Neither the
    /// token nor the credentials appear in the error.
    async fn ask(&self, token: &str) -> Result<Vec<u8>, String> {
        let endpoint = self.endpoint().await?;
        let result = self.post(&endpoint, token).await;
        if result.is_err()
            && !self.configured
            && let Ok(mut slot) = self.endpoint.lock()
        {
            // The AS may have moved the endpoint: read the metadata again next time.
            *slot = None;
        }
        result
    }

    async fn endpoint(&self) -> Result<String, String> {
        if let Some(endpoint) = self.endpoint.lock().unwrap_or_else(PoisonError::into_inner).clone() {
            return Ok(endpoint);
        }
        let endpoint = discovery::discover(&self.http, &self.issuer, Endpoint::Introspection).await?;
        *self.endpoint.lock().unwrap_or_else(PoisonError::into_inner) = Some(endpoint.clone());
        Ok(endpoint)
    }

    async fn post(&self, endpoint: &str, token: &str) -> Result<Vec<u8>, String> {
        let response = self
            .http
            .post(endpoint)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| format!("{endpoint}: {}", self.describe(e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return Err(format!(
                "{endpoint} refused the guard's client credentials ({status}): check the client_id and secret \
                 given to with_introspection, and that the client is confidential"
            ));
        }
        if status != reqwest::StatusCode::OK {
            return Err(format!("{endpoint}: answered {status}"));
        }
        discovery::read_limited(response, MAX_RESPONSE_BYTES).await.map_err(|e| format!("{endpoint}: {e}"))
    }

    /// A transport error with its causes ("connection refused"), without repeating the URL.
    fn describe(&self, error: reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} ms", self.timeout.as_millis());
        }
        let error = error.without_url();
        let mut text = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }

    #[cfg(test)]
    fn cached(&self) -> (usize, usize) {
        (self.active.len(), self.refused.len())
    }
}

/// Introspections under way, one per token hash, so identical concurrent checks share one;
/// each with the number of requests waiting for it.
#[derive(Default)]
struct InFlight(Mutex<HashMap<TokenHash, (SharedVerdict, usize)>>);

/// The verdict every request waiting for one introspection gets.
type SharedVerdict = Arc<OnceCell<Verdict>>;

/// A request's share of an introspection. The last one to leave removes the entry, so the
/// map holds only introspections someone still waits for, even when requests are cancelled.
struct Flight<'a> {
    in_flight: &'a InFlight,
    key: TokenHash,
    cell: SharedVerdict,
}

impl InFlight {
    fn join(&self, key: &TokenHash) -> Flight<'_> {
        let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (cell, waiting) = map.entry(key.clone()).or_default();
        *waiting += 1;
        Flight { in_flight: self, key: key.clone(), cell: cell.clone() }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut map = self.in_flight.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, waiting)) = map.get_mut(&self.key) {
            *waiting = waiting.saturating_sub(1);
            if *waiting == 0 {
                map.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests;

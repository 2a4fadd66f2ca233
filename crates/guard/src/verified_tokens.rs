//! JWT mode's cache of verified tokens. An MCP client sends the same access token with every
//! request of a session, and the signature check is nearly all of the cost of a request (an
//! ES256 verification is ~50 µs, the rest of the guard ~1.5 µs), so it is done once per token.
//!
//! Only what cannot change while the same token string is presented is taken from the cache:
//! the signature, `iss`, `aud` and the claims ([`Verified`]). On every request, hit or not:
//! - `exp` and `nbf`, with the leeway, at the injected clock's `now` ([`Verified::check_time`]);
//! - the key: it is looked up again by the token's `kid` and `alg` in the current key set,
//!   exactly as for an uncached token (so the key cache's refresh when stale still runs), and
//!   must be the very key that verified the token (same JWK members). A key the authorization
//!   server has removed, or replaced under the same `kid`, stops covering cached tokens as
//!   soon as the guard's key set no longer holds it, without clearing the cache;
//! - the scope policy (in the layer, after this).
//!
//! When the key check fails, the entry is dropped and the token verified from scratch, so a hit
//! never answers differently from a full verification at the same moment.
//!
//! Entries are keyed by the token's SHA-256, never the token itself, live until the token's
//! `exp` or the configured maximum age, whichever comes first, and are bounded in number (see
//! [`TokenCache`]: when full, new tokens are verified every time rather than evicting others).
//! Only successfully verified tokens are cached: every other answer is cheaper than the
//! signature check or comes from it, and caching failures would let anyone fill the map.

use crate::identity::AccessIdentity;
use crate::keys::KeyCache;
use crate::token::{self, Expectations, MAX_TOKEN_BYTES, TokenError, Verified};
use crate::token_cache::TokenCache;
use postern_core::TokenHash;
use std::sync::Arc;

/// The verified tokens of one guard, shared by its clones.
pub(crate) struct VerifiedTokens {
    /// Behind an `Arc`, so a hit clones a pointer inside the cache's lock, not an identity.
    entries: TokenCache<Arc<Verified>>,
    /// Seconds an entry is kept at most.
    max_age: i64,
    /// `false` for a zero age or size: then tokens are not even hashed.
    enabled: bool,
}

impl VerifiedTokens {
    pub(crate) fn new(max_age: i64, max_entries: usize) -> Self {
        Self { entries: TokenCache::new(max_entries), max_age, enabled: max_age > 0 && max_entries > 0 }
    }

    /// Verifies `token` at `now`, reusing an earlier verification of the same token string.
    pub(crate) async fn verify(
        &self,
        token: &str,
        expect: &Expectations<'_>,
        keys: &KeyCache,
        now: i64,
    ) -> Result<AccessIdentity, TokenError> {
        if !self.enabled {
            return token::verify(token, expect, keys, now).await.map(|verified| verified.identity);
        }
        // Before hashing: bounded work for hostile input.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLong);
        }
        let hash = TokenHash::of(token);
        if let Some(cached) = self.entries.get(&hash, now) {
            if still_signed_by_a_published_key(&cached, keys).await {
                cached.check_time(now, expect.leeway)?;
                return Ok(cached.identity.clone());
            }
            self.entries.remove(&hash);
        }
        let verified = Arc::new(token::verify(token, expect, keys, now).await?);
        // Never beyond `exp`: the leeway past it is granted per request, not by the cache.
        let until = verified.identity.exp.min(now.saturating_add(self.max_age));
        self.entries.insert(hash, verified.clone(), until, now);
        Ok(verified.identity.clone())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Whether the key found for the token's `kid` and `alg` in the current key set (as for an
/// uncached token, including a refresh of stale keys) is the one that verified it.
async fn still_signed_by_a_published_key(verified: &Verified, keys: &KeyCache) -> bool {
    match keys.find(verified.kid.as_deref(), verified.alg).await {
        Ok((key_set, index)) => key_set.get(index).is_some_and(|key| key.fingerprint == verified.key_fingerprint),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests;

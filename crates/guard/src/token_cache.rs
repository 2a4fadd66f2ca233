//! Results about tokens kept for a while, under the SHA-256 of the token (never the token
//! itself, so a memory dump or a debug print of the cache holds no usable credential). Used
//! for introspection verdicts and for JWT-mode verified tokens, each in caches of their own.
//!
//! Bounded: at most `capacity` entries. When full, expired entries are dropped; if none has
//! expired, the new result is simply not cached. Nothing is evicted early, so a flood of
//! distinct tokens cannot push out the results of real ones.
//!
//! One `Mutex` around the map: the critical sections are a hash lookup and a clone of the value
//! (cache `Arc`s where values are large), except when a full cache is swept for expired entries.

use postern_core::TokenHash;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

pub(crate) struct TokenCache<V> {
    /// The value and the clock second from which it is no longer used.
    entries: Mutex<HashMap<TokenHash, (V, i64)>>,
    capacity: usize,
}

impl<V: Clone> TokenCache<V> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { entries: Mutex::new(HashMap::new()), capacity }
    }

    /// The value for `key` if it is still fresh at `now`.
    pub(crate) fn get(&self, key: &TokenHash, now: i64) -> Option<V> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((value, until)) if now < *until => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` until (not including) the clock second `until`.
    pub(crate) fn insert(&self, key: TokenHash, value: V, until: i64, now: i64) {
        if until <= now || self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, expires)| now < *expires);
            if entries.len() >= self.capacity {
                return;
            }
        }
        entries.insert(key, (value, until));
    }

    /// Forgets `key`, e.g. when its value turned out to be no longer usable.
    pub(crate) fn remove(&self, key: &TokenHash) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(token: &str) -> TokenHash {
        TokenHash::of(token)
    }

    #[test]
    fn an_entry_is_used_until_but_not_at_its_expiry() {
        let cache = TokenCache::new(10);
        cache.insert(key("a"), 1, 110, 100);
        assert_eq!(cache.get(&key("a"), 100), Some(1));
        assert_eq!(cache.get(&key("a"), 109), Some(1));
        assert_eq!(cache.get(&key("a"), 110), None);
        assert_eq!(cache.len(), 0, "an expired entry is dropped when found");
    }

    #[test]
    fn entries_that_would_expire_at_once_or_a_zero_capacity_cache_keep_nothing() {
        let cache = TokenCache::new(10);
        cache.insert(key("a"), 1, 100, 100);
        assert_eq!(cache.len(), 0);
        let disabled = TokenCache::new(0);
        disabled.insert(key("a"), 1, 200, 100);
        assert_eq!(disabled.get(&key("a"), 100), None);
    }

    #[test]
    fn a_full_cache_drops_expired_entries_and_otherwise_keeps_what_it_has() {
        let cache = TokenCache::new(2);
        cache.insert(key("a"), 1, 105, 100);
        cache.insert(key("b"), 2, 200, 100);
        // Full and nothing expired: the newcomer is not cached, nobody is evicted.
        cache.insert(key("c"), 3, 200, 101);
        assert_eq!(
            (cache.get(&key("a"), 101), cache.get(&key("b"), 101), cache.get(&key("c"), 101)),
            (Some(1), Some(2), None)
        );
        // Once `a` has expired, there is room again.
        cache.insert(key("c"), 3, 200, 105);
        assert_eq!(cache.get(&key("c"), 105), Some(3));
        assert_eq!(cache.len(), 2);
        // Replacing an existing key needs no room.
        cache.insert(key("b"), 20, 200, 106);
        assert_eq!(cache.get(&key("b"), 106), Some(20));
        cache.remove(&key("b"));
        assert_eq!((cache.get(&key("b"), 106), cache.len()), (None, 1));
    }
}

//! Per-node failure counting for login and client-secret checks. Only failures count, so a
//! busy legitimate client is never slowed; a key with too many recent failures is refused
//! until its window ends.

use std::collections::HashMap;
use std::sync::Mutex;

/// Bounds memory under a flood of distinct keys: past this many, old windows are dropped.
const MAX_TRACKED_KEYS: usize = 100_000;

pub struct FailureWindow {
    limit: u32,
    window_secs: i64,
    entries: Mutex<HashMap<String, (i64, u32)>>,
}

impl FailureWindow {
    pub fn new(limit: u32, window_secs: i64) -> Self {
        Self { limit, window_secs, entries: Mutex::new(HashMap::new()) }
    }

    /// Seconds until `key` may try again, or `None` when it may try now.
    pub fn blocked_for(&self, key: &str, now: i64) -> Option<i64> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (start, count) = *entries.get(key)?;
        let remaining = start + self.window_secs - now;
        (count >= self.limit && remaining > 0).then_some(remaining)
    }

    pub fn record_failure(&self, key: &str, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED_KEYS {
            let window = self.window_secs;
            entries.retain(|_, (start, _)| *start + window > now);
        }
        let entry = entries.entry(key.to_owned()).or_insert((now, 0));
        if entry.0 + self.window_secs <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    pub fn clear(&self, key: &str) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }
}

/// A token bucket per key: up to `capacity` at once, refilled evenly over `period_secs`. Used
/// where every request counts, not only failures (dynamic client registration per IP).
pub struct TokenBuckets {
    capacity: f64,
    refill_per_sec: f64,
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl TokenBuckets {
    pub fn new(capacity: u32, period_secs: i64) -> Self {
        let capacity = f64::from(capacity);
        Self { capacity, refill_per_sec: capacity / period_secs.max(1) as f64, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`; false when its bucket is empty.
    pub fn try_take(&self, key: &str, now: i64) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_TRACKED_KEYS {
            // Full buckets carry no state worth keeping.
            let (capacity, rate) = (self.capacity, self.refill_per_sec);
            buckets.retain(|_, (tokens, at)| *tokens + (now - *at) as f64 * rate < capacity);
        }
        let (tokens, at) = buckets.entry(key.to_owned()).or_insert((self.capacity, now));
        *tokens = (*tokens + (now - *at).max(0) as f64 * self.refill_per_sec).min(self.capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_capacity_then_refills_evenly() {
        let buckets = TokenBuckets::new(20, 3600);
        assert_eq!((0..100).filter(|_| buckets.try_take("ip", 1000)).count(), 20);
        assert!(!buckets.try_take("ip", 1000 + 179), "one token takes 180 s to refill");
        assert!(buckets.try_take("ip", 1000 + 180));
        assert!(buckets.try_take("other", 1000), "buckets are per key");
        assert_eq!((0..100).filter(|_| buckets.try_take("ip", 1_000_000)).count(), 20, "never above capacity");
    }

    #[test]
    fn blocks_after_limit_until_window_ends() {
        let window = FailureWindow::new(3, 60);
        for _ in 0..2 {
            window.record_failure("ip", 100);
        }
        assert_eq!(window.blocked_for("ip", 100), None);
        window.record_failure("ip", 101);
        assert_eq!(window.blocked_for("ip", 110), Some(50));
        assert_eq!(window.blocked_for("ip", 160), None);
        window.record_failure("ip", 160);
        assert_eq!(window.blocked_for("ip", 161), None);
        assert_eq!(window.blocked_for("other", 161), None);
    }

    #[test]
    fn clear_forgets_a_key() {
        let window = FailureWindow::new(1, 60);
        window.record_failure("u", 0);
        assert!(window.blocked_for("u", 1).is_some());
        window.clear("u");
        assert!(window.blocked_for("u", 1).is_none());
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

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

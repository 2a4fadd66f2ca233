//! A cache of fetched documents with single-flight loads (issue 3): concurrent requests for one
//! uncached URL share one fetch, and its outcome, success or failure. Failures are never kept
//! (R089): the next request after a failed load tries again.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

type Shared<V, E> = Result<Arc<V>, Arc<E>>;

enum Slot<V, E> {
    Ready { value: Arc<V>, expires: Instant },
    Loading(broadcast::Sender<Shared<V, E>>),
}

/// Keys are URLs; values are whatever the loader produces (a validated document).
pub struct DocumentCache<V, E> {
    slots: Mutex<HashMap<String, Slot<V, E>>>,
    max_entries: usize,
}

/// Whether a value came from the cache, for the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    /// This request ran the load.
    Loaded,
    /// Another request's load was in flight; this one shared its outcome.
    Coalesced,
}

impl<V: Send + Sync + 'static, E: Send + Sync + 'static> DocumentCache<V, E> {
    pub fn new(max_entries: usize) -> Self {
        Self { slots: Mutex::new(HashMap::new()), max_entries }
    }

    /// The cached value for `key`, or the outcome of one shared `load`. The loader returns the
    /// value and how long it may be kept (`None`: use it for this request only).
    pub async fn get_or_load<F, Fut>(&self, key: &str, load: F) -> (Shared<V, E>, CacheOutcome)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Option<Duration>), E>>,
    {
        let waiter = {
            let mut slots = self.lock();
            match slots.get(key) {
                Some(Slot::Ready { value, expires }) if *expires > Instant::now() => {
                    return (Ok(value.clone()), CacheOutcome::Hit);
                }
                Some(Slot::Loading(sender)) => Some(sender.subscribe()),
                _ => {
                    let (sender, _) = broadcast::channel(1);
                    slots.insert(key.to_owned(), Slot::Loading(sender));
                    None
                }
            }
        };
        if let Some(mut waiter) = waiter {
            // The leader always sends before dropping its sender; a closed channel means the
            // leader's task was cancelled mid-load, so this request loads for itself.
            return match waiter.recv().await {
                Ok(shared) => (shared, CacheOutcome::Coalesced),
                Err(_) => (Self::run(load).await.map(|(value, _)| value), CacheOutcome::Loaded),
            };
        }
        let guard = LoadingGuard { cache: self, key, finished: false };
        let result = Self::run(load).await;
        guard.finish(result)
    }

    async fn run<F, Fut>(load: F) -> Result<(Arc<V>, Option<Duration>), Arc<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Option<Duration>), E>>,
    {
        load().await.map(|(value, ttl)| (Arc::new(value), ttl)).map_err(Arc::new)
    }

    /// The cached value for `key`, if one is fresh; never loads. For callers that must not cause
    /// I/O (a request from a user who has not signed in yet, a logo served from the cache).
    pub fn peek(&self, key: &str) -> Option<Arc<V>> {
        match self.lock().get(key) {
            Some(Slot::Ready { value, expires }) if *expires > Instant::now() => Some(value.clone()),
            _ => None,
        }
    }

    /// Forgets `key` (an administrator changed its approval, say).
    pub fn invalidate(&self, key: &str) {
        let mut slots = self.lock();
        if matches!(slots.get(key), Some(Slot::Ready { .. })) {
            slots.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot<V, E>>> {
        self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Removes the `Loading` slot however the leader ends, so a cancelled load never leaves
/// followers, or later requests, waiting on nothing.
struct LoadingGuard<'a, V, E> {
    cache: &'a DocumentCache<V, E>,
    key: &'a str,
    finished: bool,
}

impl<V: Send + Sync + 'static, E: Send + Sync + 'static> LoadingGuard<'_, V, E> {
    fn finish(mut self, result: Result<(Arc<V>, Option<Duration>), Arc<E>>) -> (Shared<V, E>, CacheOutcome) {
        self.finished = true;
        let shared: Shared<V, E> = result.as_ref().map(|(v, _)| v.clone()).map_err(Clone::clone);
        let sender = {
            let mut slots = self.cache.lock();
            let sender = match slots.remove(self.key) {
                Some(Slot::Loading(sender)) => Some(sender),
                _ => None,
            };
            if let Ok((value, Some(ttl))) = &result {
                if slots.len() >= self.cache.max_entries {
                    let now = Instant::now();
                    slots.retain(|_, slot| matches!(slot, Slot::Ready { expires, .. } if *expires > now));
                }
                if slots.len() < self.cache.max_entries {
                    slots.insert(
                        self.key.to_owned(),
                        Slot::Ready { value: value.clone(), expires: Instant::now() + *ttl },
                    );
                }
            }
            sender
        };
        if let Some(sender) = sender {
            let _ = sender.send(shared.clone());
        }
        (shared, CacheOutcome::Loaded)
    }
}

impl<V, E> Drop for LoadingGuard<'_, V, E> {
    fn drop(&mut self) {
        if !self.finished {
            let mut slots = self.cache.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if matches!(slots.get(self.key), Some(Slot::Loading(_))) {
                slots.remove(self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_concurrent_requests_cause_exactly_one_load() {
        let cache = Arc::new(DocumentCache::<String, String>::new(100));
        let loads = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..1000 {
            let (cache, loads, release) = (cache.clone(), loads.clone(), release.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load("https://a.example/c.json", || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        release.notified().await;
                        Ok(("doc".to_owned(), Some(Duration::from_secs(60))))
                    })
                    .await
            }));
        }
        // Hold the one load open while the other tasks arrive; any that arrive after it ends get
        // a cache hit, which keeps the count of loads at one either way.
        while loads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        release.notify_waiters();
        release.notify_one();
        let mut outcomes = Vec::new();
        for task in tasks {
            let (value, outcome) = task.await.unwrap();
            assert_eq!(value.unwrap().as_str(), "doc");
            outcomes.push(outcome);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(outcomes.iter().filter(|o| **o == CacheOutcome::Loaded).count(), 1);
        let (_, outcome) = cache.get_or_load("https://a.example/c.json", || async { Err("unused".to_owned()) }).await;
        assert_eq!(outcome, CacheOutcome::Hit);
    }

    #[tokio::test]
    async fn r089_failures_are_shared_but_never_cached() {
        let cache = DocumentCache::<String, String>::new(10);
        let (first, _) = cache.get_or_load("k", || async { Err("boom".to_owned()) }).await;
        assert_eq!(first.unwrap_err().as_str(), "boom");
        let (second, outcome) = cache.get_or_load("k", || async { Ok(("ok".to_owned(), None)) }).await;
        assert_eq!((second.unwrap().as_str(), outcome), ("ok", CacheOutcome::Loaded));
        // Loaded without a lifetime: used once, not kept.
        let (_, outcome) = cache.get_or_load("k", || async { Ok(("again".to_owned(), None)) }).await;
        assert_eq!(outcome, CacheOutcome::Loaded);
    }

    #[tokio::test]
    async fn expired_entries_reload_and_invalidate_forgets() {
        let cache = DocumentCache::<u32, ()>::new(10);
        let _ = cache.get_or_load("k", || async { Ok((1, Some(Duration::from_millis(1)))) }).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (value, outcome) = cache.get_or_load("k", || async { Ok((2, Some(Duration::from_secs(60)))) }).await;
        assert_eq!((*value.unwrap(), outcome), (2, CacheOutcome::Loaded));
        assert_eq!(cache.peek("k").as_deref(), Some(&2));
        cache.invalidate("k");
        assert_eq!(cache.peek("k"), None, "peek never loads");
        let (value, _) = cache.get_or_load("k", || async { Ok((3, Some(Duration::from_secs(60)))) }).await;
        assert_eq!(*value.unwrap(), 3);
    }

    #[tokio::test]
    async fn a_cancelled_load_leaves_no_stuck_slot() {
        let cache = Arc::new(DocumentCache::<u32, ()>::new(10));
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get_or_load("k", std::future::pending).await })
        };
        tokio::task::yield_now().await;
        leader.abort();
        let _ = leader.await;
        let (value, outcome) = cache.get_or_load("k", || async { Ok((7, None)) }).await;
        assert_eq!((*value.unwrap(), outcome), (7, CacheOutcome::Loaded));
    }
}

//! The fetch governor (SPEC R071, DESIGN §3 "CIMD resolve"): limits how hard Postern can be made
//! to hit one host, or the internet at large, on behalf of whoever sends it URLs. Over a limit a
//! fetch fails at once: nothing ever queues, so a flood of authorization requests cannot pile up
//! waiting fetches in memory.
//!
//! Limits are per node (DESIGN §4). Hand-rolled rather than the `governor` crate because the
//! per-host part also counts fetches in flight, which a rate limiter does not, and the whole thing
//! is one mutex-guarded map plus a GCRA cell.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::FetchError;

/// Governor settings. The defaults suit an authorization server whose documents are cached: a
/// client's own host rarely sees more than one fetch at a time, and 50 fetches a second is far
/// above what cached CIMD, JWKS and logo traffic needs while bounding what an attacker can cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovernorConfig {
    /// Fetches from one host at the same time (default 2: a document and its logo, say).
    pub per_host_concurrency: usize,
    /// Least time between the starts of two fetches from one host. Zero (the default) disables
    /// it: a CIMD document is routinely followed at once by its JWKS and logo from the same host,
    /// and the cache already keeps repeats away.
    pub per_host_min_interval: Duration,
    /// Fetches allowed per `global_period` across all hosts, also the largest burst (default 50).
    /// Zero refuses every fetch.
    pub global_fetches: u32,
    /// Default one second.
    pub global_period: Duration,
    /// Hosts tracked at once (default 4096); bounds the governor's memory. A host is tracked while
    /// it has fetches in flight or its minimum interval has not passed.
    pub max_hosts: usize,
}

impl Default for GovernorConfig {
    fn default() -> Self {
        Self {
            per_host_concurrency: 2,
            per_host_min_interval: Duration::ZERO,
            global_fetches: 50,
            global_period: Duration::from_secs(1),
            max_hosts: 4096,
        }
    }
}

pub(crate) struct Governor {
    config: GovernorConfig,
    state: Mutex<State>,
}

struct State {
    hosts: HashMap<String, HostState>,
    /// GCRA "theoretical arrival time": the global limit is reached while it is more than
    /// `period - emission interval` ahead of now.
    global_tat: Instant,
}

struct HostState {
    in_flight: usize,
    last_start: Instant,
}

/// One admitted fetch; dropping it frees its per-host slot.
pub(crate) struct Permit<'a> {
    governor: &'a Governor,
    host: String,
}

impl Governor {
    pub(crate) fn new(config: GovernorConfig, now: Instant) -> Self {
        Self { config, state: Mutex::new(State { hosts: HashMap::new(), global_tat: now }) }
    }

    /// Admits a fetch from `host` at `now`, or says which limit refuses it. A refused fetch uses
    /// up nothing: the global budget is charged only once every per-host check has passed.
    pub(crate) fn try_acquire(&self, host: &str, now: Instant) -> Result<Permit<'_>, FetchError> {
        let config = &self.config;
        let mut state = self.lock();
        if let Some(entry) = state.hosts.get(host) {
            if entry.in_flight >= config.per_host_concurrency {
                return Err(FetchError::HostBusy { host: host.to_owned(), limit: config.per_host_concurrency });
            }
            if now.saturating_duration_since(entry.last_start) < config.per_host_min_interval {
                return Err(FetchError::HostTooSoon { host: host.to_owned(), interval: config.per_host_min_interval });
            }
        } else if config.per_host_concurrency == 0 {
            return Err(FetchError::HostBusy { host: host.to_owned(), limit: 0 });
        } else if state.hosts.len() >= config.max_hosts {
            let interval = config.per_host_min_interval;
            state.hosts.retain(|_, h| h.in_flight > 0 || now.saturating_duration_since(h.last_start) < interval);
            if state.hosts.len() >= config.max_hosts {
                return Err(FetchError::TooManyHosts { limit: config.max_hosts });
            }
        }
        let rate_limited = || FetchError::RateLimited { fetches: config.global_fetches, per: config.global_period };
        let emission = config.global_period.checked_div(config.global_fetches).ok_or_else(rate_limited)?;
        let tolerance = config.global_period.saturating_sub(emission);
        let tat = state.global_tat.max(now);
        if tat.saturating_duration_since(now) > tolerance {
            return Err(rate_limited());
        }
        state.global_tat = tat + emission;
        let entry = state.hosts.entry(host.to_owned()).or_insert(HostState { in_flight: 0, last_start: now });
        entry.in_flight += 1;
        entry.last_start = now;
        Ok(Permit { governor: self, host: host.to_owned() })
    }

    #[cfg(test)]
    fn tracked_hosts(&self) -> usize {
        self.lock().hosts.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let keep_for_interval = !self.governor.config.per_host_min_interval.is_zero();
        let mut state = self.governor.lock();
        if let Some(entry) = state.hosts.get_mut(&self.host) {
            entry.in_flight = entry.in_flight.saturating_sub(1);
            if entry.in_flight == 0 && !keep_for_interval {
                state.hosts.remove(&self.host);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn governor(config: GovernorConfig) -> (Governor, Instant) {
        let start = Instant::now();
        (Governor::new(config, start), start)
    }

    #[test]
    fn r071_per_host_concurrency_fails_fast_and_frees_on_drop() {
        let (governor, now) = governor(GovernorConfig::default());
        let first = governor.try_acquire("a.test", now).unwrap();
        let _second = governor.try_acquire("a.test", now).unwrap();
        let refused = governor.try_acquire("a.test", now).err().unwrap();
        assert_eq!(refused, FetchError::HostBusy { host: "a.test".into(), limit: 2 });
        assert!(governor.try_acquire("b.test", now).is_ok(), "other hosts are unaffected");
        drop(first);
        assert!(governor.try_acquire("a.test", now).is_ok());
    }

    #[test]
    fn r071_global_rate_allows_a_burst_then_refuses_until_time_passes() {
        let config = GovernorConfig { global_fetches: 3, global_period: Duration::from_secs(3), ..Default::default() };
        let (governor, now) = governor(config);
        for host in ["a", "b", "c"] {
            assert!(governor.try_acquire(host, now).is_ok(), "{host} within the burst");
        }
        let refused = governor.try_acquire("d", now).err().unwrap();
        assert_eq!(refused, FetchError::RateLimited { fetches: 3, per: Duration::from_secs(3) });
        assert!(governor.try_acquire("d", now + Duration::from_millis(999)).is_err());
        assert!(governor.try_acquire("d", now + Duration::from_secs(1)).is_ok(), "one fetch refilled per second");
        assert!(governor.try_acquire("e", now + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_refused_fetch_does_not_spend_the_global_budget() {
        let config = GovernorConfig {
            per_host_concurrency: 1,
            global_fetches: 2,
            global_period: Duration::from_secs(60),
            ..Default::default()
        };
        let (governor, now) = governor(config);
        let _held = governor.try_acquire("a", now).unwrap();
        for _ in 0..10 {
            assert!(matches!(governor.try_acquire("a", now), Err(FetchError::HostBusy { .. })));
        }
        assert!(governor.try_acquire("b", now).is_ok());
    }

    #[test]
    fn per_host_min_interval_is_enforced_when_set() {
        let config = GovernorConfig { per_host_min_interval: Duration::from_secs(10), ..Default::default() };
        let (governor, now) = governor(config);
        drop(governor.try_acquire("a", now).unwrap());
        let refused = governor.try_acquire("a", now + Duration::from_secs(9)).err().unwrap();
        assert_eq!(refused, FetchError::HostTooSoon { host: "a".into(), interval: Duration::from_secs(10) });
        assert!(governor.try_acquire("a", now + Duration::from_secs(10)).is_ok());
    }

    #[test]
    fn memory_is_bounded_by_max_hosts() {
        let config = GovernorConfig {
            per_host_min_interval: Duration::from_secs(10),
            global_fetches: 1000,
            max_hosts: 3,
            ..Default::default()
        };
        let (governor, now) = governor(config);
        for host in ["a", "b", "c"] {
            drop(governor.try_acquire(host, now).unwrap());
        }
        assert_eq!(governor.try_acquire("d", now).err().unwrap(), FetchError::TooManyHosts { limit: 3 });
        // Once the interval has passed, idle hosts are forgotten to make room.
        assert!(governor.try_acquire("d", now + Duration::from_secs(10)).is_ok());
        assert_eq!(governor.tracked_hosts(), 1);
    }

    #[test]
    fn without_an_interval_idle_hosts_are_not_kept() {
        let (governor, now) = governor(GovernorConfig::default());
        for i in 0..40 {
            drop(governor.try_acquire(&format!("h{i}.test"), now + Duration::from_secs(i)).unwrap());
        }
        assert_eq!(governor.tracked_hosts(), 0);
    }
}

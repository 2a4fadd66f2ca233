//! The CIMD domain policy in force (R085): the configuration file's `[cimd]` lists merged with
//! the rules and the `unknown_domains` value administrators set at runtime through the admin API
//! (stored in the database so every node shares them). Both allow lists count and both deny
//! lists count, and deny wins; a runtime `unknown_domains` replaces the file's.
//!
//! Each node reads the runtime part at most every [`POLICY_TTL_SECS`] and at once after a change
//! made through this node, so another node applies a change within that time (as it does for
//! client records and inventory decisions).

use postern_core::domain_policy::{DomainPattern, DomainPolicy, UnknownDomains};
use postern_store::{DomainList, RuntimeDomainPolicy, Store, StoreError};
use std::sync::{Arc, Mutex};

pub const POLICY_TTL_SECS: i64 = 5;

/// The configuration's policy with the runtime rules and setting merged in. A stored value that
/// does not parse is an error, never skipped: skipping a deny rule would let its domain in.
pub fn merge(config: &DomainPolicy, runtime: &RuntimeDomainPolicy) -> Result<DomainPolicy, StoreError> {
    let mut merged = config.clone();
    for rule in &runtime.rules {
        let pattern =
            DomainPattern::parse(&rule.pattern).map_err(|e| StoreError::Corrupt(format!("stored domain rule: {e}")))?;
        match rule.list {
            DomainList::Allow => merged.allow.push(pattern),
            DomainList::Deny => merged.deny.push(pattern),
        }
    }
    if let Some(setting) = &runtime.unknown_domains {
        merged.unknown = UnknownDomains::parse(&setting.value)
            .map_err(|e| StoreError::Corrupt(format!("stored setting {}: {e}", setting.name)))?;
    }
    Ok(merged)
}

/// This node's copy of the policy in force.
#[derive(Default)]
pub struct DomainPolicyCache {
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    /// Bumped by every invalidation, so a load that started before a change cannot store the
    /// policy it read as current.
    generation: u64,
    loaded: Option<(i64, Arc<DomainPolicy>)>,
}

impl DomainPolicyCache {
    /// The policy in force at `now`, reading the runtime part from the database when this
    /// node's copy is older than [`POLICY_TTL_SECS`] (or was invalidated).
    pub async fn current(
        &self,
        config: &DomainPolicy,
        store: &Store,
        now: i64,
    ) -> Result<Arc<DomainPolicy>, StoreError> {
        let generation = {
            let state = self.lock();
            if let Some((loaded_at, policy)) = &state.loaded
                && (0..POLICY_TTL_SECS).contains(&(now - loaded_at))
            {
                return Ok(policy.clone());
            }
            state.generation
        };
        let policy = Arc::new(merge(config, &store.runtime_domain_policy().await?)?);
        let mut state = self.lock();
        if state.generation == generation {
            state.loaded = Some((now, policy.clone()));
        }
        Ok(policy)
    }

    /// Forgets this node's copy: the next request reads the database.
    pub fn invalidate(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.loaded = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_core::domain_policy::DomainDecision;
    use postern_store::test_support::{Backend, isolated_store};
    use postern_store::{AuditEvent, DomainPolicyChange, DomainRuleRecord, RuntimeSetting};

    fn config() -> DomainPolicy {
        DomainPolicy {
            allow: vec![DomainPattern::parse("*.example.com").unwrap()],
            deny: vec![DomainPattern::parse("bad.example.com").unwrap()],
            unknown: UnknownDomains::Allow,
        }
    }

    fn rule(pattern: &str, list: DomainList) -> DomainRuleRecord {
        DomainRuleRecord { pattern: pattern.into(), list, created_at: 0, created_by: None }
    }

    #[test]
    fn r085_runtime_rules_join_the_configured_lists_and_deny_wins() {
        let runtime = RuntimeDomainPolicy {
            rules: vec![rule("good.example.com", DomainList::Deny), rule("claude.ai", DomainList::Allow)],
            unknown_domains: Some(RuntimeSetting {
                name: postern_store::UNKNOWN_DOMAINS_SETTING.into(),
                value: "approval".into(),
                updated_at: 0,
                updated_by: None,
            }),
        };
        let merged = merge(&config(), &runtime).unwrap();
        // A runtime deny beats the file's allow of *.example.com; the file's deny still holds.
        assert_eq!(merged.decide("good.example.com"), DomainDecision::Deny);
        assert_eq!(merged.decide("bad.example.com"), DomainDecision::Deny);
        assert_eq!(merged.decide("other.example.com"), DomainDecision::Allow);
        assert_eq!(merged.decide("claude.ai"), DomainDecision::Allow);
        // The runtime unknown_domains replaces the file's "allow".
        assert_eq!(merged.decide("new.net"), DomainDecision::NeedsApproval);
        assert_eq!(merge(&config(), &RuntimeDomainPolicy::default()).unwrap().decide("new.net"), DomainDecision::Allow);
    }

    #[test]
    fn a_stored_value_that_does_not_parse_fails_closed() {
        let bad_rule = RuntimeDomainPolicy { rules: vec![rule("Not A Host", DomainList::Deny)], unknown_domains: None };
        assert!(merge(&config(), &bad_rule).is_err());
    }

    #[tokio::test]
    async fn the_cache_rereads_after_its_lifetime_and_at_once_when_invalidated() {
        let (store, _, _guard) = isolated_store(Backend::Sqlite).await.unwrap();
        let cache = DomainPolicyCache::default();
        let deny_claude = DomainPolicyChange::PutRule { pattern: "claude.ai", list: DomainList::Deny, by: "token:t" };
        assert_eq!(cache.current(&config(), &store, 100).await.unwrap().decide("claude.ai"), DomainDecision::Allow);
        store.change_domain_policy(deny_claude, &[], AuditEvent::new("test"), 100).await.unwrap();
        let at = |now| {
            let (cache, store) = (&cache, &store);
            async move { cache.current(&config(), store, now).await.unwrap().decide("claude.ai") }
        };
        assert_eq!(at(100 + POLICY_TTL_SECS - 1).await, DomainDecision::Allow, "another node's change: within 5 s");
        assert_eq!(at(100 + POLICY_TTL_SECS).await, DomainDecision::Deny);
        store
            .change_domain_policy(
                DomainPolicyChange::DeleteRule { pattern: "claude.ai" },
                &[],
                AuditEvent::new("test"),
                106,
            )
            .await
            .unwrap();
        assert_eq!(at(106).await, DomainDecision::Deny, "still this node's copy");
        cache.invalidate();
        assert_eq!(at(106).await, DomainDecision::Allow, "this node's own change: at once");
    }
}

//! The runtime CIMD domain policy (R085): rules and the unknown_domains setting, each change
//! applied with its audit event and the revocations it causes in one transaction.

use crate::support::{NOW, issue_grant, on_both_backends};
use postern_store::{
    AuditEvent, CimdStatus, DomainList, DomainPolicyChange, DomainPolicyChangeOutcome, DomainRuleRecord, Store,
    UNKNOWN_DOMAINS_SETTING,
};

on_both_backends!(
    rules_and_the_unknown_domains_setting_round_trip,
    removing_what_is_not_there_changes_and_records_nothing,
    a_change_revokes_what_the_listed_clients_hold_with_its_audit_event,
);

fn audit(kind: &'static str) -> AuditEvent {
    AuditEvent { detail: serde_json::json!({ "actor": "token:adm_1" }), ..AuditEvent::new(kind) }
}

async fn change(
    store: &Store,
    change: DomainPolicyChange<'_>,
    revoke: &[String],
    at: i64,
) -> DomainPolicyChangeOutcome {
    store.change_domain_policy(change, revoke, audit("admin_domain_rule_added"), at).await.unwrap()
}

async fn rules_and_the_unknown_domains_setting_round_trip(store: Store) {
    assert_eq!(store.runtime_domain_policy().await.unwrap(), Default::default());
    let put = |pattern, list| DomainPolicyChange::PutRule { pattern, list, by: "user:u_root" };
    change(&store, put("claude.ai", DomainList::Allow), &[], NOW).await;
    change(&store, put("*.evil.example", DomainList::Deny), &[], NOW).await;
    // Putting a pattern again moves it to the other list.
    change(&store, put("claude.ai", DomainList::Deny), &[], NOW + 5).await;
    let set = DomainPolicyChange::SetUnknownDomains { value: "approval", by: "token:adm_1" };
    change(&store, set, &[], NOW + 6).await;

    let policy = store.runtime_domain_policy().await.unwrap();
    let rule = |pattern: &str, list, created_at, by: &str| DomainRuleRecord {
        pattern: pattern.into(),
        list,
        created_at,
        created_by: Some(by.into()),
    };
    assert_eq!(
        policy.rules,
        [
            rule("*.evil.example", DomainList::Deny, NOW, "user:u_root"),
            rule("claude.ai", DomainList::Deny, NOW + 5, "user:u_root")
        ]
    );
    let setting = policy.unknown_domains.unwrap();
    assert_eq!(
        (setting.name.as_str(), setting.value.as_str(), setting.updated_at, setting.updated_by.as_deref()),
        (UNKNOWN_DOMAINS_SETTING, "approval", NOW + 6, Some("token:adm_1"))
    );

    change(&store, DomainPolicyChange::DeleteRule { pattern: "claude.ai" }, &[], NOW + 7).await;
    change(&store, DomainPolicyChange::ResetUnknownDomains, &[], NOW + 8).await;
    let policy = store.runtime_domain_policy().await.unwrap();
    assert_eq!((policy.rules.len(), policy.unknown_domains), (1, None));
}

async fn removing_what_is_not_there_changes_and_records_nothing(store: Store) {
    let before = store.recent_audit_events(100).await.unwrap().len();
    let outcome = change(&store, DomainPolicyChange::DeleteRule { pattern: "nothing.example" }, &[], NOW).await;
    assert_eq!(outcome, DomainPolicyChangeOutcome { applied: false, revoked_grants: 0 });
    let outcome = change(&store, DomainPolicyChange::ResetUnknownDomains, &[], NOW).await;
    assert!(!outcome.applied);
    assert_eq!(store.recent_audit_events(100).await.unwrap().len(), before);
}

async fn a_change_revokes_what_the_listed_clients_hold_with_its_audit_event(store: Store) {
    let refused = "https://agent.evil.example/client.json";
    let spared = "https://agent.good.example/client.json";
    for (client_id, host) in [(refused, "agent.evil.example"), (spared, "agent.good.example")] {
        store.record_cimd_client_seen(client_id, host, CimdStatus::Allowed, NOW).await.unwrap();
    }
    issue_grant(&store, refused, "g-refused", "rt-refused").await;
    issue_grant(&store, spared, "g-spared", "rt-spared").await;
    assert_eq!(
        store.cimd_client_hosts().await.unwrap(),
        [(refused.to_owned(), "agent.evil.example".to_owned()), (spared.to_owned(), "agent.good.example".to_owned())]
    );

    let deny = DomainPolicyChange::PutRule { pattern: "*.evil.example", list: DomainList::Deny, by: "token:adm_1" };
    let outcome = change(&store, deny, &[refused.to_owned()], NOW + 10).await;
    assert_eq!(outcome, DomainPolicyChangeOutcome { applied: true, revoked_grants: 1 });
    assert_eq!(store.find_grant("g-refused").await.unwrap().unwrap().revoked_at, Some(NOW + 10));
    assert_eq!(store.find_refresh_token("rt-refused").await.unwrap().unwrap().revoked_at, Some(NOW + 10));
    assert_eq!(store.find_grant("g-spared").await.unwrap().unwrap().revoked_at, None);
    let event = store.recent_audit_events(1).await.unwrap().remove(0);
    let detail: serde_json::Value = serde_json::from_str(event.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail, serde_json::json!({ "actor": "token:adm_1", "revoked_grants": 1 }));
}

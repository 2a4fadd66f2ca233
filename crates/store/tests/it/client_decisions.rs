//! Administrators' decisions on clients: compare-and-set on the status, everything a blocked
//! client holds revoked in the same transaction as the decision and its audit event, and
//! blocks that survive the configuration re-sync at start.

use crate::support::{NOW, RESOURCE, USER, client, code, issue_grant, on_both_backends, user};
use postern_store::{
    AuditEvent, AuthorizationCodeRecord, CimdDecision, CimdStatus, ClientSource, ClientStatus, ConsentRecord, Store,
};

on_both_backends!(
    blocking_a_registered_client_revokes_everything_it_holds_with_its_audit_event,
    approving_revokes_nothing,
    a_decision_on_a_status_that_changed_meanwhile_changes_and_records_nothing,
    a_metadata_client_can_be_decided_before_it_is_seen_and_blocked_later,
    a_block_survives_the_configuration_resync,
);

const CIMD: &str = "https://agent.example.org/client.json";

fn audit(kind: &'static str, client_id: &str) -> AuditEvent {
    AuditEvent {
        client_id: Some(client_id.to_owned()),
        detail: serde_json::json!({ "actor": "token:adm_1" }),
        ..AuditEvent::new(kind)
    }
}

/// A live grant (with its refresh token), an unredeemed code and a remembered consent.
async fn holdings(store: &Store, client_id: &str, tag: &str) {
    issue_grant(store, client_id, &format!("g-{tag}"), &format!("rt-{tag}")).await;
    let outstanding = AuthorizationCodeRecord {
        client_id: client_id.to_owned(),
        ..code(&format!("open-code-{tag}"), &format!("g-open-{tag}"))
    };
    store.insert_authorization_code(&outstanding, &AuditEvent::new("code_issued")).await.unwrap();
    if store.find_user(USER).await.unwrap().is_none() {
        store.create_user(&user(USER, "alice")).await.unwrap();
    }
    store
        .save_consent(&ConsentRecord {
            user_id: USER.into(),
            client_id: client_id.into(),
            redirect_uri: String::new(),
            resource: RESOURCE.into(),
            scope: "mcp:read".into(),
            client_fingerprint: String::new(),
            granted_at: NOW,
        })
        .await
        .unwrap();
}

/// (grant revoked, refresh token revoked, code expired, consent gone) for `tag`'s holdings.
async fn revoked(store: &Store, client_id: &str, tag: &str) -> (bool, bool, bool, bool) {
    let grant = store.find_grant(&format!("g-{tag}")).await.unwrap().unwrap();
    let refresh = store.find_refresh_token(&format!("rt-{tag}")).await.unwrap().unwrap();
    let open = store.find_authorization_code(&format!("open-code-{tag}")).await.unwrap().unwrap();
    let consent = store.find_consent(USER, client_id, "", RESOURCE).await.unwrap();
    (grant.revoked_at.is_some(), refresh.revoked_at.is_some(), open.expires_at <= NOW + 10, consent.is_none())
}

async fn blocking_a_registered_client_revokes_everything_it_holds_with_its_audit_event(store: Store) {
    store.insert_client(&client("blocked-app", ClientSource::Cli)).await.unwrap();
    store.insert_client(&client("bystander", ClientSource::Cli)).await.unwrap();
    holdings(&store, "blocked-app", "1").await;
    holdings(&store, "bystander", "2").await;

    let decided = store
        .decide_registered_client(
            "blocked-app",
            ClientStatus::Active,
            ClientStatus::Denied,
            true,
            audit("admin_client_blocked", "blocked-app"),
            NOW + 10,
        )
        .await
        .unwrap();
    assert_eq!(decided, Some(1), "one grant revoked");
    assert_eq!(store.find_client("blocked-app").await.unwrap().unwrap().status, ClientStatus::Denied);
    assert_eq!(revoked(&store, "blocked-app", "1").await, (true, true, true, true));
    assert_eq!(revoked(&store, "bystander", "2").await, (false, false, false, false), "other clients keep theirs");
    let event = store.recent_audit_events(1).await.unwrap().remove(0);
    assert_eq!((event.kind.as_str(), event.client_id.as_deref()), ("admin_client_blocked", Some("blocked-app")));
    let detail: serde_json::Value = serde_json::from_str(event.detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail, serde_json::json!({ "actor": "token:adm_1", "revoked_grants": 1 }));
}

async fn approving_revokes_nothing(store: Store) {
    store
        .insert_client(&postern_store::ClientRecord {
            status: ClientStatus::Pending,
            ..client("app", ClientSource::Dcr)
        })
        .await
        .unwrap();
    holdings(&store, "app", "1").await;
    let decided = store
        .decide_registered_client(
            "app",
            ClientStatus::Pending,
            ClientStatus::Active,
            false,
            audit("a", "app"),
            NOW + 10,
        )
        .await
        .unwrap();
    assert_eq!(decided, Some(0));
    assert_eq!(revoked(&store, "app", "1").await, (false, false, false, false));
}

async fn a_decision_on_a_status_that_changed_meanwhile_changes_and_records_nothing(store: Store) {
    store.insert_client(&client("app", ClientSource::Cli)).await.unwrap();
    holdings(&store, "app", "1").await;
    let before = store.recent_audit_events(1000).await.unwrap().len();
    // The administrator saw "pending"; the client is active by now.
    let decided = store
        .decide_registered_client("app", ClientStatus::Pending, ClientStatus::Denied, true, audit("a", "app"), NOW + 10)
        .await
        .unwrap();
    assert_eq!(decided, None);
    assert_eq!(store.find_client("app").await.unwrap().unwrap().status, ClientStatus::Active);
    assert_eq!(revoked(&store, "app", "1").await, (false, false, false, false));
    assert_eq!(store.recent_audit_events(1000).await.unwrap().len(), before);
    let unknown = store
        .decide_registered_client("nobody", ClientStatus::Active, ClientStatus::Denied, true, audit("a", "x"), NOW)
        .await
        .unwrap();
    assert_eq!(unknown, None);
}

async fn a_metadata_client_can_be_decided_before_it_is_seen_and_blocked_later(store: Store) {
    let decision = |from, to, revoke| CimdDecision {
        client_id: CIMD,
        host: "agent.example.org",
        from,
        to,
        by: "user:u_root",
        revoke,
    };
    let decide = |from, to, revoke, at| {
        let store = store.clone();
        async move { store.decide_metadata_client(decision(from, to, revoke), audit("a", CIMD), at).await.unwrap() }
    };
    assert_eq!(decide(None, CimdStatus::Approved, false, NOW).await, Some(0), "pre-approved");
    assert_eq!(decide(None, CimdStatus::Denied, true, NOW).await, None, "already in the inventory");
    let record = store.find_cimd_client(CIMD).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.host.as_str(), record.decided_by.as_deref(), record.decided_at),
        (CimdStatus::Approved, "agent.example.org", Some("user:u_root"), Some(NOW))
    );
    // Seen later: the server keeps the decision.
    let seen = store.record_cimd_client_seen(CIMD, "agent.example.org", CimdStatus::Pending, NOW + 5).await.unwrap();
    assert_eq!(seen.status, CimdStatus::Approved);

    holdings(&store, CIMD, "1").await;
    assert_eq!(decide(Some(CimdStatus::Pending), CimdStatus::Denied, true, NOW + 10).await, None, "stale status");
    assert_eq!(decide(Some(CimdStatus::Approved), CimdStatus::Denied, true, NOW + 10).await, Some(1));
    assert_eq!(store.find_cimd_client(CIMD).await.unwrap().unwrap().status, CimdStatus::Denied);
    assert_eq!(revoked(&store, CIMD, "1").await, (true, true, true, true));
}

async fn a_block_survives_the_configuration_resync(store: Store) {
    let from_file = [client("kept-blocked", ClientSource::Config), client("stays-active", ClientSource::Config)];
    store.sync_config_clients(&from_file).await.unwrap();
    let blocked = store
        .decide_registered_client(
            "kept-blocked",
            ClientStatus::Active,
            ClientStatus::Denied,
            true,
            audit("a", "kept-blocked"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(blocked, Some(0));
    // The next start re-syncs the file.
    store.sync_config_clients(&from_file).await.unwrap();
    assert_eq!(store.find_client("kept-blocked").await.unwrap().unwrap().status, ClientStatus::Denied);
    assert_eq!(store.find_client("stays-active").await.unwrap().unwrap().status, ClientStatus::Active);
}

//! Fixtures for the admin API's client and domain-policy tests: clients of each kind put
//! straight into the store, tokens of metadata-document clients through the real flow, and
//! the checks both test modules make.

use crate::support::*;
use postern_core::Clock;
use postern_store::{
    AuditEvent, CimdStatus, ClientRecord, ClientSource, ClientStatus, DcrRegistration, ValidatedDocument,
};
use serde_json::{Value, json};

pub const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

/// A client_id as one path segment.
pub fn encoded(client_id: &str) -> String {
    url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect()
}

/// The standard request, for a metadata-document client.
pub fn cimd_params(app: &TestApp, client_id: &str) -> Vec<(String, String)> {
    with_param(&with_param(&app.authorize_params(), "client_id", client_id), "redirect_uri", LOOPBACK_REDIRECT)
}

/// Access and refresh token of a fresh grant for a metadata-document client.
pub async fn cimd_tokens(app: &TestApp, client_id: &str) -> (String, String) {
    let code = app.code_for(&cimd_params(app, client_id)).await;
    let reply = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
            ("redirect_uri", LOOPBACK_REDIRECT),
        ])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
}

pub async fn refresh_as(app: &TestApp, refresh: &str, client_id: &str) -> Reply {
    app.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", client_id)]).await
}

/// Introspection as the MCP server's own client, which no test blocks.
pub async fn active(app: &TestApp, access: &str) -> Value {
    app.introspect_as(RESOURCE_SERVER_CLIENT, RESOURCE_SERVER_SECRET, access).await["active"].clone()
}

/// The detail of the newest audit event of `kind`.
pub async fn last_event(app: &TestApp, kind: &str) -> (Option<String>, Option<String>, Value) {
    let events = app.store.recent_audit_events(1000).await.unwrap();
    let event = events.into_iter().find(|e| e.kind == kind).unwrap_or_else(|| panic!("no {kind} event"));
    let detail = event.detail.as_deref().map_or(Value::Null, |d| serde_json::from_str(d).unwrap());
    (event.client_id, event.user_id, detail)
}

/// A self-registered client waiting for approval (`dcr.approval = "required"`).
pub async fn pending_dcr_client(app: &TestApp, client_id: &str, redirect: &str) {
    let record = ClientRecord {
        client_id: client_id.into(),
        client_name: format!("{client_id} agent"),
        redirect_uris: vec![redirect.into()],
        grant_types: vec!["authorization_code".into()],
        token_endpoint_auth_method: "none".into(),
        secret_hash: None,
        scope: None,
        jwks: None,
        jwks_uri: None,
        source: ClientSource::Dcr,
        status: ClientStatus::Pending,
        secret_expires_at: None,
        created_at: app.clock.now(),
    };
    let registration = DcrRegistration {
        client_id: client_id.into(),
        registration_token_hash: format!("rat-{client_id}"),
        metadata: "{}".into(),
        dedupe_key: None,
        registered_ip: Some("198.51.100.9".into()),
        created_at: app.clock.now(),
    };
    app.store.insert_dcr_client(&record, &registration, &AuditEvent::new("client_registered")).await.unwrap();
}

/// A metadata-document client in the inventory with a validated document, without a fetch.
pub async fn seen_cimd_client(app: &TestApp, client_id: &str, host: &str, status: CimdStatus, name: &str) {
    app.store.record_cimd_client_seen(client_id, host, status, app.clock.now()).await.unwrap();
    let snapshot = json!({
        "client_id": client_id, "client_name": name, "redirect_uris": [LOOPBACK_REDIRECT],
        "grant_types": ["authorization_code"], "token_endpoint_auth_method": "none",
    })
    .to_string();
    let document = ValidatedDocument { client_name: name, document_hash: "h", fingerprint: "f", snapshot: &snapshot };
    app.store.record_cimd_document(client_id, document, app.clock.now()).await.unwrap();
}

/// A client's status in the inventory (`active`, `pending`, `blocked`, `expired`).
pub async fn inventory_status(app: &TestApp, client_id: &str) -> String {
    app.store.find_inventory_item(client_id, app.clock.now()).await.unwrap().unwrap().status.as_str().to_owned()
}

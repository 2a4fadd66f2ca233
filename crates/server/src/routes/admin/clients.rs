//! `GET /admin/api/v1/clients` and `GET /admin/api/v1/clients/{client_id}`: one inventory of
//! every client whatever its kind (pre-registered, self-registered, metadata document), with
//! where it came from, who vouches for it, its standing and its activity; and for one client,
//! its document history, the users who consented and its live grants. The loading functions
//! ([`inventory_page`], [`client_detail`], [`ClientFacts`]) serve the admin console too.

use super::auth::AdminCaller;
use super::error::AdminError;
use super::inventory_params::{self, InventoryParams};
use crate::cimd;
use crate::cimd::snapshot::ClientSnapshot;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use postern_core::domain_policy::{DomainDecision, DomainPolicy};
use postern_store::{
    AuditRecord, CimdClientRecord, ClientConsent, ClientGrant, ClientKind, ClientRecord, DOCUMENT_HISTORY_KEPT,
    DocumentHistoryEntry, InventoryItem, InventoryQuery, InventorySort,
};
use serde_json::{Value, json};

/// Consents and grants one detail response lists (newest first); `*_truncated` says more exist.
pub const DETAIL_LIST_LIMIT: i64 = 100;
/// Document fetches (successful or not) one detail response lists.
const RECENT_FETCHES: i64 = 10;
/// Longer than any client_id Postern accepts (metadata document URLs are at most 2,048).
pub const MAX_CLIENT_ID_CHARS: usize = 2048;

/// One page of the inventory and the cursor of the next page, if there is one.
pub struct InventoryPage {
    pub items: Vec<InventoryItem>,
    pub next_cursor: Option<String>,
}

/// The inventory page a validated listing request asks for (the API and the console).
pub async fn inventory_page(state: &AppState, params: &InventoryParams) -> Result<InventoryPage, AdminError> {
    let query = InventoryQuery {
        kind: params.kind,
        status: params.status,
        domain: params.domain_filter(),
        text: params.text.as_deref(),
        sort: params.sort,
        descending: params.descending,
        after: params.after.as_ref(),
        // One more than asked tells whether another page exists without a count query.
        limit: params.limit + 1,
        now: state.now(),
    };
    let mut items = state.store.list_inventory(&query).await?;
    let more = items.len() as i64 > params.limit;
    items.truncate(usize::try_from(params.limit).unwrap_or(0));
    let sort_key = |item: &InventoryItem| match params.sort {
        InventorySort::ClientId => 0,
        InventorySort::LastSeen => item.last_seen,
        InventorySort::FirstSeen => item.first_seen,
    };
    let next_cursor = items.last().filter(|_| more).map(|last| params.cursor_after(sort_key(last), &last.client_id));
    Ok(InventoryPage { items, next_cursor })
}

/// `GET /clients`: `{"items": [...], "next_cursor": "..." | null}`.
pub async fn list(
    State(state): State<AppState>,
    _caller: AdminCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, AdminError> {
    let params = inventory_params::parse(raw.as_deref())?;
    let page = inventory_page(&state, &params).await?;
    let policy = cimd::domain_policy(&state).await?;
    Ok(Json(json!({
        "items": page.items.iter().map(|item| item_json(item, &policy)).collect::<Vec<_>>(),
        "next_cursor": page.next_cursor,
    })))
}

/// Everything an operator is shown about one client.
pub struct ClientDetail {
    pub item: InventoryItem,
    /// Newest first, at most [`DETAIL_LIST_LIMIT`]; `consents_truncated` says more exist.
    pub consents: Vec<ClientConsent>,
    pub consents_truncated: bool,
    pub grants: Vec<ClientGrant>,
    pub grants_truncated: bool,
    /// For a metadata-document client.
    pub document: Option<DocumentRecord>,
    /// For a pre-registered or self-registered client (never its secret: only whether it has one).
    pub registration: Option<ClientRecord>,
}

/// A metadata-document client's inventory entry, the distinct documents it served (newest
/// first) and its latest fetches with their outcomes.
pub struct DocumentRecord {
    pub record: Option<CimdClientRecord>,
    pub history: Vec<DocumentHistoryEntry>,
    pub fetches: Vec<AuditRecord>,
}

impl DocumentRecord {
    /// Whether the document at `index` of the history changed redirect URIs, auth method or
    /// keys compared with the one before it.
    pub fn security_relevant_change(&self, index: usize) -> bool {
        let (Some(entry), Some(older)) = (self.history.get(index), self.history.get(index + 1)) else {
            return false;
        };
        older.fingerprint != entry.fingerprint
    }
}

/// Loads [`ClientDetail`]; unknown clients are 404.
pub async fn client_detail(state: &AppState, client_id: &str) -> Result<ClientDetail, AdminError> {
    let Some(item) = state.store.find_inventory_item(client_id, state.now()).await? else {
        return Err(unknown_client(client_id));
    };
    let mut consents = state.store.client_consents(client_id, DETAIL_LIST_LIMIT + 1).await?;
    let mut grants = state.store.client_live_grants(client_id, DETAIL_LIST_LIMIT + 1).await?;
    let limit = usize::try_from(DETAIL_LIST_LIMIT).unwrap_or(usize::MAX);
    let (consents_truncated, grants_truncated) = (consents.len() > limit, grants.len() > limit);
    consents.truncate(limit);
    grants.truncate(limit);
    let (document, registration) = match item.kind {
        ClientKind::MetadataDocument => {
            let document = DocumentRecord {
                record: state.store.find_cimd_client(client_id).await?,
                history: state.store.cimd_document_history(client_id, DOCUMENT_HISTORY_KEPT).await?,
                fetches: state.store.client_audit_events(client_id, "outbound_fetch", RECENT_FETCHES).await?,
            };
            (Some(document), None)
        }
        ClientKind::Preregistered | ClientKind::Dcr => (None, state.store.find_client(client_id).await?),
    };
    Ok(ClientDetail { item, consents, consents_truncated, grants, grants_truncated, document, registration })
}

/// `GET /clients/{client_id}` (the client_id percent-encoded as one path segment).
pub async fn detail(
    State(state): State<AppState>,
    _caller: AdminCaller,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, AdminError> {
    let client_id = client_id_param(client_id)?;
    let detail = client_detail(&state, &client_id).await?;
    let policy = cimd::domain_policy(&state).await?;
    let mut body = item_json(&detail.item, &policy);
    body["consents_truncated"] = json!(detail.consents_truncated);
    body["consents"] = detail
        .consents
        .iter()
        .map(|c| {
            json!({
                "user_id": c.user_id, "username": c.username, "resource": c.resource, "scope": c.scope,
                "redirect_uri": (!c.redirect_uri.is_empty()).then_some(&c.redirect_uri), "granted_at": c.granted_at,
            })
        })
        .collect();
    body["grants_truncated"] = json!(detail.grants_truncated);
    body["grants"] = detail
        .grants
        .iter()
        .map(|g| {
            json!({
                "grant_id": g.grant_id, "user_id": g.user_id, "username": g.username, "resource": g.resource,
                "scope": g.scope, "created_at": g.created_at,
            })
        })
        .collect();
    if let Some(document) = &detail.document {
        body["metadata_document"] = document_json(document);
    }
    if let Some(client) = &detail.registration {
        body["registration"] = json!({
            "grant_types": client.grant_types,
            "scope": client.scope,
            "has_secret": client.secret_hash.is_some(),
            "secret_expires_at": client.secret_expires_at,
            "jwks_uri": client.jwks_uri,
            "has_inline_jwks": client.jwks.is_some(),
        });
    }
    Ok(Json(body))
}

/// A metadata-document client's document, history (`security_relevant_change` when redirect
/// URIs, auth method or keys differ from the document before it) and latest fetches.
fn document_json(document: &DocumentRecord) -> Value {
    let record = document.record.as_ref();
    let history_json: Vec<Value> = document
        .history
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            json!({
                "fetched_at": entry.fetched_at,
                "document_hash": entry.document_hash,
                "fingerprint": entry.fingerprint,
                "security_relevant_change": document.security_relevant_change(i),
                "client": entry.snapshot.as_deref().map(stored_json),
            })
        })
        .collect();
    json!({
        "inventory_status": record.map(|r| r.status.as_str()),
        "decided_by": record.and_then(|r| r.decided_by.clone()),
        "decided_at": record.and_then(|r| r.decided_at),
        "document_hash": record.and_then(|r| r.document_hash.clone()),
        "fingerprint": record.and_then(|r| r.fingerprint.clone()),
        "last_changed": record.and_then(|r| r.last_changed),
        "client": record.and_then(|r| r.snapshot.as_deref()).map(stored_json),
        "history": history_json,
        "recent_fetches": document.fetches.iter().map(|event| json!({
            "occurred_at": event.occurred_at,
            "detail": event.detail.as_deref().map(stored_json),
        })).collect::<Vec<_>>(),
    })
}

/// JSON the server stored; shown as a string if it ever stops parsing.
pub fn stored_json(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// What an inventory entry says once interpreted: where a metadata-document client's redirect
/// URIs and auth method live, how the domain policy judges its host, who vouches for it.
pub struct ClientFacts {
    pub redirect_uris: Vec<String>,
    pub auth_method: Option<String>,
    /// `allow`, `approval` or `deny`, for metadata-document clients with a host.
    pub domain_decision: Option<&'static str>,
    /// Who vouches for the client, in words.
    pub provenance: String,
}

impl ClientFacts {
    pub fn of(item: &InventoryItem, policy: &DomainPolicy) -> Self {
        let snapshot = item.snapshot.as_deref().and_then(|raw| ClientSnapshot::from_json(raw).ok());
        let (redirect_uris, auth_method) = match (&item.kind, &snapshot) {
            (ClientKind::MetadataDocument, Some(snapshot)) => {
                (snapshot.redirect_uris.clone(), Some(snapshot.token_endpoint_auth_method.clone()))
            }
            (ClientKind::MetadataDocument, None) => (Vec::new(), None),
            _ => (item.redirect_uris.clone(), item.token_endpoint_auth_method.clone()),
        };
        let domain_decision = (item.kind == ClientKind::MetadataDocument)
            .then(|| item.owning_domain.as_deref().map(|host| decision_name(policy.decide(host))))
            .flatten();
        Self { redirect_uris, auth_method, domain_decision, provenance: provenance_description(item) }
    }
}

/// One inventory entry as the API shows it.
pub fn item_json(item: &InventoryItem, policy: &DomainPolicy) -> Value {
    let facts = ClientFacts::of(item, policy);
    json!({
        "client_id": item.client_id,
        "kind": item.kind.as_str(),
        "provenance": provenance_json(item, facts.provenance),
        "owning_domain": item.owning_domain,
        "client_name": item.client_name,
        "redirect_uris": facts.redirect_uris,
        "token_endpoint_auth_method": facts.auth_method,
        "status": item.status.as_str(),
        "stored_status": item.stored_status,
        "domain_decision": facts.domain_decision,
        "first_seen": item.first_seen,
        "last_seen": item.last_seen,
        "live_grants": item.live_grants,
    })
}

/// Who vouches for a client: the operator (configuration file or CLI), nobody (it registered
/// itself, from an address), or the host that publishes its metadata document.
fn provenance_description(item: &InventoryItem) -> String {
    match item.source.as_str() {
        "config" => "configuration file".to_owned(),
        "cli" => "added with postern clients add".to_owned(),
        "dcr" => match &item.registered_ip {
            Some(ip) => format!("registered itself from {ip}"),
            None => "registered itself".to_owned(),
        },
        _ => format!("metadata document published by {}", item.owning_domain.as_deref().unwrap_or("?")),
    }
}

fn provenance_json(item: &InventoryItem, description: String) -> Value {
    json!({
        "source": item.source,
        "description": description,
        "registered_ip": item.registered_ip,
        "document_host": (item.kind == ClientKind::MetadataDocument).then_some(&item.owning_domain),
    })
}

fn decision_name(decision: DomainDecision) -> &'static str {
    match decision {
        DomainDecision::Allow => "allow",
        DomainDecision::NeedsApproval => "approval",
        DomainDecision::Deny => "deny",
    }
}

/// The client_id path segment, percent-decoded by the router.
pub fn client_id_param(raw: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    let Path(client_id) =
        raw.map_err(|_| AdminError::bad_request("client_id must be a percent-encoded UTF-8 path segment"))?;
    if client_id.is_empty() || client_id.chars().count() > MAX_CLIENT_ID_CHARS || client_id.contains('\0') {
        return Err(AdminError::bad_request(format!(
            "client_id must be 1 to {MAX_CLIENT_ID_CHARS} characters without NUL"
        )));
    }
    Ok(client_id)
}

pub fn unknown_client(client_id: &str) -> AdminError {
    AdminError::not_found(format!(
        "no client {} in the inventory (metadata-document client_ids are URLs: percent-encode them as one path segment)",
        crate::params::clip(client_id, 200)
    ))
}

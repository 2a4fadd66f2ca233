//! `GET /admin/clients` (the inventory: every client of every kind, filtered by kind, status,
//! domain and text, a page at a time) and `GET /admin/clients/{client_id}` (one client: where
//! it comes from, redirect URIs, status, grants and consents, and for a metadata-document
//! client the document as validated, its history and its latest fetches). The data is the
//! admin API's (`clients::inventory_page`, `clients::client_detail`, `ClientFacts`).

use super::{Admin, Chrome, Notice, Paths, error_page, query_params};
use super::{display, names};
use crate::cimd;
use crate::pages;
use crate::params::Params;
use crate::routes::admin::clients::{ClientDetail, ClientFacts, client_detail, client_id_param, inventory_page};
use crate::routes::admin::error::AdminError;
use crate::routes::admin::inventory_params;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_core::domain_policy::DomainPolicy;
use postern_store::{ClientKind, InventoryItem, InventoryStatus};

/// The list's filter fields, as the form sends them (the API's parameter names).
const FILTERS: &[&str] = &["kind", "status", "domain", "q"];

/// One client as a row of the list or the head of its page.
pub struct ClientRow {
    /// The client's name, or its client_id when it has none yet (`named` is then false).
    pub name: String,
    pub named: bool,
    pub client_id: String,
    pub href: String,
    pub kind: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub domain: String,
    pub live_grants: i64,
    pub first_seen: String,
    pub last_seen: String,
}

impl ClientRow {
    fn of(item: &InventoryItem, paths: &Paths) -> Self {
        let name = item.client_name.clone().filter(|n| !n.is_empty());
        Self {
            named: name.is_some(),
            name: name.unwrap_or_else(|| item.client_id.clone()),
            client_id: item.client_id.clone(),
            href: paths.client(&item.client_id),
            kind: display::kind_label(item.kind),
            status: item.status.as_str(),
            status_class: display::status_class(item.status),
            domain: item.owning_domain.clone().unwrap_or_default(),
            live_grants: item.live_grants,
            first_seen: display::time(item.first_seen),
            last_seen: display::time(item.last_seen),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct ListPage {
    chrome: Chrome,
    action: String,
    kind: String,
    status: String,
    domain: String,
    q: String,
    error: Option<String>,
    rows: Vec<ClientRow>,
    next: Option<String>,
    first: Option<String>,
}

/// `GET /admin/clients?kind=&status=&domain=&q=&cursor=`.
pub async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let chrome = admin.chrome(&state, "clients");
    // The fields are shown again as sent, even when one of them is refused.
    let sent = Params::parse(raw.as_deref().unwrap_or_default().as_bytes()).unwrap_or_default();
    let value = |name: &str| sent.get(name).unwrap_or_default().to_owned();
    let mut page = ListPage {
        action: chrome.paths.page("/clients"),
        kind: value("kind"),
        status: value("status"),
        domain: value("domain"),
        q: value("q"),
        error: None,
        rows: Vec::new(),
        next: None,
        first: None,
        chrome,
    };
    let result = async {
        let params = inventory_params::parse(raw.as_deref())?;
        let listing = inventory_page(&state, &params).await?;
        Ok::<_, AdminError>((listing, params.after.is_some()))
    }
    .await;
    match result {
        Ok((listing, paged)) => {
            let filters: Vec<(&str, &str)> =
                FILTERS.iter().filter_map(|name| sent.get(name).map(|value| (*name, value))).collect();
            let href = |cursor: Option<&str>| {
                let mut query = form_urlencoded::Serializer::new(String::new());
                query.extend_pairs(filters.iter());
                if let Some(cursor) = cursor {
                    query.append_pair("cursor", cursor);
                }
                let query = query.finish();
                if query.is_empty() { page.action.clone() } else { format!("{}?{query}", page.action) }
            };
            page.next = listing.next_cursor.as_deref().map(|cursor| href(Some(cursor)));
            page.first = paged.then(|| href(None));
            page.rows = listing.items.iter().map(|item| ClientRow::of(item, &page.chrome.paths)).collect();
            pages::render(StatusCode::OK, &page)
        }
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            page.error = Some(error.description);
            pages::render(StatusCode::BAD_REQUEST, &page)
        }
        Err(error) => error_page(admin.chrome(&state, "clients"), &error, None),
    }
}

/// A grant or a consent of the client, as a table row.
pub struct GrantRow {
    pub user: String,
    pub user_audit: String,
    pub resource: String,
    pub scope: String,
    pub since: String,
    /// The confirmation page that revokes it (grants only).
    pub revoke_href: Option<String>,
}

/// One document the client served.
pub struct HistoryRow {
    pub fetched_at: String,
    pub hash: String,
    pub security_relevant_change: bool,
    pub client: Option<String>,
}

/// One fetch of the document.
pub struct FetchRow {
    pub time: String,
    pub what: String,
    pub outcome: String,
    pub ok: bool,
    pub status: String,
    pub bytes: String,
    pub duration_ms: String,
    pub peer: String,
}

/// A metadata-document client's document section.
pub struct DocumentView {
    pub stored_status: String,
    pub decided: Option<String>,
    pub last_changed: String,
    pub hash: String,
    pub client: Option<String>,
    pub history: Vec<HistoryRow>,
    pub fetches: Vec<FetchRow>,
}

/// A registered client's registration (never its secret: whether it has one).
pub struct RegistrationView {
    pub grant_types: String,
    pub scope: String,
    pub secret: String,
    pub keys: String,
}

/// What a client's page offers to do, by its status.
pub struct ActionLinks {
    /// Direct posts (approve, unblock): (label, action).
    pub posts: Vec<(String, String)>,
    /// Confirmation pages (deny, block): (label, href).
    pub confirms: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "admin/client.html")]
struct DetailPage {
    chrome: Chrome,
    client: ClientRow,
    provenance: String,
    stored_status: String,
    domain_decision: Option<&'static str>,
    auth_method: String,
    redirect_uris: Vec<String>,
    actions: ActionLinks,
    grants: Vec<GrantRow>,
    grants_truncated: bool,
    consents: Vec<GrantRow>,
    consents_truncated: bool,
    document: Option<DocumentView>,
    registration: Option<RegistrationView>,
    audit_href: String,
}

/// `GET /admin/clients/{client_id}` (the client_id percent-encoded as one path segment).
pub async fn detail(
    State(state): State<AppState>,
    client_id: Result<Path<String>, PathRejection>,
    RawQuery(raw): RawQuery,
    admin: Admin,
) -> Response {
    let mut chrome = admin.chrome(&state, "clients");
    let result = async {
        chrome.notice = Notice::from_query(&query_params(raw.as_deref())?);
        let client_id = client_id_param(client_id)?;
        let detail = client_detail(&state, &client_id).await?;
        let policy = cimd::domain_policy(&state).await?;
        let decided_by = match detail.document.as_ref().and_then(|d| d.record.as_ref()?.decided_by.as_deref()) {
            Some(actor) => Some(names::actor(&state, actor).await?),
            None => None,
        };
        Ok::<_, AdminError>((detail, policy, decided_by))
    }
    .await;
    match result {
        Ok((detail, policy, decided_by)) => {
            pages::render(StatusCode::OK, &detail_page(chrome, detail, &policy, decided_by))
        }
        Err(error) => error_page(admin.chrome(&state, "clients"), &error, None),
    }
}

/// `decided_by`: who made the metadata-document client's decision, in words.
fn detail_page(chrome: Chrome, detail: ClientDetail, policy: &DomainPolicy, decided_by: Option<String>) -> DetailPage {
    let paths = &chrome.paths;
    let item = &detail.item;
    let facts = ClientFacts::of(item, policy);
    let user_row = |user_id: &str, username: &Option<String>| {
        (username.clone().unwrap_or_else(|| format!("{user_id} (deleted)")), paths.audit_of("user_id", user_id))
    };
    let grants = detail
        .grants
        .iter()
        .map(|g| {
            let (user, user_audit) = user_row(&g.user_id, &g.username);
            GrantRow {
                user,
                user_audit,
                resource: g.resource.clone(),
                scope: g.scope.clone(),
                since: display::time(g.created_at),
                revoke_href: Some(paths.grant_revoke(&g.grant_id)),
            }
        })
        .collect();
    let consents = detail
        .consents
        .iter()
        .map(|c| {
            let (user, user_audit) = user_row(&c.user_id, &c.username);
            GrantRow {
                user,
                user_audit,
                resource: c.resource.clone(),
                scope: c.scope.clone(),
                since: display::time(c.granted_at),
                revoke_href: None,
            }
        })
        .collect();
    let document = detail.document.as_ref().map(|document| {
        let record = document.record.as_ref();
        DocumentView {
            stored_status: record.map_or_else(|| "not seen".to_owned(), |r| r.status.as_str().to_owned()),
            decided: decided_by
                .map(|by| format!("{by}, {}", display::optional_time(record.and_then(|r| r.decided_at)))),
            last_changed: display::optional_time(record.and_then(|r| r.last_changed)),
            hash: record.and_then(|r| r.document_hash.clone()).unwrap_or_default(),
            client: record.and_then(|r| r.snapshot.as_deref()).map(display::pretty_json),
            history: document
                .history
                .iter()
                .enumerate()
                .map(|(i, entry)| HistoryRow {
                    fetched_at: display::time(entry.fetched_at),
                    hash: display::short_hash(&entry.document_hash).to_owned(),
                    security_relevant_change: document.security_relevant_change(i),
                    client: entry.snapshot.as_deref().map(display::pretty_json),
                })
                .collect(),
            fetches: document.fetches.iter().map(fetch_row).collect(),
        }
    });
    let registration = detail.registration.as_ref().map(|client| RegistrationView {
        grant_types: client.grant_types.join(", "),
        scope: client.scope.clone().unwrap_or_else(|| "every scope of the requested resource".to_owned()),
        secret: match (&client.secret_hash, client.secret_expires_at) {
            (None, _) => "none (public client)".to_owned(),
            (Some(_), None) => "yes, does not expire".to_owned(),
            (Some(_), Some(at)) => format!("yes, expires {}", display::time(at)),
        },
        keys: match (&client.jwks_uri, &client.jwks) {
            (Some(uri), _) => format!("JWK Set at {uri}"),
            (None, Some(_)) => "inline JWK Set".to_owned(),
            (None, None) => "none".to_owned(),
        },
    });
    DetailPage {
        client: ClientRow::of(item, paths),
        provenance: facts.provenance,
        stored_status: item.stored_status.clone(),
        domain_decision: facts.domain_decision,
        auth_method: facts.auth_method.unwrap_or_else(|| "unknown until a valid document is fetched".to_owned()),
        redirect_uris: facts.redirect_uris,
        actions: actions(paths, item),
        grants,
        grants_truncated: detail.grants_truncated,
        consents,
        consents_truncated: detail.consents_truncated,
        document,
        registration,
        audit_href: paths.audit_of("client_id", &item.client_id),
        chrome,
    }
}

/// The decisions that apply to a client's status (client_actions.rs refuses the others).
fn actions(paths: &Paths, item: &InventoryItem) -> ActionLinks {
    let id = &item.client_id;
    let post = |verb: &str, label: &str| (label.to_owned(), paths.client_action(id, verb));
    let confirm = |verb: &str, label: &str| (label.to_owned(), paths.client_action(id, verb));
    let metadata = item.kind == ClientKind::MetadataDocument;
    match item.status {
        InventoryStatus::Pending => ActionLinks {
            posts: vec![post("approve", "Approve")],
            confirms: vec![confirm("deny", "Deny…"), confirm("block", "Block…")],
        },
        InventoryStatus::Blocked => ActionLinks { posts: vec![post("unblock", "Unblock")], confirms: Vec::new() },
        // A metadata-document client allowed by policy may be approved explicitly, so that it
        // stays usable should its domain later need approval.
        InventoryStatus::Active if metadata && item.stored_status == "allowed" => ActionLinks {
            posts: vec![post("approve", "Approve explicitly")],
            confirms: vec![confirm("block", "Block…")],
        },
        InventoryStatus::Active | InventoryStatus::Expired => {
            ActionLinks { posts: Vec::new(), confirms: vec![confirm("block", "Block…")] }
        }
    }
}

fn fetch_row(event: &postern_store::AuditRecord) -> FetchRow {
    let detail =
        event.detail.as_deref().and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok()).unwrap_or_default();
    let text = |name: &str| match &detail[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    FetchRow {
        time: display::time(event.occurred_at),
        what: text("what"),
        ok: text("outcome") == "ok",
        outcome: text("outcome"),
        status: text("status"),
        bytes: text("bytes"),
        duration_ms: text("duration_ms"),
        peer: text("peer"),
    }
}

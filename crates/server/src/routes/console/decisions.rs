//! Decisions on clients and grants: the approvals queue (`GET /admin/approvals`), approve,
//! deny, block and unblock (`/admin/clients/{client_id}/{action}`) and revoking one grant
//! (`/admin/grants/{grant_id}/revoke`). Each change is the admin API's own function
//! (client_actions::apply, grants::revoke_grant) with its audit events; deny, block and revoke
//! are confirmed first.

use super::confirm::{self, Confirmation, hidden};
use super::display;
use super::{Admin, Chrome, ConsoleForm, Link, Notice, Paths, after_change, error_page, query_params};
use crate::pages;
use crate::routes::admin::client_actions::{self, ClientAction};
use crate::routes::admin::clients::{client_id_param, inventory_page};
use crate::routes::admin::error::AdminError;
use crate::routes::admin::grants;
use crate::routes::admin::inventory_params;
use crate::state::AppState;
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_store::{ClientKind, InventoryItem};

/// Clients one page of the queue lists.
const QUEUE_PAGE: i64 = 50;

/// One pending client in the queue.
pub struct QueueRow {
    /// The client's name, or its client_id when it has none yet (`named` is then false).
    pub name: String,
    pub named: bool,
    pub client_id: String,
    pub kind: &'static str,
    pub domain: String,
    pub first_seen: String,
    pub href: String,
    pub approve_action: String,
    pub deny_href: String,
}

impl QueueRow {
    fn of(item: InventoryItem, paths: &Paths) -> Self {
        let name = item.client_name.clone().filter(|n| !n.is_empty());
        Self {
            named: name.is_some(),
            name: name.unwrap_or_else(|| item.client_id.clone()),
            kind: display::kind_label(item.kind),
            domain: item.owning_domain.clone().unwrap_or_default(),
            first_seen: display::time(item.first_seen),
            href: paths.client(&item.client_id),
            approve_action: paths.client_action(&item.client_id, "approve"),
            deny_href: format!("{}?return=approvals", paths.client_action(&item.client_id, "deny")),
            client_id: item.client_id,
        }
    }
}

/// Pending clients, longest waiting first, and the cursor of the next page.
pub async fn pending_clients(
    state: &AppState,
    paths: &Paths,
    cursor: Option<&str>,
    limit: i64,
) -> Result<(Vec<QueueRow>, Option<String>), AdminError> {
    let query = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs([("status", "pending"), ("sort", "first_seen"), ("order", "asc")]);
        query.append_pair("limit", &limit.to_string());
        if let Some(cursor) = cursor {
            query.append_pair("cursor", cursor);
        }
        query.finish()
    };
    let params = inventory_params::parse(Some(&query))?;
    let page = inventory_page(state, &params).await?;
    Ok((page.items.into_iter().map(|item| QueueRow::of(item, paths)).collect(), page.next_cursor))
}

#[derive(Template)]
#[template(path = "admin/approvals.html")]
struct QueuePage {
    chrome: Chrome,
    rows: Vec<QueueRow>,
    next: Option<String>,
    first: Option<String>,
}

/// `GET /admin/approvals`.
pub async fn queue(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let mut chrome = admin.chrome(&state, "approvals");
    let result = async {
        let params = query_params(raw.as_deref())?;
        chrome.notice = Notice::from_query(&params);
        let cursor = params.get("cursor");
        let (rows, next) = pending_clients(&state, &chrome.paths, cursor, QUEUE_PAGE).await?;
        let here = chrome.paths.page("/approvals");
        Ok::<_, AdminError>((rows, next.map(|c| format!("{here}?cursor={c}")), cursor.map(|_| here)))
    }
    .await;
    match result {
        Ok((rows, next, first)) => pages::render(StatusCode::OK, &QueuePage { chrome, rows, next, first }),
        Err(error) => error_page(admin.chrome(&state, "approvals"), &error, None),
    }
}

/// Where a decision returns: the queue it was made from, or the client's page.
fn return_to(paths: &Paths, client_id: &str, from_queue: bool) -> String {
    if from_queue { paths.page("/approvals") } else { paths.client(client_id) }
}

fn client_path(raw: Result<Path<(String, String)>, PathRejection>) -> Result<(String, ClientAction), AdminError> {
    let Path((client_id, verb)) = raw.map_err(|_| AdminError::not_found("no such page"))?;
    let action = ClientAction::parse(&verb)
        .ok_or_else(|| AdminError::not_found("a client's actions are approve, deny, block and unblock"))?;
    Ok((client_id_param(Ok(Path(client_id)))?, action))
}

/// `GET /admin/clients/{client_id}/{action}`: what the decision will do, with Confirm / Cancel.
pub async fn confirm(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(raw): RawQuery,
    admin: Admin,
) -> Response {
    let from_queue = query_params(raw.as_deref()).is_ok_and(|p| p.get("return") == Some("approvals"));
    match client_path(path) {
        Ok((client_id, action)) => confirmation(&state, &admin, &client_id, action, from_queue).await,
        Err(error) => error_page(admin.chrome(&state, "clients"), &error, None),
    }
}

async fn confirmation(
    state: &AppState,
    admin: &Admin,
    client_id: &str,
    action: ClientAction,
    from_queue: bool,
) -> Response {
    let chrome = admin.chrome(state, if from_queue { "approvals" } else { "clients" });
    let item = match state.store.find_inventory_item(client_id, state.now()).await {
        Ok(item) => item,
        Err(error) => return error_page(chrome, &error.into(), None),
    };
    let name = item
        .as_ref()
        .and_then(|i| i.client_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| client_id.to_owned());
    let grants = item.as_ref().map_or(0, |i| i.live_grants);
    let revoked = format!(
        "This revokes {} at once: their refresh tokens stop working and introspection reports their access tokens inactive.",
        display::count(grants, "grant", "grants")
    );
    let (question, consequences, label) = match action {
        ClientAction::Approve => (
            format!("Approve client {name}?"),
            vec![format!("Users can sign in with {name} and it can obtain tokens, as for any trusted client.")],
            "Approve client",
        ),
        ClientAction::Unblock => (
            format!("Unblock client {name}?"),
            vec![format!("Users can sign in with {name} again. Grants revoked when it was blocked stay revoked.")],
            "Unblock client",
        ),
        ClientAction::Deny => (
            format!("Deny client {name}? This revokes {}.", display::count(grants, "grant", "grants")),
            vec![format!("{name} stays refused until an administrator unblocks it."), revoked],
            "Deny client",
        ),
        ClientAction::Block => (
            format!("Block client {name}? This revokes {}.", display::count(grants, "grant", "grants")),
            vec![
                format!("Nobody can sign in with {name} until an administrator unblocks it."),
                revoked,
                "Users' consents to it are forgotten: after an unblock, it must ask them again.".to_owned(),
            ],
            "Block client",
        ),
    };
    let mut consequences = consequences;
    if item.as_ref().is_some_and(|i| i.kind == ClientKind::MetadataDocument) && action.revokes() {
        consequences.push(
            "This decides for this client_id only. To refuse every client of its domain, add a deny rule on the \
             domain policy page."
                .to_owned(),
        );
    }
    let paths = &chrome.paths;
    let confirmation = Confirmation {
        question,
        consequences,
        action: paths.client_action(client_id, action.verb()),
        fields: if from_queue { vec![hidden("return", "approvals")] } else { Vec::new() },
        confirm_label: label.to_owned(),
        cancel_href: return_to(paths, client_id, from_queue),
    };
    confirm::page(chrome, confirmation)
}

/// `POST /admin/clients/{client_id}/{action}` (`csrf_token`, `confirm`, `return`).
pub async fn decide(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    ConsoleForm { params, admin }: ConsoleForm,
) -> Response {
    let (client_id, action) = match client_path(path) {
        Ok(parts) => parts,
        Err(error) => return error_page(admin.chrome(&state, "clients"), &error, None),
    };
    let from_queue = params.get("return") == Some("approvals");
    if action.revokes() && !confirm::confirmed(&params) {
        return confirmation(&state, &admin, &client_id, action, from_queue).await;
    }
    let back = return_to(&admin.chrome(&state, "clients").paths, &client_id, from_queue);
    match client_actions::apply(&state, &admin.caller, &client_id, action).await {
        Ok(decided) => {
            let notice = match action {
                ClientAction::Approve => Notice::Approved,
                ClientAction::Deny => Notice::Denied,
                ClientAction::Block => Notice::Blocked,
                ClientAction::Unblock => Notice::Unblocked,
            };
            after_change(&notice.on(&back, decided.revoked_grants))
        }
        Err(error) => error_page(admin.chrome(&state, "clients"), &error, Some(Link::new(back, "Back"))),
    }
}

/// `GET /admin/grants/{grant_id}/revoke`: what revoking the grant does, with Confirm / Cancel.
pub async fn confirm_revoke(State(state): State<AppState>, Path(grant_id): Path<String>, admin: Admin) -> Response {
    revoke_confirmation(&state, &admin, &grant_id).await
}

async fn revoke_confirmation(state: &AppState, admin: &Admin, grant_id: &str) -> Response {
    let chrome = admin.chrome(state, "clients");
    let grant = match grants::live_grant(state, grant_id).await {
        Ok(grant) => grant,
        Err(error) => return error_page(chrome, &error, None),
    };
    let username = match state.store.find_user(&grant.user_id).await {
        Ok(user) => user.map_or_else(|| grant.user_id.clone(), |u| u.username),
        Err(error) => return error_page(chrome, &error.into(), None),
    };
    let paths = &chrome.paths;
    let confirmation = Confirmation {
        question: format!("Revoke the grant of {username} to {}?", grant.client_id),
        consequences: vec![
            format!("Scope {} for {}.", grant.scope, grant.resource),
            "Its refresh tokens stop working and introspection reports its access tokens inactive at once.".to_owned(),
            format!("{username}'s consent is forgotten: the client must ask them again."),
        ],
        action: paths.grant_revoke(&grant.grant_id),
        fields: Vec::new(),
        confirm_label: "Revoke grant".to_owned(),
        cancel_href: paths.client(&grant.client_id),
    };
    confirm::page(chrome, confirmation)
}

/// `POST /admin/grants/{grant_id}/revoke` (`csrf_token`, `confirm`).
pub async fn revoke(
    State(state): State<AppState>,
    Path(grant_id): Path<String>,
    ConsoleForm { params, admin }: ConsoleForm,
) -> Response {
    if !confirm::confirmed(&params) {
        return revoke_confirmation(&state, &admin, &grant_id).await;
    }
    match grants::revoke_grant(&state, &admin.caller, &grant_id).await {
        Ok(grant) => after_change(&Notice::GrantRevoked.on(&Paths::new(&state).client(&grant.client_id), 1)),
        Err(error) => error_page(admin.chrome(&state, "clients"), &error, None),
    }
}

//! `GET /admin`: what an operator looks at first: how many clients of each kind stand where,
//! who waits for approval, accounts and grants, and the latest refusals and failures.

use super::audit::{AuditRow, recent_failures};
use super::decisions::{QueueRow, pending_clients};
use super::{Admin, Chrome, Notice, error_page, query_params};
use crate::pages;
use crate::routes::admin::error::AdminError;
use crate::routes::admin::overview::pending_approvals;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_store::CountBy;

/// Pending clients and failures the overview lists; the queue and the audit log have the rest.
const OVERVIEW_ROWS: i64 = 10;

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    chrome: Chrome,
    pending: i64,
    pending_rows: Vec<QueueRow>,
    registered: Vec<CountBy>,
    metadata_documents: Vec<CountBy>,
    users: i64,
    disabled_users: i64,
    live_grants: i64,
    events: Vec<AuditRow>,
    approvals_href: String,
    failures_href: String,
}

pub async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    match load(&state, admin.chrome(&state, "overview"), raw.as_deref()).await {
        Ok(page) => pages::render(StatusCode::OK, &page),
        Err(error) => error_page(admin.chrome(&state, "overview"), &error, None),
    }
}

async fn load(state: &AppState, mut chrome: Chrome, raw: Option<&str>) -> Result<OverviewPage, AdminError> {
    chrome.notice = Notice::from_query(&query_params(raw)?);
    let inventory = state.store.inventory_counts().await?;
    let (pending_rows, _) = pending_clients(state, &chrome.paths, None, OVERVIEW_ROWS).await?;
    let failures = recent_failures(state, &chrome.paths, OVERVIEW_ROWS).await?;
    Ok(OverviewPage {
        pending: pending_approvals(&inventory),
        pending_rows,
        registered: inventory.registered_clients,
        metadata_documents: inventory.cimd_clients,
        users: inventory.users,
        disabled_users: inventory.disabled_users,
        live_grants: inventory.live_grants,
        events: failures,
        approvals_href: chrome.paths.page("/approvals"),
        failures_href: chrome.paths.page("/audit?outcome=failure"),
        chrome,
    })
}

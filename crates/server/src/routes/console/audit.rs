//! `GET /admin/audit`: the audit log, newest first, filtered by time range (UTC), event type,
//! client, user and outcome, a page at a time. The filters are the admin API's
//! (`GET /admin/api/v1/audit`, same function); only the time fields differ, because a browser's
//! date-time field sends `2026-11-21T09:30` where the API takes Unix seconds.

use super::{Admin, Chrome, Paths, error_page, query_params};
use super::{display, names};
use crate::audit_outcome::Outcome;
use crate::pages;
use crate::params::{Params, clip};
use crate::routes::admin::audit as api;
use crate::routes::admin::error::AdminError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_core::timestamp::parse_utc;
use postern_store::AuditRecord;

/// Events per page.
const PAGE_SIZE: i64 = 50;
/// A detail longer than this is cut on the page; the export has it whole.
const MAX_DETAIL_CHARS: usize = 600;
/// The form's fields (the cursor is added by the "older events" link).
const FIELDS: &[&str] = &["since", "until", "type", "client_id", "user_id", "outcome"];

/// One event as a table row.
pub struct AuditRow {
    pub time: String,
    pub kind: String,
    pub failure: bool,
    pub client_id: Option<String>,
    pub client_href: Option<String>,
    pub user_id: Option<String>,
    /// The user's name, when the account still exists.
    pub username: Option<String>,
    pub user_href: Option<String>,
    pub ip: Option<String>,
    pub detail: String,
}

impl AuditRow {
    /// The rows of `events`, with the usernames of the users they name.
    async fn all(state: &AppState, events: Vec<AuditRecord>, paths: &Paths) -> Result<Vec<Self>, AdminError> {
        let names = names::usernames(state, events.iter().filter_map(|e| e.user_id.clone()).collect()).await?;
        Ok(events
            .into_iter()
            .map(|event| {
                let username = event.user_id.as_ref().and_then(|id| names.get(id).cloned());
                Self { username, ..Self::of(event, paths) }
            })
            .collect())
    }

    fn of(event: AuditRecord, paths: &Paths) -> Self {
        let detail = event.detail.as_deref().map_or_else(String::new, |raw| {
            let compact =
                serde_json::from_str::<serde_json::Value>(raw).map_or_else(|_| raw.to_owned(), |v| v.to_string());
            clip(&compact, MAX_DETAIL_CHARS)
        });
        Self {
            time: display::time(event.occurred_at),
            failure: Outcome::of(&event.kind) == Outcome::Failure,
            client_href: event.client_id.as_deref().map(|id| paths.client(id)),
            user_href: event.user_id.as_deref().map(|id| paths.audit_of("user_id", id)),
            kind: event.kind,
            client_id: event.client_id,
            user_id: event.user_id,
            username: None,
            ip: event.ip,
            detail,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    /// The form's values as sent, to show them again.
    since: String,
    until: String,
    kind: String,
    client_id: String,
    user_id: String,
    outcome: String,
    error: Option<String>,
    events: Vec<AuditRow>,
    /// The next (older) page, and the first page when this is not it.
    older: Option<String>,
    newest: Option<String>,
    export: String,
}

pub async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let params = match query_params(raw.as_deref()) {
        Ok(params) => params,
        Err(error) => return error_page(admin.chrome(&state, "audit"), &error, None),
    };
    let chrome = admin.chrome(&state, "audit");
    let value = |name: &str| params.get(name).unwrap_or_default().to_owned();
    let mut page = AuditPage {
        action: chrome.paths.page("/audit"),
        since: value("since"),
        until: value("until"),
        kind: value("type"),
        client_id: value("client_id"),
        user_id: value("user_id"),
        outcome: value("outcome"),
        error: None,
        events: Vec::new(),
        older: None,
        newest: None,
        export: String::new(),
        chrome,
    };
    let status = match load(&state, &params, &mut page).await {
        Ok(()) => StatusCode::OK,
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            page.error = Some(error.description);
            StatusCode::BAD_REQUEST
        }
        Err(error) => return error_page(admin.chrome(&state, "audit"), &error, None),
    };
    pages::render(status, &page)
}

async fn load(state: &AppState, params: &Params, page: &mut AuditPage) -> Result<(), AdminError> {
    let api_params = api_query(params)?;
    let filter = api::filter(&api_params)?;
    let (events, next_cursor) = api::events_page(state, &filter, params.get("cursor"), PAGE_SIZE).await?;
    let form_query = form_query(params);
    let with = |extra: Option<(&str, &str)>| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(form_query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some((name, value)) = extra {
            query.append_pair(name, value);
        }
        let query = query.finish();
        if query.is_empty() { page.action.clone() } else { format!("{}?{query}", page.action) }
    };
    page.older = next_cursor.as_deref().map(|cursor| with(Some(("cursor", cursor))));
    page.newest = params.get("cursor").map(|_| with(None));
    page.export = export_href(&page.chrome.paths, &api_params);
    page.events = AuditRow::all(state, events, &page.chrome.paths).await?;
    Ok(())
}

/// The form's non-empty fields, in order.
fn form_query(params: &Params) -> Vec<(String, String)> {
    FIELDS.iter().filter_map(|name| params.get(name).map(|value| ((*name).to_owned(), value.to_owned()))).collect()
}

/// The API's query for the same selection: times as Unix seconds, the event type field's list
/// (comma- or space-separated) as one `type` each, the other filters as sent.
fn api_query(params: &Params) -> Result<Params, AdminError> {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_query(params) {
        match name.as_str() {
            "since" | "until" => {
                let seconds = parse_utc(&value).ok_or_else(|| {
                    AdminError::bad_request(format!(
                        "{name} must be a date and time in UTC, such as 2026-11-21T09:30 (got '{}')",
                        clip(&value, 40)
                    ))
                })?;
                query.append_pair(&name, &seconds.to_string());
            }
            "type" => {
                for kind in value.split(|c: char| c == ',' || c.is_whitespace()).filter(|kind| !kind.is_empty()) {
                    query.append_pair("type", kind);
                }
            }
            _ => {
                query.append_pair(&name, &value);
            }
        }
    }
    Params::parse(query.finish().as_bytes()).map_err(AdminError::bad_request)
}

/// The same selection exported as JSON Lines by the admin API, which takes the session too.
fn export_href(paths: &Paths, api_params: &Params) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for name in FIELDS {
        for value in api_params.all(name) {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    let base = paths.api("/audit/export");
    if query.is_empty() { base } else { format!("{base}?{query}") }
}

/// The latest events whose outcome is a failure (the overview's list).
pub async fn recent_failures(state: &AppState, paths: &Paths, limit: i64) -> Result<Vec<AuditRow>, AdminError> {
    let params = Params::parse(b"outcome=failure").map_err(AdminError::bad_request)?;
    let (events, _) = api::events_page(state, &api::filter(&params)?, None, limit).await?;
    AuditRow::all(state, events, paths).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_date_times_become_the_apis_unix_seconds() {
        let params = Params::parse(b"since=2026-11-21T00%3A00&until=&type=login_failed&cursor=abc").unwrap();
        let api = api_query(&params).unwrap();
        assert_eq!(api.get("since"), Some("1795219200"));
        assert_eq!(api.get("until"), None);
        assert_eq!(api.get("type"), Some("login_failed"));
        assert_eq!(api.get("cursor"), None, "the cursor is passed separately");
        let several =
            api_query(&Params::parse(b"type=login_failed%2C+consent_denied++code_issued%2C").unwrap()).unwrap();
        assert_eq!(several.all("type"), ["login_failed", "consent_denied", "code_issued"]);
        let paths = Paths { base: "/admin".to_owned(), api: "/admin/api/v1".to_owned() };
        assert_eq!(
            export_href(&paths, &several),
            "/admin/api/v1/audit/export?type=login_failed&type=consent_denied&type=code_issued"
        );
        let error = api_query(&Params::parse(b"until=yesterday").unwrap()).unwrap_err();
        assert!(error.description.starts_with("until must be a date and time in UTC"), "{}", error.description);
    }
}

//! `GET /admin/api/v1/audit` (one page, newest first, with an opaque cursor) and
//! `GET /admin/api/v1/audit/export` (JSON Lines, streamed page by page from the database).
//!
//! Filters: `since` and `until` (Unix seconds; `since` inclusive, `until` exclusive), `type`
//! (an event kind, repeatable), `client_id`, `user_id`, `outcome` (`success` | `failure`, from
//! [`crate::audit_outcome`]). Unknown or repeated parameters are errors, so a mistyped filter
//! never silently widens what an operator exports.

use super::auth::AdminCaller;
use super::error::AdminError;
use crate::audit_outcome::{FAILURE_KINDS, Outcome};
use crate::params::{Params, clip};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::channel::Channel;
use postern_store::{AuditFilter, AuditRecord};
use serde_json::{Value, json};

pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 500;
/// `type` values one request may name.
pub const MAX_TYPES: usize = 20;
pub(crate) const MAX_TYPE_LEN: usize = 64;
/// Events one export returns at most; continue with `before_id` = the last line's `id`.
pub const MAX_EXPORT_EVENTS: u64 = 1_000_000;
/// Rows an export reads from the database per query.
const EXPORT_PAGE_SIZE: i64 = 1000;
/// Latest accepted time: 9999-12-31T23:59:59Z.
pub(crate) const MAX_TIME: i64 = 253_402_300_799;
pub(crate) const MAX_ID_LEN: usize = 2048;
const CURSOR_PREFIX: &str = "audit.v1.";

const QUERY_PARAMETERS: &[&str] = &["since", "until", "type", "client_id", "user_id", "outcome", "cursor", "limit"];
const EXPORT_PARAMETERS: &[&str] = &["since", "until", "type", "client_id", "user_id", "outcome", "before_id"];

/// `GET /audit`: `{"events": [...], "next_cursor": "..." | null}`.
pub async fn query(
    State(state): State<AppState>,
    _caller: AdminCaller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, AdminError> {
    let params = parameters(raw.as_deref(), QUERY_PARAMETERS)?;
    let filter = filter(&params)?;
    let limit = match params.get("limit") {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => raw.parse::<i64>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
            AdminError::bad_request(format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"))
        })?,
    };
    let (events, next_cursor) = events_page(&state, &filter, params.get("cursor"), limit).await?;
    Ok(Json(json!({ "events": events.iter().map(event_json).collect::<Vec<_>>(), "next_cursor": next_cursor })))
}

/// One page of matching events, newest first, after `cursor` (a cursor this API returned),
/// and the cursor of the next page. The admin console's audit page uses it too.
pub async fn events_page(
    state: &AppState,
    filter: &AuditFilter,
    cursor: Option<&str>,
    limit: i64,
) -> Result<(Vec<AuditRecord>, Option<String>), AdminError> {
    let before_id = cursor.map(decode_cursor).transpose()?;
    // One more than asked tells whether another page exists without a count query.
    let mut events = state.store.query_audit_events(filter, before_id, limit + 1).await?;
    let more = events.len() as i64 > limit;
    events.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = events.last().filter(|_| more).map(|last| encode_cursor(last.id));
    Ok((events, next_cursor))
}

/// `GET /audit/export`: every matching event as one JSON object per line, newest first, at most
/// [`MAX_EXPORT_EVENTS`]. Rows are read page by page while the client reads, so an export never
/// holds more than a few pages in memory, and a client that goes away stops it.
pub async fn export(
    State(state): State<AppState>,
    _caller: AdminCaller,
    RawQuery(raw): RawQuery,
) -> Result<Response, AdminError> {
    let params = parameters(raw.as_deref(), EXPORT_PARAMETERS)?;
    let filter = filter(&params)?;
    let before_id = params
        .get("before_id")
        .map(|raw| {
            raw.parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| AdminError::bad_request("before_id must be a positive whole number (an event id)"))
        })
        .transpose()?;
    let (mut sender, body) = Channel::<Bytes, std::io::Error>::new(2);
    tokio::spawn(async move {
        let mut cursor = before_id;
        let mut sent = 0u64;
        while sent < MAX_EXPORT_EVENTS {
            let page_size = EXPORT_PAGE_SIZE.min((MAX_EXPORT_EVENTS - sent) as i64);
            let page = match state.store.query_audit_events(&filter, cursor, page_size).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(%error, "audit export: reading a page failed; the response is cut short");
                    sender.abort(std::io::Error::other("the database failed during the export"));
                    return;
                }
            };
            let mut chunk = Vec::with_capacity(page.len() * 256);
            for event in &page {
                // Serialising a `Value` cannot fail.
                let _ = serde_json::to_writer(&mut chunk, &event_json(event));
                chunk.push(b'\n');
            }
            sent += page.len() as u64;
            cursor = page.last().map(|event| event.id);
            if !chunk.is_empty() && sender.send_data(Bytes::from(chunk)).await.is_err() {
                return; // The client went away.
            }
            if (page.len() as i64) < page_size {
                return;
            }
        }
    });
    let mut response = Body::new(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    headers
        .insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"postern-audit.jsonl\""));
    Ok(response)
}

/// One event as the API shows it; `detail` is the JSON object that was recorded.
fn event_json(event: &AuditRecord) -> Value {
    let detail = event
        .detail
        .as_deref()
        .map(|raw| serde_json::from_str::<Value>(raw).unwrap_or_else(|_| Value::String(raw.to_owned())));
    json!({
        "id": event.id,
        "occurred_at": event.occurred_at,
        "kind": event.kind,
        "outcome": Outcome::of(&event.kind).as_str(),
        "client_id": event.client_id,
        "user_id": event.user_id,
        "ip": event.ip,
        "detail": detail,
    })
}

fn parameters(raw: Option<&str>, known: &[&str]) -> Result<Params, AdminError> {
    let params = Params::parse(raw.unwrap_or_default().as_bytes()).map_err(AdminError::bad_request)?;
    if let Some(unknown) = params.names().find(|name| !known.contains(name)) {
        return Err(AdminError::bad_request(format!(
            "unknown parameter '{}'; this endpoint takes {}",
            clip(unknown, 40),
            known.join(", ")
        )));
    }
    for name in known.iter().filter(|name| **name != "type") {
        params.single(name).map_err(AdminError::bad_request)?;
    }
    Ok(params)
}

/// The filters shared by the query, the export and the admin console's audit page (which
/// sends the same parameters, its times converted to Unix seconds).
pub fn filter(params: &Params) -> Result<AuditFilter, AdminError> {
    let time = |name: &str| {
        params
            .get(name)
            .map(|raw| {
                raw.parse::<i64>().ok().filter(|t| (0..=MAX_TIME).contains(t)).ok_or_else(|| {
                    AdminError::bad_request(format!("{name} must be a Unix time in seconds from 0 to {MAX_TIME}"))
                })
            })
            .transpose()
    };
    let (since, until) = (time("since")?, time("until")?);
    if let (Some(since), Some(until)) = (since, until)
        && since > until
    {
        return Err(AdminError::bad_request(format!("since ({since}) must not be after until ({until})")));
    }
    let mut types: Vec<String> = Vec::new();
    for kind in params.all("type") {
        if kind.len() > MAX_TYPE_LEN || !kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(AdminError::bad_request(format!(
                "type '{}' is not an event kind (at most {MAX_TYPE_LEN} characters from a-z 0-9 _)",
                clip(kind, 40)
            )));
        }
        if !types.iter().any(|t| t == kind) {
            types.push(kind.to_owned());
        }
    }
    if types.len() > MAX_TYPES {
        return Err(AdminError::bad_request(format!("type may be given at most {MAX_TYPES} times")));
    }
    let id = |name: &str| {
        params
            .get(name)
            .map(|raw| {
                if raw.chars().count() > MAX_ID_LEN {
                    Err(AdminError::bad_request(format!("{name} is longer than {MAX_ID_LEN} characters")))
                } else {
                    Ok(raw.to_owned())
                }
            })
            .transpose()
    };
    let (client_id, user_id) = (id("client_id")?, id("user_id")?);
    let outcome = params
        .get("outcome")
        .map(|raw| Outcome::parse(raw).ok_or_else(|| AdminError::bad_request("outcome must be success or failure")))
        .transpose()?;
    let failure_kinds = || FAILURE_KINDS.iter().map(|kind| (*kind).to_owned());
    let requested = (!types.is_empty()).then_some(types);
    let (kinds, excluded_kinds) = match outcome {
        None => (requested, Vec::new()),
        Some(Outcome::Success) => (requested, failure_kinds().collect()),
        // The failure kinds, narrowed to the requested types (possibly to none).
        Some(Outcome::Failure) => (
            Some(match requested {
                Some(types) => types.into_iter().filter(|t| FAILURE_KINDS.contains(&t.as_str())).collect(),
                None => failure_kinds().collect(),
            }),
            Vec::new(),
        ),
    };
    Ok(AuditFilter { since, until, kinds, excluded_kinds, client_id, user_id })
}

/// Cursors are opaque to clients: today the id of the last event returned, tagged so that a
/// value that is not a cursor is refused instead of being read as one.
fn encode_cursor(last_id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_PREFIX}{last_id}"))
}

fn decode_cursor(raw: &str) -> Result<i64, AdminError> {
    URL_SAFE_NO_PAD
        .decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(CURSOR_PREFIX).and_then(|id| id.parse::<i64>().ok()))
        .filter(|id| *id > 0)
        .ok_or_else(|| AdminError::bad_request("cursor is not a cursor this API returned; start again without it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(query: &str) -> Result<AuditFilter, String> {
        let params = parameters(Some(query), QUERY_PARAMETERS).map_err(|e| e.description)?;
        filter(&params).map_err(|e| e.description)
    }

    #[test]
    fn cursors_round_trip_and_anything_else_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor(42)).unwrap(), 42);
        for bad in ["42", "", "!!!", &URL_SAFE_NO_PAD.encode("audit.v1.-5"), &URL_SAFE_NO_PAD.encode("other.7")] {
            assert!(decode_cursor(bad).unwrap_err().description.starts_with("cursor"), "{bad}");
        }
    }

    #[test]
    fn outcome_failure_narrows_the_requested_types_to_failure_kinds() {
        let f = filter_of("outcome=failure").unwrap();
        assert_eq!(f.kinds.unwrap().len(), FAILURE_KINDS.len());
        let f = filter_of("outcome=failure&type=login_failed&type=token_issued").unwrap();
        assert_eq!(f.kinds, Some(vec!["login_failed".to_owned()]));
        let f = filter_of("outcome=failure&type=token_issued").unwrap();
        assert_eq!(f.kinds, Some(vec![]), "selects nothing");
        let f = filter_of("outcome=success&type=token_issued").unwrap();
        assert_eq!(f.kinds, Some(vec!["token_issued".to_owned()]));
        assert_eq!(f.excluded_kinds.len(), FAILURE_KINDS.len());
    }

    #[test]
    fn each_hostile_filter_is_named_in_the_error() {
        for (query, named) in [
            ("since=yesterday", "since"),
            ("until=-1", "until"),
            ("until=253402300800", "until"),
            ("since=10&until=5", "since"),
            ("type=Login", "type"),
            ("type=a%20b", "type"),
            ("outcome=maybe", "outcome"),
            ("user_id=a&user_id=b", "user_id"),
            ("kind=login_failed", "kind"),
        ] {
            let error = filter_of(query).expect_err(query);
            assert!(error.contains(&format!("{named} ")) || error.contains(&format!("'{named}'")), "{query}: {error}");
        }
        let many = (0..21).map(|i| format!("type=k{i}")).collect::<Vec<_>>().join("&");
        assert!(filter_of(&many).unwrap_err().starts_with("type may be given at most 20 times"));
    }
}

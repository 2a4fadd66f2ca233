//! Client logos (R090): fetched with the document, through the same hardened client (image
//! types only, capped), kept with the cached document and served from Postern's own origin, so
//! the consent page never makes the browser contact the client's servers.

use crate::state::AppState;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_fetch::FetchRequest;
use serde::Deserialize;

pub struct Logo {
    /// One of the image types the fetcher accepts (never SVG: it can carry script).
    pub content_type: HeaderValue,
    pub bytes: Vec<u8>,
}

/// Fetches a logo; any failure means no logo (the consent page shows the name and host).
pub async fn prefetch(state: &AppState, client_id: &str, logo_uri: &str) -> Option<Logo> {
    match super::fetch_audited(state, client_id, FetchRequest::logo(logo_uri)).await {
        Ok(Ok(fetched)) => {
            Some(Logo { content_type: HeaderValue::from_str(&fetched.content_type).ok()?, bytes: fetched.body })
        }
        Ok(Err(_)) => None,
        Err(error) => {
            tracing::warn!(%error, "recording a logo fetch failed");
            None
        }
    }
}

#[derive(Deserialize)]
pub struct LogoQuery {
    client_id: String,
}

/// `GET /client-logo?client_id=...`: the cached logo of a metadata-document client. Never
/// fetches: a logo exists only while its client's document is cached.
pub async fn client_logo(State(state): State<AppState>, Query(query): Query<LogoQuery>) -> Response {
    let Some(logo) = state
        .cimd
        .cached(&query.client_id)
        .and_then(|client| client.logo.as_ref().map(|logo| (logo.content_type.clone(), logo.bytes.clone())))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (content_type, bytes) = logo;
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=300")),
            (header::CONTENT_DISPOSITION, HeaderValue::from_static("inline")),
        ],
        bytes,
    )
        .into_response()
}

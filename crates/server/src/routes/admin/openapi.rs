//! `GET /admin/api/v1/openapi.json`: the admin API's OpenAPI 3.1 document, checked into the
//! repository beside this file and compiled in, so what is served is what was reviewed.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// The document; `tests/it/admin_openapi.rs` checks it against the router.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOCUMENT)
}

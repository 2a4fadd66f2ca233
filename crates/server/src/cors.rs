//! CORS for the endpoints browser-based MCP clients call with `fetch()` (MCP Inspector, MCP
//! clients running in a web page): metadata, JWKS, token, revocation, registration.
//!
//! Any origin may call them: they read no cookies and every credential they accept (PKCE
//! verifier, refresh token, client secret, registration token) is in the request itself, so a
//! foreign origin learns nothing it did not send. `Access-Control-Allow-Credentials` is never
//! set, which keeps the session cookie out of every cross-origin request. The pages under
//! /authorize are navigations, not fetches, and stay same-origin.

use axum::http::{HeaderName, Method, header};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Browsers may cache a preflight answer this long.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(3600);

pub fn layer() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            // Sent by MCP SDKs on discovery requests.
            HeaderName::from_static("mcp-protocol-version"),
        ])
        // Registration errors and 401s carry challenges a client needs to read.
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .max_age(PREFLIGHT_MAX_AGE)
}

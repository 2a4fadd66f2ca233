//! Cross-origin access for browser MCP clients: preflight requests are answered without a token
//! (browsers never send credentials on them), and every response to a cross-origin request
//! exposes `WWW-Authenticate` so page scripts can read the challenge (R029).

use crate::config::CorsPolicy;
use axum::body::Body;
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

/// Methods of MCP's streamable HTTP transport.
const ALLOWED_METHODS: &str = "GET, POST, DELETE, OPTIONS";
/// Headers a browser client may read: the challenge, and the MCP session it is given.
const EXPOSED_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id";
/// Used when a preflight names no headers.
const DEFAULT_ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID";
const MAX_AGE_SECS: &str = "86400";

/// Whether `headers` make a request a CORS preflight (Fetch standard §3.2.2).
pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::OPTIONS && headers.contains_key(ORIGIN) && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
fn allowed_origin(policy: &CorsPolicy, origin: &HeaderValue) -> Option<HeaderValue> {
    match policy {
        CorsPolicy::Disabled => None,
        CorsPolicy::AnyOrigin => Some(HeaderValue::from_static("*")),
        CorsPolicy::Origins(origins) => {
            origins.iter().any(|o| o.as_bytes() == origin.as_bytes()).then(|| origin.clone())
        }
    }
}

/// The answer to a preflight. A disallowed origin gets no `Access-Control-Allow-Origin`, which
/// the browser treats as a refusal.
pub(crate) fn preflight(policy: &CorsPolicy, request: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    if let CorsPolicy::Origins(_) = policy {
        headers.insert(VARY, HeaderValue::from_static("Origin"));
    }
    let Some(origin) = request.get(ORIGIN).and_then(|origin| allowed_origin(policy, origin)) else {
        return response;
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(ALLOWED_METHODS));
    // `*` would not cover `Authorization` (Fetch standard), so name the headers: those asked for.
    let allowed = request
        .get(ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(DEFAULT_ALLOWED_HEADERS));
    headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE_SECS));
    headers.append(VARY, HeaderValue::from_static("Access-Control-Request-Headers"));
    response
}

/// Adds the CORS headers to a response for a cross-origin request, unless the MCP server set
/// its own.
pub(crate) fn decorate(policy: &CorsPolicy, origin: Option<&HeaderValue>, response: &mut Response<Body>) {
    let Some(origin) = origin else { return };
    let headers = response.headers_mut();
    if let CorsPolicy::Origins(_) = policy {
        headers.append(VARY, HeaderValue::from_static("Origin"));
    }
    if headers.contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
        return;
    }
    if let Some(allowed) = allowed_origin(policy, origin) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED_HEADERS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preflight_request(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers.insert(ACCESS_CONTROL_REQUEST_METHOD, HeaderValue::from_static("POST"));
        headers.insert(ACCESS_CONTROL_REQUEST_HEADERS, HeaderValue::from_static("authorization,content-type"));
        headers
    }

    #[test]
    fn preflight_needs_origin_and_requested_method() {
        let headers = preflight_request("https://app.example.com");
        assert!(is_preflight(&Method::OPTIONS, &headers));
        assert!(!is_preflight(&Method::POST, &headers));
        assert!(!is_preflight(&Method::OPTIONS, &HeaderMap::new()));
    }

    #[test]
    fn any_origin_preflight_allows_the_requested_headers() {
        let response = preflight(&CorsPolicy::AnyOrigin, &preflight_request("https://app.example.com"));
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_HEADERS], "authorization,content-type");
        assert!(response.headers()[ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    }

    #[test]
    fn listed_origins_are_echoed_and_others_get_no_allow_origin() {
        let policy = CorsPolicy::Origins(vec!["https://app.example.com".into()]);
        let allowed = preflight(&policy, &preflight_request("https://app.example.com"));
        assert_eq!(allowed.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example.com");
        let refused = preflight(&policy, &preflight_request("https://evil.example"));
        assert!(refused.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    #[test]
    fn r029_responses_expose_www_authenticate() {
        let mut response = Response::new(Body::empty());
        decorate(&CorsPolicy::AnyOrigin, Some(&HeaderValue::from_static("https://a.example")), &mut response);
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(response.headers()[ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("WWW-Authenticate"));
    }

    #[test]
    fn same_origin_requests_and_disabled_policy_get_no_headers() {
        let mut response = Response::new(Body::empty());
        decorate(&CorsPolicy::AnyOrigin, None, &mut response);
        decorate(&CorsPolicy::Disabled, Some(&HeaderValue::from_static("https://a.example")), &mut response);
        assert!(response.headers().is_empty());
    }

    #[test]
    fn the_servers_own_cors_headers_win() {
        let mut response = Response::new(Body::empty());
        response.headers_mut().insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("https://mine.example"));
        decorate(&CorsPolicy::AnyOrigin, Some(&HeaderValue::from_static("https://a.example")), &mut response);
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "https://mine.example");
    }
}

//! Protected Resource Metadata (RFC 9728, SPEC R001–R014), served at the path-inserted and the
//! root well-known URL with `resource` byte-identical to the configured URI.
//!
//! The root document also names the configured resource, not the bare origin: MCP clients
//! compare `resource` with the MCP endpoint URL they started from (SPEC §4 Q6), and a client
//! that used an origin-wide value would get tokens whose `aud` this guard refuses.

use crate::config::Settings;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, CACHE_CONTROL, CONTENT_TYPE,
};
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};

/// The document (R002, R005, R007–R009): parameters without values are omitted.
pub(crate) fn document(settings: &Settings) -> Value {
    let mut document = json!({
        "resource": settings.resource,
        "authorization_servers": [settings.issuer.as_str()],
        // MCP forbids tokens in the query (R009, R031).
        "bearer_methods_supported": ["header"],
    });
    if let Some(map) = document.as_object_mut() {
        if !settings.scopes_supported.is_empty() {
            map.insert("scopes_supported".into(), json!(settings.scopes_supported));
        }
        if let Some(name) = &settings.resource_name {
            map.insert("resource_name".into(), json!(name));
        }
    }
    document
}

/// A router serving `body` (the serialised document) at every PRM path.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(paths: &[String], body: Bytes) -> Router<S> {
    // Resource paths are literal: a segment starting with `:` or `*` is not a capture here.
    let mut router = Router::new().without_v07_checks();
    for path in paths {
        let body = body.clone();
        let route = path.replace('{', "{{").replace('}', "}}");
        router = router.route(
            &route,
            get(move || std::future::ready(serve(body.clone())))
                .options(|headers: HeaderMap| async move { preflight(&headers) }),
        );
    }
    router
}

fn serve(body: Bytes) -> Response<Body> {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    // R014: cacheable; an hour keeps clients current after a configuration change.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    // Public, credential-free document: any web page may read it.
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// Browser clients send `MCP-Protocol-Version` with discovery requests, which needs a preflight.
fn preflight(request: &HeaderMap) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, OPTIONS"));
    if let Some(requested) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, requested.clone());
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GuardConfig;

    fn settings(config: GuardConfig) -> Settings {
        Settings::from_config(&config).unwrap()
    }

    #[test]
    fn r005_r006_r009_document_names_resource_servers_and_header_method() {
        let doc = document(&settings(
            GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com/t1")
                .with_scopes_supported(["mcp:read"])
                .with_resource_name("Notes"),
        ));
        assert_eq!(
            doc,
            json!({
                "resource": "https://mcp.example.com/mcp",
                "authorization_servers": ["https://auth.example.com/t1"],
                "scopes_supported": ["mcp:read"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Notes",
            })
        );
    }

    #[test]
    fn r007_empty_members_are_omitted() {
        let doc = document(&settings(GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com")));
        assert!(doc.get("scopes_supported").is_none());
        assert!(doc.get("resource_name").is_none());
    }

    #[test]
    fn routes_with_braces_and_colons_are_literal() {
        // Would panic in axum if the path were taken as a pattern.
        let paths = ["/.well-known/oauth-protected-resource/:x/{y}/*z".to_owned()];
        let _router: Router = router(&paths, Bytes::from_static(b"{}"));
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_keys::{ISSUER, NOW, RESOURCE, TestKey, jwks};
use crate::{CorsPolicy, FixedClock, GuardConfig, ScopePolicy};
use axum::http::StatusCode;
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, WWW_AUTHENTICATE};
use std::convert::Infallible;
use std::sync::Arc;
use tower::ServiceExt;

const PRM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
const WRITE: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_note","arguments":{}}}"#;

fn policy() -> ScopePolicy {
    ScopePolicy::new().require(["mcp:read"]).tool("write_note", ["mcp:write"])
}

fn guard(key: &TestKey, adjust: impl FnOnce(GuardConfig) -> GuardConfig) -> Guard {
    let config = GuardConfig::new(RESOURCE, ISSUER)
        .with_static_jwks(jwks(&[key]))
        .with_policy(policy())
        .with_clock(Arc::new(FixedClock::at(NOW)));
    Guard::new(adjust(config)).unwrap()
}

/// The inner MCP server: echoes the body and who called.
async fn echo(request: Request<Body>) -> Result<Response<Body>, Infallible> {
    let who = request.extensions().get::<AccessIdentity>().map(|id| id.sub.clone()).unwrap_or_default();
    let body = request.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Body::from(format!("{who}|{}", String::from_utf8_lossy(&body)))))
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Reply {
    fn challenge(&self) -> &str {
        self.headers.get(WWW_AUTHENTICATE).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

async fn send(guard: &Guard, request: Request<Body>) -> Reply {
    let service = guard.layer().layer(tower::service_fn(echo));
    let response = service.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Reply { status, headers, body }
}

fn post(authorization: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post("/mcp").header(CONTENT_TYPE, "application/json");
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn r030_bearer_scheme_is_case_insensitive_and_the_body_reaches_the_server_intact() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let token = key.token("mcp:read");
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let reply = send(&guard, post(Some(&format!("{scheme} {token}")), LIST)).await;
        assert_eq!(reply.status, StatusCode::OK, "{scheme}");
        assert_eq!(reply.body, format!("user-1|{LIST}"));
    }
}

#[tokio::test]
async fn r020_r022_no_token_gets_401_with_metadata_and_the_scopes_of_the_request() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let reply = send(&guard, post(None, LIST)).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.challenge(), format!("Bearer resource_metadata=\"{PRM}\", scope=\"mcp:read\""));
    let reply = send(&guard, post(None, WRITE)).await;
    assert_eq!(reply.challenge(), format!("Bearer resource_metadata=\"{PRM}\", scope=\"mcp:read mcp:write\""));
    // Another scheme is no bearer token.
    let reply = send(&guard, post(Some("Basic dXNlcjpwYXNz"), LIST)).await;
    assert_eq!(reply.challenge(), format!("Bearer resource_metadata=\"{PRM}\", scope=\"mcp:read\""));
}

#[tokio::test]
async fn r031_a_token_in_the_query_is_ignored() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let uri = format!("/mcp?access_token={}", key.token("mcp:read"));
    let request = Request::post(uri).header(CONTENT_TYPE, "application/json").body(Body::from(LIST)).unwrap();
    let reply = send(&guard, request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(!reply.challenge().contains("error="), "{}", reply.challenge());
}

#[tokio::test]
async fn r026_two_token_methods_or_two_headers_are_invalid_request() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let token = key.token("mcp:read");
    let request = Request::post(format!("/mcp?x=1&access_token={token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(LIST))
        .unwrap();
    let reply = send(&guard, request).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.challenge().starts_with("Bearer error=\"invalid_request\""));
    let request = Request::post("/mcp")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(LIST))
        .unwrap();
    assert_eq!(send(&guard, request).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn r023_a_bad_token_gets_invalid_token_without_the_server_running() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    for value in ["Bearer", "Bearer ", "Bearer a b", "Bearer not.a.jwt", "Bearer \"quoted\""] {
        let reply = send(&guard, post(Some(value), LIST)).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{value}");
        assert!(reply.challenge().starts_with("Bearer error=\"invalid_token\", error_description=\""), "{value}");
        assert!(reply.challenge().ends_with(&format!("resource_metadata=\"{PRM}\"")));
        assert!(!reply.body.contains('|'), "the inner service must not run");
    }
}

#[tokio::test]
async fn r024_r025_a_write_tool_needs_write_scope_and_the_challenge_lists_every_needed_scope() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let read_only = format!("Bearer {}", key.token("mcp:read"));
    assert_eq!(send(&guard, post(Some(&read_only), LIST)).await.status, StatusCode::OK);
    let reply = send(&guard, post(Some(&read_only), WRITE)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.challenge(),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"mcp:read mcp:write\", resource_metadata=\"{PRM}\", \
             error_description=\"this request needs scope mcp:write\""
        )
    );
    // A batch hiding the write call behind a list call is caught too.
    let batch = format!("[{LIST},{WRITE}]");
    assert_eq!(send(&guard, post(Some(&read_only), &batch)).await.status, StatusCode::FORBIDDEN);
    let writer = format!("Bearer {}", key.token("mcp:read mcp:write"));
    assert_eq!(send(&guard, post(Some(&writer), &batch)).await.status, StatusCode::OK);
    // The base scope is needed by everything, including GET.
    let nothing = format!("Bearer {}", key.token("mcp:write"));
    let get = Request::get("/mcp").header(AUTHORIZATION, &nothing).body(Body::empty()).unwrap();
    let reply = send(&guard, get).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.challenge().contains("scope=\"mcp:read\""));
}

#[tokio::test]
async fn a_cached_token_meets_the_scope_policy_on_every_request() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let read_only = format!("Bearer {}", key.token("mcp:read"));
    let before = crate::token::signature_checks();
    for _ in 0..3 {
        assert_eq!(send(&guard, post(Some(&read_only), LIST)).await.status, StatusCode::OK);
        assert_eq!(send(&guard, post(Some(&read_only), WRITE)).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(crate::token::signature_checks() - before, 1, "one signature check, six policy checks");
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c.with_max_body_bytes(64));
    let token = format!("Bearer {}", key.token("mcp:read"));
    let padded = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"pad":"{}"}}}}"#, "x".repeat(64));
    assert_eq!(send(&guard, post(Some(&token), &padded)).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Without Content-Length (a streamed body) the limit holds as well.
    let (mut sender, stream) = http_body_util::channel::Channel::<axum::body::Bytes>::new(4);
    sender.send_data(axum::body::Bytes::from(padded)).await.unwrap();
    drop(sender);
    let request = Request::post("/mcp")
        .header(AUTHORIZATION, &token)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::new(stream))
        .unwrap();
    assert_eq!(send(&guard, request).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn posts_the_policy_must_read_have_to_be_json_rpc() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let token = format!("Bearer {}", key.token("mcp:read"));
    let text = Request::post("/mcp")
        .header(AUTHORIZATION, &token)
        .header(CONTENT_TYPE, "text/plain")
        .body(Body::from(WRITE))
        .unwrap();
    assert_eq!(send(&guard, text).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let reply = send(&guard, post(Some(&token), "{not json")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("-32700"));
    // A duplicate method could be read differently by the server: refused.
    let duplicate =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call","params":{"name":"write_note"}}"#;
    assert_eq!(send(&guard, post(Some(&token), duplicate)).await.status, StatusCode::BAD_REQUEST);
    // Media type parameters and case do not matter.
    let json = Request::post("/mcp")
        .header(AUTHORIZATION, &token)
        .header(CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(Body::from(LIST))
        .unwrap();
    assert_eq!(send(&guard, json).await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_method_or_tool_rules_the_body_is_not_read() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c.with_policy(ScopePolicy::new().require(["mcp:read"])));
    let token = format!("Bearer {}", key.token("mcp:read"));
    let text = Request::post("/mcp").header(AUTHORIZATION, &token).body(Body::from("anything")).unwrap();
    let reply = send(&guard, text).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "user-1|anything");
}

#[tokio::test]
async fn r029_preflight_needs_no_token_and_challenges_are_readable_cross_origin() {
    let key = TestKey::es256("k1");
    let guard = guard(&key, |c| c);
    let preflight = Request::options("/mcp")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::empty())
        .unwrap();
    let reply = send(&guard, preflight).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.headers[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let mut request = post(None, LIST);
    request.headers_mut().insert("origin", "https://app.example.com".parse().unwrap());
    let reply = send(&guard, request).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers[ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("WWW-Authenticate"));

    let strict = guard_with_cors(&key, CorsPolicy::Disabled);
    let preflight = Request::options("/mcp")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&strict, preflight).await.status, StatusCode::UNAUTHORIZED);
}

fn guard_with_cors(key: &TestKey, cors: CorsPolicy) -> Guard {
    guard(key, |c| c.with_cors(cors))
}

#[tokio::test]
async fn unavailable_keys_are_503_not_a_token_verdict() {
    let key = TestKey::es256("k1");
    let config = GuardConfig::new(RESOURCE, "http://127.0.0.1:9")
        .with_jwks_uri("http://127.0.0.1:9/jwks.json")
        .with_clock(Arc::new(FixedClock::at(NOW)));
    let guard = Guard::new(config).unwrap();
    let reply = send(&guard, post(Some(&format!("Bearer {}", key.token(""))), LIST)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers.get(WWW_AUTHENTICATE).is_none());
}

//! Hostile input from the network: random and malformed requests to every endpoint get a
//! precise 4xx (an OAuth error body on the JSON endpoints, a page or a redirect on /authorize),
//! never a 5xx or a dropped connection (a panic), and store nothing.

use crate::support::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};

backend_tests!(random_requests_never_cause_server_errors_or_store_anything);

const NAMES: [&str; 18] = [
    "grant_type",
    "code",
    "code_verifier",
    "client_id",
    "client_secret",
    "redirect_uri",
    "refresh_token",
    "resource",
    "scope",
    "token",
    "token_type_hint",
    "response_type",
    "code_challenge",
    "code_challenge_method",
    "state",
    "csrf_token",
    "client_assertion_type",
    "client_assertion",
];

/// Values that poke at parsers: known-good fragments, huge strings, control characters,
/// non-ASCII, percent-encoding and URL tricks.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just(PUBLIC_CLIENT.to_owned()),
        Just(CONFIDENTIAL_CLIENT.to_owned()),
        Just(PUBLIC_REDIRECT.to_owned()),
        Just("http://127.0.0.1:@evil.example/callback".to_owned()),
        Just("S256".to_owned()),
        Just("code".to_owned()),
        Just("x".repeat(5000)),
        Just("%00%ff%2e%2e/".to_owned()),
        Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        // alg none, sub = a CIMD URL; a JWT that is not base64; a metadata-document client_id.
        Just("eyJhbGciOiJub25lIn0.eyJzdWIiOiJodHRwczovL2NpbWQudGVzdC9jLmpzb24ifQ.".to_owned()),
        Just("a.b.c".to_owned()),
        Just("https://cimd.test/client.json".to_owned()),
        Just("https://169.254.169.254/latest/meta-data/x".to_owned()),
        ".{0,64}",
        "[\\x00-\\x1f]{1,8}",
    ]
}

fn request() -> impl Strategy<Value = (usize, Vec<(usize, String)>, bool)> {
    (0usize..6, proptest::collection::vec((0..NAMES.len(), value()), 0..12), any::<bool>())
}

async fn random_requests_never_cause_server_errors_or_store_anything(app: TestApp) {
    let mut runner = TestRunner::new(ProptestConfig { cases: 150, ..ProptestConfig::default() });
    let mut cases = Vec::new();
    for _ in 0..150 {
        cases.push(request().new_tree(&mut runner).unwrap().current());
    }
    let audit_before = app.audit_kinds().await.len();
    for (endpoint, pairs, basic) in cases {
        let form: Vec<(String, String)> = pairs.iter().map(|(n, v)| (NAMES[*n].to_owned(), v.clone())).collect();
        let path = ["/token", "/introspect", "/revoke", "/authorize", "/login", "/client-logo"][endpoint];
        let mut request = if (path == "/authorize" && !basic) || path == "/client-logo" {
            app.http.get(app.url(path)).query(&form)
        } else {
            app.http.post(app.url(path)).form(&form)
        };
        if basic {
            request = request.basic_auth(CONFIDENTIAL_CLIENT, Some("wrong-secret"));
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{path} dropped the connection: {e}"));
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        // /authorize may answer with the login page: a metadata-document client_id is resolved
        // only after sign-in, so nothing about it can be refused earlier.
        let lowest = if path == "/authorize" { 200 } else { 300 };
        assert!((lowest..500).contains(&status), "{path} answered {status} to {form:?}: {body}");
        if matches!(path, "/token" | "/introspect") && status >= 400 {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert!(json["error"].is_string() && json["error_description"].is_string(), "{body}");
        }
    }
    // Nothing issued: no codes, tokens or grants came out of garbage (failed logins are audited).
    let kinds = app.audit_kinds().await;
    assert!(
        kinds[..kinds.len() - audit_before].iter().all(|k| k == "login_failed"),
        "unexpected audit events: {kinds:?}"
    );
}

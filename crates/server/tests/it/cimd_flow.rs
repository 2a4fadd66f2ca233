//! Client ID Metadata Document clients, end to end over HTTP against the TLS fixture: a public
//! client and a `private_key_jwt` client through login, consent, code, token, refresh,
//! introspection and revocation (issue 3 "Done means"), plus the pinned snapshot, re-consent on
//! a changed document and the domain policy.

use crate::support::*;
use postern_core::Clock;
use postern_store::CimdStatus;
use postern_store::test_support::Backend;
use serde_json::json;

backend_tests!(
    ;
    own_server:
    cimd_public_client_full_flow,
    cimd_private_key_jwt_client_full_flow,
    r091_a_security_relevant_document_change_asks_for_consent_again,
    r091_approving_a_document_that_changed_meanwhile_shows_the_new_one,
    the_code_uses_the_pinned_document_and_token_endpoint_never_fetches,
    r085_denied_domains_are_refused_before_any_fetch,
    r085_unknown_domains_wait_for_administrator_approval,
);

const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

/// The standard request, for a metadata-document client.
fn cimd_params(app: &TestApp, client_id: &str, redirect_uri: &str) -> Vec<(String, String)> {
    let params = with_param(&app.authorize_params(), "client_id", client_id);
    with_param(&params, "redirect_uri", redirect_uri)
}

async fn cimd_public_client_full_flow(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/agent/client.json", "Agent Smith", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    // A loopback redirect matches on any port (R112).
    let redirect_uri = "http://127.0.0.1:49152/callback";
    let params = cimd_params(&app, &client_id, redirect_uri);

    // Not signed in: the login page names the client_id's host, and nothing is fetched yet.
    let login_page = app.authorize(&params, None).await;
    assert_eq!(login_page.status, 200, "{}", login_page.body);
    assert!(login_page.body.contains("cimd.test"), "{}", login_page.body);
    assert_eq!(documents.hits("/agent/client.json"), 0, "SEP-991: no fetch before the user signs in");

    let anonymous = login_page.session_cookie().unwrap();
    let (consent_page, cookie) = app.login(&login_page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert_eq!(documents.hits("/agent/client.json"), 1);
    // R094, R095: the fetched name, the verified host, the redirect host, and a warning since
    // every redirect URI is loopback.
    assert!(consent_page.body.contains("Agent Smith"), "{}", consent_page.body);
    assert!(consent_page.body.contains("Published by"), "{}", consent_page.body);
    assert!(consent_page.body.contains("<strong>cimd.test</strong>"), "{}", consent_page.body);
    assert!(consent_page.body.contains("(the name above comes from this site)"), "{}", consent_page.body);
    assert!(consent_page.body.contains("Any program on this computer can claim to be"), "{}", consent_page.body);

    let redirect = app.consent(&consent_page, &cookie, &params, "approve").await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    assert!(redirect.location().starts_with(redirect_uri), "{}", redirect.location());
    let code = redirect.location_param("code").unwrap();

    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
        ("redirect_uri", redirect_uri),
    ];
    let tokens = app.token(&exchange).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&access).await["client_id"], client_id.as_str());

    let refreshed =
        app.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &client_id)]).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let new_refresh = refreshed.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.revoke(&new_refresh, &client_id).await.status, 200);
    assert_eq!(app.introspect(&access).await["active"], false);
    assert_eq!(documents.hits("/agent/client.json"), 1, "the token endpoint never fetches");

    // Inventory and audit: the client was recorded with its document; the fetch and whether
    // the code relied on it are audit events.
    let record = app.store.find_cimd_client(&client_id).await.unwrap().unwrap();
    assert_eq!((record.status, record.client_name.as_deref()), (CimdStatus::Allowed, Some("Agent Smith")));
    assert!(record.document_hash.is_some() && record.snapshot.is_some());
    let events = app.store.recent_audit_events(100).await.unwrap();
    let fetch = events.iter().find(|e| e.kind == "outbound_fetch").expect("fetch audited");
    let detail: serde_json::Value = serde_json::from_str(fetch.detail.as_deref().unwrap()).unwrap();
    assert_eq!((detail["outcome"].as_str(), detail["status"].as_u64()), (Some("ok"), Some(200)));
    assert_eq!(detail["resolved"], json!(["127.0.0.1"]));
    // The consent form re-validates the request: the document fetched at sign-in comes from the cache.
    let issued = events.iter().find(|e| e.kind == "code_issued").unwrap();
    assert!(issued.detail.as_deref().unwrap().contains(r#""metadata_document":"hit""#), "{:?}", issued.detail);

    // Signed in now, and the document is cached: the next request reuses it and the consent.
    let again = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert!(again.location_param("code").is_some());
    assert_eq!(documents.hits("/agent/client.json"), 1, "R088: served from the cache");
}

async fn cimd_private_key_jwt_client_full_flow(backend: Backend) {
    let documents = DocumentServer::start().await;
    let key = ClientKey::generate("key-1");
    let client_id = documents.url("/service/client.json");
    let mut document = client_document(&client_id, "Service Agent", &["https://service.example/callback"]);
    document["token_endpoint_auth_method"] = json!("private_key_jwt");
    document["jwks_uri"] = json!(documents.url("/service/jwks.json"));
    documents.serve("/service/client.json", Route::json(&document));
    documents.serve("/service/jwks.json", Route::json(&json!({ "keys": [key.public] })));
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let now = app.clock.now();
    let token_endpoint = app.url("/token");

    let params = cimd_params(&app, &client_id, "https://service.example/callback");
    let code = app.code_for(&params).await;
    let exchange = |assertion: String| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.clone()),
            ("code_verifier".to_owned(), VERIFIER.to_owned()),
            ("client_assertion_type".to_owned(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
            ("client_assertion".to_owned(), assertion),
        ]
    };
    let post = |form: Vec<(String, String)>| {
        let request = app.http.post(app.url("/token")).form(&form);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    // R142: without an assertion, or with one from another key, the client is not authenticated.
    let (status, body) = post(without(exchange(String::new()), &["client_assertion_type", "client_assertion"])).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let (status, body) = post(and(exchange(String::new()), "client_id", &client_id)).await;
    assert_eq!(status, 400, "an empty assertion: {body}");
    let stranger = ClientKey::generate("key-1");
    let (status, body) = post(exchange(stranger.assertion(&client_id, &token_endpoint, "jti-0", now))).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");

    // The right key: tokens. client_id may be omitted (RFC 7523 §3: it is the assertion's sub).
    let assertion = key.assertion(&client_id, &token_endpoint, "jti-1", now);
    let (status, body) = post(exchange(assertion.clone())).await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(documents.hits("/service/jwks.json"), 1);

    // R142: a replayed assertion is refused, also on another grant.
    let refresh_with = |assertion: String| {
        vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh.clone()),
            ("client_assertion_type".to_owned(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
            ("client_assertion".to_owned(), assertion),
        ]
    };
    let (status, body) = post(refresh_with(assertion)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("already used"), "{body}");
    // The issuer is an accepted audience too.
    let (status, body) = post(refresh_with(key.assertion(&client_id, &app.issuer, "jti-2", now))).await;
    assert_eq!(status, 200, "{body}");

    // A rotated key is found by refetching jwks_uri on the unknown kid.
    let rotated = ClientKey::generate("key-2");
    documents.serve("/service/jwks.json", Route::json(&json!({ "keys": [rotated.public] })));
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let form = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("refresh_token".to_owned(), refresh),
        ("client_assertion_type".to_owned(), "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        ("client_assertion".to_owned(), rotated.assertion(&client_id, &token_endpoint, "jti-3", now)),
    ];
    let (status, body) = post(form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(documents.hits("/service/jwks.json"), 2);
}

fn without(form: Vec<(String, String)>, names: &[&str]) -> Vec<(String, String)> {
    form.into_iter().filter(|(n, _)| !names.contains(&n.as_str())).collect()
}

fn and(mut form: Vec<(String, String)>, name: &str, value: &str) -> Vec<(String, String)> {
    form.push((name.to_owned(), value.to_owned()));
    form
}

async fn r091_a_security_relevant_document_change_asks_for_consent_again(backend: Backend) {
    let documents = DocumentServer::start().await;
    let path = "/changing/client.json";
    let client_id = documents.url(path);
    let redirects = [LOOPBACK_REDIRECT, "https://app.example/cb"];
    // no-store: every authorization fetches the document again.
    let serve = |name: &str, redirects: &[&str]| {
        let route = Route::json(&client_document(&client_id, name, redirects)).header("cache-control", "no-store");
        documents.serve(path, route);
    };
    serve("Changing", &redirects);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let params = cimd_params(&app, &client_id, LOOPBACK_REDIRECT);
    let (_, cookie) = app.authorize_through_browser(&params).await;

    // A new name only: the consent is still remembered.
    serve("Renamed", &redirects);
    let reply = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    // R097: consent is per redirect URI; the other registered one asks again.
    let other = app.authorize(&with_param(&params, "redirect_uri", "https://app.example/cb"), Some(&cookie)).await;
    assert_eq!(other.status, 200, "consent page expected: {}", other.body);

    // A new redirect URI list: audited, and the user is asked again.
    serve("Renamed", &[LOOPBACK_REDIRECT, "https://new.example/cb"]);
    let reply = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(reply.status, 200, "consent page expected: {}", reply.body);
    assert!(reply.body.contains("Authorize access"), "{}", reply.body);
    let changes = app.store.recent_audit_events(200).await.unwrap();
    let changes: Vec<serde_json::Value> = changes
        .iter()
        .filter(|e| e.kind == "cimd_document_changed")
        .map(|e| serde_json::from_str(e.detail.as_deref().unwrap()).unwrap())
        .collect();
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(changes.iter().filter(|d| d["security_relevant"] == true).count(), 1, "{changes:?}");
    assert_eq!(documents.hits(path), 5);
}

async fn r091_approving_a_document_that_changed_meanwhile_shows_the_new_one(backend: Backend) {
    let documents = DocumentServer::start().await;
    let path = "/racing/client.json";
    let client_id = documents.url(path);
    let serve = |redirects: &[&str]| {
        let route = Route::json(&client_document(&client_id, "Racing", redirects)).header("cache-control", "no-store");
        documents.serve(path, route);
    };
    serve(&[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let params = cimd_params(&app, &client_id, LOOPBACK_REDIRECT);
    let login_page = app.authorize(&params, None).await;
    let anonymous = login_page.session_cookie().unwrap();
    let (consent_page, cookie) = app.login(&login_page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);

    // While the page is open, the document gains a redirect URI.
    serve(&[LOOPBACK_REDIRECT, "https://added.example/cb"]);
    let again = app.consent(&consent_page, &cookie, &params, "approve").await;
    assert_eq!(again.status, 200, "the new document is shown, not approved: {}", again.body);
    assert_ne!(again.hidden_value("document_fingerprint"), consent_page.hidden_value("document_fingerprint"));
    assert_eq!(app.audit_count("consent_granted").await, 0);
    let redirect = app.consent(&again, &cookie, &params, "approve").await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    assert!(redirect.location_param("code").is_some());
}

async fn the_code_uses_the_pinned_document_and_token_endpoint_never_fetches(backend: Backend) {
    let documents = DocumentServer::start().await;
    let path = "/pinned/client.json";
    let client_id = documents.serve_client(path, "Pinned", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let code = app.code_for(&cimd_params(&app, &client_id, LOOPBACK_REDIRECT)).await;
    // The document now says something else (and may not even be reachable).
    documents.serve(path, Route::json(&json!({})).status(500));
    let tokens = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(documents.hits(path), 1);
    // A client_id the server never validated at /authorize is unknown at the token endpoint,
    // and asking for it causes no fetch.
    let stranger = documents.serve_client("/stranger.json", "Stranger", &[LOOPBACK_REDIRECT]);
    let reply = app.token(&[("grant_type", "refresh_token"), ("refresh_token", "x"), ("client_id", &stranger)]).await;
    assert_oauth_error(&reply, 401, "invalid_client");
    assert_eq!(documents.hits("/stranger.json"), 0);
}

async fn r085_denied_domains_are_refused_before_any_fetch(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/client.json", "Blocked", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |config| {
        config.cimd.deny_domains = vec!["*.test".into()];
    })
    .await;
    let params = cimd_params(&app, &client_id, LOOPBACK_REDIRECT);
    let reply = app.authorize(&params, None).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("does not accept applications from cimd.test"), "{}", reply.body);
    assert!(reply.header("location").is_none());
    assert_eq!(documents.hits("/client.json"), 0);
}

async fn r085_unknown_domains_wait_for_administrator_approval(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/new/client.json", "Newcomer", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |config| {
        config.cimd.unknown_domains = "approval".into();
    })
    .await;
    let params = cimd_params(&app, &client_id, LOOPBACK_REDIRECT);
    let login_page = app.authorize(&params, None).await;
    assert_eq!(login_page.status, 200, "{}", login_page.body);
    let anonymous = login_page.session_cookie().unwrap();
    let (pending, cookie) = app.login(&login_page, &anonymous, &params, PASSWORD).await;
    assert_eq!(pending.status, 403, "{}", pending.body);
    assert!(pending.body.contains("Waiting for administrator approval"), "{}", pending.body);
    assert!(pending.body.contains(&format!("postern clients approve {client_id}")), "{}", pending.body);
    // An administrators' decision, not the developer's fault: the page says whom to ask.
    assert!(pending.body.contains("decision of this server&#39;s administrators"), "{}", pending.body);
    assert!(!pending.body.contains("could not be trusted"), "{}", pending.body);
    assert_eq!(documents.hits("/new/client.json"), 0, "nothing is fetched for a client waiting for approval");
    assert_eq!(app.store.find_cimd_client(&client_id).await.unwrap().unwrap().status, CimdStatus::Pending);
    assert_eq!(app.audit_count("cimd_client_pending").await, 1);

    app.store.decide_cimd_client(&client_id, CimdStatus::Approved, "admin", app.clock.now()).await.unwrap();
    // Nodes reread decisions within five seconds.
    app.clock.advance(6);
    let consent_page = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Newcomer"), "{}", consent_page.body);

    app.store.decide_cimd_client(&client_id, CimdStatus::Denied, "admin", app.clock.now()).await.unwrap();
    app.clock.advance(6);
    let blocked = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert!(blocked.body.contains("blocked"), "{}", blocked.body);
    assert!(blocked.body.contains("decision of this server&#39;s administrators"), "{}", blocked.body);
}

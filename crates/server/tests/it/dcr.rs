//! Dynamic Client Registration over HTTP (RFC 7591/7592, R100–R109b, issue 5): off by default,
//! and when on, fenced: rate limit, cap, de-duplication, initial access tokens, scope ceiling.

use crate::support::*;
use postern_core::{Clock, TokenHash};
use postern_server::config::Config;
use postern_store::test_support::Backend;
use postern_store::{ClientStatus, InitialAccessToken};
use serde_json::{Value, json};

backend_tests!(
    r100_registration_is_off_by_default;
    own_server:
    r102_a_public_client_registers_and_signs_in_labelled_unverified,
    r102_a_confidential_client_gets_a_secret_that_works_at_the_token_endpoint,
    r104_r105_bad_metadata_is_refused_naming_the_field,
    a_flood_from_one_address_leaves_at_most_its_allowance,
    identical_public_registrations_from_one_address_share_a_client,
    initial_access_tokens_gate_registration_when_required,
    r109_management_reads_replaces_and_deletes_with_the_registration_token,
    the_client_cap_and_the_scope_ceiling_hold,
    the_reaper_removes_unused_and_idle_clients_and_their_tokens,
    with_approval_required_a_registered_client_waits_for_an_administrator,
    an_expired_client_secret_stops_working,
);

const REDIRECT: &str = "http://127.0.0.1/callback";

fn enable(config: &mut Config) {
    config.dcr.enabled = true;
}

async fn post_registration(app: &TestApp, body: &Value, bearer: Option<&str>) -> Reply {
    let mut request = app.http.post(app.url("/register")).json(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    reply(request.send().await.unwrap()).await
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Reply { status, headers, body: response.text().await.unwrap() }
}

fn public_metadata(name: &str) -> Value {
    json!({ "client_name": name, "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"] })
}

async fn r100_registration_is_off_by_default(app: TestApp) {
    let reply = post_registration(&app, &public_metadata("Agent"), None).await;
    assert_eq!(reply.status, 404);
    let metadata = app.get("/.well-known/oauth-authorization-server").await.json();
    assert!(metadata.get("registration_endpoint").is_none(), "{metadata}");
}

async fn r102_a_public_client_registers_and_signs_in_labelled_unverified(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    let metadata = app.get("/.well-known/oauth-authorization-server").await.json();
    assert_eq!(metadata["registration_endpoint"], app.url("/register"));

    let reply = post_registration(&app, &public_metadata("Self Made"), None).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let body = reply.json();
    let client_id = body["client_id"].as_str().unwrap().to_owned();
    // R057: generated ids can never be mistaken for a metadata document URL.
    assert!(client_id.starts_with("dcr_") && !client_id.contains("://"), "{client_id}");
    assert!(body.get("client_secret").is_none(), "a public client gets no secret: {body}");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(body["redirect_uris"], json!([REDIRECT]));
    assert_eq!(body["response_types"], json!(["code"]), "R102: defaults are echoed");
    assert!(body["client_id_issued_at"].is_i64());
    assert_eq!(body["registration_client_uri"], app.url(&format!("/register/{client_id}")));
    assert!(body["registration_access_token"].as_str().unwrap().len() >= 40);

    let params = with_param(&with_param(&app.authorize_params(), "client_id", &client_id), "redirect_uri", REDIRECT);
    let login_page = app.authorize(&params, None).await;
    let anonymous = login_page.session_cookie().unwrap();
    let (consent_page, cookie) = app.login(&login_page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Registered itself, publisher not verified"), "{}", consent_page.body);
    let redirect = app.consent(&consent_page, &cookie, &params, "approve").await;
    let code = redirect.location_param("code").unwrap();
    let tokens = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(app.audit_count("client_registered").await, 1);
}

async fn r102_a_confidential_client_gets_a_secret_that_works_at_the_token_endpoint(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    // R103: the default auth method is client_secret_basic.
    let reply = post_registration(&app, &json!({ "redirect_uris": ["https://app.example/cb"] }), None).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(body["client_secret_expires_at"], 0, "R102: required with a secret; 0 = never");
    assert_eq!(body["grant_types"], json!(["authorization_code"]));
    let (client_id, secret) = (body["client_id"].as_str().unwrap(), body["client_secret"].as_str().unwrap());
    let stored = app.store.find_client(client_id).await.unwrap().unwrap();
    assert_eq!(stored.secret_hash.as_deref(), Some(TokenHash::of(secret).as_str()), "only the hash is stored");

    let params = with_param(
        &with_param(&app.authorize_params(), "client_id", client_id),
        "redirect_uri",
        "https://app.example/cb",
    );
    let code = app.code_for(&params).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code_verifier", VERIFIER)];
    let tokens = app.token_basic(client_id, secret, &form).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert!(tokens.json().get("refresh_token").is_none(), "not registered for refresh_token");
}

async fn r104_r105_bad_metadata_is_refused_naming_the_field(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.registrations_per_ip_per_hour = 100;
    })
    .await;
    let refused = |body: Value, error: &'static str, fragment: &'static str| {
        let app = &app;
        async move {
            let reply = post_registration(app, &body, None).await;
            assert_oauth_error(&reply, 400, error);
            let description = reply.json()["error_description"].as_str().unwrap().to_owned();
            assert!(description.contains(fragment), "{fragment:?} not in {description:?}");
        }
    };
    refused(json!({ "redirect_uris": ["http://app.example/cb"] }), "invalid_redirect_uri", "http://app.example/cb")
        .await;
    refused(json!({ "redirect_uris": ["https://app.example/cb#frag"] }), "invalid_redirect_uri", "#").await;
    refused(json!({ "redirect_uris": ["javascript:alert(1)"] }), "invalid_redirect_uri", "javascript").await;
    refused(json!({ "redirect_uris": ["cursor://callback"] }), "invalid_redirect_uri", "cursor").await;
    refused(json!({ "redirect_uris": [] }), "invalid_redirect_uri", "redirect_uris").await;
    let bad_method = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_jwt" });
    refused(bad_method, "invalid_client_metadata", "token_endpoint_auth_method").await;
    let bad_grant = json!({ "redirect_uris": [REDIRECT], "grant_types": ["implicit"] });
    refused(bad_grant, "invalid_client_metadata", "implicit").await;
    let both_keys = json!({ "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
                           "jwks_uri": "https://app.example/jwks", "jwks": { "keys": [] } });
    refused(both_keys, "invalid_client_metadata", "jwks").await;
    refused(json!(["not", "an", "object"]), "invalid_client_metadata", "JSON object").await;
    let not_json = app.http.post(app.url("/register")).header("content-type", "text/plain").body("{}").send().await;
    assert_oauth_error(&reply(not_json.unwrap()).await, 400, "invalid_client_metadata");
    assert_eq!(app.store.count_dcr_clients().await.unwrap(), 0);
    assert!(app.audit_count("client_registration_rejected").await >= 10);

    // A private-use scheme the operator allows.
    let cursor = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.allowed_redirect_schemes = vec!["cursor".into()];
    })
    .await;
    let reply = post_registration(
        &cursor,
        &json!({ "redirect_uris": ["cursor://anysphere.cursor/callback"],
                                                    "token_endpoint_auth_method": "none" }),
        None,
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

async fn a_flood_from_one_address_leaves_at_most_its_allowance(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    let mut statuses = Vec::new();
    // Distinct names, so de-duplication cannot be what stops them.
    for chunk in 0..100 {
        let requests = (0..100).map(|i| {
            let body = public_metadata(&format!("Flood {chunk}-{i}"));
            let request = app.http.post(app.url("/register")).json(&body);
            async move { request.send().await.unwrap().status().as_u16() }
        });
        statuses.extend(futures_join(requests).await);
    }
    assert_eq!(statuses.len(), 10_000);
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 20, "the default allowance");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 9_980);
    assert_eq!(app.store.count_dcr_clients().await.unwrap(), 20);
    assert_eq!(app.audit_count("client_registration_rejected").await, 1, "a flood is audited once");
    // The bucket refills: one registration every three minutes.
    app.clock.advance(180);
    assert_eq!(post_registration(&app, &public_metadata("Later"), None).await.status, 201);
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future<Output = u16> + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<u16> {
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

async fn identical_public_registrations_from_one_address_share_a_client(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    let first = post_registration(&app, &public_metadata("Twin"), None).await.json();
    let second = post_registration(&app, &public_metadata("Twin"), None).await.json();
    assert_eq!(first["client_id"], second["client_id"]);
    assert_ne!(first["registration_access_token"], second["registration_access_token"]);
    assert_eq!(app.store.count_dcr_clients().await.unwrap(), 1);
    // The earlier registration token was replaced.
    let uri = first["registration_client_uri"].as_str().unwrap();
    let stale = app.http.get(uri).bearer_auth(first["registration_access_token"].as_str().unwrap()).send().await;
    assert_eq!(stale.unwrap().status(), 401);
    // Different metadata is a different client.
    let other = post_registration(&app, &public_metadata("Other"), None).await.json();
    assert_ne!(other["client_id"], first["client_id"]);
}

async fn initial_access_tokens_gate_registration_when_required(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.require_initial_access_token = true;
    })
    .await;
    let reply = post_registration(&app, &public_metadata("Gated"), None).await;
    assert_oauth_error(&reply, 401, "invalid_token");
    assert_eq!(reply.header("www-authenticate").as_deref(), Some("Bearer error=\"invalid_token\""));
    app.store
        .create_initial_access_token(&InitialAccessToken {
            id: "iat_1".into(),
            token_hash: TokenHash::of("piat_one-use").as_str().to_owned(),
            label: "test".into(),
            created_at: app.clock.now(),
            expires_at: None,
            uses_left: Some(1),
            revoked_at: None,
        })
        .await
        .unwrap();
    assert_eq!(post_registration(&app, &public_metadata("Gated"), Some("piat_one-use")).await.status, 201);
    let spent = post_registration(&app, &public_metadata("Gated again"), Some("piat_one-use")).await;
    assert_oauth_error(&spent, 401, "invalid_token");
    assert_oauth_error(
        &post_registration(&app, &public_metadata("Guess"), Some("piat_guess")).await,
        401,
        "invalid_token",
    );
}

async fn r109_management_reads_replaces_and_deletes_with_the_registration_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    let registered = post_registration(&app, &public_metadata("Managed"), None).await.json();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let uri = registered["registration_client_uri"].as_str().unwrap().to_owned();
    let mut token = registered["registration_access_token"].as_str().unwrap().to_owned();

    assert_eq!(app.http.get(&uri).send().await.unwrap().status(), 401, "no token");
    assert_eq!(app.http.get(&uri).bearer_auth("prat_wrong").send().await.unwrap().status(), 401);
    let read = reply(app.http.get(&uri).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.json()["client_name"], "Managed");
    token = read.json()["registration_access_token"].as_str().unwrap().to_owned();

    // R109a: the body is the whole metadata; server-set members and another client_id are refused.
    let mut replacement = public_metadata("Renamed");
    replacement["client_id"] = client_id.clone().into();
    replacement["redirect_uris"] = json!(["http://127.0.0.1/other"]);
    let mut with_server_member = replacement.clone();
    with_server_member["registration_access_token"] = token.clone().into();
    let refused = reply(app.http.put(&uri).bearer_auth(&token).json(&with_server_member).send().await.unwrap()).await;
    assert_oauth_error(&refused, 400, "invalid_client_metadata");
    let mut other_id = replacement.clone();
    other_id["client_id"] = "dcr_other".into();
    let refused = reply(app.http.put(&uri).bearer_auth(&token).json(&other_id).send().await.unwrap()).await;
    assert_oauth_error(&refused, 400, "invalid_client_metadata");
    let updated = reply(app.http.put(&uri).bearer_auth(&token).json(&replacement).send().await.unwrap()).await;
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.json()["redirect_uris"], json!(["http://127.0.0.1/other"]));
    token = updated.json()["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.store.find_client(&client_id).await.unwrap().unwrap().client_name, "Renamed");

    // A grant, then DELETE: 204, and its refresh token stops working (R109b).
    let params = with_param(
        &with_param(&app.authorize_params(), "client_id", &client_id),
        "redirect_uri",
        "http://127.0.0.1/other",
    );
    let code = app.code_for(&params).await;
    let tokens = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .await
        .json();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let deleted = app.http.delete(&uri).bearer_auth(&token).send().await.unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(app.http.get(&uri).bearer_auth(&token).send().await.unwrap().status(), 401, "the RAT is gone");
    app.clock.advance(6); // past the per-node client cache
    let refreshed =
        app.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", &client_id)]).await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.body);
    assert_eq!(app.audit_count("client_deleted").await, 1);
}

async fn the_client_cap_and_the_scope_ceiling_hold(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.max_clients = 2;
        config.dcr.max_scopes = Some("mcp:read".into());
    })
    .await;
    let mut asking_more = public_metadata("Greedy");
    asking_more["scope"] = "mcp:read mcp:write".into();
    let greedy = post_registration(&app, &asking_more, None).await;
    assert_eq!(greedy.status, 201, "{}", greedy.body);
    assert_eq!(greedy.json()["scope"], "mcp:read", "R104a: the effective scope is returned");
    assert_eq!(post_registration(&app, &public_metadata("Second"), None).await.status, 201);
    let third = post_registration(&app, &public_metadata("Third"), None).await;
    assert_oauth_error(&third, 403, "access_denied");
    // The ceiling holds at /authorize too.
    let client_id = greedy.json()["client_id"].as_str().unwrap().to_owned();
    let params = with_param(&with_param(&app.authorize_params(), "client_id", &client_id), "redirect_uri", REDIRECT);
    let (redirect, _) = app.authorize_through_browser(&with_param(&params, "scope", "mcp:read")).await;
    assert!(redirect.location_param("code").is_some(), "{}", redirect.location());
}

async fn the_reaper_removes_unused_and_idle_clients_and_their_tokens(backend: Backend) {
    let app = TestApp::spawn_with(backend, enable).await;
    let unused = post_registration(&app, &public_metadata("Never used"), None).await.json();
    let used = post_registration(&app, &public_metadata("Used"), None).await.json();
    let used_id = used["client_id"].as_str().unwrap().to_owned();
    let params = with_param(&with_param(&app.authorize_params(), "client_id", &used_id), "redirect_uri", REDIRECT);
    let code = app.code_for(&params).await;
    let tokens = app
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("client_id", &used_id),
        ])
        .await
        .json();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    assert_eq!(postern_server::routes::register::reap_unused_clients(&app.state).await.unwrap(), 0);
    // A day later the never-used client goes; the used one stays.
    app.clock.advance(24 * 3600 + 1);
    assert_eq!(postern_server::routes::register::reap_unused_clients(&app.state).await.unwrap(), 1);
    assert!(app.store.find_client(unused["client_id"].as_str().unwrap()).await.unwrap().is_none());
    assert!(app.store.find_client(&used_id).await.unwrap().is_some());
    // Thirty idle days later the used client goes too, and its refresh token stops working.
    app.clock.advance(30 * 24 * 3600);
    assert_eq!(postern_server::routes::register::reap_unused_clients(&app.state).await.unwrap(), 1);
    assert!(app.store.find_client(&used_id).await.unwrap().is_none());
    let refreshed =
        app.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &used_id)]).await;
    assert_eq!(refreshed.status, 401, "{}", refreshed.body);
    assert_eq!(app.audit_count("client_reaped").await, 2);
}

async fn with_approval_required_a_registered_client_waits_for_an_administrator(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.approval = "required".into();
    })
    .await;
    let registered = post_registration(&app, &public_metadata("Waiting"), None).await;
    assert_eq!(registered.status, 201, "{}", registered.body);
    let client_id = registered.json()["client_id"].as_str().unwrap().to_owned();
    let params = with_param(&with_param(&app.authorize_params(), "client_id", &client_id), "redirect_uri", REDIRECT);
    let waiting = app.authorize(&params, None).await;
    assert_eq!(waiting.status, 403, "{}", waiting.body);
    assert!(waiting.body.contains(&format!("postern clients approve {client_id}")), "{}", waiting.body);
    assert!(waiting.header("location").is_none());

    app.store.set_client_status(&client_id, ClientStatus::Active).await.unwrap();
    app.clock.advance(6); // past the per-node client cache
    let code = app.code_for(&params).await;
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", client_id.as_str()),
    ];

    app.store.set_client_status(&client_id, ClientStatus::Denied).await.unwrap();
    app.clock.advance(6);
    assert_oauth_error(&app.token(&exchange).await, 401, "invalid_client");
    let blocked = app.authorize(&params, None).await;
    assert_eq!(blocked.status, 403, "{}", blocked.body);
    assert!(blocked.body.contains("blocked"), "{}", blocked.body);
}

async fn an_expired_client_secret_stops_working(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        enable(config);
        config.dcr.client_secret_ttl_secs = 3600;
    })
    .await;
    let body = post_registration(&app, &json!({ "redirect_uris": ["https://app.example/cb"] }), None).await.json();
    assert_eq!(body["client_secret_expires_at"], app.clock.now() + 3600);
    let (client_id, secret) = (body["client_id"].as_str().unwrap(), body["client_secret"].as_str().unwrap());
    let form = [("grant_type", "refresh_token"), ("refresh_token", "prt_unknown")];
    // Authenticated while the secret lives (the unknown refresh token is then the problem) ...
    assert_oauth_error(&app.token_basic(client_id, secret, &form).await, 400, "invalid_grant");
    app.clock.advance(3600);
    // ... and refused once it has expired.
    let expired = app.token_basic(client_id, secret, &form).await;
    assert_oauth_error(&expired, 401, "invalid_client");
    assert!(expired.json()["error_description"].as_str().unwrap().contains("expired"), "{}", expired.body);
}

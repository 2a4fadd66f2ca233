//! `POST /token` with `grant_type=authorization_code`, and client authentication at the token
//! endpoint (R125, R129, R135–R141, R144).

use crate::support::*;

backend_tests!(
    wrong_code_verifier_is_invalid_grant_and_the_code_stays_redeemable,
    reused_code_is_invalid_grant_and_revokes_the_tokens_issued_from_it,
    replay_with_a_wrong_verifier_revokes_nothing,
    code_issued_to_another_client_is_invalid_grant_and_stays_redeemable,
    redirect_uri_differing_from_the_authorization_request_is_invalid_grant,
    resource_differing_from_the_granted_one_is_invalid_target,
    expired_code_is_invalid_grant,
    missing_code_or_code_verifier_is_invalid_request,
    non_form_body_is_invalid_request,
    repeated_parameter_is_invalid_request,
    unknown_or_missing_grant_type_is_rejected,
    get_on_the_token_endpoint_is_405,
    token_errors_are_json_with_error_and_description_and_no_store,
    confidential_client_redeems_its_code_with_http_basic_or_client_secret_post,
    wrong_secret_via_http_basic_is_401_with_a_basic_challenge,
    confidential_client_without_its_secret_is_invalid_client,
    basic_credentials_plus_client_secret_in_the_body_is_invalid_request,
    public_client_sending_a_secret_is_invalid_client,
    unknown_or_missing_client_id_is_invalid_client,
);

fn code_form<'a>(app: &'a TestApp, code: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", VERIFIER),
        ("client_id", PUBLIC_CLIENT),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("resource", app.resource.as_str()),
    ]
}

fn replace<'a>(form: &[(&'a str, &'a str)], name: &'a str, value: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut changed: Vec<_> = form.iter().copied().filter(|(n, _)| *n != name).collect();
    changed.push((name, value));
    changed
}

fn remove<'a>(form: &[(&'a str, &'a str)], name: &str) -> Vec<(&'a str, &'a str)> {
    form.iter().copied().filter(|(n, _)| *n != name).collect()
}

const OTHER_VERIFIER: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

async fn wrong_code_verifier_is_invalid_grant_and_the_code_stays_redeemable(app: TestApp) {
    let code = app.code().await;
    let form = code_form(&app, &code);
    // R125: hashed and compared.
    assert_oauth_error(&app.token(&replace(&form, "code_verifier", OTHER_VERIFIER)).await, 400, "invalid_grant");
    // R139: a wrong guess must not burn the code (no denial of service).
    let tokens = app.exchange(&code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(app.audit_count("code_replay_detected").await, 0);
}

async fn reused_code_is_invalid_grant_and_revokes_the_tokens_issued_from_it(app: TestApp) {
    let code = app.code().await;
    let first = app.exchange(&code).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let access = first.json()["access_token"].as_str().unwrap().to_owned();
    let refresh = first.json()["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&access).await["active"], true);

    // R139: single use; a second valid redemption is denied ...
    assert_oauth_error(&app.exchange(&code).await, 400, "invalid_grant");
    // ... and everything issued from the code is revoked.
    assert_eq!(app.introspect(&access).await, serde_json::json!({"active": false}));
    assert_oauth_error(&app.refresh(&refresh).await, 400, "invalid_grant");
    assert_eq!(app.audit_count("code_replay_detected").await, 1);
}

async fn replay_with_a_wrong_verifier_revokes_nothing(app: TestApp) {
    let code = app.code().await;
    let (access, refresh) = {
        let body = app.exchange(&code).await.json();
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    };
    // R139: a replay with invalid parameters is refused without revoking (no DoS).
    let form = code_form(&app, &code);
    assert_oauth_error(&app.token(&replace(&form, "code_verifier", OTHER_VERIFIER)).await, 400, "invalid_grant");
    assert_eq!(app.introspect(&access).await["active"], true);
    assert_eq!(app.refresh(&refresh).await.status, 200);
    assert_eq!(app.audit_count("code_replay_detected").await, 0);
}

async fn code_issued_to_another_client_is_invalid_grant_and_stays_redeemable(app: TestApp) {
    let code = app.code().await;
    // R138: the confidential client authenticates fine but the code is not its own.
    let form = [("grant_type", "authorization_code"), ("code", &code), ("code_verifier", VERIFIER)];
    let stolen = app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
    assert_oauth_error(&stolen, 400, "invalid_grant");
    // And the other way round: the public client cannot redeem the confidential client's code.
    let confidential_code = app.code_for(&app.confidential_authorize_params()).await;
    let form = replace(&code_form(&app, &confidential_code), "redirect_uri", CONFIDENTIAL_REDIRECT);
    assert_oauth_error(&app.token(&form).await, 400, "invalid_grant");
    // R139: neither attempt burned the codes.
    assert_eq!(app.exchange(&code).await.status, 200);
    assert_eq!(app.exchange_confidential(&confidential_code).await.status, 200);
}

async fn redirect_uri_differing_from_the_authorization_request_is_invalid_grant(app: TestApp) {
    let code = app.code().await;
    let form = code_form(&app, &code);
    // R141: the registered localhost URI is not the one this code was issued for.
    for other in ["http://localhost:3000/callback", "http://127.0.0.1:3001/callback", "http://127.0.0.1:3000/callback/"]
    {
        assert_oauth_error(&app.token(&replace(&form, "redirect_uri", other)).await, 400, "invalid_grant");
    }
    // R141: the parameter may be omitted.
    assert_eq!(app.token(&remove(&form, "redirect_uri")).await.status, 200);
}

async fn resource_differing_from_the_granted_one_is_invalid_target(app: TestApp) {
    let code = app.code().await;
    let form = code_form(&app, &code);
    // R129: the code was granted for the demo resource only.
    for other in [SECOND_RESOURCE, "https://evil.example/mcp"] {
        assert_oauth_error(&app.token(&replace(&form, "resource", other)).await, 400, "invalid_target");
    }
    // Omitted, the granted resource applies; the token's audience is that resource (R128).
    let tokens = app.token(&remove(&form, "resource")).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.introspect(&access).await["aud"], app.resource.as_str());
}

async fn expired_code_is_invalid_grant(app: TestApp) {
    let code = app.code().await;
    // R140: codes live 60 seconds by default.
    app.clock.advance(61);
    assert_oauth_error(&app.exchange(&code).await, 400, "invalid_grant");
    assert_eq!(app.audit_count("token_issued").await, 0);
}

async fn missing_code_or_code_verifier_is_invalid_request(app: TestApp) {
    let code = app.code().await;
    let form = code_form(&app, &code);
    // R125: every code carries a challenge, so the verifier is required.
    assert_oauth_error(&app.token(&remove(&form, "code_verifier")).await, 400, "invalid_request");
    assert_oauth_error(&app.token(&replace(&form, "code_verifier", "")).await, 400, "invalid_request");
    assert_oauth_error(&app.token(&remove(&form, "code")).await, 400, "invalid_request");
    // The code was not used up by the malformed requests.
    assert_eq!(app.exchange(&code).await.status, 200);
}

async fn non_form_body_is_invalid_request(app: TestApp) {
    let code = app.code().await;
    let json: serde_json::Map<String, serde_json::Value> =
        code_form(&app, &code).into_iter().map(|(k, v)| (k.to_owned(), v.into())).collect();
    // R135: application/x-www-form-urlencoded only.
    let reply = app.http.post(app.url("/token")).json(&json).send().await.unwrap();
    let reply =
        Reply { status: reply.status().as_u16(), headers: reply.headers().clone(), body: reply.text().await.unwrap() };
    assert_oauth_error(&reply, 400, "invalid_request");
    // The same parameters in the query string with no body do not count either.
    let reply = app.http.post(app.url("/token")).query(&code_form(&app, &code)).send().await.unwrap();
    assert_eq!(reply.status(), 400);
    assert_eq!(app.exchange(&code).await.status, 200);
}

async fn repeated_parameter_is_invalid_request(app: TestApp) {
    let code = app.code().await;
    let mut form = code_form(&app, &code);
    form.push(("code_verifier", VERIFIER));
    // R135: repeated parameters are invalid, even with equal values.
    assert_oauth_error(&app.token(&form).await, 400, "invalid_request");
    let mut form = code_form(&app, &code);
    form.push(("client_id", PUBLIC_CLIENT));
    assert_oauth_error(&app.token(&form).await, 400, "invalid_request");
    // Unknown parameters are ignored.
    let mut form = code_form(&app, &code);
    form.push(("unknown", "1"));
    assert_eq!(app.token(&form).await.status, 200);
}

async fn unknown_or_missing_grant_type_is_rejected(app: TestApp) {
    // R137: unsupported_grant_type; implicit and password grants are gone (R113).
    let base = [("client_id", PUBLIC_CLIENT), ("username", USERNAME), ("password", PASSWORD)];
    for grant_type in ["password", "implicit", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"] {
        let mut form = base.to_vec();
        form.push(("grant_type", grant_type));
        assert_oauth_error(&app.token(&form).await, 400, "unsupported_grant_type");
    }
    assert_oauth_error(&app.token(&base).await, 400, "invalid_request");
}

async fn get_on_the_token_endpoint_is_405(app: TestApp) {
    // R135: POST only.
    let code = app.code().await;
    let reply = app.http.get(app.url("/token")).query(&code_form(&app, &code)).send().await.unwrap();
    assert_eq!(reply.status(), 405);
    assert!(reply.headers().get("allow").is_some_and(|v| v.to_str().unwrap().contains("POST")));
    assert_eq!(app.exchange(&code).await.status, 200);
}

async fn token_errors_are_json_with_error_and_description_and_no_store(app: TestApp) {
    let code = app.code().await;
    let form = code_form(&app, &code);
    let cases = [
        (400, "invalid_grant", app.token(&replace(&form, "code", "pc_unknown")).await),
        (400, "invalid_request", app.token(&remove(&form, "code_verifier")).await),
        (400, "invalid_target", app.token(&replace(&form, "resource", SECOND_RESOURCE)).await),
        (400, "unsupported_grant_type", app.token(&replace(&form, "grant_type", "password")).await),
        (401, "invalid_client", app.token(&replace(&form, "client_id", "nobody")).await),
    ];
    for (status, error, reply) in cases {
        // R137
        assert_oauth_error(&reply, status, error);
        assert!(reply.json().get("access_token").is_none());
    }
}

async fn confidential_client_redeems_its_code_with_http_basic_or_client_secret_post(app: TestApp) {
    let params = app.confidential_authorize_params();
    let (redirect, _) = app.authorize_through_browser(&params).await;
    assert!(redirect.location().starts_with(&format!("{CONFIDENTIAL_REDIRECT}?")), "{}", redirect.location());
    let code = redirect.location_param("code").unwrap();
    let tokens = app.exchange_confidential(&code).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    assert_eq!(tokens.header("cache-control").as_deref(), Some("no-store"));
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let introspection = app.introspect(&access).await;
    assert_eq!(introspection["client_id"], CONFIDENTIAL_CLIENT);

    // R144: client_secret_post is accepted too.
    let code = app.code_for(&params).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("client_id", CONFIDENTIAL_CLIENT),
        ("client_secret", CONFIDENTIAL_SECRET),
    ];
    let tokens = app.token(&form).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    // A confidential client's refresh token needs its secret too.
    let refresh = tokens.json()["refresh_token"].as_str().unwrap().to_owned();
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str()), ("client_id", CONFIDENTIAL_CLIENT)];
    assert_oauth_error(&app.token(&form).await, 401, "invalid_client");
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh.as_str())];
    assert_eq!(app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await.status, 200);
}

async fn wrong_secret_via_http_basic_is_401_with_a_basic_challenge(app: TestApp) {
    let code = app.code_for(&app.confidential_authorize_params()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
    ];
    let reply = app.token_basic(CONFIDENTIAL_CLIENT, "pcs_wrong-secret", &form).await;
    // R137: 401 with a matching WWW-Authenticate.
    assert_oauth_error(&reply, 401, "invalid_client");
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.to_ascii_lowercase().starts_with("basic"), "{challenge}");
    // The wrong secret did not consume the code.
    assert_eq!(app.exchange_confidential(&code).await.status, 200);
}

async fn confidential_client_without_its_secret_is_invalid_client(app: TestApp) {
    let code = app.code_for(&app.confidential_authorize_params()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("client_id", CONFIDENTIAL_CLIENT),
    ];
    // R138: confidential clients must authenticate.
    assert_oauth_error(&app.token(&form).await, 401, "invalid_client");
    assert_eq!(app.audit_count("token_issued").await, 0);
}

async fn basic_credentials_plus_client_secret_in_the_body_is_invalid_request(app: TestApp) {
    let code = app.code_for(&app.confidential_authorize_params()).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("redirect_uri", CONFIDENTIAL_REDIRECT),
        ("client_secret", CONFIDENTIAL_SECRET),
    ];
    // R138: no more than one authentication method per request.
    let reply = app.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await;
    assert_oauth_error(&reply, 400, "invalid_request");
    assert_eq!(app.audit_count("token_issued").await, 0);
}

async fn public_client_sending_a_secret_is_invalid_client(app: TestApp) {
    // R059, R137: a public client has no secret; presenting one is a failed authentication.
    let code = app.code().await;
    let form = code_form(&app, &code);
    let mut with_secret = form.clone();
    with_secret.push(("client_secret", "made-up"));
    assert_oauth_error(&app.token(&with_secret).await, 401, "invalid_client");
    let basic = app.token_basic(PUBLIC_CLIENT, "made-up", &remove(&form, "client_id")).await;
    assert_oauth_error(&basic, 401, "invalid_client");
    assert_eq!(app.exchange(&code).await.status, 200);
}

async fn unknown_or_missing_client_id_is_invalid_client(app: TestApp) {
    // R137, R138: every token request identifies its client.
    let code = app.code().await;
    let form = code_form(&app, &code);
    assert_oauth_error(&app.token(&replace(&form, "client_id", "no-such-client")).await, 401, "invalid_client");
    assert_oauth_error(&app.token(&remove(&form, "client_id")).await, 401, "invalid_client");
    assert_eq!(app.exchange(&code).await.status, 200);
}

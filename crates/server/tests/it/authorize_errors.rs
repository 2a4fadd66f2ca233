//! Errors of `/authorize`: a page when the client or redirect URI cannot be trusted (R111,
//! R112, R082), otherwise a redirect to the client with `error`, `state` and `iss` (R113,
//! R114, R118).

use crate::support::*;
use postern_store::test_support::Backend;

backend_tests!(
    missing_unknown_or_repeated_client_id_is_an_error_page_never_a_redirect,
    unregistered_or_mismatched_redirect_uri_is_an_error_page_never_a_redirect,
    loopback_redirect_uri_matches_any_port_and_the_code_goes_to_that_exact_port,
    pkce_problems_are_redirected_as_invalid_request,
    response_type_token_is_redirected_as_unsupported_response_type,
    unknown_scope_is_redirected_as_invalid_scope,
    unknown_or_repeated_resource_is_redirected_as_invalid_target,
    repeated_state_or_scope_is_redirected_as_invalid_request,
    unknown_parameters_are_ignored_and_empty_values_count_as_absent,
    state_is_returned_exactly_as_sent,
    post_with_a_form_body_behaves_like_get,
    every_authorize_response_is_no_store_and_redirects_are_never_307,
    prompt_none_without_a_session_is_redirected_as_login_required,
    prompt_none_without_consent_is_redirected_as_consent_required;
    own_server: localhost_is_not_matched_against_a_registered_127_0_0_1_redirect_uri,
);

/// R111: shown to the user, with nothing sent to the (untrusted) redirect URI.
fn assert_error_page(reply: &Reply, why: &str) {
    assert_eq!(reply.status, 400, "{why}: {}", reply.body);
    assert!(reply.header("location").is_none(), "{why}: redirected to {:?}", reply.header("location"));
    assert!(reply.header("content-type").unwrap_or_default().starts_with("text/html"), "{why}");
    assert!(reply.body.contains("This sign-in request is not valid"), "{why}: {}", reply.body);
}

/// R113, R114, R118: back to the validated redirect URI with the error, `state` and `iss`.
fn assert_redirected_error(app: &TestApp, reply: &Reply, error: &str, why: &str) {
    assert_eq!(reply.status, 302, "{why}: {}", reply.body);
    assert!(reply.location().starts_with(&format!("{PUBLIC_REDIRECT}?")), "{why}: {}", reply.location());
    assert_eq!(reply.location_param("error").as_deref(), Some(error), "{why}: {}", reply.location());
    assert!(reply.location_param("error_description").is_some_and(|d| !d.is_empty()), "{why}");
    assert_eq!(reply.location_param("state").as_deref(), Some("xyz-state"), "{why}");
    assert_eq!(reply.location_param("iss").as_deref(), Some(app.issuer.as_str()), "{why}");
    assert!(reply.location_param("code").is_none(), "{why}");
}

/// The login page: the request was accepted.
fn assert_login_page(reply: &Reply, why: &str) {
    assert_eq!(reply.status, 200, "{why}: {}", reply.body);
    assert!(reply.body.contains("Sign in"), "{why}: {}", reply.body);
}

async fn missing_unknown_or_repeated_client_id_is_an_error_page_never_a_redirect(app: TestApp) {
    // R111: without a trusted client there is no trusted redirect URI.
    let params = app.authorize_params();
    let cases = [
        ("missing client_id", without_param(&params, "client_id")),
        ("empty client_id", with_param(&params, "client_id", "")),
        ("unknown client_id", with_param(&params, "client_id", "no-such-client")),
        ("repeated client_id", and_param(&params, "client_id", PUBLIC_CLIENT)),
        // Even with other errors present, nothing goes to a redirect URI of an unknown client.
        (
            "unknown client, bad response_type",
            with_param(&with_param(&params, "client_id", "x"), "response_type", "token"),
        ),
    ];
    for (why, case) in cases {
        assert_error_page(&app.authorize(&case, None).await, why);
    }
}

async fn unregistered_or_mismatched_redirect_uri_is_an_error_page_never_a_redirect(app: TestApp) {
    let params = app.authorize_params();
    let cases = [
        ("unregistered host", with_param(&params, "redirect_uri", "https://evil.example/callback")),
        // R112: exact string comparison, no prefixes or normalisation.
        ("other path", with_param(&params, "redirect_uri", "http://127.0.0.1:3000/callback2")),
        ("trailing slash", with_param(&params, "redirect_uri", "http://127.0.0.1:3000/callback/")),
        ("extra query", with_param(&params, "redirect_uri", "http://127.0.0.1:3000/callback?x=1")),
        ("https instead of http", with_param(&params, "redirect_uri", "https://127.0.0.1:3000/callback")),
        // §2.21: loopback any-port keeps the host; [::1] was never registered.
        ("other loopback host", with_param(&params, "redirect_uri", "http://[::1]:3000/callback")),
        ("loopback other port and path", with_param(&params, "redirect_uri", "http://127.0.0.1:51004/cb2")),
        ("repeated redirect_uri", and_param(&params, "redirect_uri", PUBLIC_REDIRECT)),
        // R106: two URIs are registered, so the request must name one.
        ("missing redirect_uri", without_param(&params, "redirect_uri")),
    ];
    for (why, case) in cases {
        assert_error_page(&app.authorize(&case, None).await, why);
    }
}

/// §4 Q1: no cross-host matching between `localhost` and `127.0.0.1`, on any port.
async fn localhost_is_not_matched_against_a_registered_127_0_0_1_redirect_uri(backend: Backend) {
    let app = TestApp::spawn_with(backend, |config| {
        config.clients[0].redirect_uris = vec![PUBLIC_REDIRECT.into()];
    })
    .await;
    let params = app.authorize_params();
    for uri in ["http://localhost:3000/callback", "http://localhost:51004/callback", "http://[::1]:3000/callback"] {
        assert_error_page(&app.authorize(&with_param(&params, "redirect_uri", uri), None).await, uri);
    }
    // R106: with a single registered URI the parameter may be omitted.
    assert_login_page(&app.authorize(&without_param(&params, "redirect_uri"), None).await, "only one registered");
}

async fn loopback_redirect_uri_matches_any_port_and_the_code_goes_to_that_exact_port(app: TestApp) {
    // R112, RFC 8252 §7.3: registered http://127.0.0.1:3000/callback.
    let redirect_uri = "http://127.0.0.1:51004/callback";
    let params = with_param(&app.authorize_params(), "redirect_uri", redirect_uri);
    let (redirect, _) = app.authorize_through_browser(&params).await;
    assert!(redirect.location().starts_with(&format!("{redirect_uri}?")), "{}", redirect.location());
    let code = redirect.location_param("code").unwrap();
    // R141: the code is bound to the port used, not to the registered one.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("code_verifier", VERIFIER),
        ("client_id", PUBLIC_CLIENT),
        ("redirect_uri", redirect_uri),
    ];
    let tokens = app.token(&form).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}

async fn pkce_problems_are_redirected_as_invalid_request(app: TestApp) {
    let params = app.authorize_params();
    let verifier_as_challenge = VERIFIER; // 43 valid characters, but S256 of nothing we hold
    let cases = [
        // R121: a challenge is always required.
        ("missing code_challenge", without_param(&params, "code_challenge")),
        ("empty code_challenge", with_param(&params, "code_challenge", "")),
        // R122: plain is not supported, and an absent method means plain.
        ("method plain", with_param(&params, "code_challenge_method", "plain")),
        ("missing method", without_param(&params, "code_challenge_method")),
        ("unknown method", with_param(&params, "code_challenge_method", "S512")),
        // R123: S256 output is 43 characters of the unreserved set.
        ("short challenge", with_param(&params, "code_challenge", "abc")),
        ("bad characters", with_param(&params, "code_challenge", &format!("{}+/", &verifier_as_challenge[..41]))),
        ("too long", with_param(&params, "code_challenge", &"a".repeat(129))),
    ];
    for (why, case) in cases {
        assert_redirected_error(&app, &app.authorize(&case, None).await, "invalid_request", why);
    }
    // The well-formed S256 request is accepted.
    assert_login_page(&app.authorize(&params, None).await, "valid");
    assert_eq!(app.audit_count("code_issued").await, 0);
}

async fn response_type_token_is_redirected_as_unsupported_response_type(app: TestApp) {
    let params = app.authorize_params();
    // R113: the implicit grant is gone.
    for value in ["token", "id_token", "code token"] {
        let reply = app.authorize(&with_param(&params, "response_type", value), None).await;
        assert_redirected_error(&app, &reply, "unsupported_response_type", value);
    }
    let reply = app.authorize(&without_param(&params, "response_type"), None).await;
    assert_redirected_error(&app, &reply, "invalid_request", "missing response_type");
}

async fn unknown_scope_is_redirected_as_invalid_scope(app: TestApp) {
    // R113: invalid_scope goes back to the client.
    let params = app.authorize_params();
    for scope in ["mcp:admin", "mcp:read mcp:admin", "files:read"] {
        // files:read belongs to the second resource, not to the one requested.
        let reply = app.authorize(&with_param(&params, "scope", scope), None).await;
        assert_redirected_error(&app, &reply, "invalid_scope", scope);
    }
}

async fn unknown_or_repeated_resource_is_redirected_as_invalid_target(app: TestApp) {
    let params = app.authorize_params();
    let cases = [
        // R127, R129
        ("unknown resource", with_param(&params, "resource", "https://evil.example/mcp")),
        ("resource with fragment", with_param(&params, "resource", &format!("{}#f", app.resource))),
        // Tokens carry one audience, so two resources cannot be granted at once.
        ("two resources", and_param(&params, "resource", SECOND_RESOURCE)),
        // R130: two resources are configured, so there is no default to fall back on.
        ("missing resource", without_param(&params, "resource")),
    ];
    for (why, case) in cases {
        assert_redirected_error(&app, &app.authorize(&case, None).await, "invalid_target", why);
    }
}

async fn repeated_state_or_scope_is_redirected_as_invalid_request(app: TestApp) {
    let params = app.authorize_params();
    // R110: a repeated parameter is invalid_request.
    let reply = app.authorize(&and_param(&params, "scope", "mcp:write"), None).await;
    assert_redirected_error(&app, &reply, "invalid_request", "repeated scope");
    for name in ["code_challenge", "response_type", "prompt"] {
        let value = params.iter().find(|(n, _)| n == name).map_or("none", |(_, v)| v.as_str()).to_owned();
        let case = and_param(&and_param(&params, name, &value), name, &value);
        assert_redirected_error(&app, &app.authorize(&case, None).await, "invalid_request", name);
    }
    // With two states there is no single state to return; the error still carries iss.
    let reply = app.authorize(&and_param(&params, "state", "other"), None).await;
    assert_eq!(reply.status, 302);
    assert_eq!(reply.location_param("error").as_deref(), Some("invalid_request"));
    assert_eq!(reply.location_param("iss").as_deref(), Some(app.issuer.as_str()));
    assert!(reply.location_param("code").is_none());
}

async fn unknown_parameters_are_ignored_and_empty_values_count_as_absent(app: TestApp) {
    let params = app.authorize_params();
    // R110: unknown parameters are ignored, even repeated ones.
    let unknown = and_param(&and_param(&and_param(&params, "foo", "1"), "foo", "2"), "nonce", "n");
    assert_login_page(&app.authorize(&unknown, None).await, "unknown parameters");
    // R110: an empty value is the same as no parameter.
    let empty = and_param(&and_param(&params, "prompt", ""), "scope", "");
    assert_login_page(&app.authorize(&empty, None).await, "empty prompt and repeated empty scope");
    let reply = app.authorize(&with_param(&params, "code_challenge", ""), None).await;
    assert_redirected_error(&app, &reply, "invalid_request", "empty code_challenge");
    let reply = app.authorize(&with_param(&params, "resource", ""), None).await;
    assert_redirected_error(&app, &reply, "invalid_target", "empty resource is absent");
    // An empty state is not sent back.
    let case = with_param(&without_param(&params, "code_challenge"), "state", "");
    let reply = app.authorize(&case, None).await;
    assert_eq!(reply.location_param("error").as_deref(), Some("invalid_request"));
    assert!(reply.location_params().iter().all(|(n, _)| n != "state"), "{}", reply.location());
}

async fn state_is_returned_exactly_as_sent(app: TestApp) {
    // R114: byte for byte, including characters that need encoding.
    let state = "a b&c=d/é+%20~";
    let params = with_param(&app.authorize_params(), "state", state);
    let reply = app.authorize(&without_param(&params, "code_challenge"), None).await;
    assert_eq!(reply.location_param("state").as_deref(), Some(state));
    let (redirect, _) = app.authorize_through_browser(&params).await;
    assert_eq!(redirect.location_param("state").as_deref(), Some(state));
    assert!(redirect.location_param("code").is_some());
}

async fn post_with_a_form_body_behaves_like_get(app: TestApp) {
    // R110: POST with a form body is the same request.
    let params = app.authorize_params();
    let page = app.post_form("/authorize", None, &params).await;
    assert_login_page(&page, "POST");
    let cookie = page.session_cookie().expect("anonymous cookie");
    let (consent_page, cookie) = app.login(&page, &cookie, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    let redirect = app.consent(&consent_page, &cookie, &params, "approve").await;
    let code = redirect.location_param("code").unwrap();
    assert_eq!(app.exchange(&code).await.status, 200);

    // Errors are the same too; R115: a POST is answered with 303.
    let reply = app.post_form("/authorize", None, &without_param(&params, "code_challenge")).await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.location_param("error").as_deref(), Some("invalid_request"));
    assert_eq!(reply.location_param("state").as_deref(), Some("xyz-state"));
    assert_eq!(reply.location_param("iss").as_deref(), Some(app.issuer.as_str()));
    assert_error_page(
        &app.post_form("/authorize", None, &without_param(&params, "client_id")).await,
        "POST, no client",
    );
    // A signed-in POST with remembered consent gets the code directly, by 303.
    let again = app.post_form("/authorize", Some(&cookie), &params).await;
    assert_eq!(again.status, 303, "{}", again.body);
    assert!(again.location_param("code").is_some());
}

async fn every_authorize_response_is_no_store_and_redirects_are_never_307(app: TestApp) {
    let params = app.authorize_params();
    let (_, cookie) = app.authorize_through_browser(&params).await;
    let replies = [
        ("login page", app.authorize(&params, None).await),
        ("error page", app.authorize(&without_param(&params, "client_id"), None).await),
        ("error redirect", app.authorize(&without_param(&params, "code_challenge"), None).await),
        ("code redirect", app.authorize(&params, Some(&cookie)).await),
        ("consent page", app.authorize(&and_param(&params, "prompt", "consent"), Some(&cookie)).await),
        ("POST error redirect", app.post_form("/authorize", None, &without_param(&params, "code_challenge")).await),
    ];
    for (why, reply) in replies {
        // R116
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"), "{why}");
        // R115: 302 or 303, never 307/308.
        assert!(![307, 308].contains(&reply.status), "{why}: {}", reply.status);
        if why.ends_with("redirect") {
            let expected = if why.starts_with("POST") { 303 } else { 302 };
            assert_eq!(reply.status, expected, "{why}");
        }
        // R110: no CORS on the authorization endpoint.
        assert!(reply.header("access-control-allow-origin").is_none(), "{why}");
    }
    let with_origin = app
        .http
        .get(app.url("/authorize"))
        .query(&params)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(with_origin.headers().get("access-control-allow-origin").is_none());
}

async fn prompt_none_without_a_session_is_redirected_as_login_required(app: TestApp) {
    // R093: silent prompt=none is the only redirect without a signed-in user; R113, R118.
    let params = and_param(&app.authorize_params(), "prompt", "none");
    assert_redirected_error(&app, &app.authorize(&params, None).await, "login_required", "no cookie");
    // An anonymous cookie is not a session either.
    let page = app.authorize(&app.authorize_params(), None).await;
    let anonymous = page.session_cookie().unwrap();
    assert_redirected_error(&app, &app.authorize(&params, Some(&anonymous)).await, "login_required", "anonymous");
}

async fn prompt_none_without_consent_is_redirected_as_consent_required(app: TestApp) {
    // R093, R113: prompt=none never shows a page, so missing consent is an error redirect.
    let params = app.authorize_params();
    let page = app.authorize(&params, None).await;
    let (consent_page, cookie) = app.login(&page, &page.session_cookie().unwrap(), &params, PASSWORD).await;
    assert!(consent_page.body.contains("Authorize access"), "{}", consent_page.body);
    // Signed in, but the consent page was never answered.
    let silent = and_param(&params, "prompt", "none");
    assert_redirected_error(&app, &app.authorize(&silent, Some(&cookie)).await, "consent_required", "no consent");
    // Once consent is given, prompt=none returns a code.
    app.consent(&consent_page, &cookie, &params, "approve").await;
    let reply = app.authorize(&silent, Some(&cookie)).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(reply.location_param("code").is_some());
}

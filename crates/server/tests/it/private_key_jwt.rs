//! `private_key_jwt` (RFC 7523, R142) for a pre-registered client whose public keys are in the
//! configuration (`jwks`). The CIMD client with `jwks_uri` is in `cimd_flow`.

use crate::support::*;
use postern_core::Clock;
use postern_server::config::ClientConfig;
use postern_store::test_support::Backend;
use serde_json::json;

backend_tests!(; own_server: r142_a_pre_registered_client_authenticates_with_signed_assertions);

const CLIENT: &str = "jwt-client";
const REDIRECT: &str = "https://jwt.example/cb";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

async fn r142_a_pre_registered_client_authenticates_with_signed_assertions(backend: Backend) {
    let key = ClientKey::generate("k1");
    let jwks = json!({ "keys": [key.public] }).to_string();
    let app = TestApp::spawn_with(backend, |config| {
        config.clients.push(ClientConfig {
            client_id: CLIENT.into(),
            client_name: Some("JWT client".into()),
            redirect_uris: vec![REDIRECT.into()],
            token_endpoint_auth_method: "private_key_jwt".into(),
            client_secret_sha256: None,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: None,
            jwks: Some(jwks),
            jwks_uri: None,
        });
    })
    .await;
    let now = app.clock.now();
    let token_endpoint = app.url("/token");
    let params = with_param(&with_param(&app.authorize_params(), "client_id", CLIENT), "redirect_uri", REDIRECT);
    let code = app.code_for(&params).await;
    let exchange = |extra: &[(&'static str, &str)]| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("code_verifier", VERIFIER.to_owned()),
            ("client_id", CLIENT.to_owned()),
        ];
        form.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        form
    };
    let post = |path: &str, form: Vec<(&'static str, String)>| {
        let request = app.http.post(app.url(path)).form(&form);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };

    // No assertion, a secret instead, a wrong issuer, a wrong audience, an expired assertion:
    // each is invalid_client with a description that says what to fix.
    let (status, body) = post("/token", exchange(&[])).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("private_key_jwt"), "{body}");
    let (status, _) = post("/token", exchange(&[("client_secret", "guess")])).await;
    assert_eq!(status, 401);
    let other_issuer = key.assertion("someone-else", &token_endpoint, "j-1", now);
    let (status, body) =
        post("/token", exchange(&[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &other_issuer)]))
            .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
    let elsewhere = key.assertion(CLIENT, "https://other-as.example/token", "j-2", now);
    let (status, body) =
        post("/token", exchange(&[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &elsewhere)])).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("aud"), "{body}");
    let expired = key.assertion(CLIENT, &token_endpoint, "j-3", now - 600);
    let (status, body) =
        post("/token", exchange(&[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &expired)])).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error_description"].as_str().unwrap().contains("expired"), "{body}");
    let (status, body) =
        post("/token", exchange(&[("client_assertion_type", "urn:example:other"), ("client_assertion", "x.y.z")]))
            .await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");

    // The right assertion: tokens (the failed attempts did not burn the code).
    let good = key.assertion(CLIENT, &token_endpoint, "j-4", now);
    let (status, body) =
        post("/token", exchange(&[("client_assertion_type", ASSERTION_TYPE), ("client_assertion", &good)])).await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();

    // The same client introspects with an assertion addressed to the introspection endpoint.
    let for_introspection = key.assertion(CLIENT, &app.url("/introspect"), "j-5", now);
    let (status, body) = post(
        "/introspect",
        vec![
            ("token", access),
            ("client_assertion_type", ASSERTION_TYPE.to_owned()),
            ("client_assertion", for_introspection),
        ],
    )
    .await;
    assert_eq!((status, body["active"].as_bool()), (200, Some(true)), "{body}");
}

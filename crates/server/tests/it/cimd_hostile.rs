//! Client ID Metadata Documents that are wrong or hostile (issue 3 "Done means"): the fixture
//! serves documents that differ from their URL, carry secrets, fail, redirect to internal
//! addresses, are too large, compressed, of the wrong type, not JSON or too slow. Each is refused
//! with a page that tells the client's developer what is wrong, never a redirect (R086), and
//! never cached (R089). Also: the URL rules that apply before any I/O (R060-R062), a name that
//! resolves to a blocked address (R068), one fetch for 1,000 concurrent requests, logos served
//! from Postern's origin (R090), the AS metadata, and prompt=none for an unfetched client.

use crate::support::*;
use postern_server::config::Config;
use postern_store::test_support::Backend;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

backend_tests!(
    ;
    own_server:
    r076_a_client_id_differing_by_a_trailing_slash_is_refused,
    r076_a_client_id_differing_in_case_is_refused,
    r079_a_document_with_a_client_secret_is_refused,
    r078_a_shared_secret_auth_method_is_refused,
    r079_private_key_material_in_jwks_is_refused,
    r066_a_status_other_than_200_is_refused,
    r067_a_redirect_is_never_followed,
    r070_an_oversize_document_is_refused,
    r070_the_configured_document_size_limit_applies,
    r070_a_compressed_document_is_refused,
    r075_a_wrong_content_type_is_refused,
    r075_a_body_that_is_not_a_json_object_is_refused,
    r071_a_slow_server_times_out,
    r082_a_redirect_uri_not_in_the_document_gets_a_page_listing_the_registered_ones,
    r060_r062_client_id_url_rules_apply_before_any_fetch,
    r061_a_query_is_accepted_when_configured,
    r068_a_name_resolving_to_a_blocked_address_is_refused,
    one_thousand_concurrent_requests_for_an_uncached_client_cause_one_fetch,
    r090_a_png_logo_is_served_from_postern_s_own_origin,
    r090_svg_blocked_and_unknown_logos_are_not_served,
    as_metadata_advertises_metadata_documents_unless_disabled,
    r093_prompt_none_for_an_unfetched_client_without_a_session_is_a_page,
);

const REDIRECT: &str = "https://app.example/callback";
const NOT_VERIFIED: &str = "This application could not be verified";

/// The standard request, for a metadata-document client.
fn cimd_params(app: &TestApp, client_id: &str, redirect_uri: &str) -> Vec<(String, String)> {
    let params = with_param(&app.authorize_params(), "client_id", client_id);
    with_param(&params, "redirect_uri", redirect_uri)
}

/// A 200 with `content_type` and exactly `body`.
fn raw(content_type: &str, body: &[u8]) -> Route {
    Route { body: body.to_vec(), ..Route::json(&json!({})) }.content_type(content_type)
}

/// The page's text with the HTML escapes undone, to compare with the server's messages.
fn text(reply: &Reply) -> String {
    reply
        .body
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#38;", "&")
        .replace("&amp;", "&")
}

/// R086: a refusal is an HTML page with `title` whose message contains `fragment`, never a
/// redirect.
#[track_caller]
fn assert_page(reply: &Reply, status: u16, title: &str, fragment: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.header("location").is_none(), "never a redirect: {:?}", reply.headers);
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let text = text(reply);
    assert!(text.contains(&format!("<h1>{title}</h1>")), "title {title:?} expected: {text}");
    assert!(text.contains(fragment), "expected {fragment:?} in: {text}");
}

/// The page for a document that could not be fetched or validated.
#[track_caller]
fn assert_not_verified(reply: &Reply, fragment: &str) {
    assert_page(reply, 400, NOT_VERIFIED, fragment);
    assert!(text(reply).contains("The application's developer must fix this"), "{}", reply.body);
}

/// The `outcome` of every audited fetch of `url`.
async fn fetch_outcomes(app: &TestApp, url: &str) -> Vec<String> {
    let events = app.store.recent_audit_events(1000).await.unwrap();
    events
        .iter()
        .filter(|e| e.kind == "outbound_fetch")
        .filter_map(|e| serde_json::from_str::<Value>(e.detail.as_deref()?).ok())
        .filter(|detail| detail["url"] == url)
        .map(|detail| detail["outcome"].as_str().unwrap().to_owned())
        .collect()
}

/// Signs in on the login page of `params`' request, which is when a metadata document not yet
/// cached is fetched (SEP-991). Returns the reply to the sign-in and the signed-in cookie.
async fn sign_in(app: &TestApp, params: &[(String, String)]) -> (Reply, String) {
    let login_page = app.authorize(params, None).await;
    assert_eq!(login_page.status, 200, "login page expected: {}", login_page.body);
    let anonymous = login_page.session_cookie().unwrap();
    app.login(&login_page, &anonymous, params, PASSWORD).await
}

/// A server with the fixture and one client_id whose document is `route`.
struct Scenario {
    // The server goes first: it must stop before the fixture does.
    app: TestApp,
    documents: DocumentServer,
    path: &'static str,
    client_id: String,
    params: Vec<(String, String)>,
}

impl Scenario {
    /// `route` gets the client_id (the URL of `path`).
    async fn start(
        backend: Backend,
        path: &'static str,
        route: impl FnOnce(&str) -> Route,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let documents = DocumentServer::start().await;
        let client_id = documents.url(path);
        documents.serve(path, route(&client_id));
        let app = TestApp::spawn_with_documents(backend, &documents, adjust).await;
        let params = cimd_params(&app, &client_id, REDIRECT);
        Self { app, documents, path, client_id, params }
    }

    fn hits(&self) -> usize {
        self.documents.hits(self.path)
    }
}

/// The document is refused at sign-in with a page containing `fragment`, and `outcome` is the
/// audited fetch's outcome. A failure is never cached (R089): the user, signed in now, tries
/// again, the document is fetched again and refused the same way.
async fn assert_document_refused(scenario: &Scenario, fragment: &str, outcome: &str) {
    let (reply, cookie) = sign_in(&scenario.app, &scenario.params).await;
    assert_not_verified(&reply, fragment);
    assert_eq!(scenario.hits(), 1, "fetched once, at sign-in");
    let again = scenario.app.authorize(&scenario.params, Some(&cookie)).await;
    assert_not_verified(&again, fragment);
    assert_eq!(scenario.hits(), 2, "R089: a refused document is not cached");
    assert_eq!(fetch_outcomes(&scenario.app, &scenario.client_id).await, [outcome, outcome]);
    // Nothing was recorded as the client's document.
    let record = scenario.app.store.find_cimd_client(&scenario.client_id).await.unwrap();
    assert!(record.is_none_or(|r| r.snapshot.is_none()), "a refused document is not kept");
}

async fn r076_a_client_id_differing_by_a_trailing_slash_is_refused(backend: Backend) {
    let path = "/tools/client";
    let scenario = Scenario::start(
        backend,
        path,
        |client_id| Route::json(&client_document(&format!("{client_id}/"), "Slash", &[REDIRECT])),
        |_| {},
    )
    .await;
    let id = &scenario.client_id;
    let expected = format!(
        "the document's client_id \"{id}/\" differs from the URL it was fetched from \"{id}\"; they must be \
         identical, byte for byte (R076)"
    );
    assert_document_refused(&scenario, &expected, "ok").await;
}

async fn r076_a_client_id_differing_in_case_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/tools/client.json",
        |client_id| {
            let shouted = client_id.replace("/tools/client.json", "/Tools/Client.json");
            Route::json(&client_document(&shouted, "Case", &[REDIRECT]))
        },
        |_| {},
    )
    .await;
    let expected = format!(
        "the document's client_id \"{}\" differs from the URL it was fetched from \"{}\"",
        scenario.client_id.replace("/tools/client.json", "/Tools/Client.json"),
        scenario.client_id
    );
    assert_document_refused(&scenario, &expected, "ok").await;
}

async fn r079_a_document_with_a_client_secret_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/secret/client.json",
        |client_id| {
            let mut document = client_document(client_id, "Leaky", &[REDIRECT]);
            document["client_secret"] = json!("leaked-s3cret-value");
            Route::json(&document)
        },
        |_| {},
    )
    .await;
    assert_document_refused(&scenario, "the document must not contain \"client_secret\" (R079)", "ok").await;
    let (reply, _) = sign_in(&scenario.app, &scenario.params).await;
    assert!(!reply.body.contains("leaked-s3cret-value"), "the page never repeats the secret: {}", reply.body);
}

async fn r078_a_shared_secret_auth_method_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/basic/client.json",
        |client_id| {
            let mut document = client_document(client_id, "Basic", &[REDIRECT]);
            document["token_endpoint_auth_method"] = json!("client_secret_basic");
            Route::json(&document)
        },
        |_| {},
    )
    .await;
    let expected = "token_endpoint_auth_method \"client_secret_basic\" uses a shared secret, which a public metadata \
                    document cannot carry; use \"none\" or \"private_key_jwt\" (R078)";
    assert_document_refused(&scenario, expected, "ok").await;
}

async fn r079_private_key_material_in_jwks_is_refused(backend: Backend) {
    // RFC 7517 appendix A.2's example EC key, private part included.
    let private_d = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE";
    let scenario = Scenario::start(
        backend,
        "/keys/client.json",
        |client_id| {
            let mut document = client_document(client_id, "Keys", &[REDIRECT]);
            document["token_endpoint_auth_method"] = json!("private_key_jwt");
            document["jwks"] = json!({ "keys": [{
                "kty": "EC",
                "crv": "P-256",
                "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
                "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
                "d": private_d,
                "kid": "1",
            }]});
            Route::json(&document)
        },
        |_| {},
    )
    .await;
    let expected = "jwks contains private key material (member \"d\"); publish public keys only (R079)";
    assert_document_refused(&scenario, expected, "ok").await;
    let (reply, _) = sign_in(&scenario.app, &scenario.params).await;
    assert!(!reply.body.contains(private_d), "the page never repeats the key: {}", reply.body);
}

async fn r066_a_status_other_than_200_is_refused(backend: Backend) {
    for status in [404, 500] {
        let scenario = Scenario::start(
            backend,
            "/unavailable/client.json",
            |client_id| Route::json(&client_document(client_id, "Unavailable", &[REDIRECT])).status(status),
            |_| {},
        )
        .await;
        let expected = format!("client metadata document fetch returned HTTP status {status}; only 200 is accepted");
        assert_document_refused(&scenario, &expected, "status").await;
    }
}

async fn r067_a_redirect_is_never_followed(backend: Backend) {
    let metadata_address = "http://169.254.169.254/latest/meta-data/";
    let scenario = Scenario::start(
        backend,
        "/moved/client.json",
        |_| Route::json(&json!({})).status(302).header("location", metadata_address),
        |_| {},
    )
    .await;
    let expected = format!(
        "client metadata document could not be fetched: redirects are not followed (status 302 to {metadata_address})"
    );
    assert_document_refused(&scenario, &expected, "redirect").await;

    // Not even to a good copy of the document on the same host: the target is never requested.
    let target = "/elsewhere/client.json";
    let target_url = scenario.documents.url(target);
    scenario.documents.serve(target, Route::json(&client_document(&scenario.client_id, "Moved", &[REDIRECT])));
    scenario.documents.serve(scenario.path, Route::json(&json!({})).status(301).header("location", &target_url));
    let expected = format!("redirects are not followed (status 301 to {target_url})");
    let (reply, cookie) = sign_in(&scenario.app, &scenario.params).await;
    assert_not_verified(&reply, &expected);
    let reply = scenario.app.authorize(&scenario.params, Some(&cookie)).await;
    assert_not_verified(&reply, &expected);
    assert_eq!(scenario.documents.hits(target), 0, "R067: the redirect target is never fetched");
    assert_eq!(scenario.documents.tls.hits.total(), 4, "only the client_id URL itself was requested");
    assert_eq!(fetch_outcomes(&scenario.app, metadata_address).await, Vec::<String>::new());
}

/// A valid document padded with an unknown member to at least `size` bytes.
fn padded_document(client_id: &str, size: usize) -> Value {
    let mut document = client_document(client_id, "Padded", &[REDIRECT]);
    document["padding"] = json!("x".repeat(size));
    document
}

async fn r070_an_oversize_document_is_refused(backend: Backend) {
    let mut size = 0;
    let scenario = Scenario::start(
        backend,
        "/big/client.json",
        |client_id| {
            let route = Route::json(&padded_document(client_id, 20 * 1024));
            size = route.body.len();
            route
        },
        |_| {},
    )
    .await;
    // The default limit is 16 KiB; the declared Content-Length is enough to refuse.
    let expected = format!("client metadata document is {size} bytes, over the 16384-byte limit");
    assert_document_refused(&scenario, &expected, "too_large").await;
}

async fn r070_the_configured_document_size_limit_applies(backend: Backend) {
    let path = "/medium/client.json";
    let documents = DocumentServer::start().await;
    let client_id = documents.url(path);
    let route = Route::json(&padded_document(&client_id, 3000));
    let size = route.body.len();
    documents.serve(path, route);

    // Under the default 16 KiB limit this document is fine...
    let roomy = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let (consent_page, _) = sign_in(&roomy, &cimd_params(&roomy, &client_id, REDIRECT)).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Authorize access"), "{}", consent_page.body);
    drop(roomy);

    // ...and over a configured 2 KiB one.
    let strict =
        TestApp::spawn_with_documents(backend, &documents, |config| config.cimd.max_document_bytes = 2048).await;
    let params = cimd_params(&strict, &client_id, REDIRECT);
    let (reply, cookie) = sign_in(&strict, &params).await;
    assert_not_verified(&reply, &format!("client metadata document is {size} bytes, over the 2048-byte limit"));
    let again = strict.authorize(&params, Some(&cookie)).await;
    assert_not_verified(&again, "over the 2048-byte limit");
    assert_eq!(documents.hits(path), 3, "R089: fetched again after each refusal");
    assert_eq!(fetch_outcomes(&strict, &client_id).await, ["too_large", "too_large"]);
}

async fn r070_a_compressed_document_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/zipped/client.json",
        |_| {
            // Small when sent, 1 MiB once inflated.
            raw("application/json", &postern_fetch::test_fixture::gzip_bomb()).header("content-encoding", "gzip")
        },
        |_| {},
    )
    .await;
    let expected = "client metadata document is sent with Content-Encoding \"gzip\"; only uncompressed (identity) \
                    responses are accepted";
    assert_document_refused(&scenario, expected, "content_encoding").await;
}

async fn r075_a_wrong_content_type_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/html/client.json",
        |client_id| Route::json(&client_document(client_id, "Html", &[REDIRECT])).content_type("text/html"),
        |_| {},
    )
    .await;
    let expected =
        "client metadata document has content type \"text/html\"; expected application/json or application/<type>+json";
    assert_document_refused(&scenario, expected, "content_type").await;
}

async fn r075_a_body_that_is_not_a_json_object_is_refused(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/garbled/client.json",
        |client_id| raw("application/json", format!(r#"{{"client_id": "{client_id}", "#).as_bytes()),
        |_| {},
    )
    .await;
    assert_document_refused(&scenario, "the client metadata document is not valid JSON", "ok").await;
    // Valid JSON, but not an object.
    let array = json!([client_document(&scenario.client_id, "Array", &[REDIRECT])]);
    scenario.documents.serve(scenario.path, Route::json(&array));
    let (_, cookie) = sign_in(&scenario.app, &scenario.params).await;
    let reply = scenario.app.authorize(&scenario.params, Some(&cookie)).await;
    assert_not_verified(&reply, "the client metadata document must be a JSON object (R075)");
}

async fn r071_a_slow_server_times_out(backend: Backend) {
    let scenario = Scenario::start(
        backend,
        "/slow/client.json",
        |client_id| Route::json(&client_document(client_id, "Slow", &[REDIRECT])).delay(Duration::from_secs(3)),
        |config| config.outbound.total_timeout_ms = 500,
    )
    .await;
    let started = Instant::now();
    assert_document_refused(&scenario, "client metadata document was not received within 500ms", "timeout").await;
    assert!(started.elapsed() < Duration::from_secs(3), "two fetches gave up early: {:?}", started.elapsed());
}

async fn r082_a_redirect_uri_not_in_the_document_gets_a_page_listing_the_registered_ones(backend: Backend) {
    let registered = [REDIRECT, "http://127.0.0.1/callback"];
    let scenario = Scenario::start(
        backend,
        "/strict/client.json",
        |client_id| Route::json(&client_document(client_id, "Strict", &registered)),
        |_| {},
    )
    .await;
    let params = with_param(&scenario.params, "redirect_uri", "https://attacker.example/callback");
    let (reply, cookie) = sign_in(&scenario.app, &params).await;
    let expected = format!("The redirect_uri is not registered for this client. Registered: {}", registered.join(", "));
    assert_page(&reply, 400, "This sign-in request is not valid", &expected);
    assert!(!reply.body.contains("attacker.example"), "{}", reply.body);
    // The document itself is fine and cached; the request is what is wrong.
    let again = scenario.app.authorize(&params, Some(&cookie)).await;
    assert_page(&again, 400, "This sign-in request is not valid", &expected);
    // Exact match: a sub-path or another scheme is not registered either.
    for near in ["https://app.example/callback/x", "http://app.example/callback", "https://app.example/callback?x=1"] {
        let reply = scenario.app.authorize(&with_param(&params, "redirect_uri", near), Some(&cookie)).await;
        assert_page(&reply, 400, "This sign-in request is not valid", &expected);
    }
    assert_eq!(scenario.hits(), 1);
}

async fn r060_r062_client_id_url_rules_apply_before_any_fetch(backend: Backend) {
    let documents = DocumentServer::start().await;
    // Documents at every path a lenient server might end up fetching.
    for path in ["/client.json", "/a/client.json", "/a/", "/"] {
        documents.serve(path, Route::json(&client_document(&documents.url(path), "Lenient", &[REDIRECT])));
    }
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let port = documents.tls.addr.port();
    let dots = "must not contain . or .. path segments, also not percent-encoded (R062)";
    let cases = [
        (format!("http://cimd.test:{port}/client.json"), "client_id URL must use the https scheme (R060)"),
        (format!("https://cimd.test:{port}"), "client_id URL must have a path"),
        (format!("https://cimd.test:{port}/"), "client_id URL must have a path"),
        (documents.url("/a/../client.json"), dots),
        (documents.url("/./client.json"), dots),
        (documents.url("/a/%2e%2e/client.json"), dots),
        (documents.url("/a/%2E./client.json"), dots),
        (documents.url("/a/.%2e"), dots),
        (documents.url("/client.json#app"), "client_id URL must not contain a fragment (R060)"),
        (format!("https://user@cimd.test:{port}/client.json"), "must not contain a username or password (R060)"),
        (format!("https://user:pw@cimd.test:{port}/client.json"), "must not contain a username or password (R060)"),
        (documents.url("/client.json?v=1"), "client_id URL must not contain a query string (R061)"),
        (documents.url("/client json"), "must not contain whitespace, control characters or backslashes"),
    ];
    // Signed in (through the pre-registered client), so nothing but the URL rules stops a fetch.
    let (_, cookie) = app.authorize_through_browser(&app.authorize_params()).await;
    for (client_id, expected) in &cases {
        let params = cimd_params(&app, client_id, REDIRECT);
        for cookie in [None, Some(cookie.as_str())] {
            let reply = app.authorize(&params, cookie).await;
            assert_page(&reply, 400, "This application's client_id is not valid", expected);
        }
    }
    assert_eq!(documents.tls.hits.total(), 0, "nothing is fetched for an invalid client_id");
    assert_eq!(app.audit_count("outbound_fetch").await, 0);
}

async fn r061_a_query_is_accepted_when_configured(backend: Backend) {
    let documents = DocumentServer::start().await;
    let path = "/tenant/client.json";
    let client_id = documents.url(&format!("{path}?tenant=blue"));
    documents.serve(path, Route::json(&client_document(&client_id, "Tenant Blue", &[REDIRECT])));
    let app = TestApp::spawn_with_documents(backend, &documents, |config| config.cimd.allow_query = true).await;
    let params = cimd_params(&app, &client_id, REDIRECT);
    let login_page = app.authorize(&params, None).await;
    assert_eq!(login_page.status, 200, "{}", login_page.body);
    assert!(login_page.body.contains("name=\"password\""), "login page expected: {}", login_page.body);
    assert_eq!(documents.hits(path), 0);
    let anonymous = login_page.session_cookie().unwrap();
    let (consent_page, _) = app.login(&login_page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Tenant Blue"), "{}", consent_page.body);
    assert_eq!(documents.hits(path), 1);
}

async fn r068_a_name_resolving_to_a_blocked_address_is_refused(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/internal/client.json", "Internal", &[REDIRECT]);
    // The test resolver answers cimd.test with 127.0.0.1; without the test's allowance,
    // loopback is special-use again.
    let app = TestApp::spawn_with_documents(backend, &documents, |config| config.outbound.allow_cidrs = vec![]).await;
    let params = cimd_params(&app, &client_id, REDIRECT);
    let (reply, cookie) = sign_in(&app, &params).await;
    let expected = "client metadata document host cimd.test resolves to 127.0.0.1, which Postern does not fetch \
                    from: loopback (127.0.0.0/8)";
    assert_not_verified(&reply, expected);
    let again = app.authorize(&params, Some(&cookie)).await;
    assert_not_verified(&again, expected);
    assert_eq!(documents.tls.hits.total(), 0, "no connection is made to a blocked address");
    assert_eq!(fetch_outcomes(&app, &client_id).await, ["blocked_address", "blocked_address"]);
}

async fn one_thousand_concurrent_requests_for_an_uncached_client_cause_one_fetch(backend: Backend) {
    const REQUESTS: usize = 1000;
    let documents = DocumentServer::start().await;
    let path = "/popular/client.json";
    let client_id = documents.url(path);
    // A slow document, so that requests arrive while its one fetch is in flight. Without
    // coalescing, each of those would fetch too, or be refused by the per-host fetch limit
    // (two at a time) with an error page instead of the consent page.
    let route = Route::json(&client_document(&client_id, "Popular", &[REDIRECT])).delay(Duration::from_millis(300));
    documents.serve(path, route);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let (_, cookie) = app.authorize_through_browser(&app.authorize_params()).await;
    let params = Arc::new(cimd_params(&app, &client_id, REDIRECT));
    let cookie = Arc::new(cookie);
    let authorize_url = app.url("/authorize");

    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..REQUESTS {
        let (http, url, params, cookie) = (app.http.clone(), authorize_url.clone(), params.clone(), cookie.clone());
        requests.spawn(async move {
            let response = http.get(url).query(&*params).header("cookie", &*cookie).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        });
    }
    let mut consent_pages = 0;
    while let Some(joined) = requests.join_next().await {
        let (status, body) = joined.unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("Authorize access") && body.contains("Popular"), "consent page expected: {body}");
        consent_pages += 1;
    }
    let elapsed = started.elapsed();
    eprintln!("{backend:?}: {REQUESTS} concurrent authorization requests took {elapsed:?}");
    assert_eq!(consent_pages, REQUESTS);
    assert_eq!(documents.hits(path), 1, "concurrent loads of one URL share one fetch");
    assert_eq!(fetch_outcomes(&app, &client_id).await, ["ok"]);
}

/// A 1x1 transparent PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx\x9cc\0\x01\0\0\x05\0\x01\r\n-\xb4\0\0\0\0IEND\xaeB`\x82";
const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;

/// Serves a document at `path` whose `logo_uri` is `logo_uri`; returns the client_id.
fn serve_with_logo(documents: &DocumentServer, path: &str, name: &str, logo_uri: &str) -> String {
    let client_id = documents.url(path);
    let mut document = client_document(&client_id, name, &[REDIRECT]);
    document["logo_uri"] = json!(logo_uri);
    documents.serve(path, Route::json(&document));
    client_id
}

/// `/client-logo?client_id=...`, as the consent page links it.
fn logo_path(client_id: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).append_pair("client_id", client_id).finish();
    format!("/client-logo?{query}")
}

async fn r090_a_png_logo_is_served_from_postern_s_own_origin(backend: Backend) {
    let documents = DocumentServer::start().await;
    documents.serve("/brand/logo.png", raw("image/png", PNG));
    let client_id = serve_with_logo(&documents, "/brand/client.json", "Branded", &documents.url("/brand/logo.png"));
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let params = cimd_params(&app, &client_id, REDIRECT);

    // The logo is fetched with the document, at sign-in, and linked on Postern's own origin.
    let (consent_page, cookie) = sign_in(&app, &params).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    let logo = logo_path(&client_id);
    let img = format!(r#"<img class="logo" src="{logo}""#);
    assert!(text(&consent_page).contains(&img), "{img} expected: {}", consent_page.body);
    assert!(!consent_page.body.contains("/brand/logo.png"), "the browser never contacts the client's server");
    assert!(consent_page.body.contains("(the name and logo above come from this site)"), "{}", consent_page.body);
    assert_eq!(documents.hits("/brand/logo.png"), 1);

    let response = app.http.get(format!("{}{logo}", app.origin)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(header("content-type").as_deref(), Some("image/png"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(&response.bytes().await.unwrap()[..], PNG);

    // Cached with the document: more consent pages and logo requests fetch nothing.
    let again = app.authorize(&params, Some(&cookie)).await;
    assert!(text(&again).contains(&img), "{}", again.body);
    assert_eq!(app.get(&logo).await.status, 200);
    assert_eq!((documents.hits("/brand/client.json"), documents.hits("/brand/logo.png")), (1, 1));
    let mut outcomes = fetch_outcomes(&app, &documents.url("/brand/logo.png")).await;
    outcomes.extend(fetch_outcomes(&app, &client_id).await);
    assert_eq!(outcomes, ["ok", "ok"]);
}

async fn r090_svg_blocked_and_unknown_logos_are_not_served(backend: Backend) {
    let documents = DocumentServer::start().await;
    documents.serve("/vector/logo.svg", raw("image/svg+xml", SVG.as_bytes()));
    let svg_client = serve_with_logo(&documents, "/vector/client.json", "Vector", &documents.url("/vector/logo.svg"));
    // R069: a logo at a special-use address is not fetched.
    let metadata_logo = "https://169.254.169.254/logo.png";
    let internal_client = serve_with_logo(&documents, "/internal/client.json", "Internal", metadata_logo);
    let never_seen = documents.serve_client("/never/client.json", "Never", &[REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;

    // SVG can carry script: the client is usable, but without a logo.
    let (consent_page, cookie) = sign_in(&app, &cimd_params(&app, &svg_client, REDIRECT)).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Vector"), "{}", consent_page.body);
    assert!(!consent_page.body.contains("<img"), "no logo expected: {}", consent_page.body);
    assert_eq!(documents.hits("/vector/logo.svg"), 1);
    assert_eq!(fetch_outcomes(&app, &documents.url("/vector/logo.svg")).await, ["content_type"]);
    assert_eq!(app.get(&logo_path(&svg_client)).await.status, 404);

    let consent_page = app.authorize(&cimd_params(&app, &internal_client, REDIRECT), Some(&cookie)).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(!consent_page.body.contains("<img"), "no logo expected: {}", consent_page.body);
    assert_eq!(fetch_outcomes(&app, metadata_logo).await, ["blocked_address"]);
    assert_eq!(app.get(&logo_path(&internal_client)).await.status, 404);

    // The logo endpoint never fetches: an unknown client has no logo, and stays unknown.
    assert_eq!(app.get(&logo_path(&never_seen)).await.status, 404);
    assert_eq!(app.get(&logo_path("https://elsewhere.test/client.json")).await.status, 404);
    assert_eq!(documents.hits("/never/client.json"), 0);
    assert_eq!(fetch_outcomes(&app, &never_seen).await, Vec::<String>::new());
}

async fn metadata(app: &TestApp) -> Value {
    app.get("/.well-known/oauth-authorization-server").await.json()
}

async fn as_metadata_advertises_metadata_documents_unless_disabled(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/client.json", "Unwanted", &[REDIRECT]);

    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let body = metadata(&app).await;
    assert_eq!(body["client_id_metadata_document_supported"], true, "{body}");
    let methods = body["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(methods.contains(&json!("none")) && methods.contains(&json!("private_key_jwt")), "{body}");
    drop(app);

    let app = TestApp::spawn_with_documents(backend, &documents, |config| config.cimd.enabled = false).await;
    let body = metadata(&app).await;
    assert_eq!(body["client_id_metadata_document_supported"], false, "{body}");
    let params = cimd_params(&app, &client_id, REDIRECT);
    let expected = "This server does not accept Client ID Metadata Documents (client_id URLs)";
    assert_page(&app.authorize(&params, None).await, 400, "This application is not registered", expected);
    let (_, cookie) = app.authorize_through_browser(&app.authorize_params()).await;
    assert_page(&app.authorize(&params, Some(&cookie)).await, 400, "This application is not registered", expected);
    assert_eq!(documents.hits("/client.json"), 0);
}

async fn r093_prompt_none_for_an_unfetched_client_without_a_session_is_a_page(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/silent/client.json", "Silent", &[REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let params = cimd_params(&app, &client_id, REDIRECT);
    let silent = and_param(&params, "prompt", "none");

    // Its redirect URIs are unknown until the document is fetched, which needs a signed-in
    // user: there is nowhere safe to send login_required.
    let reply = app.authorize(&silent, None).await;
    assert_page(&reply, 400, "Sign-in required", "prompt=none was requested, but you are not signed in");
    let anonymous = reply.session_cookie().unwrap();
    let reply = app.authorize(&silent, Some(&anonymous)).await;
    assert_page(&reply, 400, "Sign-in required", "prompt=none was requested, but you are not signed in");
    assert_eq!(documents.hits("/silent/client.json"), 0);

    // Once another user's sign-in has fetched (and cached) it, the redirect URI is verified and
    // login_required goes back to the client.
    let (redirect, _) = app.authorize_through_browser(&params).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    let reply = app.authorize(&silent, None).await;
    assert_eq!(reply.status, 302, "{}", reply.body);
    assert!(reply.location().starts_with(REDIRECT), "{}", reply.location());
    assert_eq!(reply.location_param("error").as_deref(), Some("login_required"));
    assert_eq!(documents.hits("/silent/client.json"), 1);
}

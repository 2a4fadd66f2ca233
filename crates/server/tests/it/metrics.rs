//! `GET /metrics` (Prometheus text): served only on the `metrics_listen` listener, never on the
//! authorization server's; the counters move with the events they name; the text parses.

use crate::support::*;
use postern_server::config::Config;
use postern_store::test_support::Backend;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

backend_tests!(
    the_authorization_server_listener_does_not_serve_metrics;
    own_server:
    only_the_metrics_listener_serves_metrics_and_nothing_else,
    the_scrape_is_prometheus_text_with_help_and_type_for_every_family,
    token_exchanges_count_by_grant_type_and_failures_count_no_token,
    registrations_count_by_outcome_and_the_dcr_rate_limit_rejection_shows,
    login_and_client_secret_throttling_count_by_limiter,
    cimd_fetches_count_by_outcome_and_cache_lookups_by_result,
);

/// A server whose `metrics_listen` is a free loopback port, and that listener's origin.
async fn spawn_with_metrics(backend: Backend, adjust: impl FnOnce(&mut Config)) -> (TestApp, String) {
    let addr = free_loopback_port();
    let app = TestApp::spawn_with(backend, |config| {
        config.metrics_listen = Some(addr.clone());
        adjust(config);
    })
    .await;
    (app, format!("http://{addr}"))
}

/// The server binds the address itself (as in production), so the test picks a port the
/// kernel just handed out and released.
fn free_loopback_port() -> String {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    probe.local_addr().unwrap().to_string()
}

async fn scrape(app: &TestApp, metrics_origin: &str) -> Scrape {
    let reply = app.http.get(format!("{metrics_origin}/metrics")).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    Scrape::parse(&reply.text().await.unwrap())
}

async fn the_authorization_server_listener_does_not_serve_metrics(app: TestApp) {
    assert_eq!(app.get("/metrics").await.status, 404);
}

async fn only_the_metrics_listener_serves_metrics_and_nothing_else(backend: Backend) {
    let (app, metrics) = spawn_with_metrics(backend, |_| {}).await;
    assert_eq!(app.get("/metrics").await.status, 404, "the authorization server's listener has no /metrics");
    assert_eq!(app.get("/healthz").await.status, 200);
    for path in ["/healthz", "/token", "/.well-known/oauth-authorization-server", "/metrics/"] {
        let status = app.http.get(format!("{metrics}{path}")).send().await.unwrap().status();
        assert_eq!(status, 404, "{path} on the metrics listener");
    }
    let scrape = scrape(&app, &metrics).await;
    // The 404 above went through the authorization server and counts there, by no path of its own.
    assert_eq!(scrape.value("postern_http_requests_total", &[("route", "unmatched"), ("status", "4xx")]), 1);
    assert_eq!(scrape.value("postern_http_requests_total", &[("route", "/healthz"), ("status", "2xx")]), 1);
}

async fn the_scrape_is_prometheus_text_with_help_and_type_for_every_family(backend: Backend) {
    let (app, metrics) = spawn_with_metrics(backend, |c| c.dcr.enabled = true).await;
    // Something on most families first, so the check covers non-zero series too.
    let _ = app.tokens().await;
    let registration = json!({ "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none" });
    let _ = app.http.post(app.url("/register")).json(&registration).send().await.unwrap();
    let scrape = scrape(&app, &metrics).await;
    for family in [
        "postern_http_requests_total",
        "postern_tokens_issued_total",
        "postern_cimd_document_fetches_total",
        "postern_cimd_document_cache_lookups_total",
        "postern_dcr_registrations_total",
        "postern_rate_limit_rejections_total",
    ] {
        assert_eq!(scrape.types.get(family).map(String::as_str), Some("counter"), "{family}");
        assert!(scrape.helps.contains(family), "{family} has no HELP");
    }
    assert_eq!(scrape.value("postern_dcr_registrations_total", &[("outcome", "created")]), 1);
    assert!(scrape.samples.len() > 100, "every series is exposed, zeros included");
}

async fn token_exchanges_count_by_grant_type_and_failures_count_no_token(backend: Backend) {
    let (app, metrics) = spawn_with_metrics(backend, |_| {}).await;
    let issued = |scrape: &Scrape, grant: &str| scrape.value("postern_tokens_issued_total", &[("grant_type", grant)]);
    let token_requests = |scrape: &Scrape, class: &str| {
        scrape.value("postern_http_requests_total", &[("route", "/token"), ("status", class)])
    };
    let before = scrape(&app, &metrics).await;
    assert_eq!((issued(&before, "authorization_code"), issued(&before, "refresh_token")), (0, 0));

    let code = app.code().await;
    let exchanged = app.exchange(&code).await;
    assert_eq!(exchanged.status, 200, "{}", exchanged.body);
    let after_exchange = scrape(&app, &metrics).await;
    assert_eq!(issued(&after_exchange, "authorization_code"), 1);
    assert_eq!(issued(&after_exchange, "refresh_token"), 0);
    assert_eq!(token_requests(&after_exchange, "2xx"), 1);

    let refreshed = app.refresh(exchanged.json()["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    // A replayed code is refused: a 4xx at /token and no token counted.
    assert_eq!(app.exchange(&code).await.status, 400);
    let end = scrape(&app, &metrics).await;
    assert_eq!(issued(&end, "authorization_code"), 1);
    assert_eq!(issued(&end, "refresh_token"), 1);
    assert_eq!((token_requests(&end, "2xx"), token_requests(&end, "4xx")), (2, 1));
}

async fn registrations_count_by_outcome_and_the_dcr_rate_limit_rejection_shows(backend: Backend) {
    let (app, metrics) = spawn_with_metrics(backend, |c| {
        c.dcr.enabled = true;
        c.dcr.registrations_per_ip_per_hour = 2;
    })
    .await;
    let metadata = json!({ "client_name": "Agent", "redirect_uris": ["http://127.0.0.1/callback"],
                           "token_endpoint_auth_method": "none" });
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.http.post(app.url("/register")).json(&metadata).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429], "created, deduplicated (same metadata, same address), rate-limited");
    let scrape = scrape(&app, &metrics).await;
    let registrations = |outcome| scrape.value("postern_dcr_registrations_total", &[("outcome", outcome)]);
    assert_eq!(
        [registrations("created"), registrations("deduplicated"), registrations("refused"), registrations("error")],
        [1, 1, 1, 0]
    );
    let rejections = |limiter| scrape.value("postern_rate_limit_rejections_total", &[("limiter", limiter)]);
    assert_eq!(
        [rejections("dcr"), rejections("login_ip"), rejections("login_user"), rejections("client_secret")],
        [1, 0, 0, 0]
    );
    assert_eq!(scrape.value("postern_http_requests_total", &[("route", "/register"), ("status", "4xx")]), 1);
    assert!(
        scrape.samples.iter().all(|s| s.labels.values().all(|v| !v.contains("dcr_") && !v.contains("127.0.0.1"))),
        "no client id or address ever becomes a label value"
    );
}

async fn login_and_client_secret_throttling_count_by_limiter(backend: Backend) {
    let (app, metrics) = spawn_with_metrics(backend, |_| {}).await;
    let params = app.authorize_params();
    let page = app.authorize(&params, None).await;
    let cookie = page.session_cookie().unwrap();
    // login.attempts_per_user_per_minute defaults to 5; the sixth attempt is refused unchecked.
    for attempt in 1..=6 {
        let (reply, _) = app.login(&page, &cookie, &params, &format!("wrong password {attempt}")).await;
        assert_eq!(reply.status, if attempt <= 5 { 401 } else { 429 }, "attempt {attempt}");
    }
    // Ten failed secret checks per client_id per minute; the eleventh is refused unchecked.
    let form = [("grant_type", "refresh_token"), ("refresh_token", "prt_unknown")];
    for attempt in 1..=11 {
        let reply = app.token_basic(CONFIDENTIAL_CLIENT, "pcs_wrong", &form).await;
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.body);
    }
    let scrape = scrape(&app, &metrics).await;
    let rejections = |limiter| scrape.value("postern_rate_limit_rejections_total", &[("limiter", limiter)]);
    assert_eq!(
        [rejections("login_user"), rejections("login_ip"), rejections("client_secret"), rejections("dcr")],
        [1, 0, 1, 0]
    );
}

async fn cimd_fetches_count_by_outcome_and_cache_lookups_by_result(backend: Backend) {
    let documents = DocumentServer::start().await;
    let good = documents.serve_client("/good.json", "Good Agent", &["http://127.0.0.1/callback"]);
    documents.serve("/gone.json", Route::json(&json!({})).status(404));
    let impostor = client_document("https://elsewhere.example/client.json", "Impostor", &["http://127.0.0.1/cb"]);
    documents.serve("/impostor.json", Route::json(&impostor));
    let addr = free_loopback_port();
    let app = TestApp::spawn_with_documents(backend, &documents, |c| c.metrics_listen = Some(addr.clone())).await;
    let metrics = format!("http://{addr}");
    let params_for = |client_id: &str| {
        with_param(
            &with_param(&app.authorize_params(), "client_id", client_id),
            "redirect_uri",
            "http://127.0.0.1/callback",
        )
    };

    // Login loads the document (a miss); the consent post finds it cached (a hit).
    let (redirect, cookie) = app.authorize_through_browser(&params_for(&good)).await;
    assert_eq!(redirect.status, 303, "{}", redirect.body);
    // Signed in with consent remembered: straight to a code (302 after a GET), from the cache.
    let again = app.authorize(&params_for(&good), Some(&cookie)).await;
    assert!(again.location_param("code").is_some(), "{} {}", again.status, again.body);
    for client_id in [documents.url("/gone.json"), documents.url("/impostor.json")] {
        let refused = app.authorize(&params_for(&client_id), Some(&cookie)).await;
        assert_eq!(refused.status, 400, "{}", refused.body);
    }

    let scrape = scrape(&app, &metrics).await;
    let fetches = |outcome| scrape.value("postern_cimd_document_fetches_total", &[("outcome", outcome)]);
    assert_eq!([fetches("ok"), fetches("status"), fetches("invalid_document"), fetches("timeout")], [1, 1, 1, 0]);
    let lookups = |result| scrape.value("postern_cimd_document_cache_lookups_total", &[("result", result)]);
    assert_eq!([lookups("hit"), lookups("miss"), lookups("coalesced")], [2, 3, 0]);
}

/// One parsed sample line.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, parsed as strictly as the format allows: every sample belongs to a family whose
/// `# TYPE` came before it, no family is declared twice, no series appears twice.
struct Scrape {
    types: BTreeMap<String, String>,
    helps: BTreeSet<String>,
    samples: Vec<Sample>,
}

impl Scrape {
    fn parse(text: &str) -> Self {
        assert!(text.ends_with('\n'), "the last line ends with a line feed");
        let mut scrape = Scrape { types: BTreeMap::new(), helps: BTreeSet::new(), samples: Vec::new() };
        let mut series = BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or_else(|| panic!("HELP without text: {line}"));
                assert!(is_metric_name(name) && !help.is_empty(), "{line}");
                assert!(scrape.helps.insert(name.to_owned()), "HELP twice: {line}");
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("TYPE without type: {line}"));
                assert!(is_metric_name(name), "{line}");
                assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{line}");
                assert!(!scrape.samples.iter().any(|s| s.name == name), "TYPE after samples: {line}");
                assert!(scrape.types.insert(name.to_owned(), kind.to_owned()).is_none(), "TYPE twice: {line}");
            } else {
                let sample = parse_sample(line);
                assert!(scrape.types.contains_key(&sample.name), "sample before its TYPE: {line}");
                assert!(series.insert((sample.name.clone(), sample.labels.clone())), "series twice: {line}");
                scrape.samples.push(sample);
            }
        }
        scrape
    }

    /// The value of one series; a missing series fails the test (a renamed metric must not
    /// read as zero).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let wanted: BTreeMap<String, String> = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let sample = self
            .samples
            .iter()
            .find(|s| s.name == name && s.labels == wanted)
            .unwrap_or_else(|| panic!("no series {name}{labels:?}"));
        assert!(sample.value >= 0.0 && sample.value.fract() == 0.0, "a counter: {}", sample.value);
        sample.value as u64
    }
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    is_metric_name(name) && !name.contains(':')
}

/// `name{label="value",...} value`, with `\\`, `\"` and `\n` escapes in label values.
fn parse_sample(line: &str) -> Sample {
    let bad = || -> ! { panic!("not a sample line: {line:?}") };
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| bad());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        bad();
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(mut inside) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inside.strip_prefix('}') {
                rest = after;
                break;
            }
            let (label, after) = inside.split_once("=\"").unwrap_or_else(|| bad());
            if !is_label_name(label) {
                bad();
            }
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().unwrap_or_else(|| bad()) {
                    (_, '\\') => match chars.next().unwrap_or_else(|| bad()).1 {
                        'n' => value.push('\n'),
                        c @ ('\\' | '"') => value.push(c),
                        _ => bad(),
                    },
                    (i, '"') => break i,
                    (_, c) => value.push(c),
                }
            };
            assert!(labels.insert(label.to_owned(), value).is_none(), "label twice: {line}");
            inside = &after[end + 1..];
            match inside.strip_prefix(',') {
                Some(next) => inside = next,
                None if inside.starts_with('}') => {}
                None => bad(),
            }
        }
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| bad());
    let value: f64 = value.parse().unwrap_or_else(|_| bad());
    Sample { name: name.to_owned(), labels, value }
}

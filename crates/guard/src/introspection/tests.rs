//! The introspection client against a stand-in authorization server on loopback: what it
//! sends, what it caches and for how long, and what it does when the endpoint misbehaves.
//! (tests/it runs the same mode against a real Postern.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::test_keys::{ISSUER, NOW, RESOURCE};
use crate::{FixedClock, Guard, GuardConfig};
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};

const CLIENT_ID: &str = "mcp-server";
const SECRET: &str = "pcs_introspection-secret";

/// What the stand-in received and how it answers.
#[derive(Default)]
struct Seen {
    /// `(Authorization header, form)` of every introspection request.
    requests: Mutex<Vec<(String, HashMap<String, String>)>>,
    /// Answers per token; unknown tokens are `{"active": false}`.
    answers: Mutex<HashMap<String, Value>>,
    metadata_fetches: AtomicUsize,
    /// When set, introspection requests wait until it is notified.
    gate: Mutex<Option<Arc<tokio::sync::Notify>>>,
}

struct FakeAs {
    origin: String,
    seen: Arc<Seen>,
}

async fn introspect(
    State(seen): State<Arc<Seen>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Json<Value> {
    let authorization = headers.get("authorization").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let token = form.get("token").cloned().unwrap_or_default();
    seen.requests.lock().unwrap().push((authorization, form));
    let gate = seen.gate.lock().unwrap().clone();
    if let Some(gate) = gate {
        gate.notified().await;
    }
    let answer = seen.answers.lock().unwrap().get(&token).cloned();
    Json(answer.unwrap_or_else(|| json!({"active": false})))
}

impl FakeAs {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Seen::default());
        let metadata = json!({"issuer": origin, "introspection_endpoint": format!("{origin}/introspect")});
        let app = Router::new()
            .route("/introspect", post(introspect))
            .route(
                "/.well-known/oauth-authorization-server",
                get(move |State(seen): State<Arc<Seen>>| {
                    seen.metadata_fetches.fetch_add(1, Ordering::SeqCst);
                    std::future::ready(Json(metadata.clone()))
                }),
            )
            .route(
                "/big",
                post(|| async { format!("{{\"active\":true,\"pad\":\"{}\"}}", "x".repeat(MAX_RESPONSE_BYTES)) }),
            )
            .route("/redirect", post(|| async { Redirect::temporary("/introspect") }))
            .route("/broken", post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no").into_response() }))
            .route("/unauthorized", post(|| async { (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid_client\"}") }))
            .route("/not-json", post(|| async { "<html>maintenance</html>" }))
            .with_state(seen.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { origin, seen }
    }

    /// Postern's answer for a live access token for [`RESOURCE`], expiring at `exp`.
    fn activate(&self, token: &str, exp: i64) {
        let answer = json!({
            "active": true, "token_type": "Bearer", "scope": "mcp:read", "client_id": "client-1", "sub": "user-1",
            "aud": RESOURCE, "iss": ISSUER, "exp": exp, "iat": NOW - 10, "jti": format!("jti-{token}"),
        });
        self.seen.answers.lock().unwrap().insert(token.to_owned(), answer);
    }

    fn revoke(&self, token: &str) {
        self.seen.answers.lock().unwrap().remove(token);
    }

    fn requests(&self) -> usize {
        self.seen.requests.lock().unwrap().len()
    }

    /// A guard in introspection mode at `path` of this server, on `clock`.
    fn guard(&self, path: &str, clock: &FixedClock, adjust: impl FnOnce(GuardConfig) -> GuardConfig) -> Guard {
        // The issuer is ISSUER (what tokens name); the endpoint is here.
        let config = GuardConfig::new(RESOURCE, ISSUER)
            .with_introspection(CLIENT_ID, SECRET)
            .with_introspection_endpoint(format!("{}{path}", self.origin))
            .with_clock(Arc::new(clock.clone()));
        Guard::new(adjust(config)).unwrap()
    }
}

fn introspector(guard: &Guard) -> &Introspector {
    guard.inner().introspection.as_ref().unwrap()
}

fn unavailable(verdict: &Verdict) -> String {
    match verdict {
        Err(TokenError::IntrospectionUnavailable(why)) => why.clone(),
        other => panic!("expected IntrospectionUnavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn r037_authenticates_with_client_secret_basic_and_posts_the_token_with_an_access_token_hint() {
    let fake = FakeAs::start().await;
    let guard = fake.guard("/introspect", &FixedClock::at(NOW), |c| c);
    fake.activate("tok-1", NOW + 3600);
    let identity = guard.verify("tok-1").await.unwrap();
    assert_eq!((identity.sub.as_str(), identity.jti.as_str()), ("user-1", "jti-tok-1"));
    let requests = fake.seen.requests.lock().unwrap().clone();
    let (authorization, form) = &requests[0];
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{SECRET}"));
    assert_eq!(authorization, &format!("Basic {expected}"));
    assert_eq!(
        form,
        &HashMap::from([("token".into(), "tok-1".into()), ("token_type_hint".into(), "access_token".into())])
    );
}

#[tokio::test]
async fn r037_a_revoked_token_is_refused_once_the_cache_window_has_passed() {
    let fake = FakeAs::start().await;
    let clock = FixedClock::at(NOW);
    let guard = fake.guard("/introspect", &clock, |c| c);
    fake.activate("tok-1", NOW + 3600);
    assert!(guard.verify("tok-1").await.is_ok());
    fake.revoke("tok-1");
    // Within the window (default 10 s) the cached result answers, without a request.
    clock.advance(9);
    assert!(guard.verify("tok-1").await.is_ok());
    assert_eq!(fake.requests(), 1);
    clock.advance(1);
    assert_eq!(guard.verify("tok-1").await, Err(TokenError::Inactive));
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn r037_an_active_result_is_never_cached_beyond_the_tokens_exp() {
    let fake = FakeAs::start().await;
    let clock = FixedClock::at(NOW);
    let guard = fake.guard("/introspect", &clock, |c| c.with_introspection_cache(Duration::from_secs(60), 100));
    // Expires 3 s from now, well within the 60 s cache age.
    fake.activate("tok-1", NOW + 3);
    assert!(guard.verify("tok-1").await.is_ok());
    clock.advance(2);
    assert!(guard.verify("tok-1").await.is_ok());
    assert_eq!(fake.requests(), 1);
    // At `exp` the cached result is gone and the AS is asked again (its answer still says
    // active here; the guard's own `exp` check with the 30 s leeway lets it pass).
    clock.advance(1);
    assert!(guard.verify("tok-1").await.is_ok());
    assert_eq!(fake.requests(), 2);
    // Past exp + leeway the guard refuses even what the AS calls active.
    clock.advance(30);
    assert_eq!(guard.verify("tok-1").await, Err(TokenError::Expired));
}

#[tokio::test]
async fn refused_results_are_cached_briefly_and_unavailability_not_at_all() {
    let fake = FakeAs::start().await;
    let clock = FixedClock::at(NOW);
    let guard = fake.guard("/introspect", &clock, |c| c);
    for _ in 0..3 {
        assert_eq!(guard.verify("unknown").await, Err(TokenError::Inactive));
    }
    assert_eq!(fake.requests(), 1, "a client retrying a dead token is answered from the cache");
    clock.advance(5);
    assert_eq!(guard.verify("unknown").await, Err(TokenError::Inactive));
    assert_eq!(fake.requests(), 2, "negative results are kept 5 s");
    assert_eq!(introspector(&guard).cached(), (0, 1));

    let broken = fake.guard("/broken", &clock, |c| c);
    for _ in 0..2 {
        assert!(unavailable(&broken.verify("tok").await).contains("answered 500"));
    }
    assert_eq!(introspector(&broken).cached(), (0, 0));
}

#[tokio::test]
async fn a_zero_cache_age_asks_on_every_request() {
    let fake = FakeAs::start().await;
    let guard = fake.guard("/introspect", &FixedClock::at(NOW), |c| c.with_introspection_cache(Duration::ZERO, 100));
    fake.activate("tok-1", NOW + 3600);
    for _ in 0..3 {
        assert!(guard.verify("tok-1").await.is_ok());
        assert_eq!(guard.verify("junk").await, Err(TokenError::Inactive));
    }
    assert_eq!(fake.requests(), 6);
}

#[tokio::test]
async fn the_cache_is_bounded_and_keyed_by_the_token_hash() {
    let fake = FakeAs::start().await;
    let guard =
        fake.guard("/introspect", &FixedClock::at(NOW), |c| c.with_introspection_cache(Duration::from_secs(10), 2));
    for token in ["a", "b", "c", "d"] {
        fake.activate(token, NOW + 3600);
        assert!(guard.verify(token).await.is_ok());
        assert_eq!(guard.verify(&format!("junk-{token}")).await, Err(TokenError::Inactive));
    }
    assert_eq!(introspector(&guard).cached(), (2, 2));
    // Junk never displaced real tokens: `a` and `b` are still answered from the cache.
    let before = fake.requests();
    assert!(guard.verify("a").await.is_ok());
    assert!(guard.verify("b").await.is_ok());
    assert_eq!(fake.requests(), before);
    let introspector = introspector(&guard);
    assert!(introspector.active.get(&TokenHash::of("a"), NOW).is_some());
}

#[tokio::test]
async fn concurrent_checks_of_one_token_share_one_request() {
    let fake = FakeAs::start().await;
    let gate = Arc::new(tokio::sync::Notify::new());
    *fake.seen.gate.lock().unwrap() = Some(gate.clone());
    let guard = fake.guard("/introspect", &FixedClock::at(NOW), |c| c);
    fake.activate("tok-1", NOW + 3600);
    let checks: Vec<_> = (0..20)
        .map(|_| {
            let guard = guard.clone();
            tokio::spawn(async move { guard.verify("tok-1").await.is_ok() })
        })
        .collect();
    // Release the answer only once all 20 wait for it.
    let key = TokenHash::of("tok-1");
    for _ in 0..500 {
        let waiting = introspector(&guard).in_flight.0.lock().unwrap().get(&key).map_or(0, |(_, n)| *n);
        if waiting == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate.notify_waiters();
    gate.notify_one();
    for check in checks {
        assert!(check.await.unwrap());
    }
    assert_eq!(fake.requests(), 1);
    assert_eq!(introspector(&guard).in_flight.len(), 0);
}

#[tokio::test]
async fn a_cancelled_check_leaves_nothing_in_flight() {
    let fake = FakeAs::start().await;
    *fake.seen.gate.lock().unwrap() = Some(Arc::new(tokio::sync::Notify::new()));
    let guard = fake.guard("/introspect", &FixedClock::at(NOW), |c| c);
    let check = {
        let guard = guard.clone();
        tokio::spawn(async move { guard.verify("tok-1").await })
    };
    // Cancel it while its request is at the AS.
    for _ in 0..500 {
        if fake.requests() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(introspector(&guard).in_flight.len(), 1);
    check.abort();
    assert!(check.await.unwrap_err().is_cancelled());
    assert_eq!(introspector(&guard).in_flight.len(), 0);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_unavailable_not_a_verdict() {
    let clock = FixedClock::at(NOW);
    let config = GuardConfig::new(RESOURCE, ISSUER)
        .with_introspection(CLIENT_ID, SECRET)
        .with_introspection_endpoint("http://127.0.0.1:9/introspect")
        .with_clock(Arc::new(clock));
    let guard = Guard::new(config).unwrap();
    let why = unavailable(&guard.verify("tok-1").await);
    assert!(why.starts_with("http://127.0.0.1:9/introspect: error sending request: "), "{why}");
    assert!(!why.contains("tok-1") && !why.contains(SECRET), "{why}");
}

#[tokio::test]
async fn oversized_redirected_refused_and_non_json_answers_are_unavailable() {
    let fake = FakeAs::start().await;
    let clock = FixedClock::at(NOW);
    fake.activate("tok-1", NOW + 3600);
    let why = unavailable(&fake.guard("/big", &clock, |c| c).verify("tok-1").await);
    assert!(why.contains(&format!("larger than {MAX_RESPONSE_BYTES} bytes")), "{why}");
    // The token is never re-posted to where a redirect points.
    let why = unavailable(&fake.guard("/redirect", &clock, |c| c).verify("tok-1").await);
    assert!(why.contains("answered 307"), "{why}");
    assert_eq!(fake.requests(), 0);
    let why = unavailable(&fake.guard("/unauthorized", &clock, |c| c).verify("tok-1").await);
    assert!(why.contains("refused the guard's client credentials"), "{why}");
    assert!(!why.contains(SECRET));
    let why = unavailable(&fake.guard("/not-json", &clock, |c| c).verify("tok-1").await);
    assert!(why.contains("not RFC 7662 JSON"), "{why}");
}

#[tokio::test]
async fn a_slow_endpoint_times_out() {
    let fake = FakeAs::start().await;
    *fake.seen.gate.lock().unwrap() = Some(Arc::new(tokio::sync::Notify::new()));
    let guard =
        fake.guard("/introspect", &FixedClock::at(NOW), |c| c.with_introspection_timeout(Duration::from_millis(200)));
    let why = unavailable(&guard.verify("tok-1").await);
    assert!(why.ends_with("/introspect: no answer within 200 ms"), "{why}");
}

#[tokio::test]
async fn the_endpoint_is_discovered_from_the_metadata_once() {
    let fake = FakeAs::start().await;
    let clock = FixedClock::at(NOW);
    // Here the stand-in is the issuer, and tokens name it.
    let config =
        GuardConfig::new(RESOURCE, &fake.origin).with_introspection(CLIENT_ID, SECRET).with_clock(Arc::new(clock));
    let guard = Guard::new(config).unwrap();
    let mut answer =
        json!({"active": true, "client_id": "c", "sub": "s", "aud": RESOURCE, "exp": NOW + 60, "iss": fake.origin});
    fake.seen.answers.lock().unwrap().insert("tok-1".into(), answer.clone());
    answer["iss"] = json!(ISSUER);
    fake.seen.answers.lock().unwrap().insert("tok-2".into(), answer);
    assert!(guard.verify("tok-1").await.is_ok());
    assert_eq!(guard.verify("tok-2").await, Err(TokenError::WrongIssuer(fake.origin.clone())));
    assert_eq!(fake.seen.metadata_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(fake.requests(), 2);
}

#[tokio::test]
async fn an_overlong_token_is_refused_without_a_request() {
    let fake = FakeAs::start().await;
    let guard = fake.guard("/introspect", &FixedClock::at(NOW), |c| c);
    assert_eq!(guard.verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).await, Err(TokenError::TooLong));
    assert_eq!(fake.requests(), 0);
}

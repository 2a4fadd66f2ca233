//! Token verification cost per request with a warm key cache (DESIGN §8 budget: 50 µs).
//!
//! Keys come from a JWKS served on loopback, as in production (the first request fetches them;
//! every measured request finds them cached). Two numbers: `Guard::verify` alone, and a whole
//! request through the layer (token + JSON-RPC policy for a `tools/call` + identity extension)
//! to an inner service that does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::Body;
use axum::http::{Request, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postern_guard::{Clock, Guard, GuardConfig, ScopePolicy, SystemClock};
use serde_json::json;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
const ITERATIONS: u32 = 20_000;
const BUDGET_MICROS: f64 = 50.0;
const BODY: &str =
    r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"hello"}}}"#;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn main() {
    // `cargo bench` passes --bench. Test runners (cargo test, nextest --all-targets) run or list
    // bench targets without it: measuring an unoptimized build there would only mislead.
    if !std::env::args().any(|arg| arg == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
                                "x": b64(&point[1..33]), "y": b64(&point[33..65])}]})
    .to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let jwks_app =
        axum::Router::new().route("/jwks.json", axum::routing::get(move || std::future::ready(jwks.clone())));
    tokio::spawn(async move { axum::serve(listener, jwks_app).await });

    let now = SystemClock.now();
    let claims = json!({"iss": issuer, "aud": RESOURCE, "sub": "user-1", "client_id": "client-1",
                        "scope": "mcp:read mcp:write", "iat": now, "exp": now + 3600, "jti": "at_bench"});
    let message = format!(
        "{}.{}",
        b64(json!({"typ": "at+jwt", "alg": "ES256", "kid": "k1"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let token = format!("{message}.{}", b64(pair.sign(&SystemRandom::new(), message.as_bytes()).unwrap().as_ref()));

    let guard = Guard::new(
        GuardConfig::new(RESOURCE, &issuer)
            .with_jwks_uri(format!("{issuer}/jwks.json"))
            .with_policy(ScopePolicy::new().require(["mcp:read"]).tool("write_note", ["mcp:write"])),
    )
    .unwrap();
    // Warm the key cache (one fetch) and the allocator.
    for _ in 0..200 {
        guard.verify(&token).await.unwrap();
    }

    let started = Instant::now();
    for _ in 0..ITERATIONS {
        std::hint::black_box(guard.verify(std::hint::black_box(&token)).await.unwrap());
    }
    report("Guard::verify (ES256, warm key cache)", started.elapsed());

    let service = guard
        .layer()
        .layer(tower::service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) }));
    let authorization = format!("Bearer {token}");
    let request = || {
        Request::post("/mcp")
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .body(Body::from(BODY))
            .unwrap()
    };
    for _ in 0..200 {
        assert_eq!(service.clone().oneshot(request()).await.unwrap().status(), 200);
    }
    let started = Instant::now();
    for _ in 0..ITERATIONS {
        std::hint::black_box(service.clone().oneshot(request()).await.unwrap());
    }
    report("whole request through GuardLayer (tools/call, policy, identity)", started.elapsed());
}

fn report(what: &str, elapsed: Duration) {
    let micros = elapsed.as_secs_f64() * 1e6 / f64::from(ITERATIONS);
    let verdict = if micros <= BUDGET_MICROS { "within" } else { "OVER" };
    println!("{what}: {micros:.1} µs/verify over {ITERATIONS} iterations ({verdict} the {BUDGET_MICROS} µs budget)");
}

//! Token verification cost per request (DESIGN §8 budget: 50 µs).
//!
//! Keys come from a JWKS served on loopback, as in production (the first request fetches them;
//! every measured request finds them cached). Lines, from the floor up:
//! - the ES256 signature check alone (aws-lc-rs), and the SHA-256 that keys the token cache;
//! - `Guard::verify` cold: the verified-token cache disabled, every request checks the signature;
//! - `Guard::verify` warm: the same token again, as an MCP client sends it all session long;
//! - a whole request through the layer (token + JSON-RPC policy for a `tools/call` + identity
//!   extension) to an inner service that does nothing, cold and warm;
//! - the warm `Guard::verify` from two threads at once on one guard (this machine's cores), to
//!   see whether the cache's lock serializes them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use axum::body::Body;
use axum::http::{Request, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postern_core::TokenHash;
use postern_guard::{Clock, Guard, GuardConfig, ScopePolicy, SystemClock};
use serde_json::json;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use tower::{Layer, ServiceExt};

const RESOURCE: &str = "https://mcp.example.com/mcp";
/// For paths that check a signature (~50 µs each: about a second per line).
const COLD_ITERATIONS: u32 = 20_000;
/// For paths served from the cache (~1 µs each).
const WARM_ITERATIONS: u32 = 500_000;
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

    let config = GuardConfig::new(RESOURCE, &issuer)
        .with_jwks_uri(format!("{issuer}/jwks.json"))
        .with_policy(ScopePolicy::new().require(["mcp:read"]).tool("write_note", ["mcp:write"]));
    let cold = Guard::new(config.clone().with_verified_token_cache(Duration::ZERO, 0)).unwrap();
    let warm = Guard::new(config).unwrap();
    // Warm the key caches (one fetch each), the token cache and the allocator.
    for _ in 0..200 {
        cold.verify(&token).await.unwrap();
        warm.verify(&token).await.unwrap();
    }

    // The floor: the P-256 signature check alone, as aws-lc-rs does it. What the guard adds is
    // the difference between this line and the cold one.
    let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point.to_vec());
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    measure("ES256 signature check alone (aws-lc-rs)", COLD_ITERATIONS, || async {
        public.verify(std::hint::black_box(signed.as_bytes()), std::hint::black_box(&signature)).unwrap();
    })
    .await;
    measure("SHA-256 of the token (the cache key)", WARM_ITERATIONS, || async {
        std::hint::black_box(TokenHash::of(std::hint::black_box(&token)));
    })
    .await;
    measure("Guard::verify cold (ES256, warm key cache, token cache disabled)", COLD_ITERATIONS, || async {
        std::hint::black_box(cold.verify(std::hint::black_box(&token)).await.unwrap());
    })
    .await;
    measure("Guard::verify warm (token verified before, cached)", WARM_ITERATIONS, || async {
        std::hint::black_box(warm.verify(std::hint::black_box(&token)).await.unwrap());
    })
    .await;

    let authorization = format!("Bearer {token}");
    let request = || {
        Request::post("/mcp")
            .header("authorization", &authorization)
            .header("content-type", "application/json")
            .body(Body::from(BODY))
            .unwrap()
    };
    for (guard, what, iterations) in [
        (&cold, "whole request through GuardLayer, cold (tools/call, policy, identity)", COLD_ITERATIONS),
        (&warm, "whole request through GuardLayer, warm (tools/call, policy, identity)", WARM_ITERATIONS),
    ] {
        let service = guard
            .layer()
            .layer(tower::service_fn(|_: Request<Body>| async { Ok::<_, Infallible>(Response::new(Body::empty())) }));
        for _ in 0..200 {
            assert_eq!(service.clone().oneshot(request()).await.unwrap().status(), 200);
        }
        measure(what, iterations, || async {
            std::hint::black_box(service.clone().oneshot(request()).await.unwrap());
        })
        .await;
    }

    // Two threads, one guard, one token: the worst case for the cache's single lock.
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let (guard, token) = (warm.clone(), &token);
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    for _ in 0..WARM_ITERATIONS {
                        std::hint::black_box(guard.verify(std::hint::black_box(token)).await.unwrap());
                    }
                });
            });
        }
    });
    report(
        "Guard::verify warm, 2 threads on one guard (wall time per verify per thread)",
        WARM_ITERATIONS,
        started.elapsed(),
    );
}

/// Runs `step` `iterations` times and reports the mean time per run.
async fn measure<F, Fut>(what: &str, iterations: u32, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let started = Instant::now();
    for _ in 0..iterations {
        step().await;
    }
    report(what, iterations, started.elapsed());
}

fn report(what: &str, iterations: u32, elapsed: Duration) {
    let micros = elapsed.as_secs_f64() * 1e6 / f64::from(iterations);
    let verdict = if micros <= BUDGET_MICROS { "within" } else { "OVER" };
    println!("{what}: {micros:.2} µs each over {iterations} iterations ({verdict} the {BUDGET_MICROS} µs budget)");
}

//! Unit-test keys and tokens: real ES256, EdDSA and RS256 signatures (aws-lc-rs), assembled by
//! hand so tests can also build what no honest issuer would (wrong `typ`, `alg: none`...); and
//! [`FakeAs`], which publishes keys on loopback the way an authorization server does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::config::Settings;
use crate::keys::KeyCache;
use crate::{FixedClock, GuardConfig};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const ISSUER: &str = "https://auth.example.com";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const NOW: i64 = 1_800_000_000;

pub enum Signer {
    Es256(EcdsaKeyPair),
    EdDsa(Ed25519KeyPair),
    Rs256(aws_lc_rs::rsa::KeyPair),
}

/// A signing key and its public JWK.
pub struct TestKey {
    pub kid: String,
    pub signer: Signer,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestKey {
    pub fn es256(kid: &str) -> Self {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        Self { kid: kid.to_owned(), signer: Signer::Es256(pair) }
    }

    pub fn eddsa(kid: &str) -> Self {
        Self { kid: kid.to_owned(), signer: Signer::EdDsa(Ed25519KeyPair::generate().unwrap()) }
    }

    pub fn rs256(kid: &str) -> Self {
        Self {
            kid: kid.to_owned(),
            signer: Signer::Rs256(aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).unwrap()),
        }
    }

    pub fn alg(&self) -> &'static str {
        match self.signer {
            Signer::Es256(_) => "ES256",
            Signer::EdDsa(_) => "EdDSA",
            Signer::Rs256(_) => "RS256",
        }
    }

    pub fn jwk(&self) -> Value {
        match &self.signer {
            Signer::Es256(pair) => {
                let point = pair.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig", "alg": "ES256",
                       "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Signer::EdDsa(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "kid": self.kid, "x": b64(pair.public_key().as_ref())})
            }
            Signer::Rs256(pair) => {
                let public = pair.public_key();
                json!({"kty": "RSA", "kid": self.kid, "alg": "RS256",
                       "n": b64(public.modulus().big_endian_without_leading_zero()),
                       "e": b64(public.exponent().big_endian_without_leading_zero())})
            }
        }
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Es256(pair) => pair.sign(&rng, message).unwrap().as_ref().to_vec(),
            Signer::EdDsa(pair) => pair.sign(message).as_ref().to_vec(),
            Signer::Rs256(pair) => {
                let mut signature = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature).unwrap();
                signature
            }
        }
    }

    /// The standard header of this key.
    pub fn header(&self) -> Value {
        json!({"typ": "at+jwt", "alg": self.alg(), "kid": self.kid})
    }

    /// A token with the given header and claims, signed by this key.
    pub fn token_with(&self, header: &Value, claims: &Value) -> String {
        let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = self.sign(message.as_bytes());
        format!("{message}.{}", b64(&signature))
    }

    /// A valid token for [`RESOURCE`] with `scope`.
    pub fn token(&self, scope: &str) -> String {
        self.token_with(&self.header(), &claims(scope))
    }
}

/// RFC 9068 claims valid at [`NOW`].
pub fn claims(scope: &str) -> Value {
    json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": "user-1", "client_id": "client-1", "scope": scope,
        "iat": NOW - 10, "exp": NOW + 3600, "jti": "at_1",
    })
}

/// A JWK Set document of `keys`.
pub fn jwks(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

/// An unsigned token (`alg: none`).
pub fn unsigned_token(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()))
}

/// A token "signed" with HMAC-SHA256 under `secret` (the algorithm-confusion attack uses the
/// AS's public key as the secret).
pub fn hs256_token(secret: &[u8], kid: &str, claims: &Value) -> String {
    let header = json!({"typ": "at+jwt", "alg": "HS256", "kid": kid});
    let message = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, message.as_bytes());
    format!("{message}.{}", b64(tag.as_ref()))
}

/// An authorization server stand-in: metadata, a JWKS that tests can change, and counters.
pub struct FakeAs {
    pub origin: String,
    jwks: Arc<Mutex<String>>,
    jwks_fetches: Arc<AtomicUsize>,
    pub metadata_fetches: Arc<AtomicUsize>,
}

impl FakeAs {
    /// Serves metadata naming `metadata_issuer` (default: its own origin), keys at `/keys`
    /// (none until published) and a `/broken` endpoint that answers `500`.
    pub async fn start(metadata_issuer: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let jwks = Arc::new(Mutex::new(String::from("{\"keys\":[]}")));
        let jwks_fetches = Arc::new(AtomicUsize::new(0));
        let metadata_fetches = Arc::new(AtomicUsize::new(0));
        let issuer = metadata_issuer.map_or_else(|| origin.clone(), str::to_owned);
        let metadata = json!({"issuer": issuer, "jwks_uri": format!("{origin}/keys")}).to_string();
        let (served, counted) = (jwks.clone(), jwks_fetches.clone());
        let metadata_counter = metadata_fetches.clone();
        let app = Router::new()
            .route(
                "/.well-known/oauth-authorization-server",
                get(move || {
                    metadata_counter.fetch_add(1, Ordering::SeqCst);
                    let metadata = metadata.clone();
                    async move { metadata }
                }),
            )
            .route(
                "/keys",
                get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = served.lock().unwrap().clone();
                    async move { body }
                }),
            )
            .route("/broken", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { origin, jwks, jwks_fetches, metadata_fetches }
    }

    pub fn publish(&self, keys: &[&TestKey]) {
        self.publish_document(jwks(keys));
    }

    /// Publishes a JWK Set document as it is.
    pub fn publish_document(&self, document: String) {
        *self.jwks.lock().unwrap() = document;
    }

    pub fn jwks_uri(&self) -> String {
        format!("{}/keys", self.origin)
    }

    pub fn jwks_fetches(&self) -> usize {
        self.jwks_fetches.load(Ordering::SeqCst)
    }

    /// A key cache as a guard configured with `config` and `clock` has.
    pub fn cache(&self, config: GuardConfig, clock: &FixedClock) -> KeyCache {
        let config = config.with_clock(Arc::new(clock.clone()));
        let settings = Settings::from_config(&config).unwrap();
        KeyCache::new(&settings, config.jwks_uri.clone(), None, reqwest::Client::new(), Arc::new(clock.clone()))
            .unwrap()
    }

    /// A guard configuration trusting this AS as the issuer.
    pub fn config(&self) -> GuardConfig {
        GuardConfig::new("http://127.0.0.1:1/mcp", &self.origin)
    }
}

//! The resource-server half of MCP authorization: put a [`GuardLayer`] in front of an MCP
//! server and only requests with a valid, audience-bound access token with enough scope reach
//! it; serve [`Guard::metadata_router`] so clients can find the authorization server.
//!
//! Works with any OAuth 2.1 authorization server that issues RFC 9068 JWT access tokens
//! (Postern does) and publishes its keys at a `jwks_uri`. When revocation must take effect
//! within seconds, or tokens are opaque, [`GuardConfig::with_introspection`] checks each token
//! at the server's RFC 7662 introspection endpoint instead (cached for a few seconds). In JWT
//! mode a token's signature is checked once and the result reused for its next requests, with
//! `exp`/`nbf`, its key and the scope policy still checked on each
//! ([`GuardConfig::with_verified_token_cache`]). It depends on no other Postern crate than the
//! pure `postern-core`.
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use postern_guard::{AccessIdentity, Guard, GuardConfig, ScopePolicy};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = ScopePolicy::new().require(["mcp:read"]).tool("write_note", ["mcp:write"]);
//! let config = GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com")
//!     .with_scopes_supported(["mcp:read"])
//!     .with_policy(policy);
//! let guard = Guard::new(config)?;
//! let mcp = |who: AccessIdentity, body: String| async move { format!("{} sent {body}", who.sub) };
//! let app = Router::new().route("/mcp", post(mcp)).layer(guard.layer()).merge(guard.metadata_router());
//! axum::serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?, app).await?;
//! # Ok(()) }
//! ```
//!
//! What a request gets (SPEC R020–R037, challenges as in SPEC §3.5):
//!
//! | request | answer |
//! |---|---|
//! | no `Authorization: Bearer` header (query tokens are ignored) | `401`, `WWW-Authenticate: Bearer resource_metadata="…", scope="…"` |
//! | a token that fails any check (`typ`, `alg`, signature, `iss`, `aud`, `exp`, `nbf`, claims) | `401`, `error="invalid_token"` with an `error_description` |
//! | introspection mode: `active: false`, not a bearer access token, or failing `iss`, `aud`, `exp`, `nbf` | `401`, `error="invalid_token"` with an `error_description` |
//! | a valid token without every scope the request needs | `403`, `error="insufficient_scope"`, `scope` = every scope needed |
//! | a token in the header and the query, or two `Authorization` headers | `400`, `error="invalid_request"` |
//! | keys of the authorization server not obtainable, or introspection impossible | `503` with `Retry-After` |
//! | a CORS preflight | answered by the layer, no token needed |
//! | otherwise | the inner service, with [`AccessIdentity`] in the request extensions |

mod algorithm;
mod challenge;
mod client_credentials;
mod config;
mod cors;
mod discovery;
mod error;
mod guard;
mod identity;
mod introspection;
mod jsonrpc;
mod keys;
mod layer;
mod metadata;
mod policy;
mod token;
mod token_cache;
mod verified_tokens;
pub mod well_known;

#[cfg(test)]
mod test_keys;

pub use algorithm::SigningAlgorithm;
pub use config::{
    CorsPolicy, DEFAULT_INTROSPECTION_CACHE_ENTRIES, DEFAULT_INTROSPECTION_CACHE_MAX_AGE,
    DEFAULT_INTROSPECTION_TIMEOUT, DEFAULT_KEY_MAX_AGE, DEFAULT_KEY_REFETCH_COOLDOWN, DEFAULT_LEEWAY,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES, DEFAULT_VERIFIED_TOKEN_CACHE_MAX_AGE, GuardConfig,
    INTROSPECTION_NEGATIVE_MAX_AGE, MAX_LEEWAY,
};
pub use error::GuardError;
pub use guard::Guard;
pub use identity::{AccessIdentity, MissingIdentity};
pub use layer::{GuardLayer, GuardService, ResponseFuture};
pub use policy::ScopePolicy;
pub use postern_core::{Clock, FixedClock, SystemClock, UnixTime};
pub use token::{MAX_TOKEN_BYTES, TokenError};

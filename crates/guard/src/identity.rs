//! The verified caller, handed to the MCP server as a request extension.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;

/// Who is calling, from a verified access token (RFC 9068 §2.2 claims) or, in introspection
/// mode, from the introspection response (RFC 7662 §2.2 members of the same names).
///
/// The layer inserts it into every request it lets through; read it with
/// `Extension<AccessIdentity>`, `request.extensions().get::<AccessIdentity>()`, or as an axum
/// extractor. Bind MCP session state to `sub` (R032): a session ID is not authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessIdentity {
    /// The user (or, for client-credentials tokens, the client).
    pub sub: String,
    /// The OAuth client the user authorized.
    pub client_id: String,
    /// Granted scopes (`scope` claim).
    pub scopes: BTreeSet<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds (`0` if an introspection response omits it).
    pub iat: i64,
    /// The token's unique identifier (empty if an introspection response omits it).
    pub jti: String,
    /// Audiences; one of them is this resource.
    pub aud: Vec<String>,
    /// The issuer (always the configured one).
    pub iss: String,
}

impl AccessIdentity {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// The rejection when a handler asks for an [`AccessIdentity`] but the guard layer does not
/// wrap it: a wiring mistake of the server, so `500`, never a silent anonymous call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingIdentity;

impl IntoResponse for MissingIdentity {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, "postern-guard's layer does not wrap this route").into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessIdentity {
    type Rejection = MissingIdentity;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<AccessIdentity>().cloned().ok_or(MissingIdentity)
    }
}

//! JWT access tokens (RFC 9068) and the token endpoint's success response.

use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, Validation};
use postern_core::secret::random_id;
use serde::{Deserialize, Serialize};

/// RFC 9068 §2.2 claims (R155), plus the grant the token came from so introspection and
/// revocation can see through to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub grant_id: String,
}

/// What an access token is minted from.
pub struct GrantView<'a> {
    pub grant_id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub resource: &'a str,
    pub scope: &'a str,
}

pub fn mint_access_token(state: &AppState, grant: &GrantView<'_>, now: i64) -> Result<String, AppError> {
    let claims = AccessTokenClaims {
        iss: state.settings.issuer.as_str().to_owned(),
        sub: grant.user_id.to_owned(),
        aud: grant.resource.to_owned(),
        client_id: grant.client_id.to_owned(),
        scope: grant.scope.to_owned(),
        iat: now,
        exp: now + state.settings.access_token_ttl,
        jti: random_id("at_")?,
        grant_id: grant.grant_id.to_owned(),
    };
    state.keys.sign(&claims).map_err(|e| AppError::Internal(format!("signing: {e}")))
}

/// Verifies signature, `typ`, `iss` and `exp` of a token this server issued. Says nothing
/// about revocation; see [`postern_store::Store::access_token_is_live`].
pub async fn verify_access_token(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    if token.len() > 4096 {
        return None;
    }
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.alg != Algorithm::ES256 || !matches!(header.typ.as_deref(), Some("at+jwt" | "application/at+jwt")) {
        return None;
    }
    let kid = header.kid?;
    let key = match state.keys.verification_key(&kid) {
        Some(key) => key,
        // Another node may have rotated keys since we loaded them.
        None => {
            state.keys.reload_for_unknown_kid(&state.store, state.now()).await.ok()?;
            state.keys.verification_key(&kid)?
        }
    };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[state.settings.issuer.as_str()]);
    validation.validate_aud = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let data = jsonwebtoken::decode::<AccessTokenClaims>(token, &key.decoding, &validation).ok()?;
    (data.claims.exp > state.now()).then_some(data.claims)
}

/// OAuth 2.1 §3.2.3 success body (R136).
#[derive(Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
    }
}

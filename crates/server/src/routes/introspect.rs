//! `POST /introspect` (RFC 7662, R156). Only confidential clients may call it. Any of them may
//! introspect an access token (resource servers do); a refresh token is described only to the
//! client it was issued to. Anything else, or anything not known to be live, is
//! `{"active": false}` with no reason.

use crate::client_auth;
use crate::error::{AppError, OAuthError};
use crate::routes::revoke::own_refresh_token;
use crate::routes::token::form_body;
use crate::state::AppState;
use crate::tokens::verify_access_token;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use postern_core::ClientType;
use serde_json::{Value, json};

pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, AppError> {
    let params = form_body(&headers, &body)?;
    let endpoint = state.settings.issuer.endpoint("/introspect");
    let caller = client_auth::authenticate(&state, &headers, &params, &endpoint, None).await?;
    if caller.client_type != ClientType::Public {
        let token = params.get("token").ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let caller_id = caller.record.client_id.as_str();
        return Ok(no_store(describe(&state, caller_id, token, params.get("token_type_hint")).await?));
    }
    Err(OAuthError::invalid_client(
        "introspection requires a confidential client (client_secret_basic or client_secret_post)",
    )
    .into())
}

async fn describe(state: &AppState, caller_id: &str, token: &str, hint: Option<&str>) -> Result<Value, AppError> {
    if token.len() <= 4096 {
        // RFC 7662 §2.1: the hint orders the lookups; it never limits them.
        let found = if hint == Some("refresh_token") {
            match describe_refresh_token(state, caller_id, token).await? {
                Some(found) => Some(found),
                None => describe_access_token(state, token).await?,
            }
        } else {
            match describe_access_token(state, token).await? {
                Some(found) => Some(found),
                None => describe_refresh_token(state, caller_id, token).await?,
            }
        };
        if let Some(found) = found {
            return Ok(found);
        }
    }
    Ok(json!({ "active": false }))
}

async fn describe_access_token(state: &AppState, token: &str) -> Result<Option<Value>, AppError> {
    let Some(claims) = verify_access_token(state, token).await else { return Ok(None) };
    if !state.store.access_token_is_live(&claims.jti, &claims.grant_id).await? {
        return Ok(None);
    }
    // Blocking revokes a client's grants at once; this also covers a grant another node issued
    // in the moments before it saw the block.
    if !client_auth::client_is_active(state, &claims.client_id).await? {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "Bearer",
        "scope": claims.scope,
        "client_id": claims.client_id,
        "sub": claims.sub,
        "aud": claims.aud,
        "iss": claims.iss,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
    })))
}

/// Token confusion: a resource server that checks only `active`, `aud`, `exp` and `scope` would
/// take a refresh token described to it for a bearer access token. So only the client the token
/// was issued to (the rule /revoke uses, R157) learns anything; to every other caller it is
/// unknown. Even that description has no `aud`, so it can never pass an audience check.
async fn describe_refresh_token(state: &AppState, caller_id: &str, token: &str) -> Result<Option<Value>, AppError> {
    let Some(refresh) = own_refresh_token(state, token, caller_id).await? else { return Ok(None) };
    if refresh.revoked_at.is_some() || refresh.rotated_at.is_some() || refresh.expires_at <= state.now() {
        return Ok(None);
    }
    Ok(Some(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": refresh.scope,
        "client_id": refresh.client_id,
        "sub": refresh.user_id,
        "iss": state.settings.issuer.as_str(),
        "exp": refresh.expires_at,
        "iat": refresh.issued_at,
    })))
}

fn no_store(body: Value) -> Response {
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

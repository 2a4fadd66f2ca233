//! `POST /revoke` (RFC 7009, R157). A client may revoke only its own tokens; revoking a
//! refresh token revokes its whole grant. Unknown tokens still get 200.

use crate::client_auth;
use crate::client_ip::ClientIp;
use crate::error::AppError;
use crate::routes::token::form_body;
use crate::state::AppState;
use crate::tokens::verify_access_token;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::TokenHash;
use postern_store::{AuditEvent, RefreshTokenRecord};

pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let params = form_body(&headers, &body)?;
    let endpoint = state.settings.issuer.endpoint("/revoke");
    let caller = client_auth::authenticate(&state, &headers, &params, &endpoint, None).await?;
    let token = params.get("token").ok_or_else(|| crate::error::OAuthError::invalid_request("token is required"))?;
    let client_id = caller.record.client_id.as_str();
    let now = state.now();
    let audit = |kind, grant_id: &str| AuditEvent {
        client_id: Some(client_id.to_owned()),
        ip: Some(ip.to_string()),
        detail: serde_json::json!({ "grant_id": grant_id }),
        ..AuditEvent::new(kind)
    };
    if token.len() <= 4096 {
        if let Some(refresh) = own_refresh_token(&state, token, client_id).await? {
            state
                .store
                .revoke_grant(&refresh.grant_id, now, &audit("refresh_token_revoked", &refresh.grant_id))
                .await?;
        } else if let Some(claims) = verify_access_token(&state, token).await
            && claims.client_id == client_id
        {
            state
                .store
                .revoke_access_token(&claims.jti, claims.exp, now, &audit("access_token_revoked", &claims.grant_id))
                .await?;
        }
    }
    Ok((StatusCode::OK, [(header::CACHE_CONTROL, "no-store")]).into_response())
}

/// The refresh token `token`, if it is one and was issued to `caller_id`. R157, RFC 7009 §2.1:
/// a client acts only on its own refresh tokens. Another client's token is `None`, exactly like
/// an unknown one, so neither /revoke nor /introspect says that it exists. Says nothing about
/// whether the token is still live.
pub(crate) async fn own_refresh_token(
    state: &AppState,
    token: &str,
    caller_id: &str,
) -> Result<Option<RefreshTokenRecord>, AppError> {
    let found = state.store.find_refresh_token(TokenHash::of(token).as_str()).await?;
    Ok(found.filter(|refresh| refresh.client_id == caller_id))
}

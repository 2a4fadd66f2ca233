//! `POST /token`: the authorization_code and refresh_token grants (R135–R150).

use crate::client_auth::{self, AuthenticatedClient};
use crate::client_ip::ClientIp;
use crate::error::{AppError, ErrorCode, OAuthError};
use crate::metrics::GrantType;
use crate::params::{Params, clip, is_form_urlencoded};
use crate::state::AppState;
use crate::tokens::{GrantView, TokenResponse, mint_access_token};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use postern_core::grant::{RefreshDecision, RefreshTokenState, code_is_live, decide_refresh};
use postern_core::{OpaqueToken, PkceChallenge, PkceVerifier, ScopeSet, TokenHash};
use postern_store::{AuditEvent, CodeLookup, GrantRecord, NewRefreshToken, RefreshTokenRecord};

pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Result<TokenResponse, AppError> {
    let params = form_body(&headers, &body)?;
    let pinned = pinned_client(&state, &params).await?;
    let endpoint = state.settings.issuer.endpoint("/token");
    let client = client_auth::authenticate(&state, &headers, &params, &endpoint, pinned.as_deref()).await?;
    let ip = ip.to_string();
    let issued = |grant| state.metrics.tokens_issued.inc(grant);
    match params.get("grant_type") {
        Some("authorization_code") => authorization_code_grant(&state, &client, &params, ip)
            .await
            .inspect(|_| issued(GrantType::AuthorizationCode)),
        Some("refresh_token") => {
            refresh_token_grant(&state, &client, &params, ip).await.inspect(|_| issued(GrantType::RefreshToken))
        }
        Some(other) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            format!("grant_type '{}' is not supported; use authorization_code or refresh_token", clip(other, 64)),
        )
        .into()),
        None => Err(OAuthError::invalid_request("grant_type is required").into()),
    }
}

/// The client snapshot pinned to the code being redeemed: a metadata-document client is
/// authenticated exactly as it was validated at /authorize (DESIGN §4).
async fn pinned_client(state: &AppState, params: &Params) -> Result<Option<String>, AppError> {
    if params.get("grant_type") != Some("authorization_code") {
        return Ok(None);
    }
    let Some(code) = params.get("code").filter(|c| c.len() <= 128) else { return Ok(None) };
    let record = state.store.find_authorization_code(TokenHash::of(code).as_str()).await?;
    Ok(record.and_then(|r| r.client_snapshot))
}

/// R135: urlencoded POST bodies only, every parameter at most once.
pub fn form_body(headers: &HeaderMap, body: &Bytes) -> Result<Params, OAuthError> {
    if !is_form_urlencoded(headers) {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    Params::parse_unique(body).map_err(OAuthError::invalid_request)
}

async fn authorization_code_grant(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
    ip: String,
) -> Result<TokenResponse, AppError> {
    let code = params.get("code").ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    // Every code carries an S256 challenge, so a verifier is always required (R125).
    let verifier = params
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))
        .and_then(|v| PkceVerifier::parse(v).map_err(|e| OAuthError::invalid_request(e.to_string())))?;
    if code.len() > 128 {
        return Err(OAuthError::invalid_grant("the authorization code is invalid, expired or already used").into());
    }
    let code_hash = TokenHash::of(code);
    let now = state.now();
    let invalid =
        || AppError::from(OAuthError::invalid_grant("the authorization code is invalid, expired or already used"));
    let Some(record) = state.store.find_authorization_code(code_hash.as_str()).await? else {
        return Err(invalid());
    };
    // R138, R125, R141: checks that do not depend on whether the code was used. A replay with
    // wrong parameters is refused without revoking anything (R139: no denial of service).
    if record.client_id != client.record.client_id {
        return Err(OAuthError::invalid_grant("the authorization code was issued to another client").into());
    }
    if !PkceChallenge::from_stored(record.code_challenge.clone()).is_satisfied_by(&verifier) {
        return Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge").into());
    }
    if params.get("redirect_uri").is_some_and(|r| r != record.redirect_uri) {
        return Err(OAuthError::invalid_grant("redirect_uri differs from the one in the authorization request").into());
    }
    check_resource(params, &record.resource)?;
    if record.consumed_at.is_some() {
        return Err(replayed(state, &record.grant_id, &record.client_id, &ip, now).await);
    }
    if !code_is_live(record.expires_at, now) {
        return Err(
            OAuthError::invalid_grant("the authorization code has expired; start the authorization again").into()
        );
    }
    let issues_refresh = client.record.grant_types.iter().any(|g| g == "refresh_token");
    let grant = GrantRecord {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        user_id: record.user_id.clone(),
        scope: record.scope.clone(),
        resource: record.resource.clone(),
        created_at: now,
        revoked_at: None,
    };
    let refresh = issues_refresh.then(|| OpaqueToken::generate("prt_")).transpose()?;
    let refresh_record =
        refresh.as_ref().map(|token| new_refresh(state, token, &grant.grant_id, &grant.client_id, &grant.scope, now));
    let audit = AuditEvent {
        client_id: Some(grant.client_id.clone()),
        user_id: Some(grant.user_id.clone()),
        ip: Some(ip.clone()),
        detail: serde_json::json!({ "grant_id": grant.grant_id, "scope": grant.scope, "resource": grant.resource, "refresh_token": issues_refresh }),
        ..AuditEvent::new("token_issued")
    };
    match state
        .store
        .redeem_authorization_code(code_hash.as_str(), now, &grant, refresh_record.as_ref(), &audit)
        .await?
    {
        CodeLookup::Redeemed => {}
        // Lost a race with a concurrent redemption of the same code: that is a replay too.
        CodeLookup::NotRedeemable => return Err(replayed(state, &record.grant_id, &record.client_id, &ip, now).await),
    }
    let view = GrantView {
        grant_id: &grant.grant_id,
        user_id: &grant.user_id,
        client_id: &grant.client_id,
        resource: &grant.resource,
        scope: &grant.scope,
    };
    Ok(TokenResponse {
        access_token: mint_access_token(state, &view, now)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl,
        refresh_token: refresh.map(OpaqueToken::into_string),
        scope: grant.scope,
    })
}

/// R139: a second redemption of a code revokes everything issued from it.
async fn replayed(state: &AppState, grant_id: &str, client_id: &str, ip: &str, now: i64) -> AppError {
    let audit = AuditEvent {
        client_id: Some(client_id.to_owned()),
        ip: Some(ip.to_owned()),
        detail: serde_json::json!({ "grant_id": grant_id }),
        ..AuditEvent::new("code_replay_detected")
    };
    if let Err(error) = state.store.revoke_grant(grant_id, now, &audit).await {
        return error.into();
    }
    tracing::warn!(client_id, grant_id, "authorization code replay; grant revoked");
    OAuthError::invalid_grant("the authorization code was already used; tokens issued from it are revoked").into()
}

/// R129: a token-request `resource` must be the one granted.
fn check_resource(params: &Params, granted: &str) -> Result<(), OAuthError> {
    match params.get("resource") {
        Some(resource) if resource != granted => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("resource '{}' was not granted; this grant is for {granted}", clip(resource, 64)),
        )),
        _ => Ok(()),
    }
}

fn new_refresh(
    state: &AppState,
    token: &OpaqueToken,
    grant_id: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: token.hash().as_str().to_owned(),
        grant_id: grant_id.to_owned(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        issued_at: now,
        expires_at: now + state.settings.refresh_token_ttl,
    }
}

async fn refresh_token_grant(
    state: &AppState,
    client: &AuthenticatedClient,
    params: &Params,
    ip: String,
) -> Result<TokenResponse, AppError> {
    let presented =
        params.get("refresh_token").ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let invalid = || AppError::from(OAuthError::invalid_grant("the refresh token is invalid, expired or revoked"));
    if presented.len() > 128 {
        return Err(invalid());
    }
    let hash = TokenHash::of(presented);
    let Some(record) = state.store.find_refresh_token(hash.as_str()).await? else {
        return Err(invalid());
    };
    check_resource(params, &record.resource)?;
    // R150: the new access token may narrow the scope; the refresh token keeps all of it.
    let token_scope = ScopeSet::parse(&record.scope).map_err(|e| AppError::Internal(format!("stored scope: {e}")))?;
    let access_scope = match params.get("scope") {
        Some(raw) => {
            let asked = ScopeSet::parse(raw).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?;
            if !asked.is_subset_of(&token_scope) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("scope exceeds the original grant ({token_scope})"),
                )
                .into());
            }
            asked
        }
        None => token_scope,
    };
    let now = state.now();
    let successor = OpaqueToken::generate("prt_")?;
    let successor_record = new_refresh(state, &successor, &record.grant_id, &record.client_id, &record.scope, now);
    let audit = |kind| AuditEvent {
        client_id: Some(record.client_id.clone()),
        user_id: Some(record.user_id.clone()),
        ip: Some(ip.clone()),
        detail: serde_json::json!({ "grant_id": record.grant_id }),
        ..AuditEvent::new(kind)
    };
    let mut decision = decide(state, &record, client, now);
    if decision == RefreshDecision::Rotate
        && !state.store.rotate_refresh_token(hash.as_str(), &successor_record, &audit("token_refreshed")).await?
    {
        // A concurrent refresh rotated it first (or the grant was just revoked): decide again
        // on the fresh state.
        let Some(fresh) = state.store.find_refresh_token(hash.as_str()).await? else { return Err(invalid()) };
        decision = match decide(state, &fresh, client, now) {
            RefreshDecision::Rotate => RefreshDecision::Reject,
            other => other,
        };
    }
    match decision {
        RefreshDecision::Rotate => {}
        RefreshDecision::ReissueWithinGrace => {
            if !state.store.add_refresh_token(&successor_record, &audit("token_refreshed_in_grace")).await? {
                return Err(invalid());
            }
        }
        RefreshDecision::RevokeFamily => {
            state.store.revoke_grant(&record.grant_id, now, &audit("refresh_reuse_detected")).await?;
            tracing::warn!(client_id = %record.client_id, grant_id = %record.grant_id, "refresh token reuse; grant revoked");
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the grant has been revoked, authorize again",
            )
            .into());
        }
        RefreshDecision::Reject => return Err(invalid()),
    }
    let access_scope = access_scope.to_string();
    let view = GrantView {
        grant_id: &record.grant_id,
        user_id: &record.user_id,
        client_id: &record.client_id,
        resource: &record.resource,
        scope: &access_scope,
    };
    Ok(TokenResponse {
        access_token: mint_access_token(state, &view, now)?,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl,
        refresh_token: Some(successor.into_string()),
        scope: access_scope,
    })
}

fn decide(state: &AppState, record: &RefreshTokenRecord, client: &AuthenticatedClient, now: i64) -> RefreshDecision {
    let token_state = RefreshTokenState {
        client_id: record.client_id.clone(),
        expires_at: record.expires_at,
        rotated_at: record.rotated_at,
        revoked_at: record.revoked_at,
    };
    decide_refresh(&token_state, &client.record.client_id, now, state.settings.refresh_reuse_grace)
}

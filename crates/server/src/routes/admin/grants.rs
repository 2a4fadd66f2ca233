//! `DELETE /admin/api/v1/grants/{grant_id}`: an administrator revokes one user's grant. Its
//! refresh tokens stop working and its access tokens are inactive at introspection from the
//! next request on; the user's consent for that client and resource is forgotten, so the
//! client cannot quietly obtain a new grant without asking the user again.

use super::auth::AdminCaller;
use super::error::AdminError;
use crate::params::clip;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use postern_store::GrantRecord;
use serde_json::{Value, json};

/// Grant ids are short random strings; anything longer is not one.
pub(crate) const MAX_GRANT_ID_CHARS: usize = 200;

/// `{"grant_id", "client_id", "user_id", "resource", "scope", "created_at", "revoked_at"}`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: AdminCaller,
    grant_id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, AdminError> {
    let Path(grant_id) =
        grant_id.map_err(|_| AdminError::bad_request("grant_id must be a percent-encoded UTF-8 path segment"))?;
    let grant = revoke_grant(&state, &caller, &grant_id).await?;
    Ok(Json(json!({
        "grant_id": grant.grant_id,
        "client_id": grant.client_id,
        "user_id": grant.user_id,
        "resource": grant.resource,
        "scope": grant.scope,
        "created_at": grant.created_at,
        "revoked_at": grant.revoked_at,
    })))
}

/// A live grant by id: 400 for what cannot be a grant id, 404 unknown, 409 already revoked.
pub async fn live_grant(state: &AppState, grant_id: &str) -> Result<GrantRecord, AdminError> {
    if grant_id.is_empty() || grant_id.chars().count() > MAX_GRANT_ID_CHARS || grant_id.contains('\0') {
        return Err(AdminError::bad_request(format!("grant_id must be 1 to {MAX_GRANT_ID_CHARS} characters")));
    }
    let Some(grant) = state.store.find_grant(grant_id).await? else {
        return Err(AdminError::not_found(format!("no grant {}", clip(grant_id, 100))));
    };
    if let Some(revoked_at) = grant.revoked_at {
        return Err(AdminError::conflict(format!("grant {grant_id} was already revoked (at {revoked_at})")));
    }
    Ok(grant)
}

/// Revokes one grant with its audit event (the API and the console both call this); returns
/// the grant as revoked.
pub async fn revoke_grant(state: &AppState, caller: &AdminCaller, grant_id: &str) -> Result<GrantRecord, AdminError> {
    let grant = live_grant(state, grant_id).await?;
    let now = state.now();
    let mut audit = caller.audit("admin_grant_revoked");
    // The event is about the user whose grant it was; the administrator is the actor.
    audit.user_id = Some(grant.user_id.clone());
    audit.client_id = Some(grant.client_id.clone());
    audit.detail = json!({
        "actor": caller.actor, "grant_id": grant.grant_id, "resource": grant.resource, "scope": grant.scope,
    });
    if !state.store.revoke_grant_of_user(&grant.user_id, &grant.grant_id, now, &audit).await? {
        return Err(AdminError::conflict(format!("grant {grant_id} was revoked while this request was handled")));
    }
    Ok(GrantRecord { revoked_at: Some(now), ..grant })
}

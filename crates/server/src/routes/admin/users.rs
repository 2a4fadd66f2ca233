//! `/admin/api/v1/users`: list, create, disable, enable, reset a password. Each change commits
//! with its audit event, which names the acting administrator (`detail.actor`) and has the
//! affected account as its `user_id`. Password hashes never leave the store.

use super::auth::AdminCaller;
use super::error::AdminError;
use super::json_body::JsonObject;
use crate::passwords::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN, PasswordError};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use postern_core::Username;
use postern_core::secret::random_id;
use postern_store::{AuditEvent, DisableOutcome, EnableOutcome, StoreError, UserRecord, UserSummary};
use serde_json::{Value, json};

/// User ids are `u_` plus a random suffix; anything much longer is not one.
pub(crate) const MAX_USER_ID_LEN: usize = 128;

fn user_json(user: &UserSummary) -> Value {
    json!({
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "created_at": user.created_at,
        "disabled_at": user.disabled_at,
        "live_grants": user.live_grants,
    })
}

/// `GET /users`: every account, by username.
pub async fn list(State(state): State<AppState>, _caller: AdminCaller) -> Result<Json<Value>, AdminError> {
    let users = state.store.list_user_summaries().await?;
    Ok(Json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })))
}

/// `POST /users` `{username, password, is_admin}`: the same rules as `postern users add`.
pub async fn create(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), AdminError> {
    let request = JsonObject::parse(&headers, &body, &["username", "password", "is_admin"])?;
    let username = request.string("username")?;
    let is_admin = request.boolean_or("is_admin", false)?;
    let password = request.string("password")?.to_owned();
    let user = create_user(&state, &caller, username, password, is_admin).await?;
    Ok((StatusCode::CREATED, Json(user_json(&user))))
}

/// Creates an account with its audit event (the API and the admin console both call this).
pub async fn create_user(
    state: &AppState,
    caller: &AdminCaller,
    username: &str,
    password: String,
    is_admin: bool,
) -> Result<UserSummary, AdminError> {
    let username = Username::parse(username).map_err(|e| AdminError::bad_request(e.to_string()))?;
    let password_hash = hash(state, password).await?;
    let now = state.now();
    let id = random_id("u_").map_err(|e| {
        tracing::error!(error = %e, "random source failed");
        AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the random source failed")
    })?;
    let user = UserRecord {
        id: id.clone(),
        username: username.into_string(),
        password_hash,
        is_admin,
        created_at: now,
        disabled_at: None,
    };
    state.store.create_user(&user).await.map_err(|error| match error {
        StoreError::Conflict(_) => AdminError::conflict(format!("username '{}' is already taken", user.username)),
        other => other.into(),
    })?;
    let event = AuditEvent {
        user_id: Some(id.clone()),
        detail: json!({ "actor": caller.actor, "username": user.username, "is_admin": user.is_admin }),
        ..caller.audit("admin_user_created")
    };
    state.store.record_audit(&event, now).await?;
    summary(state, &id).await
}

/// `POST /users/{id}/disable`: the account can no longer sign in; its sessions end and its
/// grants are revoked (refresh tokens stop working, introspection reports its access tokens
/// inactive), all in one transaction.
pub async fn disable(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let (changed, sessions_ended, grants_revoked) = match disable_account(&state, &caller, &id).await? {
        DisableOutcome::Disabled { sessions_ended, grants_revoked } => (true, sessions_ended, grants_revoked),
        _ => (false, 0, 0),
    };
    Ok(Json(json!({
        "user": user_json(&summary(&state, &id).await?),
        "changed": changed,
        "sessions_ended": sessions_ended,
        "grants_revoked": grants_revoked,
    })))
}

/// Disables an account with its audit event (the API and the admin console both call this):
/// `Disabled` or `AlreadyDisabled`; an unknown account is 404, the caller's own account 409.
pub async fn disable_account(state: &AppState, caller: &AdminCaller, id: &str) -> Result<DisableOutcome, AdminError> {
    let id = known_id(id.to_owned())?;
    if caller.user_id.as_deref() == Some(id.as_str()) {
        return Err(AdminError::conflict("administrators cannot disable their own account"));
    }
    let event = AuditEvent {
        user_id: Some(id.clone()),
        detail: json!({ "actor": caller.actor }),
        ..caller.audit("admin_user_disabled")
    };
    match state.store.disable_user(&id, state.now(), &event).await? {
        DisableOutcome::NoSuchUser => Err(no_such_user(&id)),
        outcome => Ok(outcome),
    }
}

/// `POST /users/{id}/enable`: the account may sign in again. Revoked grants stay revoked.
pub async fn enable(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let changed = enable_account(&state, &caller, &id).await?;
    Ok(Json(json!({ "user": user_json(&summary(&state, &id).await?), "changed": changed })))
}

/// Enables an account with its audit event (the API and the admin console both call this);
/// false when it was not disabled.
pub async fn enable_account(state: &AppState, caller: &AdminCaller, id: &str) -> Result<bool, AdminError> {
    let id = known_id(id.to_owned())?;
    let event = AuditEvent {
        user_id: Some(id.clone()),
        detail: json!({ "actor": caller.actor }),
        ..caller.audit("admin_user_enabled")
    };
    match state.store.enable_user(&id, state.now(), &event).await? {
        EnableOutcome::NoSuchUser => Err(no_such_user(&id)),
        EnableOutcome::AlreadyEnabled => Ok(false),
        EnableOutcome::Enabled => Ok(true),
    }
}

/// `POST /users/{id}/password` `{password}`: replaces the password and ends every session of
/// the account. Grants are kept: applications stay connected.
pub async fn reset_password(
    State(state): State<AppState>,
    caller: AdminCaller,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let request = JsonObject::parse(&headers, &body, &["password"])?;
    let sessions_ended = replace_password(&state, &caller, &id, request.string("password")?.to_owned()).await?;
    Ok(Json(json!({ "user": user_json(&summary(&state, &id).await?), "sessions_ended": sessions_ended })))
}

/// Replaces an account's password with its audit event (the API and the admin console both
/// call this); returns the number of sessions ended.
pub async fn replace_password(
    state: &AppState,
    caller: &AdminCaller,
    id: &str,
    password: String,
) -> Result<u64, AdminError> {
    let id = known_id(id.to_owned())?;
    let password_hash = hash(state, password).await?;
    let event = AuditEvent {
        user_id: Some(id.clone()),
        detail: json!({ "actor": caller.actor }),
        ..caller.audit("admin_user_password_reset")
    };
    state.store.reset_user_password(&id, &password_hash, state.now(), &event).await?.ok_or_else(|| no_such_user(&id))
}

/// A user id from the path; one that cannot exist is simply not found.
fn known_id(id: String) -> Result<String, AdminError> {
    if id.chars().count() > MAX_USER_ID_LEN {
        return Err(no_such_user(&id));
    }
    Ok(id)
}

fn no_such_user(id: &str) -> AdminError {
    AdminError::not_found(format!("no user with id '{}'", crate::params::clip(id, 40)))
}

/// One account as the admin API lists it; 404 when there is none.
pub async fn summary(state: &AppState, id: &str) -> Result<UserSummary, AdminError> {
    let id = known_id(id.to_owned())?;
    let id = id.as_str();
    state.store.find_user_summary(id).await?.ok_or_else(|| no_such_user(id))
}

async fn hash(state: &AppState, password: String) -> Result<String, AdminError> {
    state.passwords.hash(password).await.map_err(|error| match error {
        PasswordError::Length => {
            AdminError::bad_request(format!("password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"))
        }
        PasswordError::Hash(detail) => {
            tracing::error!(%detail, "password hashing failed");
            AdminError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "password hashing failed")
        }
    })
}

//! Who is calling the admin API: an admin API token (`Authorization: Bearer padm_...`) or the
//! browser session of a user who is an administrator (the admin console checks sessions the
//! same way, with [`is_active_admin`]). Every call is audited: `admin_api_call` when it was
//! let through, `admin_api_call_refused` when its credentials were missing, wrong or not enough.
//! Failed authentication is throttled per address, which also bounds how fast refusals from one
//! address can grow the audit log; calls refused by the throttle itself are logged only.

use super::error::AdminError;
use crate::client_ip::ClientIp;
use crate::session;
use crate::state::AppState;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use postern_core::TokenHash;
use postern_store::{AdminAccess, AuditEvent, UserRecord};

/// Header a browser session must echo on changing requests (its CSRF token): a cookie alone
/// never authorizes a change.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Admin API tokens are `padm_` plus 43 base64url characters; anything longer is not one.
const MAX_TOKEN_CHARS: usize = 100;

/// The authenticated caller, in each admin handler's request extensions.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// `token:<id>` or `user:<id>`: what the audit log names.
    pub actor: String,
    /// The administrator's user id for session callers.
    pub user_id: Option<String>,
    pub access: AdminAccess,
    pub ip: String,
}

impl AdminCaller {
    /// An administrator signed in with a browser session (the API with a cookie, or the
    /// console): write access, named `user:<id>` in the audit log.
    pub fn signed_in(user_id: String, ip: String) -> Self {
        Self { actor: format!("user:{user_id}"), user_id: Some(user_id), access: AdminAccess::Write, ip }
    }

    pub fn audit(&self, kind: &'static str) -> AuditEvent {
        AuditEvent { user_id: self.user_id.clone(), ip: Some(self.ip.clone()), ..AuditEvent::new(kind) }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminCaller {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AdminError> {
        parts
            .extensions
            .get::<AdminCaller>()
            .cloned()
            .ok_or_else(|| AdminError::unauthenticated("the admin API needs an admin token or an admin session"))
    }
}

/// Middleware over every admin route: authenticate, enforce write access for changes, run the
/// handler, audit the call.
pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let Ok(ClientIp(ip)) = ClientIp::from_request_parts(&mut parts, &state).await;
    let ip = ip.to_string();
    let now = state.now();
    if let Some(wait) = state.admin_auth_failures.blocked_for(&ip, now) {
        return AdminError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            format!("too many failed admin authentications from this address; retry in {wait} s"),
        )
        .into_response();
    }
    let caller = match identify(&state, &parts, ip.clone()).await {
        Ok(caller) => caller,
        Err(Refused { error, user_id }) => {
            // A non-administrator's session counts as a failure too: every refusal here is an
            // audit event, so each must also bring its address closer to the throttle.
            if error.status.is_client_error() {
                state.admin_auth_failures.record_failure(&ip, now);
                tracing::warn!(%ip, reason = %error.description, "admin API authentication failed");
            }
            let event = AuditEvent { user_id, ip: Some(ip), ..AuditEvent::new("admin_api_call_refused") };
            return audit_refusal(&state, &parts, event, None, error).await;
        }
    };
    if !parts.method.is_safe() && caller.access < AdminAccess::Write {
        let error = AdminError::forbidden("this admin token is read-only; changes need a token with write access");
        let event = caller.audit("admin_api_call_refused");
        return audit_refusal(&state, &parts, event, Some(&caller.actor), error).await;
    }
    let (method, path) = (parts.method.to_string(), route_of(&parts));
    parts.extensions.insert(caller.clone());
    let response = next.run(Request::from_parts(parts, body)).await;

    let mut event = caller.audit("admin_api_call");
    event.detail = serde_json::json!({
        "actor": caller.actor, "method": method, "path": path, "status": response.status().as_u16(),
    });
    if let Err(error) = state.store.record_audit(&event, state.now()).await {
        tracing::error!(%error, "recording an admin API call failed");
    }
    response
}

/// The route template (`/admin/api/v1/clients/{client_id}`), so the audit log holds no
/// caller-chosen path text.
fn route_of(parts: &Parts) -> String {
    parts.extensions.get::<MatchedPath>().map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned())
}

/// Records a refused call (401 or 403; a database failure is not a refusal) and answers it.
async fn audit_refusal(
    state: &AppState,
    parts: &Parts,
    mut event: AuditEvent,
    actor: Option<&str>,
    error: AdminError,
) -> Response {
    if error.status.is_client_error() {
        event.detail = serde_json::json!({
            "actor": actor, "method": parts.method.as_str(), "path": route_of(parts),
            "status": error.status.as_u16(), "reason": error.description,
        });
        if let Err(store_error) = state.store.record_audit(&event, state.now()).await {
            tracing::error!(error = %store_error, "recording a refused admin API call failed");
        }
    }
    error.into_response()
}

/// Why [`identify`] refused a call, and the signed-in user it refused, if any.
struct Refused {
    error: AdminError,
    user_id: Option<String>,
}

impl From<AdminError> for Refused {
    fn from(error: AdminError) -> Self {
        Self { error, user_id: None }
    }
}

impl From<postern_store::StoreError> for Refused {
    fn from(error: postern_store::StoreError) -> Self {
        AdminError::from(error).into()
    }
}

async fn identify(state: &AppState, parts: &Parts, ip: String) -> Result<AdminCaller, Refused> {
    if let Some(authorization) = parts.headers.get(header::AUTHORIZATION) {
        let token = authorization
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty() && token.len() <= MAX_TOKEN_CHARS)
            .ok_or_else(|| AdminError::unauthenticated("Authorization must be 'Bearer <admin token>'"))?;
        let record = state
            .store
            .find_admin_token(TokenHash::of(token).as_str())
            .await?
            .filter(|record| record.is_live(state.now()))
            .ok_or_else(|| AdminError::unauthenticated("the admin token is unknown, revoked or expired"))?;
        state.store.touch_admin_token(&record.id, state.now()).await?;
        return Ok(AdminCaller { actor: format!("token:{}", record.id), user_id: None, access: record.access, ip });
    }
    let session = session::load_existing(state, &parts.headers)
        .await?
        .filter(|session| session.user.is_some())
        .ok_or_else(|| AdminError::unauthenticated("the admin API needs an admin token or an admin session"))?;
    let user_id = session.user.as_ref().map(|user| user.user_id.clone()).unwrap_or_default();
    let user = state.store.find_user(&user_id).await?;
    let refused = |error| Refused { error, user_id: Some(user_id.clone()) };
    if !user.as_ref().is_some_and(is_active_admin) {
        return Err(refused(AdminError::forbidden("this account is not an administrator")));
    }
    if !parts.method.is_safe() {
        let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !session.verify_csrf(presented) {
            return Err(refused(AdminError::forbidden(format!(
                "a change made with a browser session must send the session's CSRF token in {CSRF_HEADER}"
            ))));
        }
    }
    Ok(AdminCaller::signed_in(user_id, ip))
}

/// Whether an account may administer with its browser session: an administrator whose account
/// is not disabled.
pub fn is_active_admin(user: &UserRecord) -> bool {
    user.is_admin && user.disabled_at.is_none()
}

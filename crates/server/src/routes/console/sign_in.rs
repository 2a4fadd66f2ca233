//! `GET|POST /admin/sign-in` and `POST /admin/sign-out`. Signing in checks the password exactly
//! as every sign-in form does (password_sign_in.rs: throttles, timing, audit events) and starts
//! the normal session (session.rs). Only an administrator whose account is not disabled gets a
//! session here; anyone else is told why, after the right password only.

use super::Paths;
use crate::authorization_response::{redirect, with_session_cookie};
use crate::client_ip::ClientIp;
use crate::form_post::{self, FormRefused};
use crate::pages;
use crate::params::clip;
use crate::password_sign_in::{self, SignInAttempt};
use crate::routes::admin::auth::is_active_admin;
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use postern_core::TokenHash;
use postern_core::username::MAX_USERNAME_LEN;
use postern_store::{AuditEvent, StoreError, UserRecord};

const NOT_AN_ADMINISTRATOR: &str =
    "This account is not an administrator. Sign in with an administrator's account to use the admin console.";

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage<'a> {
    static_prefix: &'a str,
    action: String,
    csrf: String,
    username: &'a str,
    error: Option<&'a str>,
    notice: Option<&'a str>,
}

/// `GET /admin/sign-in`: the form, or straight to the overview for a signed-in administrator.
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match session::load(&state, &headers).await {
        Ok(session) => session,
        Err(error) => return store_failure(&state, error),
    };
    match signed_in_user(&state, &session).await {
        Ok(Some(user)) if is_active_admin(&user) => redirect(&Paths::new(&state).overview(), false),
        Ok(Some(user)) => not_an_administrator(&state, &session, &user),
        Ok(None) => render(&state, &session, "", None, None, StatusCode::OK),
        Err(error) => store_failure(&state, error),
    }
}

/// `POST /admin/sign-in` (`csrf_token`, `username`, `password`).
pub async fn submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, session) = match form_post::checked(&state, &headers, &body).await {
        Ok(parts) => parts,
        Err(FormRefused::Store(error)) => return store_failure(&state, error),
        Err(refused) => return refused_form(&state, &refused),
    };
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    let attempt = SignInAttempt { username, password, ip, client_id: None };
    let user = match password_sign_in::check(&state, attempt).await {
        Ok(Ok(user)) => user,
        Ok(Err(refused)) => {
            return render(&state, &session, username, Some(refused.message()), None, refused.status());
        }
        Err(error) => return store_failure(&state, error),
    };
    if !is_active_admin(&user) {
        // The password was right, so saying so reveals nothing; no session is started for an
        // account that cannot use these pages.
        let event = AuditEvent {
            user_id: Some(user.id.clone()),
            ip: Some(ip.to_string()),
            detail: serde_json::json!({ "username": user.username }),
            ..AuditEvent::new("admin_console_refused")
        };
        if let Err(error) = state.store.record_audit(&event, state.now()).await {
            return store_failure(&state, error);
        }
        return render(&state, &session, username, Some(NOT_AN_ADMINISTRATOR), None, StatusCode::FORBIDDEN);
    }
    match session::start(&state, &session, &user.id).await {
        Ok(signed_in) => with_session_cookie(&state, &signed_in, redirect(&Paths::new(&state).overview(), true)),
        Err(error) => store_failure(&state, error),
    }
}

/// `POST /admin/sign-out` (`csrf_token`): ends the session. The cookie stays as the anonymous
/// binding of the next sign-in form.
pub async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let session = match form_post::checked(&state, &headers, &body).await {
        Ok((_, session)) => session,
        Err(FormRefused::Store(error)) => return store_failure(&state, error),
        Err(refused) => return refused_form(&state, &refused),
    };
    if session.user.is_some()
        && let Err(error) = state.store.delete_session(TokenHash::of(&session.cookie_value).as_str()).await
    {
        return store_failure(&state, error);
    }
    let signed_out = BrowserSession { user: None, ..session };
    render(&state, &signed_out, "", None, Some("You are signed out."), StatusCode::OK)
}

/// Where a request without an administrator's session is sent.
pub fn redirect_to_sign_in(state: &AppState) -> Response {
    redirect(&Paths::new(state).page("/sign-in"), false)
}

/// The sign-in page for a signed-in user who is not an administrator (or whose account was
/// disabled since), with 403.
pub fn not_an_administrator(state: &AppState, session: &BrowserSession, user: &UserRecord) -> Response {
    let message = if user.disabled_at.is_some() {
        password_sign_in::SignInRefused::Disabled.message()
    } else {
        NOT_AN_ADMINISTRATOR
    };
    render(state, session, "", Some(message), None, StatusCode::FORBIDDEN)
}

/// A console form refused by [`form_post::checked`]: the sign-in page says why, and signing
/// in again gives a fresh form.
pub fn refused_form(state: &AppState, refused: &FormRefused) -> Response {
    super::bare_page(state, refused.status(), "This form cannot be used", &refused.message())
}

async fn signed_in_user(state: &AppState, session: &BrowserSession) -> Result<Option<UserRecord>, StoreError> {
    match &session.user {
        Some(record) => state.store.find_user(&record.user_id).await,
        None => Ok(None),
    }
}

fn render(
    state: &AppState,
    session: &BrowserSession,
    username: &str,
    error: Option<&str>,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = SignInPage {
        static_prefix: state.settings.issuer.path(),
        action: Paths::new(state).page("/sign-in"),
        csrf: session.csrf_token(),
        username: &clip(username, MAX_USERNAME_LEN),
        error,
        notice,
    };
    with_session_cookie(state, session, pages::render(status, &page))
}

fn store_failure(state: &AppState, error: StoreError) -> Response {
    super::store_failure(state, error.into())
}

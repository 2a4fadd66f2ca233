//! A user's own pages under the issuer: `GET /account/apps` lists the applications they have
//! authorized (their live grants) and `POST /account/apps/revoke` revokes one;
//! `POST /account/sign-in` signs in without an authorization request. Forms carry the CSRF
//! token bound to the session cookie (session.rs), as the consent form does; no page has script.

use crate::authorization_response::{redirect, static_prefix, with_session_cookie};
use crate::client_ip::ClientIp;
use crate::form_post::{self, FormRefused};
use crate::pages;
use crate::params::{Params, clip};
use crate::password_sign_in::{self, SignInAttempt};
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use postern_core::timestamp::rfc3339;
use postern_core::username::MAX_USERNAME_LEN;
use postern_store::{AuditEvent, ConnectedApp, StoreError};

pub const APPS_PATH: &str = "/account/apps";
pub const REVOKE_PATH: &str = "/account/apps/revoke";
pub const SIGN_IN_PATH: &str = "/account/sign-in";
/// Grant ids are `g_` plus 22 characters; anything much longer is not one.
const MAX_GRANT_ID_LEN: usize = 128;

/// One connected application as the page shows it.
pub struct AppView {
    pub grant_id: String,
    pub name: String,
    /// Who vouches for the name: the publishing host, a self-registration, or the operator.
    pub provenance_label: &'static str,
    pub published_by: Option<String>,
    pub client_id: String,
    pub resource: String,
    pub scopes: Vec<String>,
    /// RFC 3339, UTC.
    pub since: String,
}

impl From<ConnectedApp> for AppView {
    fn from(app: ConnectedApp) -> Self {
        let (name, provenance_label, published_by) = match (app.document_host, app.registered_source.as_deref()) {
            // R094: a metadata-document client's name is only as good as the host that published it.
            (Some(host), _) => (app.document_name, "Published by", Some(host)),
            (None, Some("dcr")) => (app.registered_name, "Registered itself, publisher not verified", None),
            (None, Some(_)) => (app.registered_name, "Pre-registered by the operator of this server", None),
            (None, None) => (None, "Client", None),
        };
        Self {
            name: name.filter(|n| !n.is_empty()).unwrap_or_else(|| app.client_id.clone()),
            provenance_label,
            published_by,
            scopes: app.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            since: rfc3339(app.created_at),
            grant_id: app.grant_id,
            client_id: app.client_id,
            resource: app.resource,
        }
    }
}

#[derive(Template)]
#[template(path = "apps.html")]
struct AppsPage<'a> {
    static_prefix: &'a str,
    username: &'a str,
    apps: Vec<AppView>,
    revoke_action: String,
    csrf: String,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "account_sign_in.html")]
struct SignInPage<'a> {
    static_prefix: &'a str,
    action: String,
    csrf: String,
    username: &'a str,
    error: Option<&'a str>,
}

/// `GET /account/apps`: the list for a signed-in user, a sign-in form otherwise.
pub async fn apps(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let session = match session::load(&state, &headers).await {
        Ok(session) => session,
        Err(error) => return store_failure(&state, error),
    };
    let response = match &session.user {
        Some(user) => apps_page(&state, &session, &user.user_id, StatusCode::OK, None).await,
        None => sign_in_page(&state, &session, "", None, StatusCode::OK),
    };
    with_session_cookie(&state, &session, response)
}

/// `POST /account/sign-in` (`csrf_token`, `username`, `password`): the same checks, throttles
/// and audit events as the login step of /authorize; success leads back to the list.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, session) = match checked_form(&state, &headers, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    let attempt = SignInAttempt { username, password, ip, client_id: None };
    match password_sign_in::check(&state, attempt).await {
        Ok(Ok(user)) => match session::start(&state, &session, &user.id).await {
            Ok(signed_in) => {
                with_session_cookie(&state, &signed_in, redirect(&state.settings.issuer.endpoint_path(APPS_PATH), true))
            }
            Err(error) => store_failure(&state, error),
        },
        Ok(Err(refused)) => sign_in_page(&state, &session, username, Some(refused.message()), refused.status()),
        Err(error) => store_failure(&state, error),
    }
}

/// `POST /account/apps/revoke` (`csrf_token`, `grant_id`): revokes one of the signed-in user's
/// grants. A grant id that is unknown, revoked already or someone else's gets the same 404
/// page, so the form cannot be used to learn anything about other users' grants.
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, session) = match checked_form(&state, &headers, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let Some(user) = &session.user else {
        let message = "Your session has ended. Sign in again to manage your connected apps.";
        return sign_in_page(&state, &session, "", Some(message), StatusCode::UNAUTHORIZED);
    };
    let grant_id = params.get("grant_id").unwrap_or_default();
    let own_live_grant = if grant_id.len() <= MAX_GRANT_ID_LEN {
        match state.store.find_grant(grant_id).await {
            Ok(grant) => grant.filter(|g| g.user_id == user.user_id && g.revoked_at.is_none()),
            Err(error) => return store_failure(&state, error),
        }
    } else {
        None
    };
    let not_connected = "That application is not connected to your account; it may have been revoked already.";
    let Some(grant) = own_live_grant else {
        return apps_page(&state, &session, &user.user_id, StatusCode::NOT_FOUND, Some(not_connected)).await;
    };
    let event = AuditEvent {
        client_id: Some(grant.client_id.clone()),
        user_id: Some(user.user_id.clone()),
        ip: Some(ip.to_string()),
        detail: serde_json::json!({ "grant_id": grant.grant_id, "resource": grant.resource, "scope": grant.scope }),
        ..AuditEvent::new("grant_revoked_by_user")
    };
    // The store checks ownership again in the UPDATE itself, so a concurrent change cannot
    // slip between the lookup and the revocation.
    match state.store.revoke_grant_of_user(&user.user_id, &grant.grant_id, state.now(), &event).await {
        Ok(true) => redirect(&state.settings.issuer.endpoint_path(APPS_PATH), true),
        Ok(false) => apps_page(&state, &session, &user.user_id, StatusCode::NOT_FOUND, Some(not_connected)).await,
        Err(error) => store_failure(&state, error),
    }
}

/// A form post of these pages, checked as every page form is (form_post.rs: form-encoded, no
/// repeated field, the session cookie and its CSRF token, R096).
async fn checked_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Params, BrowserSession), Response> {
    form_post::checked(state, headers, body).await.map_err(|refused| match refused {
        FormRefused::Store(error) => store_failure(state, error),
        refused => {
            pages::error_page(static_prefix(state), refused.status(), "This form cannot be used", &refused.message())
        }
    })
}

async fn apps_page(
    state: &AppState,
    session: &BrowserSession,
    user_id: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (user, apps) = match tokio::try_join!(state.store.find_user(user_id), state.store.connected_apps(user_id)) {
        Ok(found) => found,
        Err(error) => return store_failure(state, error),
    };
    let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
        return sign_in_page(state, session, "", None, StatusCode::OK);
    };
    let page = AppsPage {
        static_prefix: static_prefix(state),
        username: &user.username,
        apps: apps.into_iter().map(AppView::from).collect(),
        revoke_action: state.settings.issuer.endpoint_path(REVOKE_PATH),
        csrf: session.csrf_token(),
        error,
    };
    pages::render(status, &page)
}

fn sign_in_page(
    state: &AppState,
    session: &BrowserSession,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = SignInPage {
        static_prefix: static_prefix(state),
        action: state.settings.issuer.endpoint_path(SIGN_IN_PATH),
        csrf: session.csrf_token(),
        username: &clip(username, MAX_USERNAME_LEN),
        error,
    };
    with_session_cookie(state, session, pages::render(status, &page))
}

fn store_failure(state: &AppState, error: StoreError) -> Response {
    tracing::error!(%error, "store failure on an account page");
    pages::error_page(
        static_prefix(state),
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The server could not complete this request. Try again in a moment.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(host: Option<&str>, source: Option<&str>) -> ConnectedApp {
        ConnectedApp {
            grant_id: "g_1".into(),
            client_id: "https://app.example.com/client.json".into(),
            scope: "mcp:read  mcp:write".into(),
            resource: "https://mcp.example.com/mcp".into(),
            created_at: 1_795_219_200,
            registered_name: source.map(|_| "Registered Name".into()),
            registered_source: source.map(str::to_owned),
            document_name: host.map(|_| "Document Name".into()),
            document_host: host.map(str::to_owned),
        }
    }

    #[test]
    fn each_kind_of_client_says_who_vouches_for_its_name() {
        let document = AppView::from(app(Some("app.example.com"), None));
        assert_eq!((document.name.as_str(), document.provenance_label), ("Document Name", "Published by"));
        assert_eq!(document.published_by.as_deref(), Some("app.example.com"));
        let dcr = AppView::from(app(None, Some("dcr")));
        assert_eq!(
            (dcr.name.as_str(), dcr.provenance_label),
            ("Registered Name", "Registered itself, publisher not verified")
        );
        let configured = AppView::from(app(None, Some("config")));
        assert!(configured.provenance_label.starts_with("Pre-registered"));
        assert_eq!(configured.published_by, None);
        let gone = AppView::from(app(None, None));
        assert_eq!(gone.name, gone.client_id, "a client no longer known shows its id");
        assert_eq!(gone.scopes, ["mcp:read", "mcp:write"]);
        assert_eq!(gone.since, "2026-11-21T00:00:00Z");
    }
}

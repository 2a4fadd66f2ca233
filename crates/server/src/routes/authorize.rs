//! `GET|POST /authorize`, and the login and consent forms that continue it.

use crate::authorization_request::{Authorization, AuthorizationRequest, AuthorizeFailure, RedirectTarget};
use crate::authorization_response::{failure_response, issue_code, redirect_error, static_prefix, with_session_cookie};
use crate::client_ip::ClientIp;
use crate::error::{ErrorCode, OAuthError};
use crate::pages::{self, ConsentPage, Hidden, LoginPage};
use crate::params::{Params, clip, is_form_urlencoded};
use crate::password_sign_in::{self, SignInAttempt};
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use postern_core::{RedirectUri, ScopeSet};
use postern_store::{AuditEvent, ConsentRecord};
use std::net::IpAddr;

pub async fn authorize_get(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(params) => params,
        Err(message) => return bad_request_page(&state, &message),
    };
    start(&state, ip, &headers, &params, false).await
}

/// R110: POST with a form body is the same request as GET.
pub async fn authorize_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(params) => params,
        Err(message) => return bad_request_page(&state, &message),
    };
    start(&state, ip, &headers, &params, true).await
}

async fn start(state: &AppState, ip: IpAddr, headers: &HeaderMap, params: &Params, after_post: bool) -> Response {
    let session = match session::load(state, headers).await {
        Ok(session) => session,
        Err(error) => return failure_response(state, AuthorizeFailure::Store(error), after_post),
    };
    let response = match Authorization::from_params(state, params, session.user.as_ref().map(|u| u.user_id.as_str()))
        .await
    {
        Ok(Authorization::Ready(request)) => proceed(state, &request, &session, false, ip, after_post)
            .await
            .unwrap_or_else(|failure| failure_response(state, failure, after_post)),
        // The client's redirect URIs are unknown until its document is fetched, which needs a
        // signed-in user: login_required cannot be sent anywhere safe.
        Ok(Authorization::SignInFirst(pending)) if pending.prompt_none => pages::error_page(
            static_prefix(state),
            StatusCode::BAD_REQUEST,
            "Sign-in required",
            "prompt=none was requested, but you are not signed in to this server. Start the sign-in again without prompt=none.",
        ),
        Ok(authorization) => login_page(state, (&authorization).into(), &session, "", None, StatusCode::OK),
        Err(failure) => failure_response(state, failure, after_post),
    };
    with_session_cookie(state, &session, response)
}

/// After the request is valid: log in if needed, ask for consent if needed, issue the code.
async fn proceed(
    state: &AppState,
    request: &AuthorizationRequest,
    session: &BrowserSession,
    fresh_login: bool,
    ip: IpAddr,
    after_post: bool,
) -> Result<Response, AuthorizeFailure> {
    let target = || RedirectTarget { redirect_uri: request.redirect_uri.clone(), state: request.state.clone() };
    let user_session = match &session.user {
        Some(user) if fresh_login || !request.prompt.login => user,
        _ if request.prompt.none => {
            return Ok(redirect_error(
                state,
                &target(),
                &OAuthError::new(ErrorCode::LoginRequired, "the user is not signed in and prompt=none was requested"),
                after_post,
            ));
        }
        _ => return Ok(login_page(state, request.into(), session, "", None, StatusCode::OK)),
    };
    // A consent is reused only for the same redirect URI (R097) and, for a metadata-document
    // client, only while its redirect URIs, auth method and keys are those the user saw (R091).
    let remembered = state
        .store
        .find_consent(
            &user_session.user_id,
            &request.client.client_id,
            &request.consent_redirect,
            request.resource.uri.as_str(),
        )
        .await?
        .is_some_and(|consent| {
            consent.client_fingerprint == request.client_fingerprint()
                && ScopeSet::parse(&consent.scope).is_ok_and(|s| request.scope.is_subset_of(&s))
        });
    if request.prompt.consent || !remembered {
        if request.prompt.none {
            return Ok(redirect_error(
                state,
                &target(),
                &OAuthError::new(
                    ErrorCode::ConsentRequired,
                    "the user has not approved this client and prompt=none was requested",
                ),
                after_post,
            ));
        }
        let username = state.store.find_user(&user_session.user_id).await?.map(|u| u.username).unwrap_or_default();
        return Ok(consent_page(state, request, session, &username));
    }
    issue_code(state, request, &user_session.user_id, user_session.auth_time, ip, after_post).await
}

/// `POST /login`: checks CSRF and throttling, verifies the password, starts a new session and
/// continues the authorization request carried in the form.
pub async fn login_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, session, authorization) = match continued_request(&state, &headers, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default();
    let attempt = SignInAttempt { username, password, ip, client_id: Some(authorization.client_id()) };
    let user = match password_sign_in::check(&state, attempt).await {
        Ok(Ok(user)) => user,
        Ok(Err(refused)) => {
            let (message, status) = (refused.message(), refused.status());
            return login_page(&state, (&authorization).into(), &session, username, Some(message), status);
        }
        Err(error) => return failure_response(&state, AuthorizeFailure::Store(error), true),
    };
    let new_session = match session::start(&state, &session, &user.id).await {
        Ok(new_session) => new_session,
        Err(error) => return failure_response(&state, AuthorizeFailure::Store(error), true),
    };
    let result = async {
        // Signed in now: a metadata document not fetched before may be fetched (DESIGN §4).
        let request = match authorization {
            Authorization::Ready(request) => request,
            Authorization::SignInFirst(_) => match Authorization::from_params(&state, &params, Some(&user.id)).await? {
                Authorization::Ready(request) => request,
                Authorization::SignInFirst(_) => {
                    return Err(AuthorizeFailure::Page("The application could not be resolved.".to_owned()));
                }
            },
        };
        proceed(&state, &request, &new_session, true, ip, true).await
    }
    .await;
    // The user is signed in even when the request then fails (a client awaiting approval, say).
    let response = result.unwrap_or_else(|failure| failure_response(&state, failure, true));
    with_session_cookie(&state, &new_session, response)
}

/// `POST /consent`: the signed-in user approves or denies.
pub async fn consent_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, session, authorization) = match continued_request(&state, &headers, &body).await {
        Ok(parts) => parts,
        Err(response) => return response,
    };
    let (Some(user_session), Authorization::Ready(request)) = (&session.user, &authorization) else {
        // The session expired while the consent page was open.
        return login_page(&state, (&authorization).into(), &session, "", None, StatusCode::OK);
    };
    // R091: the approval is for the document the user saw. If it changed while the page was
    // open (redirect URIs, auth method or keys), show the new one instead of approving it.
    if params.get("decision") == Some("approve")
        && params.get("document_fingerprint").unwrap_or_default() != request.client_fingerprint()
    {
        let username = match state.store.find_user(&user_session.user_id).await {
            Ok(user) => user.map(|u| u.username).unwrap_or_default(),
            Err(error) => return failure_response(&state, AuthorizeFailure::Store(error), true),
        };
        return consent_page(&state, request, &session, &username);
    }
    let now = state.now();
    let audit = |kind| AuditEvent {
        client_id: Some(request.client.client_id.clone()),
        user_id: Some(user_session.user_id.clone()),
        ip: Some(ip.to_string()),
        detail: serde_json::json!({ "scope": request.scope.to_string(), "resource": request.resource.uri.as_str() }),
        ..AuditEvent::new(kind)
    };
    let result = async {
        match params.get("decision") {
            Some("approve") => {
                let consent = ConsentRecord {
                    user_id: user_session.user_id.clone(),
                    client_id: request.client.client_id.clone(),
                    redirect_uri: request.consent_redirect.clone(),
                    resource: request.resource.uri.as_str().to_owned(),
                    scope: request.scope.to_string(),
                    client_fingerprint: request.client_fingerprint().to_owned(),
                    granted_at: now,
                };
                state.store.save_consent(&consent).await?;
                state.store.record_audit(&audit("consent_granted"), now).await?;
                issue_code(&state, request, &user_session.user_id, user_session.auth_time, ip, true).await
            }
            _ => {
                state.store.record_audit(&audit("consent_denied"), now).await?;
                let target =
                    RedirectTarget { redirect_uri: request.redirect_uri.clone(), state: request.state.clone() };
                let error = OAuthError::new(ErrorCode::AccessDenied, "the user denied the request");
                Ok(redirect_error(&state, &target, &error, true))
            }
        }
    }
    .await;
    result.unwrap_or_else(|failure| failure_response(&state, failure, true))
}

/// A login or consent form post: parse it, check its CSRF token against the browser's cookie
/// (R096) and re-validate the authorization request it carries.
async fn continued_request(
    state: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(Params, BrowserSession, Authorization), Response> {
    let params = form_params(headers, body).map_err(|m| bad_request_page(state, &m))?;
    let session = match session::load_existing(state, headers).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return Err(bad_request_page(
                state,
                "Your browser did not send the sign-in cookie. Enable cookies and start again.",
            ));
        }
        Err(error) => return Err(failure_response(state, AuthorizeFailure::Store(error), true)),
    };
    if !session.verify_csrf(params.get("csrf_token")) {
        return Err(bad_request_page(
            state,
            "This form has expired or was not sent from this site. Start the sign-in again.",
        ));
    }
    let authorization = Authorization::from_params(state, &params, session.user.as_ref().map(|u| u.user_id.as_str()))
        .await
        .map_err(|failure| failure_response(state, failure, true))?;
    Ok((params, session, authorization))
}
fn form_params(headers: &HeaderMap, body: &Bytes) -> Result<Params, String> {
    if !is_form_urlencoded(headers) {
        return Err("The request body must be application/x-www-form-urlencoded.".to_owned());
    }
    Params::parse(body)
}

fn bad_request_page(state: &AppState, message: &str) -> Response {
    pages::error_page(static_prefix(state), StatusCode::BAD_REQUEST, "This sign-in request is not valid", message)
}

/// What the login page says about the client.
struct LoginFor<'a> {
    client_name: &'a str,
    client_id: &'a str,
    forwarded: &'a [Hidden],
}

impl<'a> From<&'a AuthorizationRequest> for LoginFor<'a> {
    fn from(request: &'a AuthorizationRequest) -> Self {
        Self {
            client_name: &request.client.client_name,
            client_id: &request.client.client_id,
            forwarded: &request.forwarded,
        }
    }
}

impl<'a> From<&'a Authorization> for LoginFor<'a> {
    fn from(authorization: &'a Authorization) -> Self {
        Self {
            client_name: authorization.client_name(),
            client_id: authorization.client_id(),
            forwarded: authorization.forwarded(),
        }
    }
}

fn login_page(
    state: &AppState,
    client: LoginFor<'_>,
    session: &BrowserSession,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let page = LoginPage {
        static_prefix: static_prefix(state),
        action: state.settings.issuer.endpoint_path("/login"),
        csrf: session.csrf_token(),
        hidden: client.forwarded,
        client_name: client.client_name,
        client_id: client.client_id,
        username: &clip(username, 64),
        error,
    };
    with_session_cookie(state, session, pages::render(status, &page))
}

fn consent_page(
    state: &AppState,
    request: &AuthorizationRequest,
    session: &BrowserSession,
    username: &str,
) -> Response {
    let redirect = RedirectUri::parse(&request.redirect_uri).ok();
    let document = request.document.as_ref().map(|d| &d.client);
    let page = ConsentPage {
        document_fingerprint: request.client_fingerprint(),
        verified_host: document.map(|d| d.url.host()),
        logo_url: document.filter(|d| d.logo.is_some()).map(|d| {
            let query =
                form_urlencoded::Serializer::new(String::new()).append_pair("client_id", d.url.as_str()).finish();
            format!("{}?{query}", state.settings.issuer.endpoint_path("/client-logo"))
        }),
        all_redirects_loopback: document.is_some_and(|d| d.all_redirects_loopback),
        self_registered: request.client.source == postern_store::ClientSource::Dcr,
        static_prefix: static_prefix(state),
        action: state.settings.issuer.endpoint_path("/consent"),
        csrf: session.csrf_token(),
        hidden: &request.forwarded,
        client_name: &request.client.client_name,
        client_id: &request.client.client_id,
        redirect_host: redirect.as_ref().map(RedirectUri::host).unwrap_or_default(),
        redirect_uri: &request.redirect_uri,
        loopback_redirect: redirect.as_ref().is_some_and(RedirectUri::is_loopback),
        resource_name: &request.resource.name,
        resource_uri: request.resource.uri.as_str(),
        scopes: request.scope.iter().map(|s| s.as_str().to_owned()).collect(),
        username,
    };
    with_session_cookie(state, session, pages::render(StatusCode::OK, &page))
}

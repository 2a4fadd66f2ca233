//! What /authorize sends back: a code or an error on the client's redirect URI (always with
//! `iss`, RFC 9207), or a page.

use crate::authorization_request::{AuthorizationRequest, AuthorizeFailure, RedirectTarget};
use crate::error::OAuthError;
use crate::pages;
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::OpaqueToken;
use postern_core::secret::random_id;
use postern_store::{AuditEvent, AuthorizationCodeRecord};
use std::net::IpAddr;

/// Appends parameters to the redirect URI exactly as registered: an existing query is kept.
pub fn redirect_url(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{}", query.finish())
}

/// R115: 302 answers a GET, 303 answers a form POST; never 307.
pub fn redirect(location: &str, after_post: bool) -> Response {
    let status = if after_post { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    match HeaderValue::from_str(location) {
        Ok(value) => (status, [(header::LOCATION, value)]).into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "invalid redirect").into_response(),
    }
}

/// R113, R114, R118: error, description, state (when sent) and iss.
pub fn redirect_error(state: &AppState, target: &RedirectTarget, error: &OAuthError, after_post: bool) -> Response {
    let mut params = vec![("error", error.code.as_str()), ("error_description", error.description.as_str())];
    if let Some(client_state) = &target.state {
        params.push(("state", client_state));
    }
    params.push(("iss", state.settings.issuer.as_str()));
    redirect(&redirect_url(&target.redirect_uri, &params), after_post)
}

pub fn static_prefix(state: &AppState) -> &str {
    state.settings.issuer.path()
}

/// Renders an [`AuthorizeFailure`] the only safe way for its kind.
pub fn failure_response(state: &AppState, failure: AuthorizeFailure, after_post: bool) -> Response {
    match failure {
        AuthorizeFailure::Page(message) => pages::error_page(
            static_prefix(state),
            StatusCode::BAD_REQUEST,
            "This sign-in request is not valid",
            &message,
        ),
        AuthorizeFailure::Notice { status, title, message, by_policy: false } => {
            pages::error_page(static_prefix(state), status, title, &message)
        }
        AuthorizeFailure::Notice { status, title, message, by_policy: true } => {
            pages::policy_page(static_prefix(state), status, title, &message)
        }
        AuthorizeFailure::Redirect(target, error) => redirect_error(state, &target, &error, after_post),
        AuthorizeFailure::Store(error) => {
            tracing::error!(%error, "store failure during authorization");
            pages::error_page(
                static_prefix(state),
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not complete this request. Try again in a moment.",
            )
        }
    }
}

/// Issues a single-use code bound to everything the token endpoint must re-check (R140), and
/// redirects to the client with `code`, `state` and `iss`.
pub async fn issue_code(
    state: &AppState,
    request: &AuthorizationRequest,
    user_id: &str,
    auth_time: i64,
    ip: IpAddr,
    after_post: bool,
) -> Result<Response, AuthorizeFailure> {
    let now = state.now();
    let random_failure =
        |e: getrandom::Error| AuthorizeFailure::Store(postern_store::StoreError::Config(e.to_string()));
    let code = OpaqueToken::generate("pc_").map_err(random_failure)?;
    let record = AuthorizationCodeRecord {
        code_hash: code.hash().as_str().to_owned(),
        grant_id: random_id("g_").map_err(random_failure)?,
        client_id: request.client.client_id.clone(),
        user_id: user_id.to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.as_str().to_owned(),
        scope: request.scope.to_string(),
        resource: request.resource.uri.as_str().to_owned(),
        auth_time,
        issued_at: now,
        expires_at: now + state.settings.authorization_code_ttl,
        consumed_at: None,
        // DESIGN §4: the token endpoint uses the client exactly as validated here.
        client_snapshot: request.document.as_ref().map(|d| d.client.snapshot_json.clone()),
    };
    let mut detail =
        serde_json::json!({ "grant_id": record.grant_id, "scope": record.scope, "resource": record.resource });
    if let Some(document) = &request.document {
        // Fetches have their own audit events; this says whether this code relied on one.
        detail["metadata_document"] = document.cache_outcome().into();
    }
    let audit = AuditEvent {
        client_id: Some(record.client_id.clone()),
        user_id: Some(user_id.to_owned()),
        ip: Some(ip.to_string()),
        detail,
        ..AuditEvent::new("code_issued")
    };
    state.store.insert_authorization_code(&record, &audit).await?;
    let mut params = vec![("code", code.expose())];
    if let Some(client_state) = &request.state {
        params.push(("state", client_state));
    }
    params.push(("iss", state.settings.issuer.as_str()));
    Ok(redirect(&redirect_url(&request.redirect_uri, &params), after_post))
}

/// Adds the session cookie to a response when the browser needs a (new) one. Idempotent: the
/// page builders and the handlers that wrap them both call it, and RFC 6265 §4.1.1 asks for at
/// most one `Set-Cookie` per cookie name in a response.
pub fn with_session_cookie(state: &AppState, session: &BrowserSession, mut response: Response) -> Response {
    if session.needs_cookie
        && !response.headers().contains_key(header::SET_COOKIE)
        && let Some(cookie) = session::set_cookie_header(state, session)
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_url_keeps_an_existing_query_and_encodes_values() {
        assert_eq!(redirect_url("https://a.example/cb", &[("code", "x y")]), "https://a.example/cb?code=x+y");
        assert_eq!(redirect_url("https://a.example/cb?t=1", &[("code", "c")]), "https://a.example/cb?t=1&code=c");
    }
}

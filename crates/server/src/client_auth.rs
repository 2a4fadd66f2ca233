//! Client authentication at the token, introspection and revocation endpoints: `none`,
//! `client_secret_basic`, `client_secret_post` (R138, R144) and `private_key_jwt` (R142).

use crate::cimd;
use crate::client_assertion::{AssertionRules, CLIENT_ASSERTION_TYPE, verify_client_assertion};
use crate::client_keys::KeysUnavailable;
use crate::error::{AppError, OAuthError};
use crate::params::Params;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use postern_core::{ClientIdUrl, ClientType, TokenEndpointAuthMethod, TokenHash};
use postern_store::{ClientRecord, ClientStatus, StoreError};

pub struct AuthenticatedClient {
    pub record: ClientRecord,
    pub client_type: ClientType,
}

struct BasicCredentials {
    client_id: String,
    secret: String,
}

/// How the caller proved (or claimed) who it is.
enum Credentials<'a> {
    /// `client_id` only: a public client.
    None,
    Secret(&'a str),
    Assertion(&'a str),
}

/// RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let malformed = || OAuthError::invalid_client("malformed HTTP Basic credentials");
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(malformed()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "only HTTP Basic client authentication is accepted in the Authorization header",
        ));
    }
    if encoded.len() > 2048 {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    let (client_id, secret) = (unescape(id), unescape(secret));
    if client_id.contains('\0') || secret.contains('\0') {
        return Err(malformed());
    }
    Ok(Some(BasicCredentials { client_id, secret }))
}

/// RFC 7523 §3: `client_id` may be omitted with an assertion; the client is then its `sub`.
/// Read without verification only to find the client whose keys verify it.
fn assertion_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("sub")?.as_str().filter(|s| !s.is_empty() && s.len() <= 2048 && !s.contains('\0')).map(str::to_owned)
}

/// Identifies and authenticates the calling client. A confidential client must present its
/// secret or an assertion by exactly one method; a public client presents only its
/// `client_id`. `endpoint` is the URL called (an assertion's `aud` may name it, the token
/// endpoint or the issuer). `pinned` is the client snapshot of the code being redeemed, used
/// instead of the inventory's latest for a metadata-document client (DESIGN §4).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
    pinned: Option<&str>,
) -> Result<AuthenticatedClient, AppError> {
    let basic = basic_credentials(headers)?;
    let body_secret = params.get("client_secret");
    let body_id = params.get("client_id");
    let assertion = match (params.get("client_assertion_type"), params.get("client_assertion")) {
        (None, None) => None,
        (Some(CLIENT_ASSERTION_TYPE), Some(assertion)) => Some(assertion),
        (Some(CLIENT_ASSERTION_TYPE), None) => {
            return Err(OAuthError::invalid_request("client_assertion is required with client_assertion_type").into());
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {CLIENT_ASSERTION_TYPE} with a client_assertion"
            ))
            .into());
        }
        (Some(_), _) => {
            return Err(OAuthError::invalid_client(format!(
                "client_assertion_type is not supported; use {CLIENT_ASSERTION_TYPE}"
            ))
            .into());
        }
    };
    let methods = usize::from(basic.is_some()) + usize::from(body_secret.is_some()) + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method: HTTP Basic, client_secret in the body, or client_assertion",
        )
        .into());
    }
    let (client_id, credentials) = match (&basic, assertion) {
        (Some(b), _) => {
            if body_id.is_some_and(|id| id != b.client_id) {
                return Err(
                    OAuthError::invalid_request("client_id in the body differs from the HTTP Basic client_id").into()
                );
            }
            (b.client_id.clone(), Credentials::Secret(&b.secret))
        }
        (None, Some(assertion)) => match body_id {
            Some(id) => (id.to_owned(), Credentials::Assertion(assertion)),
            None => match assertion_subject(assertion) {
                Some(sub) => (sub, Credentials::Assertion(assertion)),
                None => return Err(OAuthError::invalid_client("client_assertion has no sub claim").into()),
            },
        },
        (None, None) => match body_id {
            Some(id) => (id.to_owned(), body_secret.map_or(Credentials::None, Credentials::Secret)),
            None => return Err(OAuthError::invalid_client("client authentication required: send client_id").into()),
        },
    };
    let fail = |description: &str| AppError::OAuth(OAuthError::invalid_client(description));
    let Some(record) = find_client(state, &client_id, pinned).await? else {
        return Err(fail("unknown client_id"));
    };
    match record.status {
        ClientStatus::Active => {}
        ClientStatus::Pending => return Err(fail("this client is waiting for administrator approval")),
        ClientStatus::Denied => return Err(fail("this client has been blocked by an administrator")),
    }
    let method = TokenEndpointAuthMethod::parse(&record.token_endpoint_auth_method)
        .map_err(|e| AppError::Internal(format!("stored client {client_id}: {e}")))?;
    let authenticated = |record| Ok(AuthenticatedClient { client_type: method.client_type(), record });
    match (method, credentials) {
        (TokenEndpointAuthMethod::None, Credentials::None) => authenticated(record),
        (TokenEndpointAuthMethod::None, _) => Err(fail(
            "this client is public (token_endpoint_auth_method \"none\"); send only client_id, no secret or assertion",
        )),
        (TokenEndpointAuthMethod::PrivateKeyJwt, Credentials::Assertion(assertion)) => {
            verify_assertion(state, &record, assertion, endpoint).await?;
            authenticated(record)
        }
        (TokenEndpointAuthMethod::PrivateKeyJwt, _) => Err(fail(&format!(
            "this client authenticates with private_key_jwt: send client_assertion_type={CLIENT_ASSERTION_TYPE} and a client_assertion signed with its key (R142)"
        ))),
        (_, Credentials::Secret(presented)) => {
            let Some(hash) = &record.secret_hash else {
                return Err(AppError::Internal(format!("client {client_id} has no stored secret")));
            };
            let now = state.now();
            if state.client_auth_failures.blocked_for(&client_id, now).is_some() {
                state.metrics.rate_limit_rejections.inc(crate::metrics::Limiter::ClientSecret);
                return Err(fail("too many failed authentication attempts for this client; retry in a minute"));
            }
            if TokenHash::from_stored(hash.clone()).matches(presented) {
                if record.secret_expires_at.is_some_and(|expires_at| now >= expires_at) {
                    return Err(fail("the client secret has expired (client_secret_expires_at); register again"));
                }
                authenticated(record)
            } else {
                state.client_auth_failures.record_failure(&client_id, now);
                Err(fail("client authentication failed"))
            }
        }
        (_, _) => Err(fail(&format!(
            "this client is confidential; authenticate with {} (client_secret_basic or client_secret_post)",
            method.as_str()
        ))),
    }
}

/// A pre-registered client, or a metadata-document client known from /authorize.
/// Whether `client_id` may still use what it holds: known, not pending, not blocked (for a
/// metadata-document client also still accepted by domain policy). Read through the per-node
/// caches, so a decision made on another node applies within their 5-second lifetime.
pub async fn client_is_active(state: &AppState, client_id: &str) -> Result<bool, StoreError> {
    Ok(find_client(state, client_id, None).await?.is_some_and(|client| client.status == ClientStatus::Active))
}

async fn find_client(
    state: &AppState,
    client_id: &str,
    pinned: Option<&str>,
) -> Result<Option<ClientRecord>, StoreError> {
    if ClientIdUrl::is_url_shaped(client_id) {
        cimd::known_client(state, client_id, pinned).await
    } else {
        state.clients.find(&state.store, client_id, state.now()).await
    }
}

/// R142: signature and claims, then `jti` replay protection across nodes (in the database).
async fn verify_assertion(
    state: &AppState,
    client: &ClientRecord,
    assertion: &str,
    endpoint: &str,
) -> Result<(), AppError> {
    let issuer = state.settings.issuer.as_str();
    let token_endpoint = state.settings.issuer.endpoint("/token");
    let audiences = [issuer, token_endpoint.as_str(), endpoint];
    let now = state.now();
    let rules = AssertionRules { client_id: &client.client_id, audiences: &audiences, now };
    let keys = |fresh| state.client_keys.for_client(state, client, fresh);
    let unavailable = |error| match error {
        KeysUnavailable::Client(reason) => AppError::OAuth(OAuthError::invalid_client(reason)),
        KeysUnavailable::Server(error) => error,
    };
    let mut verified = verify_client_assertion(assertion, &*keys(false).await.map_err(unavailable)?, &rules);
    if let Err(error) = &verified
        && error.is_unknown_key()
        && state.client_keys.may_refetch(client, now)
    {
        verified = verify_client_assertion(assertion, &*keys(true).await.map_err(unavailable)?, &rules);
    }
    let verified = verified.map_err(|e| OAuthError::invalid_client(e.to_string()))?;
    if !state.store.remember_client_assertion(&client.client_id, &verified.jti, verified.expires_at).await? {
        return Err(OAuthError::invalid_client(
            "client_assertion was already used (its jti was seen before); create a fresh assertion for each request",
        )
        .into());
    }
    Ok(())
}

//! Client authentication at the token, introspection and revocation endpoints:
//! `none`, `client_secret_basic` and `client_secret_post` (R138, R144).

use crate::error::{AppError, OAuthError};
use crate::params::Params;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postern_core::{ClientType, TokenEndpointAuthMethod, TokenHash};
use postern_store::ClientRecord;

pub struct AuthenticatedClient {
    pub record: ClientRecord,
    pub client_type: ClientType,
}

struct BasicCredentials {
    client_id: String,
    secret: String,
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

/// Identifies and authenticates the calling client. A confidential client must present its
/// secret by exactly one method; a public client presents only its `client_id`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<AuthenticatedClient, AppError> {
    let basic = basic_credentials(headers)?;
    let body_secret = params.get("client_secret");
    let body_id = params.get("client_id");
    if basic.is_some() && body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method: HTTP Basic or client_secret in the body, not both",
        )
        .into());
    }
    if params.get("client_assertion").is_some() {
        return Err(OAuthError::invalid_client("private_key_jwt is not enabled for any client on this server").into());
    }
    let (client_id, secret) = match &basic {
        Some(b) => {
            if body_id.is_some_and(|id| id != b.client_id) {
                return Err(
                    OAuthError::invalid_request("client_id in the body differs from the HTTP Basic client_id").into()
                );
            }
            (b.client_id.as_str(), Some(b.secret.as_str()))
        }
        None => match body_id {
            Some(id) => (id, body_secret),
            None => return Err(OAuthError::invalid_client("client authentication required: send client_id").into()),
        },
    };
    let fail = |description: &str| AppError::OAuth(OAuthError::invalid_client(description));
    let Some(record) = state.clients.find(&state.store, client_id, state.now()).await? else {
        return Err(fail("unknown client_id"));
    };
    let method = TokenEndpointAuthMethod::parse(&record.token_endpoint_auth_method)
        .map_err(|e| AppError::Internal(format!("stored client {client_id}: {e}")))?;
    match (&record.secret_hash, secret) {
        (None, None) => Ok(AuthenticatedClient { record, client_type: ClientType::Public }),
        (None, Some(_)) => {
            Err(fail("this client is public (token_endpoint_auth_method \"none\"); do not send a client secret"))
        }
        (Some(_), None) => Err(fail(&format!(
            "this client is confidential; authenticate with {} (client_secret_basic or client_secret_post)",
            method.as_str()
        ))),
        (Some(hash), Some(presented)) => {
            let now = state.now();
            if state.client_auth_failures.blocked_for(client_id, now).is_some() {
                return Err(fail("too many failed authentication attempts for this client; retry in a minute"));
            }
            if TokenHash::from_stored(hash.clone()).matches(presented) {
                Ok(AuthenticatedClient { client_type: method.client_type(), record })
            } else {
                state.client_auth_failures.record_failure(client_id, now);
                Err(fail("client authentication failed"))
            }
        }
    }
}

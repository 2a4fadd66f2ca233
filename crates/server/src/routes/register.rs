//! Dynamic Client Registration (RFC 7591, R100–R105) and its management API (RFC 7592,
//! R108–R109b). Off unless `dcr.enabled`; when on, fenced: per-IP token bucket, a global cap,
//! de-duplication of identical public registrations, optional initial access tokens, a scope
//! ceiling, and an audit event for every registration, update, deletion and rejection.

use crate::client_ip::ClientIp;
use crate::metrics::{Limiter, Registration};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use postern_core::registration_metadata::{
    RegistrationError, RegistrationMetadata, RegistrationRules, parse_registration_request,
};
use postern_core::secret::random_id;
use postern_core::{OpaqueToken, TokenEndpointAuthMethod, TokenHash};
use postern_store::{AuditEvent, ClientRecord, ClientSource, ClientStatus, DcrRegistration, StoreError};
use serde_json::{Map, Value, json};

/// Members a client may never set itself (RFC 7592 §2.2, R109a).
const SERVER_MEMBERS: [&str; 4] =
    ["registration_access_token", "registration_client_uri", "client_secret_expires_at", "client_id_issued_at"];

/// An RFC 7591 §3.2.2 error, or one of the HTTP-level refusals around it.
struct RegistrationFailure {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// `WWW-Authenticate` for 401s (RFC 6750).
    challenge: bool,
}

impl RegistrationFailure {
    fn metadata(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_client_metadata", description)
    }

    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), challenge: false }
    }

    fn invalid_token(description: impl Into<String>) -> Self {
        Self { challenge: true, ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description) }
    }
}

impl From<RegistrationError> for RegistrationFailure {
    fn from(error: RegistrationError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error.code.as_str(), error.description)
    }
}

impl From<StoreError> for RegistrationFailure {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure during client registration");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "the registration could not be stored; retry")
    }
}

impl IntoResponse for RegistrationFailure {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.error, "error_description": self.description }));
        let mut response = (self.status, body).into_response();
        if self.challenge {
            let value = format!("Bearer error=\"{}\"", self.error);
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("180"));
        }
        response
    }
}

/// `POST /register`.
pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ip = ip.to_string();
    match register_client(&state, &ip, &headers, &body).await {
        Ok(response) => response,
        Err(failure) => {
            let outcome = if failure.status.is_server_error() { Registration::Error } else { Registration::Refused };
            state.metrics.dcr_registrations.inc(outcome);
            // A flood is audited once per address and hour, not once per request: the audit
            // log must not become the table a flood grows.
            let flood_already_audited = failure.status == StatusCode::TOO_MANY_REQUESTS
                && state.registration_floods_audited.blocked_for(&ip, state.now()).is_some();
            if failure.status == StatusCode::TOO_MANY_REQUESTS {
                state.registration_floods_audited.record_failure(&ip, state.now());
            }
            if failure.status != StatusCode::INTERNAL_SERVER_ERROR && !flood_already_audited {
                let event = AuditEvent {
                    ip: Some(ip),
                    detail: json!({ "error": failure.error, "error_description": failure.description }),
                    ..AuditEvent::new("client_registration_rejected")
                };
                if let Err(error) = state.store.record_audit(&event, state.now()).await {
                    tracing::warn!(%error, "recording a rejected registration failed");
                }
            }
            failure.into_response()
        }
    }
}

async fn register_client(
    state: &AppState,
    ip: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, RegistrationFailure> {
    let settings = &state.settings.dcr;
    let now = state.now();
    // Every attempt spends a token, valid or not: a flood costs its sender, not our database.
    if !state.registrations_by_ip.try_take(ip, now) {
        state.metrics.rate_limit_rejections.inc(Limiter::Dcr);
        return Err(RegistrationFailure::new(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            format!(
                "too many registrations from this address; at most {} per hour are accepted",
                settings.registrations_per_ip_per_hour
            ),
        ));
    }
    if settings.require_initial_access_token {
        let token = bearer_token(headers)
            .ok_or_else(|| RegistrationFailure::invalid_token("registration requires an initial access token"))?;
        if !state.store.use_initial_access_token(TokenHash::of(token).as_str(), now).await? {
            return Err(RegistrationFailure::invalid_token(
                "the initial access token is unknown, expired, revoked or used up",
            ));
        }
    }
    let request = json_object(headers, body)?;
    let metadata = parse_registration_request(&Value::Object(request), &rules(state))?;
    if state.store.count_dcr_clients().await? >= settings.max_clients {
        return Err(RegistrationFailure::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "this server accepts no more registered clients; ask its administrator",
        ));
    }
    let public = metadata.token_endpoint_auth_method == TokenEndpointAuthMethod::None;
    // A public client registering the same metadata from the same address again gets the same
    // client back (with a new registration token) instead of another row.
    let dedupe_key = public.then(|| TokenHash::of(&format!("{ip}\n{}", metadata.canonical())).as_str().to_owned());
    let registration_token = OpaqueToken::generate("prat_").map_err(random_failure)?;
    if let Some(key) = &dedupe_key
        && let Some(existing) = state.store.find_dcr_registration_by_dedupe_key(key).await?
        && let Some(client) = state.store.find_client(&existing.client_id).await?
        && state.store.rotate_registration_token(&existing.client_id, registration_token.hash().as_str()).await?
    {
        let event = AuditEvent {
            client_id: Some(existing.client_id.clone()),
            ip: Some(ip.to_owned()),
            ..AuditEvent::new("client_registration_deduplicated")
        };
        state.store.record_audit(&event, now).await?;
        let body = client_information(state, &existing, &client, None, &registration_token)?;
        state.metrics.dcr_registrations.inc(Registration::Deduplicated);
        return Ok((StatusCode::CREATED, Json(body)).into_response());
    }

    let client_id = random_id("dcr_").map_err(random_failure)?;
    let secret = metadata
        .token_endpoint_auth_method
        .uses_shared_secret()
        .then(|| OpaqueToken::generate("pcs_"))
        .transpose()
        .map_err(random_failure)?;
    let mut record = client_record(&client_id, &metadata, secret.as_ref().map(|s| s.hash().as_str().to_owned()), now);
    record.secret_expires_at =
        secret.as_ref().and_then(|_| (settings.client_secret_ttl > 0).then(|| now + settings.client_secret_ttl));
    if settings.approval_required {
        record.status = ClientStatus::Pending;
    }
    let registration = DcrRegistration {
        client_id: client_id.clone(),
        registration_token_hash: registration_token.hash().as_str().to_owned(),
        metadata: Value::Object(metadata.to_json()).to_string(),
        dedupe_key,
        registered_ip: Some(ip.to_owned()),
        created_at: now,
    };
    let event = AuditEvent {
        client_id: Some(client_id.clone()),
        ip: Some(ip.to_owned()),
        detail: json!({
            "client_name": record.client_name,
            "redirect_uris": record.redirect_uris,
            "token_endpoint_auth_method": record.token_endpoint_auth_method,
            "status": record.status.as_str(),
        }),
        ..AuditEvent::new("client_registered")
    };
    state.store.insert_dcr_client(&record, &registration, &event).await?;
    let body = client_information(state, &registration, &record, secret.as_ref(), &registration_token)?;
    state.metrics.dcr_registrations.inc(Registration::Created);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn rules(state: &AppState) -> RegistrationRules<'_> {
    RegistrationRules {
        allowed_redirect_schemes: &state.settings.dcr.allowed_redirect_schemes,
        max_scopes: state.settings.dcr.max_scopes.as_ref(),
    }
}

fn random_failure(error: getrandom::Error) -> RegistrationFailure {
    StoreError::Config(format!("random source: {error}")).into()
}

/// R101: a JSON object, sent as `application/json`.
fn json_object(headers: &HeaderMap, body: &Bytes) -> Result<Map<String, Value>, RegistrationFailure> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(RegistrationFailure::metadata("the registration request must be sent as application/json"));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(RegistrationFailure::metadata("the registration request must be a JSON object")),
        Err(error) => {
            Err(RegistrationFailure::metadata(format!("the registration request is not valid JSON: {error}")))
        }
    }
}

fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= 512).then_some(token)
}

fn client_record(
    client_id: &str,
    metadata: &RegistrationMetadata,
    secret_hash: Option<String>,
    now: i64,
) -> ClientRecord {
    ClientRecord {
        client_id: client_id.to_owned(),
        client_name: metadata.client_name.clone().unwrap_or_else(|| client_id.to_owned()),
        redirect_uris: metadata.redirect_uris.clone(),
        grant_types: metadata.grant_types.clone(),
        token_endpoint_auth_method: metadata.token_endpoint_auth_method.as_str().to_owned(),
        secret_hash,
        scope: metadata.scope.as_ref().map(ToString::to_string),
        jwks: metadata.jwks.as_ref().map(Value::to_string),
        jwks_uri: metadata.jwks_uri.clone(),
        source: ClientSource::Dcr,
        status: ClientStatus::Active,
        secret_expires_at: None,
        created_at: now,
    }
}

/// R102, R108: the effective metadata plus what the server assigned.
fn client_information(
    state: &AppState,
    registration: &DcrRegistration,
    client: &ClientRecord,
    secret: Option<&OpaqueToken>,
    registration_token: &OpaqueToken,
) -> Result<Value, RegistrationFailure> {
    let mut body: Map<String, Value> = serde_json::from_str(&registration.metadata)
        .map_err(|e| StoreError::Corrupt(format!("registration metadata of {}: {e}", registration.client_id)))?;
    body.insert("client_id".into(), registration.client_id.clone().into());
    body.insert("client_id_issued_at".into(), registration.created_at.into());
    if let Some(secret) = secret {
        body.insert("client_secret".into(), secret.expose().into());
    }
    if client.secret_hash.is_some() {
        // R102: required whenever a secret was issued; 0 means it never expires.
        body.insert("client_secret_expires_at".into(), client.secret_expires_at.unwrap_or(0).into());
    }
    body.insert("registration_client_uri".into(), management_uri(state, &registration.client_id).into());
    body.insert("registration_access_token".into(), registration_token.expose().into());
    Ok(Value::Object(body))
}

fn management_uri(state: &AppState, client_id: &str) -> String {
    state.settings.issuer.endpoint(&format!("/register/{client_id}"))
}

/// R109: every management call proves itself with the registration access token. An unknown
/// client and a wrong token look the same (401), so client ids cannot be probed.
async fn authorized_registration(
    state: &AppState,
    headers: &HeaderMap,
    client_id: &str,
) -> Result<DcrRegistration, RegistrationFailure> {
    let token = bearer_token(headers)
        .ok_or_else(|| RegistrationFailure::invalid_token("send the registration access token as a Bearer token"))?;
    let registration = state.store.find_dcr_registration(client_id).await?;
    match registration {
        Some(registration) if TokenHash::from_stored(registration.registration_token_hash.clone()).matches(token) => {
            Ok(registration)
        }
        _ => Err(RegistrationFailure::invalid_token(
            "the registration access token is not valid for this client (or the client no longer exists)",
        )),
    }
}

/// `GET /register/{client_id}` (RFC 7592 §2.1). The secret is stored only as a hash, so it is
/// never returned again; the registration token is rotated on every read (R108 allows it).
pub async fn read(State(state): State<AppState>, Path(client_id): Path<String>, headers: HeaderMap) -> Response {
    let result = async {
        let registration = authorized_registration(&state, &headers, &client_id).await?;
        let Some(client) = state.store.find_client(&client_id).await? else {
            return Err(RegistrationFailure::invalid_token("the client no longer exists"));
        };
        let token = rotate(&state, &registration).await?;
        client_information(&state, &registration, &client, None, &token).map(|body| Json(body).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

async fn rotate(state: &AppState, registration: &DcrRegistration) -> Result<OpaqueToken, RegistrationFailure> {
    let token = OpaqueToken::generate("prat_").map_err(random_failure)?;
    if !state.store.rotate_registration_token(&registration.client_id, token.hash().as_str()).await? {
        return Err(RegistrationFailure::invalid_token("the client no longer exists"));
    }
    Ok(token)
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2, R109a): a full replacement of the metadata.
pub async fn update(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        let registration = authorized_registration(&state, &headers, &client_id).await?;
        let request = json_object(&headers, &body)?;
        if request.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
            return Err(RegistrationFailure::metadata("client_id in the body must be this client's client_id"));
        }
        if let Some(member) = SERVER_MEMBERS.iter().find(|m| request.contains_key(**m)) {
            return Err(RegistrationFailure::metadata(format!("{member} is set by the server and must not be sent")));
        }
        let Some(current) = state.store.find_client(&client_id).await? else {
            return Err(RegistrationFailure::invalid_token("the client no longer exists"));
        };
        if let Some(presented) = request.get("client_secret") {
            let matches = match (presented.as_str(), &current.secret_hash) {
                (Some(presented), Some(hash)) => TokenHash::from_stored(hash.clone()).matches(presented),
                _ => false,
            };
            if !matches {
                return Err(RegistrationFailure::metadata(
                    "client_secret does not match; clients cannot choose their own secret",
                ));
            }
        }
        let metadata = parse_registration_request(&Value::Object(request), &rules(&state))?;
        let current_method = TokenEndpointAuthMethod::parse(&current.token_endpoint_auth_method)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if current_method.uses_shared_secret() != metadata.token_endpoint_auth_method.uses_shared_secret() {
            return Err(RegistrationFailure::metadata(format!(
                "token_endpoint_auth_method cannot change from {current_method} to {}; register a new client",
                metadata.token_endpoint_auth_method
            )));
        }
        let record = ClientRecord {
            status: current.status,
            secret_expires_at: current.secret_expires_at,
            ..client_record(&client_id, &metadata, current.secret_hash.clone(), current.created_at)
        };
        let stored_metadata = Value::Object(metadata.to_json()).to_string();
        let event = AuditEvent {
            client_id: Some(client_id.clone()),
            ip: Some(ip.to_string()),
            detail: json!({ "redirect_uris": record.redirect_uris, "token_endpoint_auth_method": record.token_endpoint_auth_method }),
            ..AuditEvent::new("client_updated")
        };
        if !state.store.replace_dcr_client(&record, &stored_metadata, &event, state.now()).await? {
            return Err(RegistrationFailure::invalid_token("the client no longer exists"));
        }
        let updated = DcrRegistration { metadata: stored_metadata, ..registration };
        let token = rotate(&state, &updated).await?;
        client_information(&state, &updated, &record, None, &token).map(|body| Json(body).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3, R109b): 204, and the client, its secret, its
/// registration token and every grant it holds stop working.
pub async fn delete(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        authorized_registration(&state, &headers, &client_id).await?;
        let event = AuditEvent {
            client_id: Some(client_id.clone()),
            ip: Some(ip.to_string()),
            ..AuditEvent::new("client_deleted")
        };
        if !state.store.delete_dcr_client(&client_id, state.now(), &event).await? {
            return Err(RegistrationFailure::invalid_token("the client no longer exists"));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Removes registered clients that were never used or went idle (`dcr.unused_ttl_secs`,
/// `dcr.idle_ttl_secs`), revoking what they hold, each with a `client_reaped` audit event. Runs
/// with the other housekeeping; returns how many were removed.
pub async fn reap_unused_clients(state: &AppState) -> Result<usize, StoreError> {
    let now = state.now();
    let settings = &state.settings.dcr;
    let candidates = state.store.dcr_clients_to_reap(now - settings.unused_ttl, now - settings.idle_ttl).await?;
    let mut removed = 0;
    for client_id in candidates {
        let event = AuditEvent {
            client_id: Some(client_id.clone()),
            detail: json!({ "unused_ttl_secs": settings.unused_ttl, "idle_ttl_secs": settings.idle_ttl }),
            ..AuditEvent::new("client_reaped")
        };
        if state.store.delete_dcr_client(&client_id, now, &event).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

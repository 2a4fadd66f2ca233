//! Turning /authorize parameters into a validated [`AuthorizationRequest`].
//!
//! The order matters (R111, R113): until the client and its redirect URI are known to be good,
//! every problem is shown on an error page; after that, errors go back to the client's
//! redirect URI with `state` and `iss`.

use crate::cimd::{self, CimdLookup, CimdRefusal, MetadataClient};
use crate::config::ResourceSettings;
use crate::error::{ErrorCode, OAuthError};
use crate::pages::Hidden;
use crate::params::{Params, clip};
use crate::state::AppState;
use axum::http::StatusCode;
use postern_core::{ClientIdUrl, PkceChallenge, RedirectUri, ResourceUri, ScopeSet};
use postern_fetch::CacheOutcome;
use postern_store::{ClientRecord, ClientStatus, StoreError};
use std::sync::Arc;

/// The parameters carried through the login and consent forms.
const FORWARDED: [&str; 10] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "resource",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "response_mode",
];

const MAX_STATE_LEN: usize = 2048;

#[derive(Debug, Clone, Copy, Default)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

pub struct AuthorizationRequest {
    pub client: ClientRecord,
    /// Set for a client resolved from its metadata document.
    pub document: Option<DocumentClient>,
    /// Where the response goes: the redirect_uri sent, or the only registered one.
    pub redirect_uri: String,
    /// R097: a remembered consent to a metadata-document client is bound to the registered
    /// redirect URI that matched (one such client_id serves every installation); `""` for
    /// pre-registered clients.
    pub consent_redirect: String,
    pub state: Option<String>,
    pub scope: ScopeSet,
    pub resource: ResourceSettings,
    pub code_challenge: PkceChallenge,
    pub prompt: Prompt,
    pub forwarded: Vec<Hidden>,
}

/// A metadata-document client and whether its document came from the cache.
pub struct DocumentClient {
    pub client: Arc<MetadataClient>,
    pub cache: CacheOutcome,
}

impl DocumentClient {
    pub fn cache_outcome(&self) -> &'static str {
        match self.cache {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Loaded => "fetched",
            CacheOutcome::Coalesced => "coalesced",
        }
    }
}

/// A request that is either fully validated or must wait for the user to sign in: a client
/// identified by a metadata document that is not cached is fetched only after authentication,
/// and until then nothing is known about its redirect URIs.
pub enum Authorization {
    Ready(Box<AuthorizationRequest>),
    SignInFirst(SignInFirst),
}

pub struct SignInFirst {
    pub client_id: ClientIdUrl,
    pub forwarded: Vec<Hidden>,
    pub prompt_none: bool,
}

impl Authorization {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Ready(request) => &request.client.client_id,
            Self::SignInFirst(pending) => pending.client_id.as_str(),
        }
    }

    /// The name the login page shows: the validated name, or the only identity known before
    /// the document is fetched, the host of the client_id URL (R094).
    pub fn client_name(&self) -> &str {
        match self {
            Self::Ready(request) => &request.client.client_name,
            Self::SignInFirst(pending) => pending.client_id.host(),
        }
    }

    pub fn forwarded(&self) -> &[Hidden] {
        match self {
            Self::Ready(request) => &request.forwarded,
            Self::SignInFirst(pending) => &pending.forwarded,
        }
    }
}

/// A validated place to send errors to.
pub struct RedirectTarget {
    pub redirect_uri: String,
    pub state: Option<String>,
}

pub enum AuthorizeFailure {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (R111).
    Page(String),
    /// The same, with its own title and status (a metadata-document client refused).
    Notice {
        status: StatusCode,
        title: &'static str,
        message: String,
        /// The administrators decided (blocked, awaiting approval, domain policy).
        by_policy: bool,
    },
    Redirect(RedirectTarget, OAuthError),
    Store(StoreError),
}

impl From<StoreError> for AuthorizeFailure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<CimdRefusal> for AuthorizeFailure {
    fn from(refusal: CimdRefusal) -> Self {
        Self::Notice {
            status: refusal.status,
            title: refusal.title,
            message: refusal.message,
            by_policy: refusal.by_policy,
        }
    }
}

fn forwarded_params(params: &Params) -> Vec<Hidden> {
    let mut forwarded = Vec::new();
    for name in FORWARDED {
        for value in params.all(name) {
            forwarded.push(Hidden { name: name.to_owned(), value: value.to_owned() });
        }
    }
    forwarded
}

impl Authorization {
    /// `signed_in_user`: the browser has a signed-in session (this user's id), so a metadata
    /// document may be fetched.
    pub async fn from_params(
        state: &AppState,
        params: &Params,
        signed_in_user: Option<&str>,
    ) -> Result<Self, AuthorizeFailure> {
        let trusted = match trusted_client_and_redirect(state, params, signed_in_user).await? {
            TrustedClient::Known(trusted) => trusted,
            TrustedClient::SignInFirst(client_id) => {
                return Ok(Self::SignInFirst(SignInFirst {
                    client_id,
                    forwarded: forwarded_params(params),
                    prompt_none: params.get("prompt").is_some_and(|p| p.split(' ').any(|v| v == "none")),
                }));
            }
        };
        AuthorizationRequest::validate(state, params, *trusted).map(|request| Self::Ready(Box::new(request)))
    }
}

impl AuthorizationRequest {
    fn validate(state: &AppState, params: &Params, trusted: Trusted) -> Result<Self, AuthorizeFailure> {
        let Trusted { client, document, redirect_uri, consent_redirect } = trusted;
        // `state` goes back verbatim (R114); only its size is bounded.
        let client_state = match params.single("state") {
            Ok(Some(s)) if s.len() > MAX_STATE_LEN => None,
            Ok(s) => s.map(str::to_owned),
            Err(_) => None,
        };
        let target = RedirectTarget { redirect_uri: redirect_uri.clone(), state: client_state.clone() };
        let fail = |code: ErrorCode, description: String| {
            AuthorizeFailure::Redirect(
                RedirectTarget { redirect_uri: target.redirect_uri.clone(), state: target.state.clone() },
                OAuthError::new(code, description),
            )
        };
        let invalid = |description: String| fail(ErrorCode::InvalidRequest, description);

        if let Some(name) = FORWARDED.iter().find(|n| **n != "resource" && params.single(n).is_err()) {
            return Err(invalid(format!("parameter '{name}' was sent more than once")));
        }
        if params.get("state").is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(invalid(format!("state must be at most {MAX_STATE_LEN} characters")));
        }
        match params.get("response_type") {
            Some("code") => {}
            None => return Err(invalid("response_type is required and must be \"code\"".into())),
            Some(other) => {
                return Err(fail(
                    ErrorCode::UnsupportedResponseType,
                    format!("response_type '{}' is not supported; only \"code\" is", clip(other, 64)),
                ));
            }
        }
        if let Some(mode) = params.get("response_mode")
            && mode != "query"
        {
            return Err(invalid(format!("response_mode '{}' is not supported; use query", clip(mode, 64))));
        }
        if params.get("request").is_some() || params.get("request_uri").is_some() {
            return Err(invalid("request objects (request, request_uri) are not supported".into()));
        }
        if !client.grant_types.iter().any(|g| g == "authorization_code") {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "this client is not allowed to use the authorization code grant".into(),
            ));
        }
        let code_challenge = PkceChallenge::parse(params.get("code_challenge"), params.get("code_challenge_method"))
            .map_err(|e| invalid(e.to_string()))?;
        let resource =
            select_resource(state, &params.all("resource")).map_err(|d| fail(ErrorCode::InvalidTarget, d))?;
        let scope =
            select_scope(&client, &resource, params.get("scope")).map_err(|d| fail(ErrorCode::InvalidScope, d))?;
        let prompt = parse_prompt(params.get("prompt")).map_err(invalid)?;
        Ok(Self {
            client,
            document,
            redirect_uri,
            consent_redirect,
            state: client_state,
            scope,
            resource,
            code_challenge,
            prompt,
            forwarded: forwarded_params(params),
        })
    }

    /// For the consent record and the consent check: `""` for pre-registered clients.
    pub fn client_fingerprint(&self) -> &str {
        self.document.as_ref().map_or("", |d| d.client.fingerprint.as_str())
    }
}

/// A client and redirect URI known to be good.
struct Trusted {
    client: ClientRecord,
    document: Option<DocumentClient>,
    redirect_uri: String,
    consent_redirect: String,
}

enum TrustedClient {
    Known(Box<Trusted>),
    SignInFirst(ClientIdUrl),
}

/// R111, R106, R112, R082: the client must exist (pre-registered, or from a metadata document)
/// and the redirect URI must be one of its registered URIs (loopback: any port). Failures here
/// are pages.
async fn trusted_client_and_redirect(
    state: &AppState,
    params: &Params,
    signed_in_user: Option<&str>,
) -> Result<TrustedClient, AuthorizeFailure> {
    let page = |m: &str| AuthorizeFailure::Page(m.to_owned());
    let client_id = params
        .single("client_id")
        .map_err(|_| page("The request names more than one client_id."))?
        .ok_or_else(|| page("The request has no client_id."))?;
    let (client, document) = if ClientIdUrl::is_url_shaped(client_id) {
        match cimd::lookup(state, client_id, signed_in_user).await? {
            CimdLookup::Ready { client, cache } => {
                (client.snapshot.to_record(), Some(DocumentClient { client, cache }))
            }
            CimdLookup::SignInFirst { url } => return Ok(TrustedClient::SignInFirst(url)),
        }
    } else {
        match state.clients.find(&state.store, client_id, state.now()).await? {
            Some(client) => (client, None),
            None => {
                return Err(page(
                    "The application that sent you here is not registered with this server (unknown client_id).",
                ));
            }
        }
    };
    match client.status {
        ClientStatus::Active => {}
        ClientStatus::Pending => {
            return Err(AuthorizeFailure::Notice {
                status: StatusCode::FORBIDDEN,
                title: "Waiting for administrator approval",
                message: format!(
                    "{} registered itself with this server, and an administrator must approve it before anyone can \
                     sign in with it. Ask your administrator to approve it in the approvals queue of the admin \
                     console ({}) or to run: postern clients approve {}",
                    client.client_name,
                    crate::routes::console::approvals_url(state),
                    client.client_id
                ),
                by_policy: true,
            });
        }
        ClientStatus::Denied => {
            return Err(AuthorizeFailure::Notice {
                status: StatusCode::FORBIDDEN,
                title: "This application is blocked",
                message: format!("An administrator of this server has blocked {}.", client.client_id),
                by_policy: true,
            });
        }
    }
    let registered = client.redirect_uris.iter().filter_map(|u| RedirectUri::parse(u).ok()).collect::<Vec<_>>();
    let requested = params.single("redirect_uri").map_err(|_| page("The request names more than one redirect_uri."))?;
    let (redirect_uri, matched) = match requested {
        Some(requested) => match registered.iter().find(|r| r.matches_request(requested)) {
            Some(matched) => (requested.to_owned(), matched),
            None => {
                return Err(AuthorizeFailure::Page(format!(
                    "The redirect_uri is not registered for this client. Registered: {}",
                    client.redirect_uris.join(", ")
                )));
            }
        },
        None => match registered.as_slice() {
            [only] => (only.as_str().to_owned(), only),
            _ => return Err(page("redirect_uri is required because this client registered several redirect URIs.")),
        },
    };
    let consent_redirect = if document.is_some() { matched.as_str().to_owned() } else { String::new() };
    Ok(TrustedClient::Known(Box::new(Trusted { client, document, redirect_uri, consent_redirect })))
}

/// R127–R130: one resource per token; a missing resource means the only configured one.
fn select_resource(state: &AppState, requested: &[&str]) -> Result<ResourceSettings, String> {
    let configured = || state.settings.resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>().join(", ");
    match requested {
        [] => match state.settings.resources.as_slice() {
            [only] => Ok(only.clone()),
            _ => Err(format!("resource is required; this server protects: {}", configured())),
        },
        [one] => {
            let uri = ResourceUri::parse(one).map_err(|e| e.to_string())?;
            state.settings.resource(uri.as_str()).cloned().ok_or_else(|| {
                format!(
                    "resource '{}' is not served by this authorization server; known: {}",
                    clip(one, 64),
                    configured()
                )
            })
        }
        _ => Err("only one resource per request is supported (tokens carry a single audience)".to_owned()),
    }
}

/// The scopes to grant: those asked for (or the resource's defaults), which must lie within
/// the resource's scopes and the client's ceiling.
pub fn select_scope(
    client: &ClientRecord,
    resource: &ResourceSettings,
    requested: Option<&str>,
) -> Result<ScopeSet, String> {
    let mut allowed = resource.scopes.clone();
    if let Some(ceiling) = client.scope.as_deref() {
        let ceiling = ScopeSet::parse(ceiling).unwrap_or_default();
        allowed = ScopeSet::from_scopes(allowed.iter().filter(|s| ceiling.iter().any(|c| c == *s)).cloned());
    }
    let scope = match requested {
        Some(raw) => ScopeSet::parse(raw).map_err(|e| e.to_string())?,
        None => {
            ScopeSet::from_scopes(resource.default_scopes.iter().filter(|s| allowed.iter().any(|a| a == *s)).cloned())
        }
    };
    let unknown = scope.not_in(&allowed).map(|s| s.as_str()).collect::<Vec<_>>();
    if !unknown.is_empty() {
        return Err(format!(
            "scope not allowed for this client and resource: {}; allowed: {}",
            unknown.join(" "),
            allowed
        ));
    }
    if scope.is_empty() {
        return Err(format!("no scope to grant; allowed: {allowed}"));
    }
    Ok(scope)
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, String> {
    let mut prompt = Prompt::default();
    for value in raw.unwrap_or_default().split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            other => {
                return Err(format!("prompt value '{}' is not supported; use none, login or consent", clip(other, 64)));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err("prompt=none cannot be combined with other prompt values".to_owned());
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_parsing() {
        assert!(parse_prompt(Some("login consent")).unwrap().consent);
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("select_account")).is_err());
        assert!(!parse_prompt(None).unwrap().none);
    }
}

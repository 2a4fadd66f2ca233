//! rmcp's OAuth client, used as an application would: connect, meet the 401 challenge,
//! authorize (through the login driver), reconnect with an `AuthClient`.

use crate::browser;
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{
    AuthClient, AuthorizationManager, AuthorizationRequest, CredentialStore, InMemoryCredentialStore, OAuthState,
    OAuthTokenResponse, StoredCredentials,
};
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, InsufficientScopeError, StreamableHttpClientTransportConfig,
};
use serde_json::Value;

/// Where the client's redirect goes; nothing listens there (the driver hands the URL back).
pub const REDIRECT_URI: &str = "http://127.0.0.1:8976/callback";

pub struct Env {
    pub issuer: String,
    pub mcp_url: String,
    pub driver: String,
}

/// How the client identifies itself to Postern.
#[derive(Clone)]
pub enum Identity {
    Preregistered(String),
    MetadataDocument(String),
    Dynamic,
}

pub type Connection = RunningService<RoleClient, ClientConfig>;

/// A connected client and what it holds.
pub struct Session {
    pub connection: Connection,
    pub client: AuthClient<reqwest::Client>,
    pub credentials: InMemoryCredentialStore,
}

/// What a server's `WWW-Authenticate` said, as rmcp surfaced it.
#[derive(Debug, Clone)]
pub enum Challenge {
    Unauthorized(String),
    InsufficientScope { header: String, required_scope: Option<String> },
}

impl Challenge {
    pub fn header(&self) -> &str {
        match self {
            Self::Unauthorized(header) | Self::InsufficientScope { header, .. } => header,
        }
    }
}

/// Finds an authorization challenge anywhere in an rmcp error's source chain.
pub fn challenge_in(error: &(dyn std::error::Error + 'static)) -> Option<Challenge> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(e) = error.downcast_ref::<AuthRequiredError>() {
            return Some(Challenge::Unauthorized(e.www_authenticate_header.clone()));
        }
        if let Some(e) = error.downcast_ref::<InsufficientScopeError>() {
            return Some(Challenge::InsufficientScope {
                header: e.www_authenticate_header.clone(),
                required_scope: e.required_scope.clone(),
            });
        }
        // rmcp's outer errors do not report the transport error as their `source()`.
        current = if let Some(ServiceError::TransportSend(inner)) = error.downcast_ref::<ServiceError>() {
            Some(inner)
        } else if let Some(ClientInitializeError::TransportError { error: inner, .. }) =
            error.downcast_ref::<ClientInitializeError>()
        {
            Some(inner)
        } else {
            error.source()
        };
    }
    None
}

/// Connects without credentials, as a client meeting the server for the first time does, and
/// returns the server's 401 challenge.
pub async fn first_contact(env: &Env) -> anyhow::Result<String> {
    let transport = StreamableHttpClientTransport::with_client(
        reqwest::Client::default(),
        StreamableHttpClientTransportConfig::with_uri(env.mcp_url.as_str()),
    );
    match ClientConfig::default().serve(transport).await {
        Ok(_) => bail!("the MCP server accepted a connection without a token"),
        Err(error) => error.auth_challenge().map(str::to_owned).ok_or_else(|| anyhow!("no challenge in: {error}")),
    }
}

/// A full authorization: discovery from `challenge`, registration as `identity`, the browser
/// step through the driver, the code exchange. Returns the authorized manager, which saves its
/// tokens into `credentials`.
pub async fn authorize(
    env: &Env,
    identity: &Identity,
    challenge: &str,
    credentials: &InMemoryCredentialStore,
) -> anyhow::Result<AuthorizationManager> {
    let mut manager = AuthorizationManager::new(env.mcp_url.as_str()).await?;
    manager.set_credential_store(credentials.clone());
    let mut state = OAuthState::Unauthorized(manager);
    let request = match identity {
        Identity::Preregistered(client_id) => {
            AuthorizationRequest::new(REDIRECT_URI).with_preregistered_client(client_id)
        }
        Identity::MetadataDocument(url) => AuthorizationRequest::new(REDIRECT_URI).with_client_metadata_url(url),
        Identity::Dynamic => AuthorizationRequest::new(REDIRECT_URI).with_client_name("rmcp interop client"),
    };
    state.start_authorization(request.with_challenge(challenge)).await.context("start_authorization")?;
    let url = state.get_authorization_url().await?;
    let callback = browser::open(&env.driver, &url)?;
    check_issuer(env, &callback)?;
    state.handle_callback_url(&callback).await.context("code exchange")?;
    state.into_authorization_manager().ok_or_else(|| anyhow!("no authorization manager after the callback"))
}

/// RFC 9207: the authorization response names the issuer; a mix-up would show here.
fn check_issuer(env: &Env, callback: &str) -> anyhow::Result<()> {
    match browser::query_param(callback, "iss") {
        Some(iss) if iss == env.issuer => Ok(()),
        other => bail!("authorization response iss is {other:?}, expected {}", env.issuer),
    }
}

/// Connects with an authorized manager (rmcp's `AuthClient` adds the bearer token and
/// refreshes it when the server rejects it).
pub async fn connect(
    env: &Env,
    manager: AuthorizationManager,
    credentials: InMemoryCredentialStore,
) -> anyhow::Result<Session> {
    let client = AuthClient::new(reqwest::Client::default(), manager);
    let transport = StreamableHttpClientTransport::with_client(
        client.clone(),
        StreamableHttpClientTransportConfig::with_uri(env.mcp_url.as_str()),
    );
    let connection = ClientConfig::default().serve(transport).await.context("initialize")?;
    Ok(Session { connection, client, credentials })
}

/// A new connection with the same authorized client (and so the same tokens).
pub async fn reconnect(env: &Env, session: Session) -> anyhow::Result<Session> {
    let transport = StreamableHttpClientTransport::with_client(
        session.client.clone(),
        StreamableHttpClientTransportConfig::with_uri(env.mcp_url.as_str()),
    );
    let connection = ClientConfig::default().serve(transport).await.context("initialize")?;
    Ok(Session { connection, ..session })
}

/// A session whose only credential is `access_token` (no refresh token), as if the client had
/// stored it earlier.
pub async fn connect_holding(
    env: &Env,
    identity: &Identity,
    access_token: &str,
) -> anyhow::Result<AuthorizationManager> {
    let credentials = InMemoryCredentialStore::new();
    let client_id = match identity {
        Identity::Preregistered(id) | Identity::MetadataDocument(id) => id.clone(),
        Identity::Dynamic => bail!("a held token needs a known client id"),
    };
    let tokens = token_response(access_token, None)?;
    credentials.save(StoredCredentials::new(client_id.clone(), Some(tokens), vec![], None)).await?;
    let mut manager = AuthorizationManager::new(env.mcp_url.as_str()).await?;
    manager.set_credential_store(credentials);
    let metadata = manager.resolve_metadata().await?.metadata;
    manager.set_metadata(metadata);
    manager.configure_client_id(&client_id)?;
    Ok(manager)
}

/// A token response as the SDK stores it.
pub fn token_response(access_token: &str, refresh_token: Option<&str>) -> anyhow::Result<OAuthTokenResponse> {
    let mut json = serde_json::json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 3600});
    if let Some(refresh) = refresh_token {
        json["refresh_token"] = Value::from(refresh);
    }
    Ok(serde_json::from_value(json)?)
}

/// The stored token response as JSON (access_token, refresh_token, scope...).
pub async fn held_tokens(credentials: &InMemoryCredentialStore) -> anyhow::Result<Value> {
    let stored = credentials.load().await?.ok_or_else(|| anyhow!("no stored credentials"))?;
    let tokens = stored.token_response.ok_or_else(|| anyhow!("no stored tokens"))?;
    Ok(serde_json::to_value(tokens)?)
}

/// The claims of a JWT, unverified: the client only reads what it was given.
pub fn claims(jwt: &str) -> anyhow::Result<Value> {
    let payload = jwt.split('.').nth(1).ok_or_else(|| anyhow!("not a JWT"))?;
    Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload)?)?)
}

/// Calls a tool and returns its text content parsed as JSON.
pub async fn call_json(connection: &Connection, tool: &'static str, arguments: Value) -> Result<Value, ServiceError> {
    let mut params = CallToolRequestParams::new(tool);
    if let Value::Object(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    let result = connection.peer().call_tool(params).await?;
    let text = result.content.iter().find_map(|block| block.as_text().map(|t| t.text.clone())).unwrap_or_default();
    Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

//! A real Postern authorization server in-process (isolated SQLite store, 127.0.0.1:0), and an
//! MCP stand-in on its own port behind postern-guard, which finds Postern's keys through its
//! real metadata and `/jwks.json`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use postern_core::{Clock, FixedClock, SystemClock};
use postern_guard::{AccessIdentity, Guard, GuardConfig, ScopePolicy};
use postern_server::config::Config;
use postern_server::tokens::{GrantView, mint_access_token};
use postern_server::{AppState, Application, bootstrap};
use postern_store::Store;
use postern_store::test_support::{Backend, IsolationGuard, isolated_store};
use serde_json::{Value, json};
use std::sync::Arc;

pub const USER: &str = "u_alice";
pub const CLIENT: &str = "mcp-client";

pub struct Harness {
    /// Postern's issuer (`http://127.0.0.1:PORT`).
    pub issuer: String,
    /// The guarded MCP endpoint, also the configured resource.
    pub resource: String,
    /// `http://127.0.0.1:PORT` of the MCP server.
    pub mcp_origin: String,
    pub postern: AppState,
    pub store: Store,
    /// The guard's clock; Postern's own clock is the system clock.
    pub clock: FixedClock,
    pub now: i64,
    pub http: reqwest::Client,
    _isolation: IsolationGuard,
    _stop_postern: tokio::sync::oneshot::Sender<()>,
}

/// A response, read completely.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn challenge(&self) -> String {
        self.header("www-authenticate").unwrap_or_else(|| panic!("no challenge; {} {}", self.status, self.body))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// The MCP server's handler: reports who called and what it received.
async fn whoami(identity: AccessIdentity, body: String) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": identity.sub,
        "client_id": identity.client_id,
        "scopes": identity.scopes,
        "jti": identity.jti,
        "exp": identity.exp,
        "body": body,
    }))
}

pub fn policy() -> ScopePolicy {
    ScopePolicy::new().require(["mcp:read"]).tool("write_note", ["mcp:write"])
}

impl Harness {
    pub async fn start() -> Self {
        let (store, database, isolation) = isolated_store(Backend::Sqlite).await.expect("isolated store");
        let as_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let as_port = as_listener.local_addr().unwrap().port();
        let mcp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mcp_origin = format!("http://{}", mcp_listener.local_addr().unwrap());
        let issuer = format!("http://127.0.0.1:{as_port}");
        let resource = format!("{mcp_origin}/mcp");

        let mut config =
            Config { issuer: issuer.clone(), listen: format!("127.0.0.1:{as_port}"), database, ..Config::default() };
        config.resources[0].uri = resource.clone();
        let settings = config.validate().expect("valid configuration");
        let now = SystemClock.now();
        bootstrap::prepare(&store, &settings, now).await.unwrap();
        let app =
            Application::with_listener(as_listener, settings, store.clone(), Arc::new(SystemClock)).await.unwrap();
        let postern = app.state().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));

        let clock = FixedClock::at(now);
        let guard = Guard::new(
            GuardConfig::new(&resource, &issuer)
                .with_scopes_supported(["mcp:read"])
                .with_resource_name("Notes")
                .with_policy(policy())
                .with_clock(Arc::new(clock.clone())),
        )
        .unwrap();
        let mcp =
            Router::new().route("/mcp", post(whoami).get(whoami)).layer(guard.layer()).merge(guard.metadata_router());
        tokio::spawn(async move { axum::serve(mcp_listener, mcp).await });

        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self {
            issuer,
            resource,
            mcp_origin,
            postern,
            store,
            clock,
            now,
            http,
            _isolation: isolation,
            _stop_postern: stop,
        }
    }

    /// A token as Postern's token endpoint mints it.
    pub fn mint(&self, scope: &str) -> String {
        self.mint_with(&self.resource, scope, self.now)
    }

    pub fn mint_with(&self, resource: &str, scope: &str, now: i64) -> String {
        let grant = GrantView { grant_id: "g_1", user_id: USER, client_id: CLIENT, resource, scope };
        mint_access_token(&self.postern, &grant, now).unwrap()
    }

    /// Signs arbitrary header and claims with Postern's current private key (stored unencrypted
    /// in tests), for tokens Postern itself would never mint.
    pub async fn forge(&self, header: &Value, claims: &Value) -> String {
        let record =
            self.store.list_signing_keys().await.unwrap().into_iter().find(|k| k.retired_at.is_none()).unwrap();
        let pkcs8 = STANDARD.decode(record.private_key.strip_prefix("plain:").unwrap()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
        let mut header = header.clone();
        if header.get("kid").is_none() {
            header["kid"] = json!(record.kid);
        }
        let message =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = pair.sign(&SystemRandom::new(), message.as_bytes()).unwrap();
        format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.as_ref()))
    }

    /// The claims Postern puts in a token for this resource.
    pub fn claims(&self, scope: &str) -> Value {
        json!({
            "iss": self.issuer, "sub": USER, "aud": self.resource, "client_id": CLIENT, "scope": scope,
            "iat": self.now, "exp": self.now + 3600, "jti": "at_forged", "grant_id": "g_1",
        })
    }

    /// Rotates Postern's signing key as `postern keys rotate` does, and makes the running server
    /// sign with it (its periodic reload would do so within a minute).
    pub async fn rotate_keys(&self) -> String {
        let key = postern_server::keys::generate_es256(None, self.now).unwrap();
        self.store.add_current_signing_key(&key).await.unwrap();
        self.postern.keys.reload(&self.store).await.unwrap();
        key.kid
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Reply { status, headers, body }
    }

    pub async fn get(&self, url: &str) -> Reply {
        Self::reply(self.http.get(url).send().await.unwrap()).await
    }

    /// POSTs a JSON-RPC body to `/mcp` (plus `query`) with an optional `Authorization` value.
    pub async fn call(&self, query: &str, authorization: Option<&str>, body: &str) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{query}", self.resource))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    /// POSTs `body` with `Bearer <token>`.
    pub async fn call_with(&self, token: &str, body: &str) -> Reply {
        self.call("", Some(&format!("Bearer {token}")), body).await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        Self::reply(request.send().await.unwrap()).await
    }

    /// The path-inserted PRM URL.
    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.mcp_origin)
    }
}

pub const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
pub const WRITE: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"hi"}}}"#;
pub const WHOAMI: &str = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}"#;

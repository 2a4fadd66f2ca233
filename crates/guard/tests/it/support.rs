//! A real Postern authorization server in-process (isolated SQLite store, 127.0.0.1:0), and an
//! MCP stand-in on its own port behind postern-guard, which finds Postern's keys through its
//! real metadata and `/jwks.json` (or, in introspection mode, its `introspection_endpoint`).
//!
//! Postern knows two clients: the MCP client [`CLIENT`] (public), whose tokens the tests mint
//! or obtain at `/token`, and the MCP server's own confidential client [`RS_CLIENT`], with
//! which the guard authenticates to `/introspect`.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Router;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use postern_core::{Clock, FixedClock, SystemClock, TokenHash};
use postern_guard::{AccessIdentity, Guard, GuardConfig, ScopePolicy};
use postern_server::config::{ClientConfig, Config, ResourceConfig};
use postern_server::tokens::{GrantView, mint_access_token};
use postern_server::{AppState, Application, bootstrap};
use postern_store::test_support::{Backend, IsolationGuard, isolated_store};
use postern_store::{AuditEvent, AuthorizationCodeRecord, Store};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const USER: &str = "u_alice";
pub const CLIENT: &str = "mcp-client";
pub const CLIENT_REDIRECT: &str = "http://127.0.0.1/callback";
/// The MCP server's confidential client at Postern, for introspection.
pub const RS_CLIENT: &str = "mcp-server";
pub const RS_SECRET: &str = "pcs_guard-introspection-secret";
/// A second resource Postern serves, for tokens not meant for the guarded one.
pub const OTHER_RESOURCE: &str = "https://other.example/mcp";

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
    grants: AtomicUsize,
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

/// Tokens as Postern's token endpoint returns them.
pub struct Issued {
    pub access: String,
    pub refresh: String,
}

fn client(client_id: &str, redirect_uri: &str, auth_method: &str, secret: Option<&str>) -> ClientConfig {
    ClientConfig {
        client_id: client_id.into(),
        client_name: None,
        redirect_uris: vec![redirect_uri.into()],
        token_endpoint_auth_method: auth_method.into(),
        client_secret_sha256: secret.map(|s| TokenHash::of(s).as_str().to_owned()),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: None,
        jwks: None,
        jwks_uri: None,
    }
}

impl Harness {
    /// The guard in JWT mode, with keys discovered from Postern's metadata.
    pub async fn start() -> Self {
        Self::start_with(|config, _| config).await
    }

    /// The guard in introspection mode, the endpoint discovered from Postern's metadata.
    pub async fn introspecting() -> Self {
        Self::start_with(|config, _| config.with_introspection(RS_CLIENT, RS_SECRET)).await
    }

    /// The guard configured as usual, then by `adjust` (which also gets Postern's issuer).
    pub async fn start_with(adjust: impl FnOnce(GuardConfig, &str) -> GuardConfig) -> Self {
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
        config.resources.push(ResourceConfig {
            uri: OTHER_RESOURCE.into(),
            name: "Another MCP server".into(),
            scopes: vec!["mcp:read".into()],
            default_scopes: None,
        });
        config.clients = vec![
            client(CLIENT, CLIENT_REDIRECT, "none", None),
            client(RS_CLIENT, "https://mcp.example/unused", "client_secret_basic", Some(RS_SECRET)),
        ];
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
        let guard = Guard::new(adjust(
            GuardConfig::new(&resource, &issuer)
                .with_scopes_supported(["mcp:read"])
                .with_resource_name("Notes")
                .with_policy(policy())
                .with_clock(Arc::new(clock.clone())),
            &issuer,
        ))
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
            grants: AtomicUsize::new(0),
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

    /// Tokens of a new grant for [`CLIENT`], redeemed at Postern's `/token` with PKCE. The
    /// authorization code is stored as `/authorize` stores it after the user's consent.
    pub async fn issue(&self, resource: &str, scope: &str) -> Issued {
        let grant = self.grants.fetch_add(1, Ordering::SeqCst);
        let code = format!("code-{grant}-for-the-guard-tests");
        let verifier = format!("verifier-{grant}-{}", "v".repeat(43));
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        let now = SystemClock.now();
        let record = AuthorizationCodeRecord {
            code_hash: TokenHash::of(&code).as_str().to_owned(),
            grant_id: format!("g_issued_{grant}"),
            client_id: CLIENT.into(),
            user_id: USER.into(),
            redirect_uri: CLIENT_REDIRECT.into(),
            code_challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            scope: scope.into(),
            resource: resource.into(),
            auth_time: now,
            issued_at: now,
            expires_at: now + 60,
            consumed_at: None,
            client_snapshot: None,
        };
        self.store.insert_authorization_code(&record, &AuditEvent::new("code_issued")).await.unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("redirect_uri", CLIENT_REDIRECT),
            ("client_id", CLIENT),
        ];
        let reply = self.send(self.http.post(format!("{}/token", self.issuer)).form(&form)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        Issued {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        }
    }

    /// Revokes `token` at Postern's `/revoke` as [`CLIENT`], whose token it is.
    pub async fn revoke(&self, token: &str) {
        let form = [("token", token), ("client_id", CLIENT)];
        let reply = self.send(self.http.post(format!("{}/revoke", self.issuer)).form(&form)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Asks Postern's `/introspect` directly, as the guard's client.
    pub async fn introspect(&self, token: &str) -> Value {
        let request = self.http.post(format!("{}/introspect", self.issuer)).basic_auth(RS_CLIENT, Some(RS_SECRET));
        self.send(request.form(&[("token", token)])).await.json()
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

/// Asserts a 401 `invalid_token` whose description contains `why`.
pub fn assert_invalid(h: &Harness, reply: &Reply, why: &str) {
    assert_eq!(reply.status, 401, "{}", reply.body);
    let challenge = reply.challenge();
    assert!(challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""), "{challenge}");
    assert!(challenge.contains(why), "expected '{why}' in {challenge}");
    assert!(challenge.ends_with(&format!("resource_metadata=\"{}\"", h.metadata_url())), "{challenge}");
}

pub const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
pub const WRITE: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_note","arguments":{"text":"hi"}}}"#;
pub const WHOAMI: &str = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}"#;

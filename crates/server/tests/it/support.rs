//! Shared fixtures: a real server on 127.0.0.1:0 with an isolated database, a client with
//! redirects disabled, and typed helpers for each step of the flow.

pub use crate::documents::{DocumentServer, Route, client_document};
pub use crate::signing::ClientKey;
use postern_core::{Clock, FixedClock, PkceVerifier, SystemClock};
use postern_fetch::{SafeFetcher, test_fixture};
use postern_server::config::{ClientConfig, Config};
use postern_server::{Application, bootstrap};
use postern_store::test_support::{Backend, IsolationGuard, isolated_store};
use postern_store::{Store, UserRecord};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use std::sync::Arc;

pub const USERNAME: &str = "alice";
pub const PASSWORD: &str = "correct horse battery staple";
pub const PUBLIC_CLIENT: &str = "public-client";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:3000/callback";
pub const CONFIDENTIAL_CLIENT: &str = "confidential-client";
pub const CONFIDENTIAL_SECRET: &str = "pcs_test-secret-for-the-confidential-client";
pub const CONFIDENTIAL_REDIRECT: &str = "https://app.example.com/oauth/callback";
/// The MCP server's own confidential client, with which it introspects tokens issued to others.
pub const RESOURCE_SERVER_CLIENT: &str = "mcp-server";
pub const RESOURCE_SERVER_SECRET: &str = "pcs_test-secret-for-the-resource-server";
pub const RESOURCE_PATH: &str = "/demo/mcp";
pub const SECOND_RESOURCE: &str = "https://mcp.example.com/mcp";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// Generates one `#[tokio::test]` per backend for each listed `async fn(TestApp)`. Names after
/// `; own_server:` are `async fn(Backend)` tests that start their own server (for example with
/// [`TestApp::spawn_with`]).
macro_rules! backend_tests {
    ($($name:ident),* $(,)? $(; own_server: $($own:ident),* $(,)?)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::support::TestApp::spawn(postern_store::test_support::Backend::Sqlite).await).await;
            })*
            $($(#[tokio::test]
            async fn $own() {
                super::$own(postern_store::test_support::Backend::Sqlite).await;
            })*)?
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::$name(crate::support::TestApp::spawn(postern_store::test_support::Backend::Postgres).await).await;
            })*
            $($(#[tokio::test]
            async fn $own() {
                super::$own(postern_store::test_support::Backend::Postgres).await;
            })*)?
        }
    };
}
pub(crate) use backend_tests;

pub struct TestApp {
    /// The configured issuer; endpoint helpers ([`TestApp::url`]) live under it.
    pub issuer: String,
    /// `http://127.0.0.1:PORT`, for paths that are not under the issuer (well-known, health).
    pub origin: String,
    pub resource: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub clock: FixedClock,
    /// The running server's state, for housekeeping steps tests trigger themselves.
    pub state: postern_server::AppState,
    _guard: IsolationGuard,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

/// A response with the pieces tests look at.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned())
    }

    pub fn location(&self) -> String {
        self.header(LOCATION.as_str())
            .unwrap_or_else(|| panic!("no Location; status {} body {}", self.status, self.body))
    }

    /// Query parameters of the Location header.
    pub fn location_params(&self) -> Vec<(String, String)> {
        let location = url::Url::parse(&self.location()).unwrap();
        location.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
    }

    pub fn location_param(&self, name: &str) -> Option<String> {
        self.location_params().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The session cookie set by this response (`name=value`).
    pub fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .next()
    }

    /// Every `Set-Cookie` header, verbatim.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
    }

    /// The value of a hidden form field on this page.
    pub fn hidden_value(&self, name: &str) -> Option<String> {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')?;
        Some(self.body[start..start + end].to_owned())
    }

    /// The CSRF token of the form on this page.
    pub fn csrf_token(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        let start = self.body.find(marker).unwrap_or_else(|| panic!("no form on page: {}", self.body)) + marker.len();
        let end = self.body[start..].find('"').unwrap();
        self.body[start..start + end].to_owned()
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts a server; `adjust` may change the configuration before it is validated.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_inner(backend, None, adjust).await
    }

    /// Starts a server that fetches metadata documents from `documents` (and nowhere else):
    /// it trusts the fixture's CA through `outbound.extra_root_certs`, may reach 127.0.0.1
    /// through `outbound.allow_cidrs`, and resolves `cimd.test` to the fixture.
    pub async fn spawn_with_documents(
        backend: Backend,
        documents: &DocumentServer,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_inner(backend, Some(documents), adjust).await
    }

    async fn spawn_inner(
        backend: Backend,
        documents: Option<&DocumentServer>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let (store, database, guard) = isolated_store(backend).await.expect("isolated store");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://127.0.0.1:{port}");
        let resource = format!("{origin}{RESOURCE_PATH}");
        let mut config =
            Config { issuer: origin.clone(), listen: format!("127.0.0.1:{port}"), database, ..Config::default() };
        config.resources[0].uri = resource.clone();
        config.resources.push(postern_server::config::ResourceConfig {
            uri: SECOND_RESOURCE.into(),
            name: "Second MCP server".into(),
            scopes: vec!["files:read".into()],
            default_scopes: None,
        });
        config.clients = vec![
            ClientConfig {
                client_id: PUBLIC_CLIENT.into(),
                client_name: Some("Public Test Client".into()),
                redirect_uris: vec![PUBLIC_REDIRECT.into(), "http://localhost:3000/callback".into()],
                token_endpoint_auth_method: "none".into(),
                client_secret_sha256: None,
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                scope: None,
                jwks: None,
                jwks_uri: None,
            },
            ClientConfig {
                client_id: CONFIDENTIAL_CLIENT.into(),
                client_name: Some("Confidential Test Client".into()),
                redirect_uris: vec![CONFIDENTIAL_REDIRECT.into()],
                token_endpoint_auth_method: "client_secret_basic".into(),
                client_secret_sha256: Some(postern_core::TokenHash::of(CONFIDENTIAL_SECRET).as_str().to_owned()),
                grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                scope: None,
                jwks: None,
                jwks_uri: None,
            },
            ClientConfig {
                client_id: RESOURCE_SERVER_CLIENT.into(),
                client_name: Some("Resource Server".into()),
                redirect_uris: vec!["https://mcp.example.com/oauth/unused".into()],
                token_endpoint_auth_method: "client_secret_basic".into(),
                client_secret_sha256: Some(postern_core::TokenHash::of(RESOURCE_SERVER_SECRET).as_str().to_owned()),
                grant_types: vec!["authorization_code".into()],
                scope: None,
                jwks: None,
                jwks_uri: None,
            },
        ];
        if let Some(documents) = documents {
            config.outbound.allow_cidrs = vec!["127.0.0.1/32".into()];
            config.outbound.extra_root_certs = vec![documents.ca_file()];
        }
        adjust(&mut config);
        let issuer = config.issuer.clone();
        let settings = config.validate().expect("valid test configuration");
        let clock = FixedClock::at(SystemClock.now());
        bootstrap::prepare(&store, &settings, clock.now()).await.unwrap();
        store
            .create_user(&UserRecord {
                id: "u_alice".into(),
                username: USERNAME.into(),
                password_hash: postern_server::passwords::hash_password(PASSWORD).unwrap(),
                is_admin: false,
                created_at: clock.now(),
                disabled_at: None,
            })
            .await
            .unwrap();
        // Only the resolver differs from production: `cimd.test` has no public DNS.
        let fetcher = match documents {
            Some(_) => SafeFetcher::with_resolver(settings.outbound.clone(), Arc::new(test_fixture::resolver())),
            None => SafeFetcher::new(settings.outbound.clone()),
        }
        .unwrap();
        let app = Application::with_fetcher(listener, settings, store.clone(), Arc::new(clock.clone()), fetcher)
            .await
            .unwrap();
        let state = app.state().clone();
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.run(async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { issuer, origin, resource, http, store, clock, state, _guard: guard, _shutdown: shutdown }
    }

    /// An endpoint under the issuer, e.g. `url("/token")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Reply { status, headers, body }
    }

    /// GET a path from the origin root (not under the issuer's path).
    pub async fn get(&self, path: &str) -> Reply {
        Self::reply(self.http.get(format!("{}{path}", self.origin)).send().await.unwrap()).await
    }

    /// The standard authorization request parameters for the public client.
    pub fn authorize_params(&self) -> Vec<(String, String)> {
        let challenge = PkceVerifier::parse(VERIFIER).unwrap().challenge();
        [
            ("response_type", "code"),
            ("client_id", PUBLIC_CLIENT),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("state", "xyz-state"),
            ("scope", "mcp:read"),
            ("resource", self.resource.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    pub async fn authorize(&self, params: &[(String, String)], cookie: Option<&str>) -> Reply {
        let mut request = self.http.get(self.url("/authorize")).query(params);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    /// Posts a form to `path` with the session cookie.
    pub async fn post_form(&self, path: &str, cookie: Option<&str>, form: &[(String, String)]) -> Reply {
        let mut request = self.http.post(self.url(path)).form(form);
        if let Some(cookie) = cookie {
            request = request.header(COOKIE, cookie);
        }
        Self::reply(request.send().await.unwrap()).await
    }

    /// Signs in on the login page of `page`, returning the reply and the new session cookie.
    pub async fn login(
        &self,
        page: &Reply,
        cookie: &str,
        params: &[(String, String)],
        password: &str,
    ) -> (Reply, String) {
        self.login_as(page, cookie, params, USERNAME, password).await
    }

    pub async fn login_as(
        &self,
        page: &Reply,
        cookie: &str,
        params: &[(String, String)],
        username: &str,
        password: &str,
    ) -> (Reply, String) {
        let mut form = params.to_vec();
        form.push(("csrf_token".into(), page.csrf_token()));
        form.push(("username".into(), username.into()));
        form.push(("password".into(), password.into()));
        let reply = self.post_form("/login", Some(cookie), &form).await;
        let cookie = reply.session_cookie().unwrap_or_else(|| cookie.to_owned());
        (reply, cookie)
    }

    pub async fn consent(&self, page: &Reply, cookie: &str, params: &[(String, String)], decision: &str) -> Reply {
        let mut form = params.to_vec();
        form.push(("csrf_token".into(), page.csrf_token()));
        if let Some(fingerprint) = page.hidden_value("document_fingerprint") {
            form.push(("document_fingerprint".into(), fingerprint));
        }
        form.push(("decision".into(), decision.into()));
        self.post_form("/consent", Some(cookie), &form).await
    }

    /// Runs the browser part of the flow (authorize, login, consent unless remembered) and
    /// returns the redirect to the client plus the signed-in session cookie.
    pub async fn authorize_through_browser(&self, params: &[(String, String)]) -> (Reply, String) {
        let login_page = self.authorize(params, None).await;
        assert_eq!(login_page.status, 200, "login page expected: {}", login_page.body);
        let anonymous = login_page.session_cookie().expect("anonymous cookie");
        let (consent_page, cookie) = self.login(&login_page, &anonymous, params, PASSWORD).await;
        if consent_page.status == 303 && consent_page.location_param("code").is_some() {
            // Consent for this client, resource and scope is remembered from an earlier run.
            return (consent_page, cookie);
        }
        assert_eq!(consent_page.status, 200, "consent page expected: {}", consent_page.body);
        let redirect = self.consent(&consent_page, &cookie, params, "approve").await;
        (redirect, cookie)
    }

    /// A fresh code for the public client with the standard parameters.
    pub async fn code(&self) -> String {
        self.code_for(&self.authorize_params()).await
    }

    /// A fresh code for the given authorization request.
    pub async fn code_for(&self, params: &[(String, String)]) -> String {
        let (redirect, _) = self.authorize_through_browser(params).await;
        redirect.location_param("code").unwrap_or_else(|| panic!("no code in {}", redirect.location()))
    }

    /// The standard request for the confidential client (its only redirect URI is https).
    pub fn confidential_authorize_params(&self) -> Vec<(String, String)> {
        let params = with_param(&self.authorize_params(), "client_id", CONFIDENTIAL_CLIENT);
        with_param(&params, "redirect_uri", CONFIDENTIAL_REDIRECT)
    }

    /// Exchanges a code of the confidential client, authenticating with HTTP Basic.
    pub async fn exchange_confidential(&self, code: &str) -> Reply {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", CONFIDENTIAL_REDIRECT),
            ("resource", &self.resource),
        ];
        self.token_basic(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, &form).await
    }

    /// Access and refresh token of a fresh grant for the confidential client.
    pub async fn confidential_tokens(&self) -> (String, String) {
        let code = self.code_for(&self.confidential_authorize_params()).await;
        let reply = self.exchange_confidential(&code).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    }

    /// Access and refresh token of a fresh grant for the public client.
    pub async fn tokens(&self) -> (String, String) {
        let reply = self.exchange(&self.code().await).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned())
    }

    pub async fn token(&self, form: &[(&str, &str)]) -> Reply {
        Self::reply(self.http.post(self.url("/token")).form(form).send().await.unwrap()).await
    }

    pub async fn token_basic(&self, client_id: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
        self.post_basic("/token", client_id, secret, form).await
    }

    /// Posts a form to an endpoint under the issuer with HTTP Basic client authentication.
    pub async fn post_basic(&self, path: &str, client_id: &str, secret: &str, form: &[(&str, &str)]) -> Reply {
        let request = self.http.post(self.url(path)).basic_auth(client_id, Some(secret)).form(form);
        Self::reply(request.send().await.unwrap()).await
    }

    /// Exchanges a code of the public client with the right verifier.
    pub async fn exchange(&self, code: &str) -> Reply {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", VERIFIER),
            ("client_id", PUBLIC_CLIENT),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("resource", &self.resource),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.token(&[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", PUBLIC_CLIENT)])
            .await
    }

    /// Introspects `token` as the confidential client.
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        self.introspect_as(CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, token).await
    }

    /// Introspects `token` as the confidential client `client_id`, authenticating with HTTP Basic.
    pub async fn introspect_as(&self, client_id: &str, secret: &str, token: &str) -> serde_json::Value {
        let reply = self.post_basic("/introspect", client_id, secret, &[("token", token)]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.json()
    }

    pub async fn revoke(&self, token: &str, client_id: &str) -> Reply {
        let request = self.http.post(self.url("/revoke")).form(&[("token", token), ("client_id", client_id)]);
        Self::reply(request.send().await.unwrap()).await
    }

    pub async fn audit_kinds(&self) -> Vec<String> {
        self.store.recent_audit_events(1000).await.unwrap().into_iter().map(|e| e.kind).collect()
    }

    pub async fn audit_count(&self, kind: &str) -> usize {
        self.audit_kinds().await.iter().filter(|k| *k == kind).count()
    }
}

/// `params` with every `name` replaced by one `name=value`.
pub fn with_param(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut changed = without_param(params, name);
    changed.push((name.to_owned(), value.to_owned()));
    changed
}

/// `params` without `name`.
pub fn without_param(params: &[(String, String)], name: &str) -> Vec<(String, String)> {
    params.iter().filter(|(n, _)| n != name).cloned().collect()
}

/// `params` plus one more `name=value` (a repeat when `name` is already there).
pub fn and_param(params: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut changed = params.to_vec();
    changed.push((name.to_owned(), value.to_owned()));
    changed
}

/// R137: an OAuth error from a JSON endpoint: the status, a JSON body with `error` and a
/// non-empty `error_description`, and `Cache-Control: no-store`.
#[track_caller]
pub fn assert_oauth_error(reply: &Reply, status: u16, error: &str) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert!(reply.header("content-type").unwrap_or_default().starts_with("application/json"), "{:?}", reply.headers);
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
}

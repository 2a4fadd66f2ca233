//! Postern's authorization server over HTTP.
//!
//! [`Application`] binds the listener and is the seam the binary and the tests use; [`app`]
//! builds the router from an [`AppState`].

pub mod audit_outcome;
pub mod audit_retention;
pub mod authorization_request;
pub mod authorization_response;
pub mod bootstrap;
pub mod cimd;
pub mod client_assertion;
pub mod client_auth;
pub mod client_cache;
pub mod client_ip;
pub mod client_keys;
pub mod config;
pub mod cors;
pub mod error;
pub mod form_post;
pub mod keys;
pub mod metrics;
pub mod pages;
pub mod params;
pub mod password_sign_in;
pub mod passwords;
pub mod routes;
pub mod session;
pub mod state;
pub mod throttle;
pub mod tokens;

pub use config::{Config, Settings};
pub use state::AppState;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use postern_core::Clock;
use postern_fetch::SafeFetcher;
use postern_store::Store;
use routes::{authorize, health, introspect, metadata, register, revoke, token};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Every request body is small: forms and token requests. Larger bodies get 413.
const MAX_BODY_BYTES: usize = 32 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const STYLESHEET: &str = include_str!("../static/postern.css");

pub fn app(state: AppState) -> Router {
    let issuer = state.settings.issuer.clone();
    let counted = state.clone();
    // Endpoints a browser-based MCP client (MCP Inspector, web apps) calls with fetch() from its
    // own origin: discovery, keys, token, revocation and registration. They take no cookies,
    // so any origin may call them (see cors.rs). /authorize and its forms are navigations and
    // /introspect is for resource servers: no CORS there.
    let mut fetchable = Router::new()
        .route(&issuer.endpoint_path("/token"), post(token::token))
        .route(&issuer.endpoint_path("/revoke"), post(revoke::revoke))
        .route(&issuer.endpoint_path("/jwks.json"), get(metadata::jwks))
        .route(&issuer.authorization_server_metadata_path(), get(metadata::oauth_authorization_server));
    if state.settings.dcr.enabled {
        fetchable = fetchable.route(&issuer.endpoint_path("/register"), post(register::register)).route(
            &issuer.endpoint_path("/register/{client_id}"),
            get(register::read).put(register::update).delete(register::delete),
        );
    }
    // For a path-less issuer both OIDC forms are the same path; register it once.
    let oidc_paths: BTreeSet<String> =
        [issuer.openid_configuration_path(), issuer.openid_configuration_inserted_path()].into_iter().collect();
    for path in oidc_paths {
        fetchable = fetchable.route(&path, get(metadata::openid_configuration));
    }
    let router = Router::new()
        .route(&issuer.endpoint_path("/authorize"), get(authorize::authorize_get).post(authorize::authorize_post))
        .route(&issuer.endpoint_path("/login"), post(authorize::login_post))
        .route(&issuer.endpoint_path("/consent"), post(authorize::consent_post))
        .route(&issuer.endpoint_path("/introspect"), post(introspect::introspect))
        .route(&issuer.endpoint_path("/static/postern.css"), get(stylesheet))
        .route(&issuer.endpoint_path("/client-logo"), get(cimd::logo::client_logo))
        .route(&issuer.endpoint_path(routes::account::APPS_PATH), get(routes::account::apps))
        .route(&issuer.endpoint_path(routes::account::REVOKE_PATH), post(routes::account::revoke))
        .route(&issuer.endpoint_path(routes::account::SIGN_IN_PATH), post(routes::account::sign_in))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(fetchable.layer(cors::layer()))
        .merge(routes::admin::router(&issuer, &state))
        .merge(routes::console::router(&issuer))
        .fallback(not_found);
    let mut router = router.with_state(state);
    for (name, value) in pages::security_headers() {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
        .layer(
            // Paths only: queries can carry PKCE challenges and state, and nothing that looks
            // like a credential may reach a log line (R161).
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
            }),
        )
        // Outermost, so it also counts what the layers above answer themselves (timeouts).
        .layer(axum::middleware::from_fn_with_state(counted, metrics::http::count_requests))
}

async fn not_found(axum::extract::State(state): axum::extract::State<AppState>) -> axum::response::Response {
    pages::not_found_page(authorization_response::static_prefix(&state))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
        ],
        STYLESHEET,
    )
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("signing keys: {0}")]
    Keys(#[from] keys::KeyError),
    #[error("{0}")]
    Passwords(#[from] passwords::PasswordError),
    #[error("outbound fetcher: {0}")]
    Fetcher(#[from] postern_fetch::FetchError),
    #[error("server: {0}")]
    Serve(std::io::Error),
}

/// A built server, bound but not yet serving.
pub struct Application {
    listener: TcpListener,
    /// `metrics_listen`, when configured: serves `GET /metrics` and nothing else.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
}

impl Application {
    /// Binds `settings.listen` and builds the app on an already prepared store
    /// (see [`bootstrap::prepare`]).
    pub async fn build(settings: Settings, store: Store, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .map_err(|source| StartError::Bind { addr: settings.listen, source })?;
        Self::with_listener(listener, settings, store, clock).await
    }

    /// For tests: listen on a socket bound beforehand (port 0), so the issuer can name it.
    pub async fn with_listener(
        listener: TcpListener,
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartError> {
        let fetcher = SafeFetcher::new(settings.outbound.clone())?;
        Self::with_fetcher(listener, settings, store, clock, fetcher).await
    }

    /// For tests: also choose the outbound fetcher (one whose resolver answers test host names).
    pub async fn with_fetcher(
        listener: TcpListener,
        settings: Settings,
        store: Store,
        clock: Arc<dyn Clock>,
        fetcher: SafeFetcher,
    ) -> Result<Self, StartError> {
        // Bound here, not in `run`, so an address in use stops the start like `listen` does.
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?),
            None => None,
        };
        let keys = keys::KeyRing::load_or_create(&store, settings.key_encryption_key, clock.now()).await?;
        let passwords = passwords::Passwords::new()?;
        let state = AppState::new(settings, store, keys, clock, passwords, fetcher);
        let router = app(state.clone());
        Ok(Self { listener, metrics_listener, router, state })
    }

    /// Serves `routes` beside the authorization server on the same listener (the demo MCP server
    /// of `postern serve --demo`). They get none of the server's layers: they bring their own.
    pub fn merge(mut self, routes: Router) -> Self {
        self.router = self.router.merge(routes);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where `GET /metrics` is served, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, running housekeeping alongside.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<(), StartError> {
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let metrics = self.metrics_listener.map(|listener| tokio::spawn(serve_metrics(listener, self.state.clone())));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let result = axum::serve(self.listener, service).with_graceful_shutdown(shutdown).await;
        housekeeping.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        result.map_err(StartError::Serve)
    }
}

/// The `metrics_listen` listener. It has no authentication: bind it to loopback or a network
/// only the monitoring system reaches.
async fn serve_metrics(listener: TcpListener, state: AppState) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving Prometheus metrics at http://{addr}/metrics (no authentication on this listener)");
    }
    if let Err(error) = axum::serve(listener, metrics::listener_router(state)).await {
        tracing::error!(%error, "the metrics listener stopped");
    }
}

/// Purges expired rows and picks up keys rotated by another node or by `postern keys rotate`.
async fn housekeeping(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(60));
    loop {
        interval.tick().await;
        if let Err(error) = state.keys.reload(&state.store).await {
            tracing::warn!(%error, "reloading signing keys failed");
        }
        match routes::register::reap_unused_clients(&state).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed unused or idle dynamically registered clients"),
            Err(error) => tracing::warn!(%error, "reaping registered clients failed"),
        }
        match audit_retention::purge_expired_audit_events(&state).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "deleted audit events older than audit.retention_days"),
            Err(error) => tracing::warn!(%error, "purging old audit events failed"),
        }
        match state.store.purge_expired(state.now()).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "purged expired sessions, codes and revocations"),
            Err(error) => tracing::warn!(%error, "purging expired rows failed"),
        }
    }
}

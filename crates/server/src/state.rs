use crate::cimd::CimdClients;
use crate::client_cache::ClientCache;
use crate::client_keys::ClientKeySets;
use crate::config::Settings;
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::passwords::Passwords;
use crate::throttle::{FailureWindow, TokenBuckets};
use postern_core::Clock;
use postern_fetch::SafeFetcher;
use postern_store::Store;
use std::ops::Deref;
use std::sync::Arc;

/// Everything a handler may use. Cheap to clone; nothing global, so tests stay hermetic.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub store: Store,
    pub keys: KeyRing,
    pub clock: Arc<dyn Clock>,
    pub passwords: Passwords,
    /// Failed logins per client IP and per username (per node, DESIGN §4).
    pub login_failures_by_ip: FailureWindow,
    pub login_failures_by_user: FailureWindow,
    /// Failed secret checks per client_id (R144).
    pub client_auth_failures: FailureWindow,
    pub clients: ClientCache,
    /// Dynamic client registrations per client IP (per node).
    pub registrations_by_ip: TokenBuckets,
    /// Failed admin API authentications per client IP (per node).
    pub admin_auth_failures: FailureWindow,
    /// Addresses whose registration flood was audited this hour.
    pub registration_floods_audited: FailureWindow,
    /// Metadata-document clients new to this server, per signed-in user (per node).
    pub new_cimd_clients_by_user: TokenBuckets,
    /// Users whose exhausted new-client allowance was audited this hour.
    pub cimd_quota_exhaustion_audited: FailureWindow,
    /// AS metadata, built once: it only depends on the configuration.
    pub metadata: serde_json::Value,
    /// The one outbound HTTP client (metadata documents, logos, JWKS).
    pub fetcher: SafeFetcher,
    pub cimd: CimdClients,
    pub client_keys: ClientKeySets,
    /// This node's counters (`GET /metrics`).
    pub metrics: Metrics,
}

/// Failed admin API authentications an address may make per minute before it waits.
const ADMIN_AUTH_FAILURES_PER_MINUTE: u32 = 10;

impl AppState {
    pub fn new(
        settings: Settings,
        store: Store,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        passwords: Passwords,
        fetcher: SafeFetcher,
    ) -> Self {
        let metadata = crate::routes::metadata::document(&settings);
        Self(Arc::new(Inner {
            login_failures_by_ip: FailureWindow::new(settings.login_attempts_per_ip_per_minute, 60),
            login_failures_by_user: FailureWindow::new(settings.login_attempts_per_user_per_minute, 60),
            client_auth_failures: FailureWindow::new(10, 60),
            clients: ClientCache::default(),
            registrations_by_ip: TokenBuckets::new(settings.dcr.registrations_per_ip_per_hour, 3600),
            registration_floods_audited: FailureWindow::new(1, 3600),
            new_cimd_clients_by_user: TokenBuckets::new(settings.cimd.new_clients_per_user_per_hour, 3600),
            cimd_quota_exhaustion_audited: FailureWindow::new(1, 3600),
            admin_auth_failures: FailureWindow::new(ADMIN_AUTH_FAILURES_PER_MINUTE, 60),
            metrics: Metrics::new(&settings.issuer),
            settings,
            store,
            keys,
            clock,
            passwords,
            metadata,
            fetcher,
            cimd: CimdClients::default(),
            client_keys: ClientKeySets::default(),
        }))
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

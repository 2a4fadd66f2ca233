//! What a guard is configured with ([`GuardConfig`]), and the checks that turn it into the
//! validated [`Settings`] the rest of the crate works with.

use crate::algorithm::SigningAlgorithm;
use crate::client_credentials::ClientCredentials;
use crate::error::GuardError;
use crate::introspection::IntrospectionSettings;
use crate::policy::ScopePolicy;
use crate::well_known;
use postern_core::{Clock, Issuer, ResourceUri, Scope, SystemClock};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Default body limit for JSON-RPC requests the policy inspects.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// The largest leeway accepted: skew allowance, not a way to extend token lifetimes.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);
/// Default minimum time between two key fetches caused by an unknown `kid` (or a failure).
pub const DEFAULT_KEY_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
/// Default age after which cached keys are fetched again, so removed keys stop verifying.
pub const DEFAULT_KEY_MAX_AGE: Duration = Duration::from_secs(3600);
/// Default longest time an `active` introspection result is reused: 10 s.
///
/// Revocation is the reason to run introspection mode at all, so the time a revoked token
/// keeps working is kept to seconds (JWT mode's is the token's whole lifetime). The cost stays
/// small: however busy an MCP session is (initialize, lists, bursts of tool calls, the SSE
/// stream), one token costs at most one introspection per 10 s, which for Postern is a
/// signature check and one indexed query. A result is never reused beyond the token's `exp`
/// (RFC 7662 §4), and `inactive` results for at most [`INTROSPECTION_NEGATIVE_MAX_AGE`].
pub const DEFAULT_INTROSPECTION_CACHE_MAX_AGE: Duration = Duration::from_secs(10);
/// Longest time an `active: false` (or otherwise refused) introspection result is reused, and
/// never longer than the cache's maximum age. Such a verdict does not change back for a real
/// token; caching it briefly keeps a client that retries a dead token in a loop from turning
/// each retry into a request to the AS, while a short time bounds any mistake.
pub const INTROSPECTION_NEGATIVE_MAX_AGE: Duration = Duration::from_secs(5);
/// Default bound on cached introspection results, for active and refused tokens each.
pub const DEFAULT_INTROSPECTION_CACHE_ENTRIES: usize = 10_000;
/// Default time an introspection request may take before the request gets `503`.
pub const DEFAULT_INTROSPECTION_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest time a verified JWT is remembered (JWT mode): 5 minutes. Not a revocation
/// window (JWT mode sees no revocation, and `exp`, `nbf`, the key and the scope policy are
/// checked on every request): it bounds how long an idle session's entry stays in memory.
pub const DEFAULT_VERIFIED_TOKEN_CACHE_MAX_AGE: Duration = Duration::from_secs(300);
/// Default bound on remembered verified JWTs (JWT mode).
pub const DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES: usize = 10_000;

/// Cross-origin access for browser-based MCP clients. Tokens travel in the `Authorization`
/// header, never in cookies, so allowing any origin exposes nothing a page does not already hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsPolicy {
    /// No CORS headers; preflight requests are treated like any other request (and need a token).
    Disabled,
    /// `Access-Control-Allow-Origin: *` (the default).
    AnyOrigin,
    /// Only these origins (e.g. `https://app.example.com`), echoed back with `Vary: Origin`.
    Origins(Vec<String>),
}

/// Configuration of a [`Guard`](crate::Guard). Built with [`GuardConfig::new`] and the `with`
/// methods; checked by [`Guard::new`](crate::Guard::new).
#[derive(Clone)]
pub struct GuardConfig {
    pub(crate) resource: String,
    pub(crate) issuer: String,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) static_jwks: Option<String>,
    pub(crate) scopes_supported: Vec<String>,
    pub(crate) resource_name: Option<String>,
    pub(crate) algorithms: Vec<SigningAlgorithm>,
    pub(crate) leeway: Duration,
    pub(crate) policy: ScopePolicy,
    pub(crate) max_body_bytes: usize,
    pub(crate) key_refetch_cooldown: Duration,
    pub(crate) key_max_age: Duration,
    pub(crate) cors: CorsPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) http: Option<reqwest::Client>,
    pub(crate) introspection_client: Option<ClientCredentials>,
    pub(crate) introspection_endpoint: Option<String>,
    pub(crate) introspection_cache_max_age: Duration,
    pub(crate) introspection_cache_entries: usize,
    pub(crate) introspection_timeout: Duration,
    pub(crate) verified_token_cache_max_age: Duration,
    pub(crate) verified_token_cache_entries: usize,
}

impl fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardConfig")
            .field("resource", &self.resource)
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwks_uri)
            .field("static_jwks", &self.static_jwks.is_some())
            .field("scopes_supported", &self.scopes_supported)
            .field("algorithms", &self.algorithms)
            .field("leeway", &self.leeway)
            .field("policy", &self.policy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cors", &self.cors)
            .field("introspection_client", &self.introspection_client)
            .field("introspection_endpoint", &self.introspection_endpoint)
            .finish_non_exhaustive()
    }
}

impl GuardConfig {
    /// A guard for the MCP server whose canonical URI is `resource` (used byte for byte: it is
    /// the PRM `resource` and what every token's `aud` must contain), trusting tokens issued by
    /// `issuer` (compared byte for byte with `iss`).
    pub fn new(resource: impl Into<String>, issuer: impl Into<String>) -> Self {
        Self {
            resource: resource.into(),
            issuer: issuer.into(),
            jwks_uri: None,
            static_jwks: None,
            scopes_supported: Vec::new(),
            resource_name: None,
            algorithms: vec![SigningAlgorithm::ES256],
            leeway: DEFAULT_LEEWAY,
            policy: ScopePolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            key_refetch_cooldown: DEFAULT_KEY_REFETCH_COOLDOWN,
            key_max_age: DEFAULT_KEY_MAX_AGE,
            cors: CorsPolicy::AnyOrigin,
            clock: Arc::new(SystemClock),
            http: None,
            introspection_client: None,
            introspection_endpoint: None,
            introspection_cache_max_age: DEFAULT_INTROSPECTION_CACHE_MAX_AGE,
            introspection_cache_entries: DEFAULT_INTROSPECTION_CACHE_ENTRIES,
            introspection_timeout: DEFAULT_INTROSPECTION_TIMEOUT,
            verified_token_cache_max_age: DEFAULT_VERIFIED_TOKEN_CACHE_MAX_AGE,
            verified_token_cache_entries: DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES,
        }
    }

    /// Where the authorization server publishes its keys. Without it, `jwks_uri` is read from
    /// the AS metadata (RFC 8414, path-inserted; then OIDC Discovery) on first use.
    pub fn with_jwks_uri(mut self, jwks_uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(jwks_uri.into());
        self
    }

    /// Fixed keys (a JWK Set document) instead of fetching them: for offline setups and tests.
    /// Rotation then needs a new guard.
    pub fn with_static_jwks(mut self, jwks_json: impl Into<String>) -> Self {
        self.static_jwks = Some(jwks_json.into());
        self
    }

    /// `scopes_supported` of the Protected Resource Metadata: the minimal baseline a client
    /// asks for when a challenge names no scope (R008). Omitted from the document when empty.
    pub fn with_scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// `resource_name` of the Protected Resource Metadata (R009).
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The `alg` values accepted (R036: pinned). Default: ES256 only.
    pub fn with_algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Clock-skew allowance for `exp` and `nbf` (default 30 s, at most 5 minutes).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Which scopes each request needs (default: none beyond a valid token).
    pub fn with_policy(mut self, policy: ScopePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Largest JSON-RPC body the layer reads to apply the policy (default 1 MiB); larger
    /// bodies get `413`.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Minimum time between key fetches caused by unknown `kid`s or failed fetches (default
    /// 30 s): tokens with made-up `kid`s must not turn into requests to the AS.
    pub fn with_key_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.key_refetch_cooldown = cooldown;
        self
    }

    /// Age after which the keys are fetched again (default 1 h).
    pub fn with_key_max_age(mut self, max_age: Duration) -> Self {
        self.key_max_age = max_age;
        self
    }

    /// Cross-origin policy (default [`CorsPolicy::AnyOrigin`]).
    pub fn with_cors(mut self, cors: CorsPolicy) -> Self {
        self.cors = cors;
        self
    }

    /// The time source for `exp`/`nbf` and the key cache (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The HTTP client for metadata and key fetches and for introspection. The default has no
    /// redirects, a 5 s connect and 10 s total timeout, and trusts the platform's roots. A
    /// client of your own must not follow redirects either: introspection POSTs the token.
    pub fn with_http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Introspection mode (RFC 7662, SPEC R037): every token is checked at the authorization
    /// server's introspection endpoint, so revoked tokens are refused within
    /// [`with_introspection_cache`](Self::with_introspection_cache)'s window instead of working
    /// until they expire. Tokens may be opaque; nothing in them is trusted or needs a key.
    ///
    /// The guard authenticates as the confidential client `client_id` with `client_secret`
    /// (`client_secret_basic`; for Postern, a client registered with that method). The secret
    /// is never logged or shown by `Debug`. The endpoint is the AS metadata's
    /// `introspection_endpoint` unless set with
    /// [`with_introspection_endpoint`](Self::with_introspection_endpoint). Keys are not used in
    /// this mode, so it cannot be combined with `with_jwks_uri` or `with_static_jwks`.
    pub fn with_introspection(mut self, client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        self.introspection_client = Some(ClientCredentials::new(client_id.into(), client_secret.into()));
        self
    }

    /// The introspection endpoint, instead of reading it from the AS metadata (needs
    /// [`with_introspection`](Self::with_introspection)).
    pub fn with_introspection_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.introspection_endpoint = Some(endpoint.into());
        self
    }

    /// How long an `active` introspection result is reused (default
    /// [`DEFAULT_INTROSPECTION_CACHE_MAX_AGE`], whole seconds; zero asks on every request), and
    /// how many results are kept at most, for active and for refused tokens each (default
    /// [`DEFAULT_INTROSPECTION_CACHE_ENTRIES`]). Results are kept under a SHA-256 of the token,
    /// never the token; when full, new results are not cached until old ones expire.
    pub fn with_introspection_cache(mut self, max_age: Duration, max_entries: usize) -> Self {
        self.introspection_cache_max_age = max_age;
        self.introspection_cache_entries = max_entries;
        self
    }

    /// JWT mode: how long a token whose signature verified is remembered, so its next requests
    /// skip the signature check (default [`DEFAULT_VERIFIED_TOKEN_CACHE_MAX_AGE`], whole
    /// seconds), and how many at most (default [`DEFAULT_VERIFIED_TOKEN_CACHE_ENTRIES`]). Zero
    /// for either verifies every request from scratch.
    ///
    /// Every request is still checked for `exp`/`nbf` (with the leeway), for its key (once the
    /// key set no longer holds the key that verified it, the token is refused), and against the
    /// scope policy. Entries end at the token's `exp`, are keyed by the token's SHA-256, and
    /// only verified tokens are kept; when full, new tokens are not cached until entries expire.
    pub fn with_verified_token_cache(mut self, max_age: Duration, max_entries: usize) -> Self {
        self.verified_token_cache_max_age = max_age;
        self.verified_token_cache_entries = max_entries;
        self
    }

    /// How long one introspection request may take (default
    /// [`DEFAULT_INTROSPECTION_TIMEOUT`]); past it the request gets `503`.
    pub fn with_introspection_timeout(mut self, timeout: Duration) -> Self {
        self.introspection_timeout = timeout;
        self
    }
}

/// A checked configuration.
#[derive(Debug)]
pub(crate) struct Settings {
    pub resource: String,
    /// The path-inserted PRM URL, named in every challenge (R021).
    pub metadata_url: String,
    /// Routes serving the PRM: the path-inserted one and the root one (once if they coincide).
    pub metadata_paths: Vec<String>,
    pub issuer: Issuer,
    pub scopes_supported: Vec<String>,
    pub resource_name: Option<String>,
    pub algorithms: Vec<SigningAlgorithm>,
    pub leeway: i64,
    pub policy: ScopePolicy,
    pub max_body_bytes: usize,
    pub key_refetch_cooldown: i64,
    pub key_max_age: i64,
    pub cors: CorsPolicy,
    /// `Some` in introspection mode.
    pub introspection: Option<IntrospectionSettings>,
    /// Seconds a verified JWT is remembered at most (`0`: not at all).
    pub verified_cache_max_age: i64,
    pub verified_cache_entries: usize,
}

pub(crate) fn config_error(message: impl Into<String>) -> GuardError {
    GuardError::Config(message.into())
}

impl Settings {
    pub(crate) fn from_config(config: &GuardConfig) -> Result<Self, GuardError> {
        let resource = ResourceUri::parse_configured(&config.resource)
            .map_err(|e| config_error(format!("resource: {e}")))?
            .as_str()
            .to_owned();
        // The resource is quoted inside WWW-Authenticate and used as a route.
        if resource.contains('"') {
            return Err(config_error("resource must not contain '\"'"));
        }
        let metadata_url = well_known::protected_resource_metadata_url(&resource)
            .ok_or_else(|| config_error("resource must be an absolute http(s) URL with a host"))?;
        let inserted = well_known::protected_resource_metadata_path(&resource)
            .ok_or_else(|| config_error("resource must be an absolute http(s) URL with a host"))?;
        let mut metadata_paths = vec![inserted];
        if metadata_paths[0] != well_known::PROTECTED_RESOURCE_SUFFIX {
            metadata_paths.push(well_known::PROTECTED_RESOURCE_SUFFIX.to_owned());
        }
        let issuer = Issuer::parse(&config.issuer).map_err(|e| config_error(format!("issuer: {e}")))?;
        if let Some(uri) = &config.jwks_uri {
            ResourceUri::parse_configured(uri).map_err(|e| config_error(format!("jwks_uri: {e}")))?;
        }
        for scope in config.scopes_supported.iter().chain(config.policy.all_scopes()) {
            Scope::parse(scope).map_err(|e| config_error(format!("scope '{scope}': {e}")))?;
        }
        if config.algorithms.is_empty() {
            return Err(config_error("at least one signing algorithm must be accepted"));
        }
        if config.leeway > MAX_LEEWAY {
            return Err(config_error(format!("leeway must be at most {} seconds", MAX_LEEWAY.as_secs())));
        }
        if config.key_refetch_cooldown < Duration::from_secs(1) {
            return Err(config_error("key_refetch_cooldown must be at least one second"));
        }
        if let CorsPolicy::Origins(origins) = &config.cors {
            for origin in origins {
                let valid = origin.starts_with("http") && origin.contains("://") && !origin.ends_with('/');
                if !valid || axum::http::HeaderValue::from_str(origin).is_err() {
                    return Err(config_error(format!("CORS origin '{origin}' must look like https://host[:port]")));
                }
            }
        }
        Ok(Self {
            resource,
            metadata_url,
            metadata_paths,
            issuer,
            scopes_supported: config.scopes_supported.clone(),
            resource_name: config.resource_name.clone(),
            algorithms: config.algorithms.clone(),
            leeway: seconds(config.leeway),
            policy: config.policy.clone(),
            max_body_bytes: config.max_body_bytes,
            key_refetch_cooldown: seconds(config.key_refetch_cooldown),
            key_max_age: seconds(config.key_max_age).max(1),
            cors: config.cors.clone(),
            introspection: IntrospectionSettings::from_config(config)?,
            verified_cache_max_age: seconds(config.verified_token_cache_max_age),
            verified_cache_entries: config.verified_token_cache_entries,
        })
    }
}

pub(crate) fn seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;

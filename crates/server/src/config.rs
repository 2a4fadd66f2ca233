//! Configuration: defaults, then a TOML file, then `POSTERN_*` environment variables
//! (DESIGN §6). Unknown keys are errors that name the key. [`Config::validate`] turns the raw
//! values into [`Settings`], whose fields are typed and known to be valid.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use postern_core::client::validate_registered_client_id;
use postern_core::domain_policy::{DomainPattern, DomainPolicy, UnknownDomains};
use postern_core::{Issuer, RedirectUri, ResourceUri, Scope, ScopeSet, TokenEndpointAuthMethod};
use postern_fetch::{CacheBounds, FetchConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Exact issuer identifier; https required unless the host is loopback.
    pub issuer: String,
    pub listen: String,
    /// `sqlite://PATH` (embedded default) or `postgres://...` (several nodes).
    pub database: String,
    /// Base64 of 32 random bytes. Encrypts signing keys at rest; without it they are stored in
    /// the clear and a warning is logged at start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_encryption_key: Option<String>,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` is believed when finding a client's IP.
    pub trusted_proxies: Vec<String>,
    /// A second listener (`address:port`) serving `GET /metrics` and nothing else, without
    /// authentication. Unset: no such listener (the admin API still serves the metrics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    pub tokens: TokenConfig,
    pub login: LoginConfig,
    pub resources: Vec<ResourceConfig>,
    pub clients: Vec<ClientConfig>,
    pub cimd: CimdConfig,
    pub dcr: DcrConfig,
    pub outbound: OutboundConfig,
    pub audit: AuditConfig,
}

/// The audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Events older than this many days are deleted (at least 30: the database refuses to
    /// delete younger events, so a shorter setting could never be honoured).
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: DEFAULT_AUDIT_RETENTION_DAYS }
    }
}

/// The floor the audit schema enforces (migration 0005): events younger than this cannot be
/// deleted.
pub const MIN_AUDIT_RETENTION_DAYS: u32 = 30;
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 365;
/// A century: any longer is a typo, and seconds of it must fit an i64 with room to spare.
pub const MAX_AUDIT_RETENTION_DAYS: u32 = 36_500;

/// Dynamic Client Registration (RFC 7591/7592): a fenced compatibility path, off by default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DcrConfig {
    pub enabled: bool,
    /// Require `Authorization: Bearer <initial access token>` (`postern dcr tokens create`).
    pub require_initial_access_token: bool,
    /// Registrations per client IP per hour (a token bucket, per node).
    pub registrations_per_ip_per_hour: u32,
    /// Registered clients at most, across all nodes.
    pub max_clients: i64,
    /// Private-use redirect URI schemes accepted (e.g. ["cursor"]); https and loopback http
    /// are always accepted, javascript/data/file never.
    pub allowed_redirect_schemes: Vec<String>,
    /// Scope ceiling for self-registered clients (space-separated); unset: the resources' scopes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_scopes: Option<String>,
    /// Lifetime of issued client secrets (`client_secret_expires_at`); 0: never expire.
    pub client_secret_ttl_secs: i64,
    /// `none`: registered clients may be used at once; `required`: they wait, pending, until
    /// `postern clients approve CLIENT_ID`.
    pub approval: String,
    /// A client that got no grant within this time after registering is removed.
    pub unused_ttl_secs: i64,
    /// A client with no new grant or refresh for this long is removed.
    pub idle_ttl_secs: i64,
}

impl Default for DcrConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            require_initial_access_token: false,
            registrations_per_ip_per_hour: 20,
            max_clients: 10_000,
            allowed_redirect_schemes: Vec::new(),
            max_scopes: None,
            client_secret_ttl_secs: 0,
            approval: "none".to_owned(),
            unused_ttl_secs: 24 * 3600,
            idle_ttl_secs: 30 * 24 * 3600,
        }
    }
}

/// A user connects a handful of new applications in a busy hour; twenty per hour stops one
/// account from filling the inventory (and fetching) for arbitrary URLs, which sign-in alone
/// does not prevent.
pub const DEFAULT_NEW_CIMD_CLIENTS_PER_USER_PER_HOUR: u32 = 20;
pub const MAX_NEW_CIMD_CLIENTS_PER_USER_PER_HOUR: u32 = 10_000;

/// Client ID Metadata Documents (SPEC §2.6-2.10, DESIGN §4).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CimdConfig {
    /// Accept https `client_id` URLs at all.
    pub enabled: bool,
    /// Hosts (`app.example.com`) or `*.suffix` patterns always accepted.
    pub allow_domains: Vec<String>,
    /// Hosts or `*.suffix` patterns always refused; wins over `allow_domains`.
    pub deny_domains: Vec<String>,
    /// Hosts on neither list: `allow`, `approval` (an administrator decides with
    /// `postern clients approve|deny`) or `deny`.
    pub unknown_domains: String,
    /// Accept a `client_id` URL with a query string (R061 advises against it).
    pub allow_query: bool,
    /// The size cap of a document (and of a client's JWKS), in bytes.
    pub max_document_bytes: usize,
    /// Bounds on how long a fetched document is reused, whatever its cache headers say.
    pub cache_min_secs: u64,
    pub cache_max_secs: u64,
    /// How many client_ids this server has never seen one signed-in user may bring per hour
    /// (each is an inventory row and a fetch); clients already in the inventory do not count.
    pub new_clients_per_user_per_hour: u32,
}

/// The outbound fetcher (postern-fetch): what it may connect to and for how long.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Ranges opened despite the built-in table of special-use addresses (an intranet, say).
    pub allow_cidrs: Vec<String>,
    /// Ranges always refused; wins over `allow_cidrs`.
    pub deny_cidrs: Vec<String>,
    /// PEM files of certificate authorities trusted in addition to the system roots.
    pub extra_root_certs: Vec<PathBuf>,
    pub connect_timeout_ms: u64,
    pub total_timeout_ms: u64,
}

impl Default for CimdConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_domains: Vec::new(),
            deny_domains: Vec::new(),
            unknown_domains: "allow".to_owned(),
            allow_query: false,
            max_document_bytes: postern_fetch::DEFAULT_DOCUMENT_MAX_BYTES,
            cache_min_secs: 60,
            cache_max_secs: 24 * 3600,
            new_clients_per_user_per_hour: DEFAULT_NEW_CIMD_CLIENTS_PER_USER_PER_HOUR,
        }
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_cidrs: Vec::new(),
            deny_cidrs: Vec::new(),
            extra_root_certs: Vec::new(),
            connect_timeout_ms: 2000,
            total_timeout_ms: 5000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenConfig {
    pub access_token_ttl_secs: i64,
    /// Inactivity lifetime: every rotation issues a successor valid this long (R152).
    pub refresh_token_ttl_secs: i64,
    /// How long a rotated refresh token may still be exchanged (lost responses, DESIGN §4).
    pub refresh_reuse_grace_secs: i64,
    pub authorization_code_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    pub session_ttl_secs: i64,
    /// Login attempts per client IP per minute (per node).
    pub attempts_per_ip_per_minute: u32,
    /// Login attempts per username per minute (per node).
    pub attempts_per_user_per_minute: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    pub uri: String,
    pub name: String,
    pub scopes: Vec<String>,
    /// Scopes granted when a request names none; defaults to every scope of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// Hex SHA-256 of the client secret, for `client_secret_basic` / `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_sha256: Option<String>,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    /// Scope ceiling for this client (space-separated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// For `private_key_jwt`: the client's public JWK Set as a JSON string ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// ... or the https URL Postern fetches it from (never both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

fn default_auth_method() -> String {
    "none".to_owned()
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".to_owned(), "refresh_token".to_owned()]
}

impl Default for Config {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8414".to_owned(),
            listen: "127.0.0.1:8414".to_owned(),
            database: "sqlite://postern-data/postern.db".to_owned(),
            key_encryption_key: None,
            trusted_proxies: Vec::new(),
            metrics_listen: None,
            tokens: TokenConfig::default(),
            login: LoginConfig::default(),
            resources: vec![ResourceConfig {
                uri: "http://127.0.0.1:8414/demo/mcp".to_owned(),
                name: "Demo MCP server".to_owned(),
                scopes: vec!["mcp:read".to_owned(), "mcp:write".to_owned()],
                default_scopes: None,
            }],
            clients: Vec::new(),
            cimd: CimdConfig::default(),
            dcr: DcrConfig::default(),
            outbound: OutboundConfig::default(),
            audit: AuditConfig::default(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 3600,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_reuse_grace_secs: 30,
            authorization_code_ttl_secs: 60,
        }
    }
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self { session_ttl_secs: 8 * 3600, attempts_per_ip_per_minute: 20, attempts_per_user_per_minute: 5 }
    }
}

/// Top-level keys that may come from `POSTERN_*` variables. Other `POSTERN_` variables (such as
/// `POSTERN_LOG` or the test suite's `POSTERN_TEST_POSTGRES`) belong to other consumers.
const ENV_KEYS: [&str; 14] = [
    "issuer",
    "listen",
    "database",
    "key_encryption_key",
    "trusted_proxies",
    "metrics_listen",
    "tokens",
    "login",
    "resources",
    "clients",
    "cimd",
    "dcr",
    "outbound",
    "audit",
];

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Defaults, then `file` (when given), then `POSTERN_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                return Err(ConfigError(format!("configuration file {} does not exist", path.display())));
            }
            // A file that names [[resources]] or [[clients]] replaces the default lists rather
            // than appending to them.
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(
            Env::prefixed("POSTERN_")
                .split("__")
                // figment filters the key as written in the environment (upper case) and
                // lowercases it afterwards, so the comparison must ignore case.
                .filter(|key| {
                    let section = key.as_str().split('.').next().unwrap_or_default();
                    ENV_KEYS.iter().any(|k| section.eq_ignore_ascii_case(k))
                }),
        );
        figment.extract().map_err(|e| ConfigError(describe_figment_error(e)))
    }

    /// Checks every value and builds the typed [`Settings`].
    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let issuer = Issuer::parse(&self.issuer).map_err(|e| ConfigError(format!("issuer: {e}")))?;
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|e| ConfigError(format!("listen: '{}' is not an address:port ({e})", self.listen)))?;
        if !(self.database.starts_with("sqlite://")
            || self.database.starts_with("postgres://")
            || self.database.starts_with("postgresql://"))
        {
            return Err(ConfigError("database: must be sqlite://PATH or postgres://...".to_owned()));
        }
        let key_encryption_key = self
            .key_encryption_key
            .as_deref()
            .map(crate::keys::parse_key_encryption_key)
            .transpose()
            .map_err(|e| ConfigError(format!("key_encryption_key: {e}")))?;
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|cidr| {
                cidr.parse::<ipnet::IpNet>()
                    .map_err(|_| ConfigError(format!("trusted_proxies: '{cidr}' is not a CIDR")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metrics_listen = self.metrics_listen.as_deref().map(|raw| parse_metrics_listen(raw, listen)).transpose()?;
        let tokens = &self.tokens;
        for (name, value, min, max) in [
            ("tokens.access_token_ttl_secs", tokens.access_token_ttl_secs, 60, 24 * 3600),
            ("tokens.refresh_token_ttl_secs", tokens.refresh_token_ttl_secs, 300, 365 * 24 * 3600),
            ("tokens.refresh_reuse_grace_secs", tokens.refresh_reuse_grace_secs, 0, 300),
            ("tokens.authorization_code_ttl_secs", tokens.authorization_code_ttl_secs, 10, 600),
            ("login.session_ttl_secs", self.login.session_ttl_secs, 60, 30 * 24 * 3600),
        ] {
            if !(min..=max).contains(&value) {
                return Err(ConfigError(format!("{name}: {value} is outside {min}..={max}")));
            }
        }
        if self.login.attempts_per_ip_per_minute == 0 || self.login.attempts_per_user_per_minute == 0 {
            return Err(ConfigError("login: attempt limits must be at least 1".to_owned()));
        }
        let resources = self.resources.iter().map(ResourceSettings::from_config).collect::<Result<Vec<_>, _>>()?;
        if resources.is_empty() {
            return Err(ConfigError("resources: configure at least one [[resources]] entry".to_owned()));
        }
        for (i, r) in resources.iter().enumerate() {
            if resources[..i].iter().any(|o| o.uri == r.uri) {
                return Err(ConfigError(format!("resources: '{}' is listed twice", r.uri)));
            }
        }
        let clients = self.clients.iter().map(ClientSettings::from_config).collect::<Result<Vec<_>, _>>()?;
        for (i, c) in clients.iter().enumerate() {
            if clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(ConfigError(format!("clients: '{}' is listed twice", c.client_id)));
            }
        }
        let cimd = CimdSettings::from_config(&self.cimd)?;
        let outbound = outbound_settings(&self.outbound)?;
        let dcr = DcrSettings::from_config(&self.dcr)?;
        let audit_retention_days = audit_retention_days(&self.audit)?;
        Ok(Settings {
            issuer,
            listen,
            database: self.database.clone(),
            key_encryption_key,
            trusted_proxies,
            metrics_listen,
            access_token_ttl: tokens.access_token_ttl_secs,
            refresh_token_ttl: tokens.refresh_token_ttl_secs,
            refresh_reuse_grace: tokens.refresh_reuse_grace_secs,
            authorization_code_ttl: tokens.authorization_code_ttl_secs,
            session_ttl: self.login.session_ttl_secs,
            login_attempts_per_ip_per_minute: self.login.attempts_per_ip_per_minute,
            login_attempts_per_user_per_minute: self.login.attempts_per_user_per_minute,
            resources,
            clients,
            cimd,
            dcr,
            outbound,
            audit_retention_days,
        })
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// The metrics listener must be its own socket: sharing `listen` would expose the unauthenticated
/// metrics on the authorization server's address (and could not bind anyway).
fn parse_metrics_listen(raw: &str, listen: SocketAddr) -> Result<SocketAddr, ConfigError> {
    let addr: SocketAddr =
        raw.parse().map_err(|e| ConfigError(format!("metrics_listen: '{raw}' is not an address:port ({e})")))?;
    let same_ip = addr.ip() == listen.ip() || addr.ip().is_unspecified() || listen.ip().is_unspecified();
    if addr.port() != 0 && addr.port() == listen.port() && same_ip {
        return Err(ConfigError(format!("metrics_listen: {addr} is the listen address; choose another port")));
    }
    Ok(addr)
}

fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let path = e.path.join(".");
            if path.is_empty() { e.kind.to_string() } else { format!("{path}: {}", e.kind) }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub issuer: Issuer,
    pub listen: SocketAddr,
    pub database: String,
    pub key_encryption_key: Option<[u8; 32]>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where `GET /metrics` is served without authentication, if anywhere.
    pub metrics_listen: Option<SocketAddr>,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    pub refresh_reuse_grace: i64,
    pub authorization_code_ttl: i64,
    pub session_ttl: i64,
    pub login_attempts_per_ip_per_minute: u32,
    pub login_attempts_per_user_per_minute: u32,
    pub resources: Vec<ResourceSettings>,
    pub clients: Vec<ClientSettings>,
    pub cimd: CimdSettings,
    pub dcr: DcrSettings,
    pub outbound: FetchConfig,
    /// `audit.retention_days`: events older than this are purged by housekeeping.
    pub audit_retention_days: u32,
}

#[derive(Debug, Clone)]
pub struct DcrSettings {
    pub enabled: bool,
    pub require_initial_access_token: bool,
    pub registrations_per_ip_per_hour: u32,
    pub max_clients: i64,
    pub allowed_redirect_schemes: Vec<String>,
    pub max_scopes: Option<ScopeSet>,
    pub client_secret_ttl: i64,
    pub approval_required: bool,
    pub unused_ttl: i64,
    pub idle_ttl: i64,
}

impl DcrSettings {
    fn from_config(raw: &DcrConfig) -> Result<Self, ConfigError> {
        if raw.registrations_per_ip_per_hour == 0 || raw.max_clients < 1 {
            return Err(ConfigError(
                "dcr: registrations_per_ip_per_hour and max_clients must be at least 1".to_owned(),
            ));
        }
        if raw.unused_ttl_secs < 60 || raw.idle_ttl_secs < raw.unused_ttl_secs {
            return Err(ConfigError(
                "dcr: unused_ttl_secs must be at least 60 and idle_ttl_secs at least unused_ttl_secs".to_owned(),
            ));
        }
        if raw.client_secret_ttl_secs < 0 {
            return Err(ConfigError("dcr.client_secret_ttl_secs: must be 0 (never) or positive".to_owned()));
        }
        for scheme in &raw.allowed_redirect_schemes {
            let valid = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
            if !valid
                || ["http", "https", "javascript", "data", "file", "vbscript"]
                    .contains(&scheme.to_ascii_lowercase().as_str())
            {
                return Err(ConfigError(format!(
                    "dcr.allowed_redirect_schemes: '{scheme}' is not a private-use scheme (http, https and dangerous schemes cannot be listed)"
                )));
            }
        }
        let max_scopes = raw
            .max_scopes
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|e| ConfigError(format!("dcr.max_scopes: {e}")))?;
        Ok(Self {
            enabled: raw.enabled,
            require_initial_access_token: raw.require_initial_access_token,
            registrations_per_ip_per_hour: raw.registrations_per_ip_per_hour,
            max_clients: raw.max_clients,
            allowed_redirect_schemes: raw.allowed_redirect_schemes.iter().map(|s| s.to_ascii_lowercase()).collect(),
            max_scopes,
            client_secret_ttl: raw.client_secret_ttl_secs,
            approval_required: match raw.approval.as_str() {
                "none" => false,
                "required" => true,
                other => return Err(ConfigError(format!("dcr.approval: '{other}' must be none or required"))),
            },
            unused_ttl: raw.unused_ttl_secs,
            idle_ttl: raw.idle_ttl_secs,
        })
    }
}

#[derive(Debug, Clone)]
pub struct CimdSettings {
    pub enabled: bool,
    pub domains: DomainPolicy,
    pub allow_query: bool,
    pub max_document_bytes: usize,
    pub cache_bounds: CacheBounds,
    pub new_clients_per_user_per_hour: u32,
}

impl CimdSettings {
    fn from_config(raw: &CimdConfig) -> Result<Self, ConfigError> {
        let patterns = |name: &str, list: &[String]| {
            list.iter()
                .map(|p| DomainPattern::parse(p).map_err(|e| ConfigError(format!("cimd.{name}: {e}"))))
                .collect::<Result<Vec<_>, _>>()
        };
        let unknown = UnknownDomains::parse(&raw.unknown_domains)
            .map_err(|e| ConfigError(format!("cimd.unknown_domains: {e}")))?;
        // 5 KB is what CIMD-00 recommends; below 1 KiB hardly any real document fits, and the
        // fetcher's memory per request must stay small.
        if !(1024..=256 * 1024).contains(&raw.max_document_bytes) {
            return Err(ConfigError(format!(
                "cimd.max_document_bytes: {} is outside 1024..=262144",
                raw.max_document_bytes
            )));
        }
        if raw.cache_min_secs > raw.cache_max_secs || raw.cache_max_secs > 7 * 24 * 3600 {
            return Err(ConfigError(
                "cimd: cache_min_secs must not exceed cache_max_secs, which must be at most 7 days".to_owned(),
            ));
        }
        if !(1..=MAX_NEW_CIMD_CLIENTS_PER_USER_PER_HOUR).contains(&raw.new_clients_per_user_per_hour) {
            return Err(ConfigError(format!(
                "cimd.new_clients_per_user_per_hour: {} is outside 1..={MAX_NEW_CIMD_CLIENTS_PER_USER_PER_HOUR}",
                raw.new_clients_per_user_per_hour
            )));
        }
        Ok(Self {
            enabled: raw.enabled,
            domains: DomainPolicy {
                allow: patterns("allow_domains", &raw.allow_domains)?,
                deny: patterns("deny_domains", &raw.deny_domains)?,
                unknown,
            },
            allow_query: raw.allow_query,
            max_document_bytes: raw.max_document_bytes,
            cache_bounds: CacheBounds {
                min: Duration::from_secs(raw.cache_min_secs),
                max: Duration::from_secs(raw.cache_max_secs),
            },
            new_clients_per_user_per_hour: raw.new_clients_per_user_per_hour,
        })
    }
}

/// Reads the extra root certificates now, so a missing file stops the start with its name.
fn outbound_settings(raw: &OutboundConfig) -> Result<FetchConfig, ConfigError> {
    let cidrs = |name: &str, list: &[String]| {
        list.iter()
            .map(|c| {
                c.parse::<ipnet::IpNet>().map_err(|_| ConfigError(format!("outbound.{name}: '{c}' is not a CIDR")))
            })
            .collect::<Result<Vec<_>, _>>()
    };
    let extra_root_certs_pem = raw
        .extra_root_certs
        .iter()
        .map(|path| {
            std::fs::read(path)
                .map_err(|e| ConfigError(format!("outbound.extra_root_certs: cannot read {}: {e}", path.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (name, value, max) in
        [("connect_timeout_ms", raw.connect_timeout_ms, 10_000), ("total_timeout_ms", raw.total_timeout_ms, 30_000)]
    {
        if !(100..=max).contains(&value) {
            return Err(ConfigError(format!("outbound.{name}: {value} is outside 100..={max}")));
        }
    }
    Ok(FetchConfig {
        allow_cidrs: cidrs("allow_cidrs", &raw.allow_cidrs)?,
        deny_cidrs: cidrs("deny_cidrs", &raw.deny_cidrs)?,
        extra_root_certs_pem,
        connect_timeout: Duration::from_millis(raw.connect_timeout_ms),
        total_timeout: Duration::from_millis(raw.total_timeout_ms),
        ..FetchConfig::default()
    })
}

#[derive(Debug, Clone)]
pub struct ResourceSettings {
    pub uri: ResourceUri,
    pub name: String,
    pub scopes: ScopeSet,
    pub default_scopes: ScopeSet,
}

impl ResourceSettings {
    fn from_config(raw: &ResourceConfig) -> Result<Self, ConfigError> {
        let uri = ResourceUri::parse_configured(&raw.uri).map_err(|e| ConfigError(format!("resources: {e}")))?;
        let parse_list = |list: &[String]| {
            list.iter()
                .map(|s| Scope::parse(s))
                .collect::<Result<Vec<_>, _>>()
                .map(ScopeSet::from_scopes)
                .map_err(|e| ConfigError(format!("resources '{}': {e}", raw.uri)))
        };
        let scopes = parse_list(&raw.scopes)?;
        if scopes.is_empty() {
            return Err(ConfigError(format!("resources '{}': scopes must not be empty", raw.uri)));
        }
        let default_scopes = match &raw.default_scopes {
            Some(list) => parse_list(list)?,
            None => scopes.clone(),
        };
        if !default_scopes.is_subset_of(&scopes) {
            return Err(ConfigError(format!("resources '{}': default_scopes must be a subset of scopes", raw.uri)));
        }
        if raw.name.trim().is_empty() || raw.name.len() > 200 {
            return Err(ConfigError(format!("resources '{}': name must be 1 to 200 characters", raw.uri)));
        }
        Ok(Self { uri, name: raw.name.clone(), scopes, default_scopes })
    }
}

#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<RedirectUri>,
    pub auth_method: TokenEndpointAuthMethod,
    pub secret_hash: Option<String>,
    pub grant_types: Vec<String>,
    pub scope: Option<ScopeSet>,
    /// For `private_key_jwt`: the JWK Set (validated JSON) or its URL.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
}

pub const SUPPORTED_GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

impl ClientSettings {
    fn from_config(raw: &ClientConfig) -> Result<Self, ConfigError> {
        let id = &raw.client_id;
        let err = |msg: String| ConfigError(format!("clients '{id}': {msg}"));
        validate_registered_client_id(id).map_err(|e| err(e.to_string()))?;
        let redirect_uris = validate_redirect_uris(&raw.redirect_uris).map_err(err)?;
        let auth_method =
            TokenEndpointAuthMethod::parse(&raw.token_endpoint_auth_method).map_err(|e| err(e.to_string()))?;
        let secret_hash = match (auth_method.uses_shared_secret(), &raw.client_secret_sha256) {
            (false, None) => None,
            (false, Some(_)) => {
                return Err(err(format!(
                    "client_secret_sha256 is only for client_secret_basic or client_secret_post, not \"{auth_method}\""
                )));
            }
            (true, None) => return Err(err("a confidential client needs client_secret_sha256".into())),
            (true, Some(hash)) => {
                if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(err("client_secret_sha256 must be 64 hex characters".into()));
                }
                Some(hash.to_ascii_lowercase())
            }
        };
        validate_grant_types(&raw.grant_types).map_err(err)?;
        let scope = raw.scope.as_deref().map(ScopeSet::parse).transpose().map_err(|e| err(e.to_string()))?;
        let (jwks, jwks_uri) = client_keys(auth_method, raw.jwks.as_deref(), raw.jwks_uri.as_deref()).map_err(err)?;
        Ok(Self {
            client_id: id.clone(),
            client_name: raw.client_name.clone().unwrap_or_else(|| id.clone()),
            redirect_uris,
            auth_method,
            secret_hash,
            grant_types: raw.grant_types.clone(),
            scope,
            jwks,
            jwks_uri,
        })
    }
}

/// R080 for pre-registered clients: `private_key_jwt` needs exactly one of `jwks` and
/// `jwks_uri`; other methods need neither.
fn client_keys(
    method: TokenEndpointAuthMethod,
    jwks: Option<&str>,
    jwks_uri: Option<&str>,
) -> Result<(Option<String>, Option<String>), String> {
    match (method, jwks, jwks_uri) {
        (TokenEndpointAuthMethod::PrivateKeyJwt, Some(_), Some(_)) => Err("set jwks or jwks_uri, not both".to_owned()),
        (TokenEndpointAuthMethod::PrivateKeyJwt, Some(jwks), None) => {
            let value: serde_json::Value =
                serde_json::from_str(jwks).map_err(|e| format!("jwks is not valid JSON: {e}"))?;
            crate::client_assertion::parse_jwks(&value).map_err(|e| format!("jwks: {e}"))?;
            Ok((Some(value.to_string()), None))
        }
        (TokenEndpointAuthMethod::PrivateKeyJwt, None, Some(uri)) => {
            let https = url::Url::parse(uri).is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some());
            if !https {
                return Err(format!("jwks_uri '{uri}' must be an https URL"));
            }
            Ok((None, Some(uri.to_owned())))
        }
        (TokenEndpointAuthMethod::PrivateKeyJwt, None, None) => {
            Err("private_key_jwt needs the client's public keys: set jwks or jwks_uri".to_owned())
        }
        (_, None, None) => Ok((None, None)),
        (other, _, _) => Err(format!("jwks and jwks_uri are only for private_key_jwt, not \"{other}\"")),
    }
}

/// Shared by the configuration and `postern clients add`.
pub fn validate_redirect_uris(raw: &[String]) -> Result<Vec<RedirectUri>, String> {
    if raw.is_empty() || raw.len() > 20 {
        return Err("redirect_uris must list 1 to 20 URIs".to_owned());
    }
    raw.iter().map(|u| RedirectUri::parse(u).map_err(|e| format!("'{u}': {e}"))).collect()
}

pub fn validate_grant_types(raw: &[String]) -> Result<(), String> {
    if !raw.iter().any(|g| g == "authorization_code") {
        return Err("grant_types must include authorization_code".to_owned());
    }
    match raw.iter().find(|g| !SUPPORTED_GRANT_TYPES.contains(&g.as_str())) {
        Some(other) => Err(format!("grant type '{other}' is not supported; use {}", SUPPORTED_GRANT_TYPES.join(", "))),
        None => Ok(()),
    }
}

impl Settings {
    pub fn resource(&self, uri: &str) -> Option<&ResourceSettings> {
        self.resources.iter().find(|r| r.uri.as_str() == uri)
    }

    /// Every scope of every resource, for `scopes_supported`.
    pub fn all_scopes(&self) -> ScopeSet {
        ScopeSet::from_scopes(self.resources.iter().flat_map(|r| r.scopes.iter().cloned()))
    }
}

fn audit_retention_days(raw: &AuditConfig) -> Result<u32, ConfigError> {
    let days = raw.retention_days;
    if !(MIN_AUDIT_RETENTION_DAYS..=MAX_AUDIT_RETENTION_DAYS).contains(&days) {
        return Err(ConfigError(format!(
            "audit.retention_days: {days} is outside {MIN_AUDIT_RETENTION_DAYS}..={MAX_AUDIT_RETENTION_DAYS} \
             (the database keeps every event at least {MIN_AUDIT_RETENTION_DAYS} days)"
        )));
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate() {
        let settings = Config::default().validate().unwrap();
        assert_eq!(settings.issuer.as_str(), "http://127.0.0.1:8414");
        assert_eq!(settings.resources[0].uri.as_str(), "http://127.0.0.1:8414/demo/mcp");
    }

    #[test]
    fn metrics_listen_is_unset_by_default_and_validated_when_set() {
        assert_eq!(Config::default().validate().unwrap().metrics_listen, None);
        let with = |value: &str| Config { metrics_listen: Some(value.to_owned()), ..Config::default() }.validate();
        assert_eq!(with("127.0.0.1:9464").unwrap().metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(with("localhost:9464").unwrap_err().to_string().contains("metrics_listen"));
        assert!(with("127.0.0.1:8414").unwrap_err().to_string().contains("is the listen address"));
        assert!(with("0.0.0.0:8414").unwrap_err().to_string().contains("is the listen address"));
        let all_interfaces = Config { listen: "0.0.0.0:8414".into(), ..Config::default() };
        let same_port = Config { metrics_listen: Some("127.0.0.1:8414".into()), ..all_interfaces };
        assert!(same_port.validate().unwrap_err().to_string().contains("metrics_listen"));
    }

    #[test]
    fn the_printed_defaults_load_back_with_and_without_metrics_listen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("postern.toml");
        let default = Config::default().to_toml();
        assert!(!default.contains("metrics_listen"), "unset keys are not printed: {default}");
        std::fs::write(&file, &default).unwrap();
        assert_eq!(Config::load(Some(&file)).unwrap().metrics_listen, None);
        let set = Config { metrics_listen: Some("127.0.0.1:9464".into()), ..Config::default() }.to_toml();
        std::fs::write(&file, &set).unwrap();
        let loaded = Config::load(Some(&file)).unwrap();
        assert_eq!(loaded.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
        assert!(loaded.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = std::env::temp_dir().join(format!("postern-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("bad.toml");
        std::fs::write(&file, "issuer = \"http://127.0.0.1:8414\"\n[tokens]\naccess_token_ttl = 5\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("access_token_ttl"), "{err}");
        std::fs::write(&file, "isuer = \"http://127.0.0.1:8414\"\n").unwrap();
        let err = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(err.contains("isuer"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn confidential_client_needs_secret_hash_and_public_must_not_have_one() {
        let mut config = Config::default();
        config.clients.push(ClientConfig {
            client_id: "svc".into(),
            client_name: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            client_secret_sha256: None,
            grant_types: default_grant_types(),
            scope: None,
            jwks: None,
            jwks_uri: None,
        });
        assert!(config.validate().unwrap_err().to_string().contains("client_secret_sha256"));
        config.clients[0].token_endpoint_auth_method = "none".into();
        config.clients[0].client_secret_sha256 = Some("a".repeat(64));
        assert!(config.validate().is_err());
    }

    #[test]
    fn rejects_http_redirects_on_public_hosts_and_unknown_grant_types() {
        let mut config = Config::default();
        config.clients.push(ClientConfig {
            client_id: "c".into(),
            client_name: None,
            redirect_uris: vec!["http://app.example/cb".into()],
            token_endpoint_auth_method: "none".into(),
            client_secret_sha256: None,
            grant_types: default_grant_types(),
            scope: None,
            jwks: None,
            jwks_uri: None,
        });
        assert!(config.validate().is_err());
        config.clients[0].redirect_uris = vec!["http://127.0.0.1/cb".into()];
        config.clients[0].grant_types = vec!["authorization_code".into(), "implicit".into()];
        assert!(config.validate().unwrap_err().to_string().contains("implicit"));
    }

    fn error_of(adjust: impl FnOnce(&mut Config)) -> String {
        let mut config = Config::default();
        adjust(&mut config);
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn cimd_and_outbound_sections_are_validated_naming_the_key() {
        assert!(error_of(|c| c.cimd.unknown_domains = "maybe".into()).contains("cimd.unknown_domains"));
        assert!(error_of(|c| c.cimd.allow_domains = vec!["Bad Host".into()]).contains("cimd.allow_domains"));
        assert!(error_of(|c| c.cimd.deny_domains = vec!["*.".into()]).contains("cimd.deny_domains"));
        assert!(error_of(|c| c.cimd.max_document_bytes = 10).contains("cimd.max_document_bytes"));
        assert!(error_of(|c| c.cimd.cache_min_secs = 100_000).contains("cache_min_secs"));
        for quota in [0, 10_001] {
            let error = error_of(|c| c.cimd.new_clients_per_user_per_hour = quota);
            assert!(error.starts_with(&format!("cimd.new_clients_per_user_per_hour: {quota} is outside 1..=10000")));
        }
        assert!(error_of(|c| c.outbound.allow_cidrs = vec!["10.0.0.0/33".into()]).contains("outbound.allow_cidrs"));
        assert!(error_of(|c| c.outbound.total_timeout_ms = 0).contains("outbound.total_timeout_ms"));
        let missing = error_of(|c| c.outbound.extra_root_certs = vec!["/nonexistent/ca.pem".into()]);
        assert!(missing.contains("outbound.extra_root_certs") && missing.contains("/nonexistent/ca.pem"), "{missing}");
    }

    #[test]
    fn cimd_defaults_accept_any_https_client_with_the_documented_bounds() {
        let settings = Config::default().validate().unwrap();
        assert!(settings.cimd.enabled && !settings.cimd.allow_query);
        assert_eq!(settings.cimd.domains.decide("any.example"), postern_core::domain_policy::DomainDecision::Allow);
        assert_eq!(settings.cimd.max_document_bytes, 16 * 1024);
        assert_eq!(settings.cimd.new_clients_per_user_per_hour, 20);
        assert_eq!(settings.outbound.total_timeout, Duration::from_secs(5));
        assert!(settings.outbound.allow_cidrs.is_empty());
    }

    fn jwt_client(jwks: Option<&str>, jwks_uri: Option<&str>) -> ClientConfig {
        ClientConfig {
            client_id: "jwt".into(),
            client_name: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            token_endpoint_auth_method: "private_key_jwt".into(),
            client_secret_sha256: None,
            grant_types: default_grant_types(),
            scope: None,
            jwks: jwks.map(str::to_owned),
            jwks_uri: jwks_uri.map(str::to_owned),
        }
    }

    #[test]
    fn r080_a_private_key_jwt_client_needs_exactly_one_source_of_public_keys() {
        let public = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
        let with = |client: ClientConfig| error_of(|c| c.clients.push(client));
        assert!(with(jwt_client(None, None)).contains("set jwks or jwks_uri"));
        assert!(with(jwt_client(Some(public), Some("https://app.example/jwks"))).contains("not both"));
        assert!(with(jwt_client(None, Some("http://app.example/jwks"))).contains("https"));
        assert!(with(jwt_client(Some("{not json"), None)).contains("not valid JSON"));
        let private = public.replace(r#""kid":"k""#, r#""kid":"k","d":"secret""#);
        assert!(with(jwt_client(Some(&private), None)).contains("jwks"));
        let mut secret = jwt_client(Some(public), None);
        secret.client_secret_sha256 = Some("a".repeat(64));
        assert!(with(secret).contains("client_secret_sha256"));
        let mut public_client = jwt_client(None, Some("https://app.example/jwks"));
        public_client.token_endpoint_auth_method = "none".into();
        assert!(with(public_client).contains("only for private_key_jwt"));

        let mut config = Config::default();
        config.clients.push(jwt_client(Some(public), None));
        let settings = config.validate().unwrap();
        assert_eq!(settings.clients[0].auth_method, TokenEndpointAuthMethod::PrivateKeyJwt);
        assert!(settings.clients[0].jwks.is_some());
    }

    #[test]
    fn audit_retention_defaults_to_a_year_and_may_not_undercut_the_databases_30_day_floor() {
        assert_eq!(Config::default().validate().unwrap().audit_retention_days, 365);
        let with = |days| Config { audit: AuditConfig { retention_days: days }, ..Config::default() }.validate();
        assert_eq!(with(30).unwrap().audit_retention_days, 30);
        assert_eq!(with(36_500).unwrap().audit_retention_days, 36_500);
        for days in [0, 29, 36_501] {
            let error = with(days).unwrap_err().to_string();
            assert!(error.starts_with(&format!("audit.retention_days: {days} is outside 30..=36500")), "{error}");
        }
    }

    #[test]
    fn the_audit_section_is_read_from_the_file_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("postern.toml");
        std::fs::write(&file, "[audit]\nretention_days = 90\n").unwrap();
        assert_eq!(Config::load(Some(&file)).unwrap().audit.retention_days, 90);
        std::fs::write(&file, "[audit]\nretention = 90\n").unwrap();
        let error = Config::load(Some(&file)).unwrap_err().to_string();
        assert!(error.contains("audit") && error.contains("retention"), "{error}");
    }
}

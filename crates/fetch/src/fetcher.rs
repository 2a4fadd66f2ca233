//! `SafeFetcher`: the one outbound HTTP client for everything Postern fetches (CIMD documents,
//! JWKS, logos), hardened against SSRF and denial of service (SPEC §2.7, R065-R072).
//!
//! One fetch, in order: parse the URL (https, no credentials) -> judge an IP-literal host ->
//! governor (fail fast) -> resolve through the vetting resolver (every answer judged, no second
//! lookup; see `vetted_dns`) -> TLS (rustls, aws-lc-rs, system roots + operator roots) -> one GET
//! with no cookies, no proxy, no redirects, no compression -> status 200 -> no content coding ->
//! acceptable media type -> declared and streamed size under the cap, all within one total
//! timeout. Every fetch yields a [`FetchReport`], whatever happened.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Certificate, StatusCode};

use crate::governor::Governor;
use crate::media_type::{check_content_encoding, clip};
use crate::target::Target;
use crate::vetted_dns::{Refusal, VettingResolver, recording_answers};
use crate::{
    Accept, AddressPolicy, CacheHeaders, DocumentKind, FetchError, FetchOutcome, FetchReport, GovernorConfig,
    HickoryResolver, Resolve,
};

/// The size cap for JSON documents unless a request sets its own (DESIGN §4: 16 KiB).
pub const DEFAULT_DOCUMENT_MAX_BYTES: usize = 16 * 1024;
/// The size cap for logos unless a request sets its own.
pub const DEFAULT_IMAGE_MAX_BYTES: usize = 64 * 1024;

/// Settings for [`SafeFetcher`] (the `[outbound]` configuration section).
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Ranges opened despite the built-in special-use table (e.g. `127.0.0.1/32` in tests). Every
    /// answer for a name must be allowed: `localhost` resolves to `127.0.0.1` and `::1`, so
    /// fetching from it needs both `127.0.0.1/32` and `::1/128`.
    pub allow_cidrs: Vec<IpNet>,
    /// Ranges always refused; wins over `allow_cidrs`.
    pub deny_cidrs: Vec<IpNet>,
    /// PEM files (each may hold several certificates) trusted in addition to the system roots.
    pub extra_root_certs_pem: Vec<Vec<u8>>,
    /// Default 2 s.
    pub connect_timeout: Duration,
    /// The whole fetch, DNS to last body byte. Default 5 s.
    pub total_timeout: Duration,
    pub governor: GovernorConfig,
    /// Default `Postern/<version>`.
    pub user_agent: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allow_cidrs: Vec::new(),
            deny_cidrs: Vec::new(),
            extra_root_certs_pem: Vec::new(),
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            governor: GovernorConfig::default(),
            user_agent: concat!("Postern/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// One fetch. Build it with [`client_metadata`](Self::client_metadata), [`jwks`](Self::jwks)
/// or [`logo`](Self::logo), which set what is accepted and the default size cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchRequest<'a> {
    pub url: &'a str,
    /// Names the document in errors and the report.
    pub what: DocumentKind,
    pub accept: Accept,
    /// The body's size cap, checked on `Content-Length` and on the bytes received.
    pub max_bytes: usize,
}

impl<'a> FetchRequest<'a> {
    /// A CIMD document: JSON, at most [`DEFAULT_DOCUMENT_MAX_BYTES`].
    pub fn client_metadata(url: &'a str) -> Self {
        Self { url, what: DocumentKind::ClientMetadata, accept: Accept::Json, max_bytes: DEFAULT_DOCUMENT_MAX_BYTES }
    }

    /// A JWK Set: JSON, at most [`DEFAULT_DOCUMENT_MAX_BYTES`].
    pub fn jwks(url: &'a str) -> Self {
        Self { url, what: DocumentKind::Jwks, accept: Accept::Json, max_bytes: DEFAULT_DOCUMENT_MAX_BYTES }
    }

    /// A logo: PNG, JPEG, GIF or WebP, at most [`DEFAULT_IMAGE_MAX_BYTES`].
    pub fn logo(url: &'a str) -> Self {
        Self { url, what: DocumentKind::Logo, accept: Accept::Image, max_bytes: DEFAULT_IMAGE_MAX_BYTES }
    }

    /// Replaces the size cap (the operator's configured CIMD limit, say).
    #[must_use]
    pub fn max_bytes(self, max_bytes: usize) -> Self {
        Self { max_bytes, ..self }
    }
}

/// A successful fetch: the body and what a cache needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Exactly the bytes received: never decompressed, never more than the request's cap.
    pub body: Vec<u8>,
    /// The media type without parameters, lowercased (`application/json`, `image/png`, ...).
    pub content_type: String,
    /// `Cache-Control`, `Expires`, `Date` and `Age` as received (absent if not visible ASCII).
    pub cache_control: Option<String>,
    pub expires: Option<String>,
    pub date: Option<String>,
    pub age: Option<String>,
}

impl Fetched {
    /// The caching headers, ready for [`crate::lifetime`].
    pub fn cache_headers(&self) -> CacheHeaders<'_> {
        CacheHeaders {
            cache_control: self.cache_control.as_deref(),
            expires: self.expires.as_deref(),
            date: self.date.as_deref(),
            age: self.age.as_deref(),
        }
    }
}

/// The outbound HTTP client. Build one per process (it holds the TLS roots and the governor's
/// state) and share it; `fetch` takes `&self`.
///
/// No DNS rebinding window: reqwest gets addresses only from our vetting resolver, which judges
/// every answer before handing it over, and connects to exactly those addresses without a lookup
/// of its own; connections are never pooled, so each fetch is looked up and judged anew. IP-literal
/// hosts, which bypass resolvers, are judged before the request is built. See `vetted_dns`.
pub struct SafeFetcher {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    governor: Governor,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl SafeFetcher {
    /// A fetcher resolving through the system's DNS configuration (hickory).
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        Self::with_resolver(config, Arc::new(HickoryResolver::from_system()?))
    }

    /// A fetcher resolving through `resolver` (a [`crate::StaticResolver`] in tests).
    pub fn with_resolver(config: FetchConfig, resolver: Arc<dyn Resolve>) -> Result<Self, FetchError> {
        let policy = Arc::new(AddressPolicy::new(config.allow_cidrs.clone(), config.deny_cidrs.clone()));
        let mut default_headers = HeaderMap::new();
        // Belt and braces: reqwest has no decompression compiled in and so sends no
        // Accept-Encoding; saying `identity` tells the server plainly (SPEC R070).
        default_headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        let mut builder = reqwest::Client::builder()
            .tls_backend_rustls()
            .https_only(true)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .retry(reqwest::retry::never())
            // No pooled connections: every fetch resolves and is judged afresh, and an idle
            // connection never outlives a change of policy.
            .pool_max_idle_per_host(0)
            .http1_max_headers(64)
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout)
            .user_agent(config.user_agent.as_str())
            .default_headers(default_headers)
            .dns_resolver(Arc::new(VettingResolver { resolver, policy: policy.clone() }));
        for (index, pem) in config.extra_root_certs_pem.iter().enumerate() {
            let certificates = Certificate::from_pem_bundle(pem).map_err(|error| FetchError::Config {
                reason: format!("extra root certificate file #{} is not valid PEM: {error}", index + 1),
            })?;
            if certificates.is_empty() {
                return Err(FetchError::Config {
                    reason: format!("extra root certificate file #{} holds no certificate", index + 1),
                });
            }
            builder = builder.tls_certs_merge(certificates);
        }
        let client = builder.build().map_err(|error| FetchError::Config {
            reason: format!("cannot build the HTTP client: {}", chain(&error)),
        })?;
        Ok(Self {
            client,
            policy,
            governor: Governor::new(config.governor, Instant::now()),
            connect_timeout: config.connect_timeout,
            total_timeout: config.total_timeout,
        })
    }

    /// Fetches one document. The report is there on success and on failure alike.
    pub async fn fetch(&self, request: FetchRequest<'_>) -> (Result<Fetched, FetchError>, FetchReport) {
        let started = Instant::now();
        let mut report = FetchReport {
            url: clip(request.url, 2048),
            what: request.what,
            resolved: Vec::new(),
            peer: None,
            status: None,
            bytes: 0,
            duration: Duration::ZERO,
            outcome: FetchOutcome::Ok,
        };
        let result = self.run(request, &mut report).await;
        report.duration = started.elapsed();
        match &result {
            // `?` (Debug) for the URL: it is the client's text, and Debug escapes control characters.
            Ok(_) => tracing::debug!(url = ?report.url, peer = ?report.peer, bytes = report.bytes, "fetched"),
            Err(error) => {
                report.outcome = FetchOutcome::Failed(error.kind());
                tracing::info!(url = ?report.url, peer = ?report.peer, status = ?report.status, %error, "fetch failed");
            }
        }
        (result, report)
    }

    async fn run(&self, request: FetchRequest<'_>, report: &mut FetchReport) -> Result<Fetched, FetchError> {
        let target = Target::parse(request.url, request.what)?;
        report.resolved.extend(target.literal);
        target.check_literal(&self.policy, request.what)?;
        // `cimd.test.` and `cimd.test` are one host to the governor.
        let _permit = self.governor.try_acquire(target.host.trim_end_matches('.'), Instant::now())?;
        let (answers, exchange) = recording_answers(self.exchange(&target, request, report));
        let result = tokio::time::timeout(self.total_timeout, exchange).await;
        if target.literal.is_none() {
            report.resolved = answers.lock().map(|answers| answers.clone()).unwrap_or_default();
        }
        result.unwrap_or(Err(FetchError::Timeout { what: request.what, after: self.total_timeout }))
    }

    async fn exchange(
        &self,
        target: &Target,
        request: FetchRequest<'_>,
        report: &mut FetchReport,
    ) -> Result<Fetched, FetchError> {
        let what = request.what;
        let mut response = self
            .client
            .get(target.url.clone())
            .header(header::ACCEPT, request.accept.header_value())
            .send()
            .await
            .map_err(|error| self.request_error(&error, what, &target.host))?;
        report.peer = response.remote_addr();
        let status = response.status();
        report.status = Some(status.as_u16());
        let headers = response.headers();
        if status.is_redirection() {
            // SPEC R067: never followed; the location is named so the client developer sees where.
            let location = text(headers, header::LOCATION).map_or_else(|| "no Location".to_owned(), |l| clip(&l, 300));
            return Err(FetchError::Redirect { what, status: status.as_u16(), location });
        }
        if status != StatusCode::OK {
            return Err(FetchError::Status { what, status: status.as_u16() });
        }
        for coding in headers.get_all(header::CONTENT_ENCODING) {
            check_content_encoding(Some(coding.to_str().unwrap_or("(not text)")), what)?;
        }
        let content_type = request.accept.check(text(headers, header::CONTENT_TYPE).as_deref(), what)?;
        let limit = request.max_bytes;
        if let Some(size) = response.content_length().filter(|&size| size > limit as u64) {
            return Err(FetchError::TooLarge { what, size, limit });
        }
        let mut fetched = Fetched {
            body: Vec::new(),
            content_type,
            cache_control: text(headers, header::CACHE_CONTROL),
            expires: text(headers, header::EXPIRES),
            date: text(headers, header::DATE),
            age: text(headers, header::AGE),
        };
        // SPEC R070: counted on the stream too, since Content-Length may be absent or wrong.
        while let Some(chunk) = response.chunk().await.map_err(|error| self.body_error(&error, what))? {
            report.bytes += chunk.len() as u64;
            if report.bytes > limit as u64 {
                return Err(FetchError::TooLargeStreamed { what, received: report.bytes, limit });
            }
            fetched.body.extend_from_slice(&chunk);
        }
        Ok(fetched)
    }

    fn request_error(&self, error: &reqwest::Error, what: DocumentKind, host: &str) -> FetchError {
        if let Some(refusal) = Refusal::find(error) {
            return refusal.into_error(what, host);
        }
        let host = host.to_owned();
        match (error.is_timeout(), error.is_connect()) {
            (true, true) => FetchError::ConnectTimeout { what, host, after: self.connect_timeout },
            (true, false) => FetchError::Timeout { what, after: self.total_timeout },
            _ => FetchError::Connect { what, host, reason: chain(error) },
        }
    }

    fn body_error(&self, error: &reqwest::Error, what: DocumentKind) -> FetchError {
        if error.is_timeout() {
            FetchError::Timeout { what, after: self.total_timeout }
        } else {
            FetchError::Body { what, reason: chain(error) }
        }
    }
}

/// A header as text, if present and visible ASCII.
fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

/// The causes under reqwest's own message (which repeats the URL): "tcp connect error: Connection
/// refused (os error 111)", "invalid peer certificate: UnknownIssuer".
fn chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = std::error::Error::source(error);
    while let Some(cause) = current {
        let text = cause.to_string();
        // hyper-util's "client error (Connect)" says nothing the variant does not.
        if !text.starts_with("client error (") && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        current = cause.source();
    }
    if parts.is_empty() {
        parts.push(error.to_string());
    }
    clip(&parts.join(": "), 400)
}

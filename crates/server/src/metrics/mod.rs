//! Operational counters in the Prometheus text format (`GET /metrics`).
//!
//! Every label value comes from a fixed set known at compile time (an enum here), never from a
//! request: a client id, host or username as a label would let anyone grow the scrape, and the
//! scraper's memory, without bound. Each series is one atomic allocated at start, so counting an
//! event is an array index and a relaxed add: no lock, no allocation, no hashing.
//!
//! Counters are per node, like the rate limits; Prometheus sums them across nodes. The text is
//! served on the `metrics_listen` listener (nothing else is served there) and, through
//! [`render_handler`], by the admin API behind administrator authentication. The authorization
//! server's own listener never serves it.

mod exposition;
pub mod http;

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use exposition::{Exposition, Kind};
use postern_core::Issuer;
use postern_fetch::{CacheOutcome, FetchErrorKind};
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub fn inc(&self) {
        // No ordering with other memory is needed: a scrape may see a count a moment late.
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The values of a family's one label: a closed set.
pub trait LabelValue: Copy + 'static {
    /// The label's name, e.g. `grant_type`.
    const LABEL: &'static str;
    /// Every value, in [`index`](Self::index) order.
    const ALL: &'static [Self];
    fn index(self) -> usize;
    fn as_str(self) -> &'static str;
}

/// One counter per value of `L`. Every value is exposed, zeros included, so a rate or an alert
/// on a series that has not happened yet still has something to read.
pub struct CounterFamily<L> {
    counts: Box<[Counter]>,
    label: PhantomData<fn(L)>,
}

impl<L: LabelValue> Default for CounterFamily<L> {
    fn default() -> Self {
        Self { counts: L::ALL.iter().map(|_| Counter::default()).collect(), label: PhantomData }
    }
}

impl<L: LabelValue> CounterFamily<L> {
    pub fn inc(&self, value: L) {
        if let Some(counter) = self.counts.get(value.index()) {
            counter.inc();
        }
    }

    pub fn get(&self, value: L) -> u64 {
        self.counts.get(value.index()).map_or(0, Counter::get)
    }

    fn series(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        L::ALL.iter().zip(self.counts.iter()).map(|(value, counter)| (value.as_str(), counter.get()))
    }
}

/// The grant an access token was issued by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

impl LabelValue for GrantType {
    const LABEL: &'static str = "grant_type";
    const ALL: &'static [Self] = &[Self::AuthorizationCode, Self::RefreshToken];
    fn index(self) -> usize {
        self as usize
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
        }
    }
}

/// How one fetch of a client metadata document ended: usable, fetched but refused by the
/// document rules (R075-R083), or failed in the fetcher (by its stable error kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CimdFetch {
    Ok,
    InvalidDocument,
    Failed(FetchErrorKind),
}

impl LabelValue for CimdFetch {
    const LABEL: &'static str = "outcome";
    const ALL: &'static [Self] = &[
        Self::Ok,
        Self::InvalidDocument,
        Self::Failed(FetchErrorKind::InvalidUrl),
        Self::Failed(FetchErrorKind::BlockedAddress),
        Self::Failed(FetchErrorKind::Resolve),
        Self::Failed(FetchErrorKind::Connect),
        Self::Failed(FetchErrorKind::Timeout),
        Self::Failed(FetchErrorKind::Redirect),
        Self::Failed(FetchErrorKind::Status),
        Self::Failed(FetchErrorKind::ContentType),
        Self::Failed(FetchErrorKind::ContentEncoding),
        Self::Failed(FetchErrorKind::TooLarge),
        Self::Failed(FetchErrorKind::Body),
        Self::Failed(FetchErrorKind::RateLimited),
        Self::Failed(FetchErrorKind::Config),
    ];
    fn index(self) -> usize {
        match self {
            Self::Ok => 0,
            Self::InvalidDocument => 1,
            // Exhaustive, so a new kind in postern-fetch does not compile until it has a place.
            Self::Failed(kind) => {
                2 + match kind {
                    FetchErrorKind::InvalidUrl => 0,
                    FetchErrorKind::BlockedAddress => 1,
                    FetchErrorKind::Resolve => 2,
                    FetchErrorKind::Connect => 3,
                    FetchErrorKind::Timeout => 4,
                    FetchErrorKind::Redirect => 5,
                    FetchErrorKind::Status => 6,
                    FetchErrorKind::ContentType => 7,
                    FetchErrorKind::ContentEncoding => 8,
                    FetchErrorKind::TooLarge => 9,
                    FetchErrorKind::Body => 10,
                    FetchErrorKind::RateLimited => 11,
                    FetchErrorKind::Config => 12,
                }
            }
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::InvalidDocument => "invalid_document",
            Self::Failed(kind) => kind.as_str(),
        }
    }
}

/// Where /authorize found a client metadata document: in the cache, by loading it (a miss), or
/// by sharing another request's load.
impl LabelValue for CacheOutcome {
    const LABEL: &'static str = "result";
    const ALL: &'static [Self] = &[Self::Hit, Self::Loaded, Self::Coalesced];
    fn index(self) -> usize {
        match self {
            Self::Hit => 0,
            Self::Loaded => 1,
            Self::Coalesced => 2,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Loaded => "miss",
            Self::Coalesced => "coalesced",
        }
    }
}

/// What became of a dynamic client registration request (`POST /register`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Created,
    /// A public client registered the same metadata from the same address again.
    Deduplicated,
    /// Refused with a 4xx: rate limit, cap, initial access token, invalid metadata.
    Refused,
    /// The server failed (5xx).
    Error,
}

impl LabelValue for Registration {
    const LABEL: &'static str = "outcome";
    const ALL: &'static [Self] = &[Self::Created, Self::Deduplicated, Self::Refused, Self::Error];
    fn index(self) -> usize {
        self as usize
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Deduplicated => "deduplicated",
            Self::Refused => "refused",
            Self::Error => "error",
        }
    }
}

/// The per-node limit that refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// Failed logins from one client IP.
    LoginIp,
    /// Failed logins for one username.
    LoginUser,
    /// Failed secret checks for one client_id (R144).
    ClientSecret,
    /// Dynamic client registrations from one client IP.
    Dcr,
    /// Metadata-document clients new to this server brought by one signed-in user.
    CimdNewClients,
}

impl LabelValue for Limiter {
    const LABEL: &'static str = "limiter";
    const ALL: &'static [Self] = &[Self::LoginIp, Self::LoginUser, Self::ClientSecret, Self::Dcr, Self::CimdNewClients];
    fn index(self) -> usize {
        self as usize
    }
    fn as_str(self) -> &'static str {
        match self {
            Self::LoginIp => "login_ip",
            Self::LoginUser => "login_user",
            Self::ClientSecret => "client_secret",
            Self::Dcr => "dcr",
            Self::CimdNewClients => "cimd_new_clients",
        }
    }
}

/// This node's counters. Lives in [`AppState`], so each test server has its own.
pub struct Metrics {
    pub routes: http::RouteTable,
    pub http_requests: http::HttpRequests,
    pub tokens_issued: CounterFamily<GrantType>,
    pub cimd_document_fetches: CounterFamily<CimdFetch>,
    pub cimd_document_cache: CounterFamily<CacheOutcome>,
    pub dcr_registrations: CounterFamily<Registration>,
    pub rate_limit_rejections: CounterFamily<Limiter>,
}

impl Metrics {
    pub fn new(issuer: &Issuer) -> Self {
        Self {
            routes: http::RouteTable::new(issuer),
            http_requests: http::HttpRequests::default(),
            tokens_issued: CounterFamily::default(),
            cimd_document_fetches: CounterFamily::default(),
            cimd_document_cache: CounterFamily::default(),
            dcr_registrations: CounterFamily::default(),
            rate_limit_rejections: CounterFamily::default(),
        }
    }

    /// The whole scrape. The catalogue of metric names and their meaning is this function.
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        let name = "postern_http_requests_total";
        out.family(
            name,
            Kind::Counter,
            "HTTP requests answered by the authorization server, by route template and status class.",
        );
        for (route, status, count) in self.http_requests.series() {
            out.sample(name, &[("route", route), ("status", status)], count);
        }
        counters(
            &mut out,
            "postern_tokens_issued_total",
            "Access tokens issued by the token endpoint, by grant type.",
            &self.tokens_issued,
        );
        counters(
            &mut out,
            "postern_cimd_document_fetches_total",
            "Client metadata document fetches, by outcome: ok, invalid_document, or the fetch error kind.",
            &self.cimd_document_fetches,
        );
        counters(
            &mut out,
            "postern_cimd_document_cache_lookups_total",
            "Client metadata document lookups at /authorize: hit, miss (this request loaded it) or coalesced (shared a load in flight).",
            &self.cimd_document_cache,
        );
        counters(
            &mut out,
            "postern_dcr_registrations_total",
            "Dynamic client registration requests, by outcome.",
            &self.dcr_registrations,
        );
        counters(
            &mut out,
            "postern_rate_limit_rejections_total",
            "Requests refused by a per-node rate limit, by limiter.",
            &self.rate_limit_rejections,
        );
        out.into_text()
    }
}

fn counters<L: LabelValue>(out: &mut Exposition, name: &str, help: &str, family: &CounterFamily<L>) {
    out.family(name, Kind::Counter, help);
    for (value, count) in family.series() {
        out.sample(name, &[(L::LABEL, value)], count);
    }
}

/// The text of one scrape of this node.
pub fn render(state: &AppState) -> String {
    state.metrics.render()
}

/// `GET /metrics`. Mounted on the `metrics_listen` listener and, behind administrator
/// authentication, by the admin API; never on the authorization server's listener without it.
pub async fn render_handler(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(exposition::CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        render(&state),
    )
        .into_response()
}

/// Everything the `metrics_listen` listener serves: `GET /metrics`.
pub fn listener_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(render_handler)).with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_indexed_in_order<L: LabelValue + std::fmt::Debug>() {
        for (i, value) in L::ALL.iter().enumerate() {
            assert_eq!(value.index(), i, "{value:?}");
            assert!(L::ALL[..i].iter().all(|other| other.as_str() != value.as_str()), "{value:?} twice");
        }
    }

    #[test]
    fn every_label_set_is_indexed_in_order_without_duplicates() {
        assert_indexed_in_order::<GrantType>();
        assert_indexed_in_order::<CimdFetch>();
        assert_indexed_in_order::<CacheOutcome>();
        assert_indexed_in_order::<Registration>();
        assert_indexed_in_order::<Limiter>();
    }

    #[test]
    fn fetch_failures_are_labelled_with_the_fetchers_stable_kind() {
        let kind = FetchErrorKind::BlockedAddress;
        assert_eq!(CimdFetch::Failed(kind).as_str(), kind.as_str());
        assert_eq!(CimdFetch::ALL.len(), 2 + 13, "ok, invalid_document and each of the 13 fetch error kinds");
    }

    fn metrics() -> Metrics {
        Metrics::new(&Issuer::parse("http://127.0.0.1:8414").unwrap())
    }

    #[test]
    fn a_fresh_scrape_declares_every_family_and_exposes_every_series_at_zero() {
        let text = metrics().render();
        for family in [
            "postern_http_requests_total",
            "postern_tokens_issued_total",
            "postern_cimd_document_fetches_total",
            "postern_cimd_document_cache_lookups_total",
            "postern_dcr_registrations_total",
            "postern_rate_limit_rejections_total",
        ] {
            assert!(text.contains(&format!("# TYPE {family} counter\n")), "{family}: {text}");
            assert!(text.contains(&format!("# HELP {family} ")), "{family}");
        }
        assert!(text.contains("postern_cimd_document_fetches_total{outcome=\"too_large\"} 0\n"), "{text}");
        assert!(text.contains("postern_http_requests_total{route=\"/register/{client_id}\",status=\"5xx\"} 0\n"));
        assert!(text.lines().filter(|l| !l.starts_with('#')).all(|l| l.ends_with(" 0")), "{text}");
    }

    #[test]
    fn increments_show_on_their_own_series_only() {
        let metrics = metrics();
        metrics.tokens_issued.inc(GrantType::RefreshToken);
        metrics.tokens_issued.inc(GrantType::RefreshToken);
        metrics.cimd_document_cache.inc(CacheOutcome::Coalesced);
        metrics.rate_limit_rejections.inc(Limiter::LoginUser);
        let text = metrics.render();
        assert!(text.contains("postern_tokens_issued_total{grant_type=\"refresh_token\"} 2\n"), "{text}");
        assert!(text.contains("postern_tokens_issued_total{grant_type=\"authorization_code\"} 0\n"), "{text}");
        assert!(text.contains("postern_cimd_document_cache_lookups_total{result=\"coalesced\"} 1\n"), "{text}");
        assert!(text.contains("postern_rate_limit_rejections_total{limiter=\"login_user\"} 1\n"), "{text}");
        assert!(text.contains("postern_rate_limit_rejections_total{limiter=\"login_ip\"} 0\n"), "{text}");
        assert_eq!(metrics.tokens_issued.get(GrantType::RefreshToken), 2);
    }
}

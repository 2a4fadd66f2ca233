//! The one error type of outbound fetching. Every message is written for the developer of the
//! client whose document could not be fetched: it says what was wrong and, where it helps, what
//! Postern accepts instead.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// What is being fetched, so an error names it ("client metadata document is 20480 bytes...").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A CIMD client metadata document (SPEC §2.7).
    ClientMetadata,
    /// A JSON Web Key Set from a client's `jwks_uri` (SPEC R080).
    Jwks,
    /// A client's `logo_uri` (SPEC R090).
    Logo,
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ClientMetadata => "client metadata document",
            Self::Jwks => "JWKS document",
            Self::Logo => "logo",
        })
    }
}

/// Why a fetch failed (or why a fetcher could not be built: `Config`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{what} URL is not a valid URL: {reason}")]
    InvalidUrl { what: DocumentKind, reason: String },

    #[error("{what} URL must use https, not {scheme}")]
    NotHttps { what: DocumentKind, scheme: String },

    #[error("{what} URL must not contain a username or password")]
    Credentials { what: DocumentKind },

    /// SPEC R068: the address is special-use (or denied by the operator). `host` is the URL's host;
    /// for an IP-literal URL it is the address itself.
    #[error("{}", blocked_message(*what, host, *address, reason))]
    BlockedAddress { what: DocumentKind, host: String, address: IpAddr, reason: &'static str },

    #[error("could not resolve the {what} host {host}: {reason}")]
    Resolve { what: DocumentKind, host: String, reason: String },

    #[error("the {what} host {host} has no IPv4 or IPv6 address")]
    NoAddress { what: DocumentKind, host: String },

    #[error("could not connect to the {what} host {host}: {reason}")]
    Connect { what: DocumentKind, host: String, reason: String },

    #[error("the {what} host {host} did not accept a connection within {after:?}")]
    ConnectTimeout { what: DocumentKind, host: String, after: Duration },

    #[error("{what} was not received within {after:?}")]
    Timeout { what: DocumentKind, after: Duration },

    /// SPEC R067.
    #[error("{what} could not be fetched: redirects are not followed (status {status} to {location})")]
    Redirect { what: DocumentKind, status: u16, location: String },

    /// SPEC R066.
    #[error("{what} fetch returned HTTP status {status}; only 200 is accepted")]
    Status { what: DocumentKind, status: u16 },

    #[error("{what} has content type {found:?}; expected {expected}")]
    ContentType { what: DocumentKind, found: String, expected: &'static str },

    /// SPEC R070: nothing is decompressed, so a compressed body cannot hide its real size.
    #[error("{what} is sent with Content-Encoding {encoding:?}; only uncompressed (identity) responses are accepted")]
    ContentEncoding { what: DocumentKind, encoding: String },

    /// SPEC R070, from the declared `Content-Length`.
    #[error("{what} is {size} bytes, over the {limit}-byte limit")]
    TooLarge { what: DocumentKind, size: u64, limit: usize },

    /// SPEC R070, counted on the streamed body (no or a false `Content-Length`).
    #[error("{what} is over the {limit}-byte limit (the transfer was stopped after {received} bytes)")]
    TooLargeStreamed { what: DocumentKind, received: u64, limit: usize },

    #[error("reading the {what} failed: {reason}")]
    Body { what: DocumentKind, reason: String },

    /// SPEC R071: the fetch governor refused, without waiting.
    #[error("too many fetches from {host} are in progress (limit {limit}); try again shortly")]
    HostBusy { host: String, limit: usize },

    #[error("{host} was fetched less than {interval:?} ago; try again shortly")]
    HostTooSoon { host: String, interval: Duration },

    #[error("outbound fetches are already in progress to {limit} different hosts; try again shortly")]
    TooManyHosts { limit: usize },

    #[error("the outbound fetch rate limit ({fetches} per {per:?}) is reached; try again shortly")]
    RateLimited { fetches: u32, per: Duration },

    #[error("outbound fetch configuration is invalid: {reason}")]
    Config { reason: String },
}

fn blocked_message(what: DocumentKind, host: &str, address: IpAddr, reason: &str) -> String {
    let target = if host.parse::<IpAddr>().ok() == Some(address) {
        format!("{what} URL points at {address}")
    } else {
        format!("{what} host {host} resolves to {address}")
    };
    format!("{target}, which Postern does not fetch from: {reason}")
}

/// The error's category, stable for audit logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchErrorKind {
    InvalidUrl,
    BlockedAddress,
    Resolve,
    Connect,
    Timeout,
    Redirect,
    Status,
    ContentType,
    ContentEncoding,
    TooLarge,
    Body,
    RateLimited,
    Config,
}

impl FetchErrorKind {
    /// `snake_case`, e.g. `blocked_address`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidUrl => "invalid_url",
            Self::BlockedAddress => "blocked_address",
            Self::Resolve => "resolve",
            Self::Connect => "connect",
            Self::Timeout => "timeout",
            Self::Redirect => "redirect",
            Self::Status => "status",
            Self::ContentType => "content_type",
            Self::ContentEncoding => "content_encoding",
            Self::TooLarge => "too_large",
            Self::Body => "body",
            Self::RateLimited => "rate_limited",
            Self::Config => "config",
        }
    }
}

impl fmt::Display for FetchErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FetchError {
    /// The category recorded in the [`crate::FetchReport`].
    pub fn kind(&self) -> FetchErrorKind {
        match self {
            Self::InvalidUrl { .. } | Self::NotHttps { .. } | Self::Credentials { .. } => FetchErrorKind::InvalidUrl,
            Self::BlockedAddress { .. } => FetchErrorKind::BlockedAddress,
            Self::Resolve { .. } | Self::NoAddress { .. } => FetchErrorKind::Resolve,
            Self::Connect { .. } => FetchErrorKind::Connect,
            Self::ConnectTimeout { .. } | Self::Timeout { .. } => FetchErrorKind::Timeout,
            Self::Redirect { .. } => FetchErrorKind::Redirect,
            Self::Status { .. } => FetchErrorKind::Status,
            Self::ContentType { .. } => FetchErrorKind::ContentType,
            Self::ContentEncoding { .. } => FetchErrorKind::ContentEncoding,
            Self::TooLarge { .. } | Self::TooLargeStreamed { .. } => FetchErrorKind::TooLarge,
            Self::Body { .. } => FetchErrorKind::Body,
            Self::HostBusy { .. } | Self::HostTooSoon { .. } | Self::TooManyHosts { .. } | Self::RateLimited { .. } => {
                FetchErrorKind::RateLimited
            }
            Self::Config { .. } => FetchErrorKind::Config,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_tell_the_client_developer_what_to_fix() {
        let what = DocumentKind::ClientMetadata;
        assert_eq!(
            FetchError::TooLarge { what, size: 20480, limit: 16384 }.to_string(),
            "client metadata document is 20480 bytes, over the 16384-byte limit"
        );
        assert_eq!(
            FetchError::Redirect { what, status: 301, location: "https://10.0.0.1/".into() }.to_string(),
            "client metadata document could not be fetched: redirects are not followed (status 301 to https://10.0.0.1/)"
        );
        let blocked = FetchError::BlockedAddress {
            what,
            host: "cimd.test".into(),
            address: "10.0.0.1".parse().unwrap(),
            reason: "private network (10.0.0.0/8)",
        };
        assert_eq!(
            blocked.to_string(),
            "client metadata document host cimd.test resolves to 10.0.0.1, which Postern does not fetch from: \
             private network (10.0.0.0/8)"
        );
        let literal = FetchError::BlockedAddress {
            what: DocumentKind::Logo,
            host: "127.0.0.1".into(),
            address: "127.0.0.1".parse().unwrap(),
            reason: "loopback (127.0.0.0/8)",
        };
        assert_eq!(
            literal.to_string(),
            "logo URL points at 127.0.0.1, which Postern does not fetch from: loopback (127.0.0.0/8)"
        );
        assert_eq!(
            FetchError::Timeout { what, after: Duration::from_secs(5) }.to_string(),
            "client metadata document was not received within 5s"
        );
    }
}

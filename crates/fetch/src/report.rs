//! What one fetch did, for the audit log (SPEC R072: fetch failures are logged). Produced for
//! every fetch, successful or not, however early it stopped.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::{DocumentKind, FetchErrorKind};

/// One fetch's audit record, returned with every result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The URL as requested (clipped to 2048 characters).
    pub url: String,
    pub what: DocumentKind,
    /// Every address the host resolved to, or the IP literal; empty when no lookup happened.
    pub resolved: Vec<IpAddr>,
    /// The vetted address actually connected to, when a response arrived.
    pub peer: Option<SocketAddr>,
    pub status: Option<u16>,
    /// Body bytes received (also when the fetch was then refused as too large).
    pub bytes: u64,
    pub duration: Duration,
    pub outcome: FetchOutcome,
}

/// `ok`, or the error's kind (`redirect`, `too_large`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchOutcome {
    Ok,
    Failed(FetchErrorKind),
}

impl fmt::Display for FetchOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("ok"),
            Self::Failed(kind) => kind.fmt(f),
        }
    }
}

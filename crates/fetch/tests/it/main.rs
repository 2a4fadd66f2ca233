//! postern-fetch integration tests: `SafeFetcher` against a real TLS server on loopback that
//! misbehaves on purpose (support/), with DNS answered by a `StaticResolver`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod addresses;
mod fixture;
mod governor;
mod responses;
mod support;
mod url_handling;

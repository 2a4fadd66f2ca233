//! The store's conformance suite. Every scenario is written once and runs against both backends
//! (`<module>::sqlite::<name>` and `<module>::postgres::<name>`), each on its own isolated,
//! migrated store. PostgreSQL is required, never skipped: see `support::run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod access_tokens;
mod admin_tokens;
mod audit;
mod cimd_clients;
mod clients;
mod codes;
mod dcr;
mod keys;
mod refresh;
mod sessions_consents;
mod users;

//! The store's conformance suite. Every scenario is written once and runs against both backends
//! (`<module>::sqlite::<name>` and `<module>::postgres::<name>`), each on its own isolated,
//! migrated store. PostgreSQL is required, never skipped: see `support::run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod access_tokens;
mod admin_tokens;
mod admin_users;
mod audit;
mod audit_query;
mod cimd_clients;
mod client_decisions;
mod client_inventory;
mod clients;
mod codes;
mod connected_apps;
mod dcr;
mod document_history;
mod domain_rules;
mod keys;
mod refresh;
mod sessions_consents;
mod users;

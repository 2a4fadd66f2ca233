//! Black-box HTTP tests of the authorization server. Every scenario runs against SQLite and
//! PostgreSQL (see `support::backend_tests!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin_client_support;
mod admin_support;
mod documents;
mod signing;
mod support;

mod account_apps;
mod admin_api;
mod admin_audit;
mod admin_clients;
mod admin_console;
mod admin_console_changes;
mod admin_domain_policy;
mod admin_openapi;
mod admin_users;
mod authorize_errors;
mod cimd_flow;
mod cimd_hostile;
mod cimd_new_client_limit;
mod client_ip;
mod cors;
mod dcr;
mod full_flow;
mod hostile_input;
mod introspect_revoke;
mod login_and_consent;
mod logs;
mod metadata;
mod metrics;
mod private_key_jwt;
mod security;
mod token_code_grant;
mod token_refresh;

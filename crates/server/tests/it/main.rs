//! Black-box HTTP tests of the authorization server. Every scenario runs against SQLite and
//! PostgreSQL (see `support::backend_tests!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod documents;
mod signing;
mod support;

mod authorize_errors;
mod cimd_flow;
mod cimd_hostile;
mod client_ip;
mod cors;
mod dcr;
mod full_flow;
mod hostile_input;
mod introspect_revoke;
mod login_and_consent;
mod logs;
mod metadata;
mod private_key_jwt;
mod security;
mod token_code_grant;
mod token_refresh;

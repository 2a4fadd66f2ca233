//! Black-box HTTP tests of the authorization server. Every scenario runs against SQLite and
//! PostgreSQL (see `support::backend_tests!`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod full_flow;
mod metadata;
mod authorize_errors;
mod login_and_consent;
mod token_code_grant;

//! postern-guard against a real Postern authorization server: its metadata, its `/jwks.json`,
//! tokens it mints, and its key rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod challenges;
mod cors;
mod identity;
mod metadata;
mod rotation;
mod tokens;

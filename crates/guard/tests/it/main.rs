//! postern-guard against a real Postern authorization server: its metadata, its `/jwks.json`,
//! tokens it mints, and its key rotation; in introspection mode, its `/token`, `/introspect`
//! and `/revoke`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod challenges;
mod cors;
mod identity;
mod introspection;
mod metadata;
mod rotation;
mod tokens;

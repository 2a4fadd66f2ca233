//! Authorization server metadata (RFC 8414) and its OIDC discovery alias, with the same
//! capability fields in both (R040–R050, §4 Q13).

use crate::client_assertion::SIGNING_ALGORITHMS;
use crate::config::Settings;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub fn document(settings: &Settings) -> Value {
    let issuer = &settings.issuer;
    let auth_methods = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];
    let mut document = json!({
        "issuer": issuer.as_str(),
        "authorization_endpoint": issuer.endpoint("/authorize"),
        "token_endpoint": issuer.endpoint("/token"),
        "jwks_uri": issuer.endpoint("/jwks.json"),
        "revocation_endpoint": issuer.endpoint("/revoke"),
        "introspection_endpoint": issuer.endpoint("/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": SIGNING_ALGORITHMS,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_signing_alg_values_supported": SIGNING_ALGORITHMS,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "introspection_endpoint_auth_signing_alg_values_supported": SIGNING_ALGORITHMS,
        "client_id_metadata_document_supported": settings.cimd.enabled,
        "scopes_supported": settings.all_scopes().iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent"],
    });
    // Advertised only when on: a client that sees it will use it (R100: DCR is a fallback).
    if settings.dcr.enabled {
        document["registration_endpoint"] = issuer.endpoint("/register").into();
    }
    document
}

pub async fn oauth_authorization_server(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(state.metadata.clone()))
}

/// R050: the OIDC-required members, so strict OIDC clients accept the document. Postern
/// issues no ID tokens; RS256 is listed because OIDC Discovery requires it.
pub async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let mut document = state.metadata.clone();
    if let Some(map) = document.as_object_mut() {
        map.insert("subject_types_supported".into(), json!(["public"]));
        map.insert("id_token_signing_alg_values_supported".into(), json!(["RS256"]));
    }
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(document))
}

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    let keys = state.keys.published(state.now(), state.settings.access_token_ttl);
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(json!({ "keys": keys })))
}

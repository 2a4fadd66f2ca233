//! The admin API, `/admin/api/v1` under the issuer: inventory, approvals, blocking, users and
//! the audit log for operators. JSON in and out; authentication and auditing in [`auth`].

pub mod audit;
pub mod auth;
pub mod client_actions;
pub mod clients;
pub mod domains;
pub mod error;
pub mod grants;
pub mod inventory_params;
pub mod json_body;
pub mod openapi;
pub mod overview;
pub mod users;

use crate::state::AppState;
use axum::Router;
use axum::middleware;
use axum::routing::get;
use postern_core::Issuer;

/// The path prefix of the admin API under the issuer.
pub const API_PREFIX: &str = "/admin/api/v1";

/// Every admin API route, behind authentication. Mounted by [`crate::app`].
pub fn router(issuer: &Issuer, state: &AppState) -> Router<AppState> {
    let path = |suffix: &str| issuer.endpoint_path(&format!("{API_PREFIX}{suffix}"));
    Router::new()
        .route(&path("/overview"), get(overview::overview))
        .route(&path("/clients"), get(clients::list))
        .route(&path("/clients/{client_id}"), get(clients::detail))
        .route(&path("/clients/{client_id}/approve"), axum::routing::post(client_actions::approve))
        .route(&path("/clients/{client_id}/deny"), axum::routing::post(client_actions::deny))
        .route(&path("/clients/{client_id}/block"), axum::routing::post(client_actions::block))
        .route(&path("/clients/{client_id}/unblock"), axum::routing::post(client_actions::unblock))
        .route(&path("/domain-policy"), get(domains::show))
        .route(
            &path("/domain-policy/rules/{pattern}"),
            axum::routing::put(domains::put_rule).delete(domains::delete_rule),
        )
        .route(
            &path("/domain-policy/unknown-domains"),
            axum::routing::put(domains::put_unknown_domains).delete(domains::reset_unknown_domains),
        )
        .route(&path("/grants/{grant_id}"), axum::routing::delete(grants::revoke))
        .route(&path("/users"), get(users::list).post(users::create))
        .route(&path("/users/{id}/disable"), axum::routing::post(users::disable))
        .route(&path("/users/{id}/enable"), axum::routing::post(users::enable))
        .route(&path("/users/{id}/password"), axum::routing::post(users::reset_password))
        .route(&path("/audit"), get(audit::query))
        .route(&path("/audit/export"), get(audit::export))
        // Prometheus text; also served without authentication on `metrics_listen` when set.
        .route(&path("/metrics"), get(crate::metrics::render_handler))
        .route(&path("/openapi.json"), get(openapi::document))
        // Any other path under the prefix: a JSON error like every other answer of this API,
        // not the router's empty 404.
        .route(&path("/{*unknown}"), axum::routing::any(unknown_endpoint))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
}

/// The description every answer for a path that is not an endpoint starts with.
pub const UNKNOWN_ENDPOINT: &str = "no admin API endpoint has this path";

async fn unknown_endpoint() -> error::AdminError {
    error::AdminError::not_found(format!(
        "{UNKNOWN_ENDPOINT} (see openapi.json); a client_id that is a URL must be percent-encoded as one \
         path segment, e.g. /clients/https%3A%2F%2Fapp.example.com%2Fclient.json"
    ))
}

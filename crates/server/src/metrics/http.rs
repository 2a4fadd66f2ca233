//! HTTP requests by route template and status class. The route label is one of Postern's own
//! endpoint names, never the request path: `/register/dcr_x1` counts as `/register/{client_id}`
//! and a path that matches no route as `unmatched`, so scanners cannot mint new series.

use super::Counter;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use postern_core::Issuer;

/// Status classes `1xx` .. `5xx`.
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// An endpoint, named by its path relative to the issuer (the well-known documents by their
/// well-known name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Authorize,
    Login,
    Consent,
    Token,
    Revoke,
    Introspect,
    Register,
    RegistrationManagement,
    Jwks,
    AuthorizationServerMetadata,
    OpenidConfiguration,
    Stylesheet,
    ClientLogo,
    Healthz,
    Readyz,
    /// Anything under `/account/` (a user's own pages).
    Account,
    /// Anything under `/admin/` (the admin API and UI).
    Admin,
    /// A route added without a label here; give it one.
    Other,
    /// No route matched (404s).
    Unmatched,
}

impl Route {
    pub const ALL: [Self; 19] = [
        Self::Authorize,
        Self::Login,
        Self::Consent,
        Self::Token,
        Self::Revoke,
        Self::Introspect,
        Self::Register,
        Self::RegistrationManagement,
        Self::Jwks,
        Self::AuthorizationServerMetadata,
        Self::OpenidConfiguration,
        Self::Stylesheet,
        Self::ClientLogo,
        Self::Healthz,
        Self::Readyz,
        Self::Account,
        Self::Admin,
        Self::Other,
        Self::Unmatched,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "/authorize",
            Self::Login => "/login",
            Self::Consent => "/consent",
            Self::Token => "/token",
            Self::Revoke => "/revoke",
            Self::Introspect => "/introspect",
            Self::Register => "/register",
            Self::RegistrationManagement => "/register/{client_id}",
            Self::Jwks => "/jwks.json",
            Self::AuthorizationServerMetadata => "/.well-known/oauth-authorization-server",
            Self::OpenidConfiguration => "/.well-known/openid-configuration",
            Self::Stylesheet => "/static/postern.css",
            Self::ClientLogo => "/client-logo",
            Self::Healthz => "/healthz",
            Self::Readyz => "/readyz",
            Self::Account => "/account/*",
            Self::Admin => "/admin/*",
            Self::Other => "other",
            Self::Unmatched => "unmatched",
        }
    }
}

/// The route templates as the router registers them for this issuer (an issuer with a path
/// prefixes its endpoints), built once at start so a request costs a few string comparisons.
pub struct RouteTable {
    templates: Vec<(String, Route)>,
    account_prefix: String,
    admin_prefix: String,
}

impl RouteTable {
    pub fn new(issuer: &Issuer) -> Self {
        let endpoint = |path: &str, route| (issuer.endpoint_path(path), route);
        let templates = vec![
            endpoint("/token", Route::Token),
            endpoint("/authorize", Route::Authorize),
            endpoint("/introspect", Route::Introspect),
            endpoint("/revoke", Route::Revoke),
            endpoint("/login", Route::Login),
            endpoint("/consent", Route::Consent),
            endpoint("/register", Route::Register),
            endpoint("/register/{client_id}", Route::RegistrationManagement),
            endpoint("/jwks.json", Route::Jwks),
            endpoint("/static/postern.css", Route::Stylesheet),
            endpoint("/client-logo", Route::ClientLogo),
            (issuer.authorization_server_metadata_path(), Route::AuthorizationServerMetadata),
            (issuer.openid_configuration_path(), Route::OpenidConfiguration),
            (issuer.openid_configuration_inserted_path(), Route::OpenidConfiguration),
            ("/healthz".to_owned(), Route::Healthz),
            ("/readyz".to_owned(), Route::Readyz),
        ];
        Self {
            templates,
            account_prefix: issuer.endpoint_path("/account/"),
            admin_prefix: issuer.endpoint_path("/admin/"),
        }
    }

    /// `matched`: the template of the route that answered, `None` when none did.
    pub fn route(&self, matched: Option<&str>) -> Route {
        let Some(matched) = matched else { return Route::Unmatched };
        match self.templates.iter().find(|(template, _)| template == matched) {
            Some((_, route)) => *route,
            None if matched.starts_with(&self.account_prefix) => Route::Account,
            // Whether the admin API is mounted under the issuer's path or at the root.
            None if matched.starts_with(&self.admin_prefix) || matched.starts_with("/admin/") => Route::Admin,
            None => Route::Other,
        }
    }
}

/// One counter per (route, status class), allocated at start.
pub struct HttpRequests {
    counts: [[Counter; STATUS_CLASSES.len()]; Route::ALL.len()],
}

impl Default for HttpRequests {
    fn default() -> Self {
        Self { counts: std::array::from_fn(|_| std::array::from_fn(|_| Counter::default())) }
    }
}

impl HttpRequests {
    pub fn inc(&self, route: Route, status: StatusCode) {
        // `http` accepts codes up to 999; Postern sends none above 5xx, so such a code has no
        // class to count in.
        let class = usize::from(status.as_u16() / 100).wrapping_sub(1);
        if let Some(counter) = self.counts.get(route as usize).and_then(|classes| classes.get(class)) {
            counter.inc();
        }
    }

    /// `(route, status class, count)` for every series.
    pub fn series(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        Route::ALL.into_iter().zip(&self.counts).flat_map(|(route, classes)| {
            STATUS_CLASSES.iter().zip(classes).map(move |(class, counter)| (route.as_str(), *class, counter.get()))
        })
    }
}

/// Middleware (outermost of the authorization server's layers, so timeouts and refusals by
/// inner layers are counted too): one relaxed atomic add per request.
pub async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = state.metrics.routes.route(request.extensions().get::<MatchedPath>().map(MatchedPath::as_str));
    let response = next.run(request).await;
    state.metrics.http_requests.inc(route, response.status());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_indexed_in_label_order() {
        for (i, route) in Route::ALL.into_iter().enumerate() {
            assert_eq!(route as usize, i, "{route:?}");
        }
    }

    #[test]
    fn templates_under_an_issuer_path_map_to_the_issuer_relative_label() {
        let table = RouteTable::new(&Issuer::parse("https://auth.example.com/tenant").unwrap());
        assert_eq!(table.route(Some("/tenant/token")), Route::Token);
        assert_eq!(table.route(Some("/tenant/register/{client_id}")), Route::RegistrationManagement);
        assert_eq!(
            table.route(Some("/.well-known/oauth-authorization-server/tenant")),
            Route::AuthorizationServerMetadata
        );
        assert_eq!(table.route(Some("/tenant/.well-known/openid-configuration")), Route::OpenidConfiguration);
        assert_eq!(table.route(Some("/healthz")), Route::Healthz);
        assert_eq!(table.route(Some("/tenant/admin/api/v1/clients/{client_id}")), Route::Admin);
        assert_eq!(table.route(Some("/tenant/account/apps/revoke")), Route::Account);
        assert_eq!(table.route(Some("/token")), Route::Other, "not this issuer's token endpoint");
        assert_eq!(table.route(None), Route::Unmatched);
    }

    #[test]
    fn statuses_count_in_their_class() {
        let requests = HttpRequests::default();
        requests.inc(Route::Token, StatusCode::OK);
        requests.inc(Route::Token, StatusCode::BAD_REQUEST);
        requests.inc(Route::Token, StatusCode::UNAUTHORIZED);
        requests.inc(Route::Unmatched, StatusCode::NOT_FOUND);
        requests.inc(Route::Token, StatusCode::from_u16(999).unwrap());
        let count = |route: &str, class: &str| {
            requests.series().find(|(r, c, _)| *r == route && *c == class).map(|(_, _, n)| n).unwrap()
        };
        assert_eq!(count("/token", "2xx"), 1);
        assert_eq!(count("/token", "4xx"), 2);
        assert_eq!(count("unmatched", "4xx"), 1);
        assert_eq!(requests.series().map(|(_, _, n)| n).sum::<u64>(), 4, "999 has no class");
        assert_eq!(requests.series().count(), Route::ALL.len() * STATUS_CLASSES.len());
    }
}

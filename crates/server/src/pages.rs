//! HTML pages: login, consent and errors. Templates are askama (auto-escaped); pages carry no
//! script at all, so the CSP forbids every script source.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// A hidden form field that carries an authorization request parameter through a form.
pub struct Hidden {
    pub name: String,
    pub value: String,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub static_prefix: &'a str,
    pub action: String,
    pub csrf: String,
    pub hidden: &'a [Hidden],
    pub client_name: &'a str,
    pub client_id: &'a str,
    pub username: &'a str,
    pub error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub static_prefix: &'a str,
    pub action: String,
    pub csrf: String,
    pub hidden: &'a [Hidden],
    pub client_name: &'a str,
    pub client_id: &'a str,
    /// Which document the user is shown (`""` for pre-registered clients); the form sends it back.
    pub document_fingerprint: &'a str,
    /// For a metadata-document client: the host that published its name and logo (R094).
    pub verified_host: Option<&'a str>,
    /// Postern's own URL of the client's cached logo (R090).
    pub logo_url: Option<String>,
    /// A client that registered itself (DCR): nobody vouches for its name.
    pub self_registered: bool,
    /// R095: a metadata-document client whose every redirect URI is on this machine.
    pub all_redirects_loopback: bool,
    pub redirect_host: String,
    pub redirect_uri: &'a str,
    pub loopback_redirect: bool,
    pub resource_name: &'a str,
    pub resource_uri: &'a str,
    pub scopes: Vec<String>,
    pub username: &'a str,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub static_prefix: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    /// What the person looking at the page can do about it.
    pub footer: &'a str,
}

const UNTRUSTED_FOOTER: &str = "You were not redirected because the request could not be trusted. Close this window \
     and contact the application's developer.";
const POLICY_FOOTER: &str = "This is a decision of this server's administrators, not a fault of the application: \
     ask them if you need it.";

const NOT_FOUND_FOOTER: &str = "Check the address, or start again from the application or page that sent you here.";

/// Renders a page with the headers every HTML response carries.
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(error) => {
            tracing::error!(%error, "template rendering failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// Shown instead of redirecting when the client or redirect URI cannot be trusted (R111).
pub fn error_page(static_prefix: &str, status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { static_prefix, title, message, footer: UNTRUSTED_FOOTER })
}

/// Shown instead of redirecting when the server's administrators decided against the client
/// (blocked, awaiting approval, refused by domain policy): nothing for its developer to fix.
pub fn policy_page(static_prefix: &str, status: StatusCode, title: &str, message: &str) -> Response {
    render(status, &ErrorPage { static_prefix, title, message, footer: POLICY_FOOTER })
}

/// Any path the server does not serve: a page rather than an empty answer, so a mistyped
/// console or account address says what happened.
pub fn not_found_page(static_prefix: &str) -> Response {
    let page = ErrorPage {
        static_prefix,
        title: "Page not found",
        message: "There is nothing at this address on this server.",
        footer: NOT_FOUND_FOOTER,
    };
    render(StatusCode::NOT_FOUND, &page)
}

/// Headers for every response: no caching of anything personal, no framing, no referrer
/// leakage, and a CSP that allows no script at all.
pub fn security_headers() -> [(header::HeaderName, HeaderValue); 5] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}

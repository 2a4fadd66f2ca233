//! The admin console: server-rendered pages under `ISSUER/admin` for operators with a browser.
//! It does what the admin API does (routes/admin), through the same functions and with the
//! same audit events; only the rendering differs.
//!
//! - Sign-in (`/admin/sign-in`) is the password check of every sign-in form
//!   (password_sign_in.rs) and starts the normal session; only an administrator whose account
//!   is not disabled gets in.
//! - Pages carry no script (the CSP forbids every script source). Every change is a form POST
//!   carrying the session's CSRF token (form_post.rs); every change that can take access away
//!   (block, deny, disable, revoke, domain rules that refuse) first shows a confirmation page,
//!   and a POST without `confirm=yes` only shows that page again.
//! - After a change the browser is redirected (303) to a page that says what happened, from a
//!   fixed list of notices ([`Notice`]), so a link cannot make the console display other text.

mod audit;
mod clients;
mod confirm;
mod decisions;
mod display;
mod domains;
mod names;
mod notice;
mod overview;
mod sign_in;
mod users;

use crate::client_ip::ClientIp;
use crate::form_post::{self, FormRefused};
use crate::pages;
use crate::params::Params;
use crate::routes::admin::auth::{AdminCaller, is_active_admin};
use crate::routes::admin::error::AdminError;
use crate::session::{self, BrowserSession};
use crate::state::AppState;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{RequestExt, Router};
use postern_core::Issuer;
use postern_store::UserRecord;
use std::net::IpAddr;

pub use notice::Notice;

/// Where the console lives under the issuer.
pub const PREFIX: &str = "/admin";

/// Every console route. Mounted by [`crate::app`] beside the admin API (`/admin/api/v1`).
pub fn router(issuer: &Issuer) -> Router<AppState> {
    let path = |suffix: &str| issuer.endpoint_path(&format!("{PREFIX}{suffix}"));
    Router::new()
        .route(&path(""), get(overview::page))
        .route(&path("/sign-in"), get(sign_in::page).post(sign_in::submit))
        .route(&path("/sign-out"), post(sign_in::sign_out))
        .route(&path("/clients"), get(clients::list))
        .route(&path("/clients/{client_id}"), get(clients::detail))
        .route(&path("/clients/{client_id}/{action}"), get(decisions::confirm).post(decisions::decide))
        .route(&path("/approvals"), get(decisions::queue))
        .route(&path("/grants/{grant_id}/revoke"), get(decisions::confirm_revoke).post(decisions::revoke))
        .route(&path("/domains"), get(domains::page))
        .route(&path("/domains/rules"), post(domains::add_rule))
        .route(&path("/domains/rules/remove"), get(domains::confirm_remove).post(domains::remove_rule))
        .route(&path("/domains/unknown"), post(domains::set_unknown))
        .route(&path("/users"), get(users::page).post(users::create))
        .route(&path("/users/{user_id}/password"), get(users::password_page).post(users::reset_password))
        .route(&path("/users/{user_id}/{action}"), get(users::confirm).post(users::change))
        .route(&path("/audit"), get(audit::page))
}

/// The approvals queue's absolute URL, for the pages that tell a user a client waits for it.
pub fn approvals_url(state: &AppState) -> String {
    state.settings.issuer.endpoint(&format!("{PREFIX}/approvals"))
}

/// The console's URLs under the issuer.
#[derive(Debug, Clone)]
pub struct Paths {
    base: String,
    api: String,
}

impl Paths {
    pub fn new(state: &AppState) -> Self {
        let issuer = &state.settings.issuer;
        Self { base: issuer.endpoint_path(PREFIX), api: issuer.endpoint_path(crate::routes::admin::API_PREFIX) }
    }

    /// An admin API URL, e.g. `api("/audit/export")`: GETs there take the console's session.
    pub fn api(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.api)
    }

    pub fn overview(&self) -> String {
        self.base.clone()
    }

    /// A console page, e.g. `page("/clients")`.
    pub fn page(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }

    pub fn client(&self, client_id: &str) -> String {
        format!("{}/clients/{}", self.base, display::path_segment(client_id))
    }

    pub fn client_action(&self, client_id: &str, verb: &str) -> String {
        format!("{}/{verb}", self.client(client_id))
    }

    pub fn grant_revoke(&self, grant_id: &str) -> String {
        format!("{}/grants/{}/revoke", self.base, display::path_segment(grant_id))
    }

    pub fn user_action(&self, user_id: &str, verb: &str) -> String {
        format!("{}/users/{}/{verb}", self.base, display::path_segment(user_id))
    }

    /// The audit log filtered by one field (`client_id` or `user_id`).
    pub fn audit_of(&self, field: &str, value: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair(field, value).finish();
        format!("{}/audit?{query}", self.base)
    }

    /// The domain policy page's removal form for one pattern.
    pub fn remove_rule(&self, pattern: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("pattern", pattern).finish();
        format!("{}/domains/rules/remove?{query}", self.base)
    }
}

/// One entry of the navigation bar.
pub struct NavLink {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

/// The sections of the console, in navigation order: (key, label, path suffix).
const SECTIONS: &[(&str, &str, &str)] = &[
    ("overview", "Overview", ""),
    ("clients", "Clients", "/clients"),
    ("approvals", "Approvals", "/approvals"),
    ("domains", "Domain policy", "/domains"),
    ("users", "Users", "/users"),
    ("audit", "Audit log", "/audit"),
];

/// What every signed-in page shows around its content: navigation, who is signed in, the
/// sign-out form, and the notice of the change just made.
pub struct Chrome {
    pub static_prefix: String,
    pub paths: Paths,
    pub nav: Vec<NavLink>,
    pub username: String,
    pub csrf: String,
    pub sign_out_action: String,
    pub notice: Option<String>,
}

/// The signed-in administrator of a console request.
pub struct Admin {
    pub session: BrowserSession,
    pub user: UserRecord,
    /// Who the shared admin functions audit as the actor (`user:<id>`).
    pub caller: AdminCaller,
}

impl Admin {
    /// The frame of a page in `section` (a key of [`SECTIONS`]).
    pub fn chrome(&self, state: &AppState, section: &str) -> Chrome {
        let paths = Paths::new(state);
        Chrome {
            static_prefix: state.settings.issuer.path().to_owned(),
            nav: SECTIONS
                .iter()
                .map(|(key, label, suffix)| NavLink { label, href: paths.page(suffix), current: *key == section })
                .collect(),
            username: self.user.username.clone(),
            csrf: self.session.csrf_token(),
            sign_out_action: paths.page("/sign-out"),
            paths,
            notice: None,
        }
    }
}

/// A page request's administrator: the one whose session cookie came with it. Otherwise the
/// rejection is the response that replaces the page: the sign-in page (redirected to, or with
/// a refusal).
impl FromRequestParts<AppState> for Admin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let session = match session::load_existing(state, &parts.headers).await {
            Ok(Some(session)) => session,
            Ok(None) => return Err(sign_in::redirect_to_sign_in(state)),
            Err(error) => return Err(store_failure(state, error.into())),
        };
        admin_of_session(state, session, ip).await
    }
}

/// A console form post: its fields and the administrator who sent it. It reads the body, so it
/// is a handler's last argument.
pub struct ConsoleForm {
    pub params: Params,
    pub admin: Admin,
}

/// The form is checked first (cookie, CSRF), so no field of a forged post is ever read; the
/// administrator after.
impl FromRequest<AppState> for ConsoleForm {
    type Rejection = Response;

    async fn from_request(mut request: Request, state: &AppState) -> Result<Self, Response> {
        let Ok(ClientIp(ip)) = request.extract_parts_with_state::<ClientIp, _>(state).await;
        let headers = request.headers().clone();
        // `Bytes` applies the router's DefaultBodyLimit (413 beyond it).
        let body = Bytes::from_request(request, state).await.map_err(IntoResponse::into_response)?;
        let (params, session) = form_post::checked(state, &headers, &body).await.map_err(|refused| match refused {
            FormRefused::Store(error) => store_failure(state, error.into()),
            refused => sign_in::refused_form(state, &refused),
        })?;
        Ok(Self { params, admin: admin_of_session(state, session, ip).await? })
    }
}

async fn admin_of_session(state: &AppState, session: BrowserSession, ip: IpAddr) -> Result<Admin, Response> {
    let Some(user_id) = session.user.as_ref().map(|user| user.user_id.clone()) else {
        return Err(sign_in::redirect_to_sign_in(state));
    };
    let user = match state.store.find_user(&user_id).await {
        Ok(Some(user)) => user,
        Ok(None) => return Err(sign_in::redirect_to_sign_in(state)),
        Err(error) => return Err(store_failure(state, error.into())),
    };
    if !is_active_admin(&user) {
        return Err(sign_in::not_an_administrator(state, &session, &user));
    }
    let caller = AdminCaller::signed_in(user.id.clone(), ip.to_string());
    Ok(Admin { session, user, caller })
}

/// A page with a title and a message inside the console frame (errors and refusals).
#[derive(Template)]
#[template(path = "admin/message.html")]
struct MessagePage<'a> {
    chrome: Chrome,
    title: &'a str,
    message: &'a str,
    back: Option<Link>,
}

/// A link on a page.
pub struct Link {
    pub href: String,
    pub label: String,
}

impl Link {
    pub fn new(href: String, label: impl Into<String>) -> Self {
        Self { href, label: label.into() }
    }
}

/// An error of a shared admin function, as a page: the same words the API puts in
/// `error_description`.
pub fn error_page(chrome: Chrome, error: &AdminError, back: Option<Link>) -> Response {
    let title = match error.status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Nothing was changed",
        StatusCode::BAD_REQUEST => "This request cannot be used",
        StatusCode::FORBIDDEN => "Not allowed",
        _ => "Something went wrong",
    };
    pages::render(error.status, &MessagePage { chrome, title, message: &error.description, back })
}

/// A page outside the console frame, for requests that never got as far as an administrator
/// (a refused form, a failure before the frame could be built), with a way back in.
#[derive(Template)]
#[template(path = "admin/refused.html")]
struct BarePage<'a> {
    static_prefix: &'a str,
    title: &'a str,
    message: &'a str,
    console: String,
}

pub fn bare_page(state: &AppState, status: StatusCode, title: &str, message: &str) -> Response {
    let page =
        BarePage { static_prefix: state.settings.issuer.path(), title, message, console: Paths::new(state).overview() };
    pages::render(status, &page)
}

/// A store failure before the frame of a page could be built.
pub fn store_failure(state: &AppState, error: AdminError) -> Response {
    bare_page(state, error.status, "Something went wrong", &error.description)
}

/// Parses a page's query string (a name sent twice is an error, shown as such).
pub fn query_params(raw: Option<&str>) -> Result<Params, AdminError> {
    Params::parse_unique(raw.unwrap_or_default().as_bytes()).map_err(AdminError::bad_request)
}

/// A 303 to `location` after a change (R115's rule for form posts).
pub fn after_change(location: &str) -> Response {
    crate::authorization_response::redirect(location, true)
}

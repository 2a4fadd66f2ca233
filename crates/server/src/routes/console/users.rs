//! `GET /admin/users`: every account with its live grants, a form to create one, and per
//! account: disable (confirmed first: it ends the sessions and revokes the grants), enable,
//! reset the password. The changes are the admin API's (routes/admin/users.rs, same functions
//! and audit events). Password hashes never reach a page.

use super::confirm::{self, Confirmation};
use super::display;
use super::{Admin, Chrome, ConsoleForm, Link, Notice, Paths, after_change, error_page, query_params};
use crate::pages;
use crate::passwords::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
use crate::routes::admin::error::AdminError;
use crate::routes::admin::users as api;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_core::username::MAX_USERNAME_LEN;
use postern_store::{DisableOutcome, UserSummary};

/// One account as a table row.
pub struct UserRow {
    pub username: String,
    pub id: String,
    pub is_admin: bool,
    pub created: String,
    pub disabled: Option<String>,
    pub live_grants: i64,
    pub is_you: bool,
    pub disable_href: String,
    pub enable_action: String,
    pub password_href: String,
    pub audit_href: String,
}

impl UserRow {
    fn of(user: UserSummary, paths: &Paths, you: &str) -> Self {
        Self {
            is_you: user.id == you,
            created: display::time(user.created_at),
            disabled: user.disabled_at.map(display::time),
            disable_href: paths.user_action(&user.id, "disable"),
            enable_action: paths.user_action(&user.id, "enable"),
            password_href: paths.user_action(&user.id, "password"),
            audit_href: paths.audit_of("user_id", &user.id),
            username: user.username,
            is_admin: user.is_admin,
            live_grants: user.live_grants,
            id: user.id,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    rows: Vec<UserRow>,
    create_action: String,
    username: String,
    is_admin: bool,
    error: Option<String>,
    min_password: usize,
    max_password: usize,
    max_username: usize,
}

/// `GET /admin/users`.
pub async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let notice = match query_params(raw.as_deref()) {
        Ok(params) => Notice::from_query(&params),
        Err(error) => return error_page(admin.chrome(&state, "users"), &error, None),
    };
    users_page(&state, &admin, notice, None, "", false).await
}

async fn users_page(
    state: &AppState,
    admin: &Admin,
    notice: Option<String>,
    error: Option<&AdminError>,
    username: &str,
    is_admin: bool,
) -> Response {
    let mut chrome = admin.chrome(state, "users");
    chrome.notice = notice;
    let users = match state.store.list_user_summaries().await {
        Ok(users) => users,
        Err(error) => return error_page(chrome, &error.into(), None),
    };
    let page = UsersPage {
        rows: users.into_iter().map(|user| UserRow::of(user, &chrome.paths, &admin.user.id)).collect(),
        create_action: chrome.paths.page("/users"),
        username: crate::params::clip(username, MAX_USERNAME_LEN),
        is_admin,
        error: error.map(|e| e.description.clone()),
        min_password: MIN_PASSWORD_LEN,
        max_password: MAX_PASSWORD_LEN,
        max_username: MAX_USERNAME_LEN,
        chrome,
    };
    pages::render(error.map_or(StatusCode::OK, |e| e.status), &page)
}

/// `POST /admin/users` (`csrf_token`, `username`, `password`, `is_admin`): the same rules as
/// `postern users add`. A refusal shows the page again with the reason and the name kept.
pub async fn create(State(state): State<AppState>, ConsoleForm { params, admin }: ConsoleForm) -> Response {
    let username = params.get("username").unwrap_or_default();
    let password = params.get("password").unwrap_or_default().to_owned();
    let is_admin = params.get("is_admin") == Some("yes");
    match api::create_user(&state, &admin.caller, username, password, is_admin).await {
        Ok(_) => after_change(&Notice::UserCreated.on(&Paths::new(&state).page("/users"), 1)),
        Err(error) if error.status.is_client_error() => {
            users_page(&state, &admin, None, Some(&error), username, is_admin).await
        }
        Err(error) => error_page(admin.chrome(&state, "users"), &error, None),
    }
}

/// `GET /admin/users/{user_id}/{action}`: the confirmation page of disabling (or enabling).
pub async fn confirm(
    State(state): State<AppState>,
    Path((user_id, verb)): Path<(String, String)>,
    admin: Admin,
) -> Response {
    confirmation(&state, &admin, &user_id, &verb).await
}

async fn confirmation(state: &AppState, admin: &Admin, user_id: &str, verb: &str) -> Response {
    let chrome = admin.chrome(state, "users");
    let enable = match verb {
        "disable" => false,
        "enable" => true,
        _ => return error_page(chrome, &AdminError::not_found("an account's actions are disable and enable"), None),
    };
    let user = match api::summary(state, user_id).await {
        Ok(user) => user,
        Err(error) => return error_page(chrome, &error, None),
    };
    let (question, consequences, label) = if enable {
        (
            format!("Enable {}?", user.username),
            vec!["The account may sign in again. Grants revoked when it was disabled stay revoked.".to_owned()],
            "Enable user",
        )
    } else {
        (
            format!("Disable {}? This revokes {}.", user.username, display::count(user.live_grants, "grant", "grants")),
            vec![
                format!("{} can no longer sign in, and every session of the account ends at once.", user.username),
                format!(
                    "Its {} revoked: refresh tokens stop working and introspection reports access tokens inactive.",
                    display::count(user.live_grants, "grant is", "grants are")
                ),
            ],
            "Disable user",
        )
    };
    let paths = &chrome.paths;
    let confirmation = Confirmation {
        question,
        consequences,
        action: paths.user_action(&user.id, verb),
        fields: Vec::new(),
        confirm_label: label.to_owned(),
        cancel_href: paths.page("/users"),
    };
    confirm::page(chrome, confirmation)
}

/// `POST /admin/users/{user_id}/{disable|enable}` (`csrf_token`, `confirm` for disable).
pub async fn change(
    State(state): State<AppState>,
    Path((user_id, verb)): Path<(String, String)>,
    ConsoleForm { params, admin }: ConsoleForm,
) -> Response {
    let users = Paths::new(&state).page("/users");
    let result = match verb.as_str() {
        "disable" if !confirm::confirmed(&params) => return confirmation(&state, &admin, &user_id, &verb).await,
        "disable" => api::disable_account(&state, &admin.caller, &user_id).await.map(|outcome| match outcome {
            DisableOutcome::Disabled { grants_revoked, .. } => Notice::UserDisabled.on(&users, grants_revoked),
            _ => Notice::UserAlreadyDisabled.on(&users, 0),
        }),
        "enable" => api::enable_account(&state, &admin.caller, &user_id).await.map(|changed| {
            if changed { Notice::UserEnabled.on(&users, 1) } else { Notice::UserAlreadyEnabled.on(&users, 0) }
        }),
        _ => Err(AdminError::not_found("an account's actions are disable, enable and password")),
    };
    match result {
        Ok(location) => after_change(&location),
        Err(error) => error_page(admin.chrome(&state, "users"), &error, Some(Link::new(users, "Back to the users"))),
    }
}

#[derive(Template)]
#[template(path = "admin/password.html")]
struct PasswordPage {
    chrome: Chrome,
    username: String,
    action: String,
    cancel_href: String,
    error: Option<String>,
    min_password: usize,
    max_password: usize,
}

/// `GET /admin/users/{user_id}/password`: the form for a new password.
pub async fn password_page(State(state): State<AppState>, Path(user_id): Path<String>, admin: Admin) -> Response {
    password_form(&state, &admin, &user_id, None).await
}

async fn password_form(state: &AppState, admin: &Admin, user_id: &str, error: Option<&AdminError>) -> Response {
    let chrome = admin.chrome(state, "users");
    let user = match api::summary(state, user_id).await {
        Ok(user) => user,
        Err(error) => return error_page(chrome, &error, None),
    };
    let page = PasswordPage {
        username: user.username,
        action: chrome.paths.user_action(&user.id, "password"),
        cancel_href: chrome.paths.page("/users"),
        error: error.map(|e| e.description.clone()),
        min_password: MIN_PASSWORD_LEN,
        max_password: MAX_PASSWORD_LEN,
        chrome,
    };
    pages::render(error.map_or(StatusCode::OK, |e| e.status), &page)
}

/// `POST /admin/users/{user_id}/password` (`csrf_token`, `password`): replaces the password
/// and ends the account's sessions; its grants stay.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(user_id): Path<String>,
    ConsoleForm { params, admin }: ConsoleForm,
) -> Response {
    let password = params.get("password").unwrap_or_default().to_owned();
    match api::replace_password(&state, &admin.caller, &user_id, password).await {
        Ok(sessions_ended) => {
            after_change(&Notice::PasswordReset.on(&Paths::new(&state).page("/users"), sessions_ended))
        }
        Err(error) if error.status == StatusCode::BAD_REQUEST => {
            password_form(&state, &admin, &user_id, Some(&error)).await
        }
        Err(error) => error_page(admin.chrome(&state, "users"), &error, None),
    }
}

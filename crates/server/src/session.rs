//! The browser session cookie and CSRF tokens.
//!
//! Every browser that reaches /authorize gets a random cookie. It is only a CSRF binding until
//! the user logs in; logging in replaces it with a new value (no session fixation) that the
//! database knows by hash. A form's CSRF token is a domain-separated hash of the cookie, so a
//! page from another site can neither read nor compute it.

use crate::state::AppState;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postern_core::{OpaqueToken, TokenHash};
use postern_store::{SessionRecord, StoreError};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `__Host-` needs `Secure`, which user agents honour only over https, so a loopback http
/// deployment uses a plain name (DESIGN-NOTES 2026-11-21).
const COOKIE_HTTPS: &str = "__Host-postern_session";
const COOKIE_HTTP: &str = "postern_session";

pub struct BrowserSession {
    pub cookie_value: String,
    /// True when the browser had no (usable) cookie and one must be set.
    pub needs_cookie: bool,
    pub user: Option<SessionRecord>,
}

impl BrowserSession {
    pub fn csrf_token(&self) -> String {
        csrf_token(&self.cookie_value)
    }

    pub fn verify_csrf(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| p.as_bytes().ct_eq(self.csrf_token().as_bytes()).into())
    }
}

fn csrf_token(cookie_value: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"postern-csrf\0");
    hasher.update(cookie_value.as_bytes());
    URL_SAFE_NO_PAD.encode(hasher.finalize())
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.issuer.is_https() { COOKIE_HTTPS } else { COOKIE_HTTP }
}

/// The session cookie value from the request, if it has a plausible shape.
pub fn read_cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| {
            (20..=100).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Loads the browser's session, minting an anonymous cookie when there is none.
pub async fn load(state: &AppState, headers: &HeaderMap) -> Result<BrowserSession, StoreError> {
    match read_cookie(state, headers) {
        Some(value) => {
            let user = state.store.find_live_session(TokenHash::of(&value).as_str(), state.now()).await?;
            Ok(BrowserSession { cookie_value: value, needs_cookie: false, user })
        }
        None => Ok(BrowserSession { cookie_value: new_cookie_value()?, needs_cookie: true, user: None }),
    }
}

/// Same as [`load`] but never mints: a form post without the cookie is refused.
pub async fn load_existing(state: &AppState, headers: &HeaderMap) -> Result<Option<BrowserSession>, StoreError> {
    let Some(value) = read_cookie(state, headers) else { return Ok(None) };
    let user = state.store.find_live_session(TokenHash::of(&value).as_str(), state.now()).await?;
    Ok(Some(BrowserSession { cookie_value: value, needs_cookie: false, user }))
}

/// Logs `user_id` in: a new cookie value replaces the old one, and the old session row (if
/// any) is deleted.
pub async fn start(state: &AppState, previous: &BrowserSession, user_id: &str) -> Result<BrowserSession, StoreError> {
    if previous.user.is_some() {
        state.store.delete_session(TokenHash::of(&previous.cookie_value).as_str()).await?;
    }
    let now = state.now();
    let value = new_cookie_value()?;
    let record = SessionRecord {
        id_hash: TokenHash::of(&value).as_str().to_owned(),
        user_id: user_id.to_owned(),
        auth_time: now,
        expires_at: now + state.settings.session_ttl,
    };
    state.store.create_session(&record).await?;
    Ok(BrowserSession { cookie_value: value, needs_cookie: true, user: Some(record) })
}

fn new_cookie_value() -> Result<String, StoreError> {
    OpaqueToken::generate("")
        .map(OpaqueToken::into_string)
        .map_err(|e| StoreError::Config(format!("random source: {e}")))
}

/// `Set-Cookie` for the session: HttpOnly, SameSite=Lax, Path=/, Secure on https (R096).
pub fn set_cookie_header(state: &AppState, session: &BrowserSession) -> Option<HeaderValue> {
    let secure = if state.settings.issuer.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        cookie_name(state),
        session.cookie_value,
        state.settings.session_ttl
    ))
    .ok()
}

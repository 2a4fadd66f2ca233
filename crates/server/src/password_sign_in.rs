//! Checking a username and password: the one path every sign-in form takes (the login step of
//! /authorize and the account pages), so throttling, timing and auditing cannot drift apart.

use crate::metrics::Limiter;
use crate::params::clip;
use crate::state::AppState;
use axum::http::StatusCode;
use postern_core::username::MAX_USERNAME_LEN;
use postern_store::{AuditEvent, StoreError, UserRecord};
use std::net::IpAddr;

/// Why a sign-in was refused. The page says the same for an unknown user and a wrong password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInRefused {
    /// Too many failures from this address or for this account within the minute.
    Throttled,
    WrongCredentials,
    /// The password was right, but an administrator disabled the account.
    Disabled,
}

impl SignInRefused {
    /// What the sign-in page says.
    pub fn message(self) -> &'static str {
        match self {
            Self::Throttled => "Too many failed sign-in attempts. Wait a minute and try again.",
            Self::WrongCredentials => "Incorrect username or password.",
            Self::Disabled => "This account is disabled. Ask an administrator to enable it.",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::Throttled => StatusCode::TOO_MANY_REQUESTS,
            Self::WrongCredentials => StatusCode::UNAUTHORIZED,
            Self::Disabled => StatusCode::FORBIDDEN,
        }
    }
}

pub struct SignInAttempt<'a> {
    pub username: &'a str,
    pub password: &'a str,
    pub ip: IpAddr,
    /// The client the user is signing in for, when the sign-in continues an authorization.
    pub client_id: Option<&'a str>,
}

/// Checks the credentials and audits the outcome (`login_succeeded`, `login_failed`,
/// `login_refused_disabled`). Always costs one argon2 verification unless throttled, so timing
/// does not tell whether an account exists.
pub async fn check(
    state: &AppState,
    attempt: SignInAttempt<'_>,
) -> Result<Result<UserRecord, SignInRefused>, StoreError> {
    let now = state.now();
    let ip_key = attempt.ip.to_string();
    let user_key = username_throttle_key(attempt.username);
    let limiter = if state.login_failures_by_ip.blocked_for(&ip_key, now).is_some() {
        Some(Limiter::LoginIp)
    } else if user_key.is_some_and(|key| state.login_failures_by_user.blocked_for(key, now).is_some()) {
        Some(Limiter::LoginUser)
    } else {
        None
    };
    if let Some(limiter) = limiter {
        state.metrics.rate_limit_rejections.inc(limiter);
        return Ok(Err(SignInRefused::Throttled));
    }
    let user = state.store.find_user_by_username(attempt.username).await?;
    let valid =
        state.passwords.verify(user.as_ref().map(|u| u.password_hash.clone()), attempt.password.to_owned()).await;
    let audit_base = AuditEvent {
        client_id: attempt.client_id.map(str::to_owned),
        // A failure names the targeted account when it exists (the audit log is for operators;
        // the page says the same thing either way).
        user_id: user.as_ref().map(|u| u.id.clone()),
        ip: Some(ip_key.clone()),
        ..AuditEvent::new("login_succeeded")
    };
    let Some(user) = user.filter(|_| valid) else {
        state.login_failures_by_ip.record_failure(&ip_key, now);
        if let Some(key) = user_key {
            state.login_failures_by_user.record_failure(key, now);
        }
        let event = AuditEvent {
            detail: serde_json::json!({ "username": clip(attempt.username, MAX_USERNAME_LEN) }),
            ..AuditEvent { kind: "login_failed", ..audit_base }
        };
        state.store.record_audit(&event, now).await?;
        return Ok(Err(SignInRefused::WrongCredentials));
    };
    if let Some(key) = user_key {
        state.login_failures_by_user.clear(key);
    }
    // Said only after the right password, so guessing cannot tell disabled accounts apart.
    if user.disabled_at.is_some() {
        state.store.record_audit(&AuditEvent { kind: "login_refused_disabled", ..audit_base }, now).await?;
        return Ok(Err(SignInRefused::Disabled));
    }
    state.store.record_audit(&audit_base, now).await?;
    Ok(Ok(user))
}

/// The per-account throttling key: only a name that could be a username (at most 64 bytes, the
/// username rule). Longer names cannot exist, so they are throttled by IP alone and an attacker
/// cannot fill the failure table with 4 KiB keys.
fn username_throttle_key(username: &str) -> Option<&str> {
    (!username.is_empty() && username.len() <= MAX_USERNAME_LEN).then_some(username)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plausible_usernames_get_a_throttling_key() {
        assert_eq!(username_throttle_key("alice"), Some("alice"));
        assert_eq!(username_throttle_key(&"a".repeat(64)), Some("a".repeat(64).as_str()));
        assert_eq!(username_throttle_key(&"a".repeat(65)), None);
        assert_eq!(username_throttle_key(""), None);
    }
}

//! JWT access token checks (RFC 9068 §4, SPEC R033–R036): `typ`, pinned `alg`, signature with
//! the AS keys, `iss` exact, `aud` contains the resource, `exp`/`nbf` with a small leeway taken
//! from the injected clock, and the required claims. Every failure is a [`TokenError`] whose
//! message becomes the challenge's `error_description`.
//!
//! What passed is a [`Verified`] token: the parts that cannot change while the same token
//! string is presented again (signature, `iss`, `aud`, claims), and what still has to be
//! checked on every use ([`Verified::check_time`], and that its key is still published), which
//! is what lets [`crate::verified_tokens`] skip the signature check for a token seen before.

use crate::algorithm::SigningAlgorithm;
use crate::identity::AccessIdentity;
use crate::keys::{KeyCache, KeyError};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Longer tokens are refused before any parsing (bounded work for hostile input).
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Why an access token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the access token is not a well-formed JWT")]
    Malformed,
    #[error("the access token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    #[error("the access token's typ header must be at+jwt (RFC 9068)")]
    WrongType,
    #[error("the access token's alg {0} is not accepted; accepted: {1}")]
    AlgorithmNotAccepted(String, String),
    #[error("the access token has a crit header, which is not supported")]
    CriticalHeader,
    #[error("the access token was signed with a key the authorization server does not publish")]
    UnknownKey,
    #[error("the access token's kid names a key for another algorithm")]
    KeyAlgorithmMismatch,
    #[error("the access token has no kid and the authorization server publishes several keys")]
    AmbiguousKey,
    #[error("the access token's signature is invalid")]
    BadSignature,
    #[error("the access token lacks the required claim {0}")]
    MissingClaim(&'static str),
    #[error("the access token was not issued by {0}")]
    WrongIssuer(String),
    #[error("the access token is not meant for this resource (aud must contain {0})")]
    WrongAudience(String),
    #[error("the access token expired")]
    Expired,
    #[error("the access token is not valid yet")]
    NotYetValid,
    /// Not the token's fault: the layer answers `503`.
    #[error("the authorization server's keys are unavailable: {0}")]
    KeysUnavailable(String),
    /// Introspection (RFC 7662) answered `active: false`: revoked, expired or unknown.
    #[error("the access token is not active (revoked, expired or unknown to the authorization server)")]
    Inactive,
    /// Introspection describes another kind of token (e.g. a refresh token).
    #[error("the token is not a bearer access token")]
    NotAnAccessToken,
    /// Introspection says the token is bound to a key (`cnf`, e.g. DPoP or mTLS), which a
    /// bearer-token guard cannot check.
    #[error("the access token is sender-constrained (cnf); this resource accepts bearer tokens only")]
    SenderConstrained,
    /// Not the token's fault: the introspection endpoint could not be reached or gave no usable
    /// answer; the layer answers `503`.
    #[error("the authorization server could not introspect the access token: {0}")]
    IntrospectionUnavailable(String),
}

/// The JOSE header members we act on (RFC 7515 §4.1).
#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
    crit: Option<serde::de::IgnoredAny>,
}

/// RFC 7519 NumericDate: a JSON number, possibly with a fraction.
pub(crate) type NumericDate = f64;

/// RFC 9068 §2.2 claims. A claim of the wrong JSON type makes the token malformed.
#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    client_id: Option<String>,
    scope: Option<String>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
    jti: Option<String>,
}

/// `aud`: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(aud) => vec![aud],
            Self::Many(auds) => auds,
        }
    }
}

/// What a token must satisfy, besides being signed by a key from [`KeyCache`] (JWT mode) or
/// being active at the authorization server (introspection mode, which ignores `algorithms`).
pub(crate) struct Expectations<'a> {
    pub issuer: &'a str,
    pub resource: &'a str,
    pub algorithms: &'a [SigningAlgorithm],
    pub leeway: i64,
}

/// RFC 9068 §4 and RFC 8725 §3.11: `at+jwt`, with or without the `application/` prefix, in
/// any letter case (media types are case-insensitive).
fn is_access_token_type(typ: &str) -> bool {
    let typ = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    typ.eq_ignore_ascii_case("at+jwt")
}

pub(crate) fn seconds(date: NumericDate) -> i64 {
    // Saturating: a date beyond i64 is simply far away.
    date.floor() as i64
}

/// A token whose signature and claims have been checked and that was valid when checked.
#[derive(Clone)]
pub(crate) struct Verified {
    /// The identity to hand to the MCP server.
    pub identity: AccessIdentity,
    /// `nbf` in seconds, if the token has one (`exp` is `identity.exp`).
    pub nbf: Option<i64>,
    /// The header's `kid`, looked up again on every use of a cached verification.
    pub kid: Option<String>,
    /// The header's `alg` (one of the accepted ones), for the same lookup.
    pub alg: SigningAlgorithm,
    /// The [`VerifyingKey::fingerprint`](crate::keys::VerifyingKey) of the key that verified it.
    pub key_fingerprint: Arc<str>,
}

impl Verified {
    /// `exp` and `nbf` against `now`, with the leeway for clock skew: the checks whose answer
    /// changes while the token stays the same, so they run on every use of it.
    pub(crate) fn check_time(&self, now: i64, leeway: i64) -> Result<(), TokenError> {
        // RFC 7519 §4.1.4: the current time must be before `exp`.
        if now >= self.identity.exp.saturating_add(leeway) {
            return Err(TokenError::Expired);
        }
        // RFC 7519 §4.1.5: and not before `nbf`.
        if self.nbf.is_some_and(|nbf| now.saturating_add(leeway) < nbf) {
            return Err(TokenError::NotYetValid);
        }
        Ok(())
    }
}

/// Why a token is refused when no key can verify it.
pub(crate) fn key_error(error: KeyError) -> TokenError {
    match error {
        KeyError::Unavailable(why) => TokenError::KeysUnavailable(why),
        KeyError::NotFound => TokenError::UnknownKey,
        KeyError::WrongAlgorithm => TokenError::KeyAlgorithmMismatch,
        KeyError::Ambiguous => TokenError::AmbiguousKey,
    }
}

#[cfg(test)]
thread_local! {
    /// Signature checks made on this thread, so tests can tell a cached verification from a
    /// fresh one (`#[tokio::test]` runs a test's tasks on its own thread).
    static SIGNATURE_CHECKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many signatures this thread has checked so far.
#[cfg(test)]
pub(crate) fn signature_checks() -> usize {
    SIGNATURE_CHECKS.with(std::cell::Cell::get)
}

/// Checks `token` completely, including its time window at `now`.
pub(crate) async fn verify(
    token: &str,
    expect: &Expectations<'_>,
    keys: &KeyCache,
    now: i64,
) -> Result<Verified, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    if signature_b64.is_empty() {
        return Err(TokenError::Malformed);
    }
    let header_json = URL_SAFE_NO_PAD.decode(header_b64).map_err(|_| TokenError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_json).map_err(|_| TokenError::Malformed)?;
    if !header.typ.as_deref().is_some_and(is_access_token_type) {
        return Err(TokenError::WrongType);
    }
    if header.crit.is_some() {
        return Err(TokenError::CriticalHeader);
    }
    // R036: pinned algorithms; `none` and HS256 are never in the list.
    let alg =
        SigningAlgorithm::from_header(&header.alg).filter(|alg| expect.algorithms.contains(alg)).ok_or_else(|| {
            let accepted: Vec<&str> = expect.algorithms.iter().map(|a| a.as_str()).collect();
            TokenError::AlgorithmNotAccepted(header.alg.clone(), accepted.join(" "))
        })?;
    let (key_set, index) = keys.find(header.kid.as_deref(), alg).await.map_err(key_error)?;
    let key = key_set.get(index).ok_or(TokenError::UnknownKey)?;
    let signed = &token[..header_b64.len() + 1 + payload_b64.len()];
    #[cfg(test)]
    SIGNATURE_CHECKS.with(|checks| checks.set(checks.get() + 1));
    let valid = jsonwebtoken::crypto::verify(signature_b64, signed.as_bytes(), &key.key, alg.jwt())
        .map_err(|_| TokenError::BadSignature)?;
    if !valid {
        return Err(TokenError::BadSignature);
    }

    // Only signed content is looked at from here on.
    let payload = URL_SAFE_NO_PAD.decode(payload_b64).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    let iss = claims.iss.ok_or(TokenError::MissingClaim("iss"))?;
    if iss != expect.issuer {
        return Err(TokenError::WrongIssuer(expect.issuer.to_owned()));
    }
    let aud = claims.aud.ok_or(TokenError::MissingClaim("aud"))?.into_vec();
    if !aud.iter().any(|a| a == expect.resource) {
        return Err(TokenError::WrongAudience(expect.resource.to_owned()));
    }
    let exp = seconds(claims.exp.ok_or(TokenError::MissingClaim("exp"))?);
    let iat = seconds(claims.iat.ok_or(TokenError::MissingClaim("iat"))?);
    let sub = claims.sub.ok_or(TokenError::MissingClaim("sub"))?;
    let client_id = claims.client_id.ok_or(TokenError::MissingClaim("client_id"))?;
    let jti = claims.jti.ok_or(TokenError::MissingClaim("jti"))?;
    let scopes = scope_set(claims.scope.as_deref());
    let verified = Verified {
        identity: AccessIdentity { sub, client_id, scopes, exp, iat, jti, aud, iss },
        nbf: claims.nbf.map(seconds),
        kid: header.kid,
        alg,
        key_fingerprint: key.fingerprint.clone(),
    };
    verified.check_time(now, expect.leeway)?;
    Ok(verified)
}

/// The scopes of a space-separated `scope` value (RFC 6749 §3.3; RFC 7662 §2.2).
pub(crate) fn scope_set(scope: Option<&str>) -> BTreeSet<String> {
    scope.unwrap_or_default().split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

#[cfg(test)]
mod tests;

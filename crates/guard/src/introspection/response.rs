//! An introspection response (RFC 7662 §2.2) and the checks R037 asks of it: `active`, a
//! bearer access token, `iss` when present, `aud` contains the resource, `exp` (and `nbf`)
//! with the usual leeway, then the same [`AccessIdentity`] a JWT would give.
//!
//! A response that is not RFC 7662 JSON says nothing about the token: it becomes
//! [`TokenError::IntrospectionUnavailable`] (`503`), never a verdict.

use crate::identity::AccessIdentity;
use crate::token::{Audience, Expectations, NumericDate, TokenError, scope_set, seconds};
use serde::Deserialize;

/// Read first, so that an inactive token is inactive whatever else the response holds.
#[derive(Deserialize)]
struct Activity {
    active: bool,
}

/// The members we act on. A member of the wrong JSON type makes the response unusable.
#[derive(Deserialize)]
struct Description {
    token_type: Option<String>,
    /// Not in RFC 7662, but some servers (e.g. Ory Hydra) say `refresh_token` here only.
    token_use: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    iss: Option<String>,
    exp: Option<NumericDate>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
    jti: Option<String>,
    cnf: Option<serde::de::IgnoredAny>,
}

fn unusable(error: serde_json::Error) -> TokenError {
    TokenError::IntrospectionUnavailable(format!("the introspection response is not RFC 7662 JSON: {error}"))
}

/// The verdict on a token from the introspection response `body`, at clock second `now`.
pub(crate) fn evaluate(body: &[u8], expect: &Expectations<'_>, now: i64) -> Result<AccessIdentity, TokenError> {
    let activity: Activity = serde_json::from_slice(body).map_err(unusable)?;
    if !activity.active {
        return Err(TokenError::Inactive);
    }
    let token: Description = serde_json::from_slice(body).map_err(unusable)?;
    // RFC 7662 §2.2 `token_type` is the RFC 6749 §7.1 type: an access token used as a bearer
    // token is `Bearer`. A server may describe a refresh token to the client that owns it as
    // `refresh_token` (Postern does, only to that client); a DPoP-bound token is `DPoP`. Neither
    // may be used here, whoever's credentials the guard introspects with.
    if token.token_type.as_deref().is_some_and(|t| !t.eq_ignore_ascii_case("bearer"))
        || token.token_use.as_deref().is_some_and(|u| u != "access_token")
    {
        return Err(TokenError::NotAnAccessToken);
    }
    // RFC 9449 §6.2, RFC 8705 §3.2: the binding is for the RS to check; we cannot.
    if token.cnf.is_some() {
        return Err(TokenError::SenderConstrained);
    }
    // `iss` is optional in RFC 7662; when given it must be ours, byte for byte.
    if token.iss.as_deref().is_some_and(|iss| iss != expect.issuer) {
        return Err(TokenError::WrongIssuer(expect.issuer.to_owned()));
    }
    // R034: without `aud` nothing shows the token was issued for this resource.
    let aud = token.aud.ok_or(TokenError::MissingClaim("aud"))?.into_vec();
    if !aud.iter().any(|a| a == expect.resource) {
        return Err(TokenError::WrongAudience(expect.resource.to_owned()));
    }
    // R037: `exp` is checked here too (the AS's clock may differ), and bounds the cache.
    let exp = seconds(token.exp.ok_or(TokenError::MissingClaim("exp"))?);
    if now >= exp.saturating_add(expect.leeway) {
        return Err(TokenError::Expired);
    }
    if let Some(nbf) = token.nbf
        && now.saturating_add(expect.leeway) < seconds(nbf)
    {
        return Err(TokenError::NotYetValid);
    }
    let sub = token.sub.ok_or(TokenError::MissingClaim("sub"))?;
    let client_id = token.client_id.ok_or(TokenError::MissingClaim("client_id"))?;
    Ok(AccessIdentity {
        sub,
        client_id,
        scopes: scope_set(token.scope.as_deref()),
        exp,
        // Optional in RFC 7662; Postern always sends both.
        iat: token.iat.map_or(0, seconds),
        jti: token.jti.unwrap_or_default(),
        aud,
        iss: expect.issuer.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::test_keys::{ISSUER, NOW, RESOURCE};
    use serde_json::{Value, json};

    const EXPECT: Expectations<'static> =
        Expectations { issuer: ISSUER, resource: RESOURCE, algorithms: &[], leeway: 30 };

    /// What Postern's `/introspect` answers for a live access token.
    fn active() -> Value {
        json!({
            "active": true, "token_type": "Bearer", "scope": "mcp:read mcp:write", "client_id": "client-1",
            "sub": "user-1", "aud": RESOURCE, "iss": ISSUER, "exp": NOW + 3600, "iat": NOW - 10, "jti": "at_1",
        })
    }

    fn check(body: &Value) -> Result<AccessIdentity, TokenError> {
        evaluate(body.to_string().as_bytes(), &EXPECT, NOW)
    }

    fn with(member: &str, value: Value) -> Value {
        let mut body = active();
        body[member] = value;
        body
    }

    fn without(member: &str) -> Value {
        let mut body = active();
        body.as_object_mut().unwrap().remove(member);
        body
    }

    #[test]
    fn r037_an_active_token_gives_the_same_identity_as_a_jwt() {
        let identity = check(&active()).unwrap();
        assert_eq!(identity.sub, "user-1");
        assert_eq!(identity.client_id, "client-1");
        assert_eq!(identity.scopes, ["mcp:read".to_owned(), "mcp:write".to_owned()].into());
        assert_eq!((identity.exp, identity.iat, identity.jti.as_str()), (NOW + 3600, NOW - 10, "at_1"));
        assert_eq!((identity.aud, identity.iss), (vec![RESOURCE.to_owned()], ISSUER.to_owned()));
    }

    #[test]
    fn r037_active_false_is_inactive_whatever_else_the_response_says() {
        assert_eq!(check(&json!({"active": false})), Err(TokenError::Inactive));
        assert_eq!(check(&with("active", json!(false))), Err(TokenError::Inactive));
        assert_eq!(check(&json!({"active": false, "exp": "not a number"})), Err(TokenError::Inactive));
    }

    #[test]
    fn r034_r037_aud_must_be_present_and_contain_the_resource() {
        assert_eq!(
            check(&with("aud", json!("https://other.example/mcp"))),
            Err(TokenError::WrongAudience(RESOURCE.into()))
        );
        assert_eq!(check(&with("aud", json!(format!("{RESOURCE}/")))), Err(TokenError::WrongAudience(RESOURCE.into())));
        assert_eq!(check(&without("aud")), Err(TokenError::MissingClaim("aud")));
        let identity = check(&with("aud", json!(["https://other.example", RESOURCE]))).unwrap();
        assert_eq!(identity.aud.len(), 2);
    }

    #[test]
    fn r037_exp_is_required_and_checked_with_the_leeway() {
        assert_eq!(check(&without("exp")), Err(TokenError::MissingClaim("exp")));
        assert_eq!(check(&with("exp", json!(NOW - 30))), Err(TokenError::Expired));
        assert!(check(&with("exp", json!(NOW - 29))).is_ok());
        assert_eq!(check(&with("nbf", json!(NOW + 31))), Err(TokenError::NotYetValid));
        assert!(check(&with("nbf", json!(NOW + 30))).is_ok());
    }

    #[test]
    fn iss_may_be_absent_but_not_another_issuer() {
        assert_eq!(check(&with("iss", json!(format!("{ISSUER}/")))), Err(TokenError::WrongIssuer(ISSUER.into())));
        assert_eq!(check(&without("iss")).unwrap().iss, ISSUER);
    }

    #[test]
    fn r037_scopes_come_from_scope_and_may_be_absent() {
        assert!(check(&without("scope")).unwrap().scopes.is_empty());
        assert_eq!(check(&with("scope", json!(" mcp:read  "))).unwrap().scopes.len(), 1);
    }

    #[test]
    fn refresh_tokens_and_sender_constrained_tokens_are_refused() {
        // What an RFC 7662 server may say of a refresh token to the client that owns it.
        assert_eq!(check(&with("token_type", json!("refresh_token"))), Err(TokenError::NotAnAccessToken));
        assert_eq!(check(&with("token_type", json!("DPoP"))), Err(TokenError::NotAnAccessToken));
        assert_eq!(check(&with("token_use", json!("refresh_token"))), Err(TokenError::NotAnAccessToken));
        assert!(check(&with("token_type", json!("bearer"))).is_ok());
        assert!(check(&without("token_type")).is_ok());
        assert_eq!(check(&with("cnf", json!({"jkt": "abc"}))), Err(TokenError::SenderConstrained));
    }

    #[test]
    fn sub_and_client_id_are_required_iat_and_jti_are_not() {
        assert_eq!(check(&without("sub")), Err(TokenError::MissingClaim("sub")));
        assert_eq!(check(&without("client_id")), Err(TokenError::MissingClaim("client_id")));
        let mut body = without("iat");
        body.as_object_mut().unwrap().remove("jti");
        let identity = check(&body).unwrap();
        assert_eq!((identity.iat, identity.jti.as_str()), (0, ""));
    }

    #[test]
    fn a_response_that_is_not_rfc_7662_json_is_no_verdict() {
        for body in
            [json!({}), json!({"active": "true"}), json!([true]), with("exp", json!("soon")), with("aud", json!(7))]
        {
            assert!(matches!(check(&body), Err(TokenError::IntrospectionUnavailable(_))), "{body}");
        }
        let duplicate = br#"{"active": false, "active": true}"#;
        assert!(matches!(evaluate(duplicate, &EXPECT, NOW), Err(TokenError::IntrospectionUnavailable(_))));
        assert!(matches!(evaluate(b"<html>", &EXPECT, NOW), Err(TokenError::IntrospectionUnavailable(_))));
    }
}

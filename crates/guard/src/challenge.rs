//! The answers of a refused request, exactly as SPEC §3.5 shows them: `401` with
//! `resource_metadata` and `scope` and no `error` when no token was sent (R020–R023), `401`
//! `invalid_token` for a bad token, `403` `insufficient_scope` naming every scope the request
//! needs (R024–R025), each auth-param at most once with quoted values (R027).

use crate::token::TokenError;
use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode, header};
use std::collections::BTreeSet;

/// Descriptions are for developers, and hostile tokens can put text into them (`alg`).
const MAX_DESCRIPTION: usize = 200;

/// Why the guard answered instead of the MCP server.
#[derive(Debug)]
pub(crate) enum Rejection {
    /// No bearer token in the `Authorization` header.
    NoToken {
        needed: BTreeSet<String>,
    },
    InvalidToken(TokenError),
    InsufficientScope {
        needed: BTreeSet<String>,
        missing: BTreeSet<String>,
    },
    /// R026: e.g. a token in the header and in the query.
    InvalidRequest(&'static str),
    /// The AS keys could not be fetched: no verdict on the token is possible.
    KeysUnavailable,
    /// The introspection endpoint gave no answer we can use: no verdict either.
    IntrospectionUnavailable,
    BodyTooLarge(usize),
    /// A POST the policy must read that is not JSON.
    UnsupportedMediaType,
    /// A JSON body that is not JSON-RPC we can read.
    JsonRpcParseError,
}

/// `error_description` characters are %x20-21 / %x23-5B / %x5D-7E (R027).
fn description(text: &str) -> String {
    text.chars()
        .map(|c| if c == ' ' || c == '!' || (('#'..='~').contains(&c) && c != '\\') { c } else { '?' })
        .take(MAX_DESCRIPTION)
        .collect()
}

fn scope_list(scopes: &BTreeSet<String>) -> String {
    scopes.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}

impl Rejection {
    /// The `WWW-Authenticate` value, if this refusal carries a challenge.
    pub(crate) fn challenge(&self, metadata_url: &str) -> Option<String> {
        Some(match self {
            Self::NoToken { needed } if needed.is_empty() => format!("Bearer resource_metadata=\"{metadata_url}\""),
            Self::NoToken { needed } => {
                format!("Bearer resource_metadata=\"{metadata_url}\", scope=\"{}\"", scope_list(needed))
            }
            Self::InvalidToken(error) => format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\", resource_metadata=\"{metadata_url}\"",
                description(&error.to_string())
            ),
            Self::InsufficientScope { needed, missing } => format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\", resource_metadata=\"{metadata_url}\", \
                 error_description=\"{}\"",
                scope_list(needed),
                description(&format!("this request needs scope {}", scope_list(missing)))
            ),
            Self::InvalidRequest(why) => format!(
                "Bearer error=\"invalid_request\", error_description=\"{}\", resource_metadata=\"{metadata_url}\"",
                description(why)
            ),
            Self::KeysUnavailable
            | Self::IntrospectionUnavailable
            | Self::BodyTooLarge(_)
            | Self::UnsupportedMediaType
            | Self::JsonRpcParseError => {
                return None;
            }
        })
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::NoToken { .. } | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::InvalidRequest(_) | Self::JsonRpcParseError => StatusCode::BAD_REQUEST,
            Self::KeysUnavailable | Self::IntrospectionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }

    /// A JSON body for the refusals that have something to say beyond the header.
    fn body(&self) -> Option<serde_json::Value> {
        let oauth = |error: &str, text: String| serde_json::json!({"error": error, "error_description": text});
        Some(match self {
            Self::NoToken { .. } => return None,
            Self::InvalidToken(error) => oauth("invalid_token", error.to_string()),
            Self::InsufficientScope { missing, .. } => {
                oauth("insufficient_scope", format!("this request needs scope {}", scope_list(missing)))
            }
            Self::InvalidRequest(why) => oauth("invalid_request", (*why).to_owned()),
            Self::KeysUnavailable => oauth(
                "temporarily_unavailable",
                "the authorization server's keys could not be fetched; try again shortly".to_owned(),
            ),
            Self::IntrospectionUnavailable => oauth(
                "temporarily_unavailable",
                "the authorization server could not be asked whether the access token is active; try again shortly"
                    .to_owned(),
            ),
            Self::BodyTooLarge(limit) => oauth("invalid_request", format!("request body is larger than {limit} bytes")),
            Self::UnsupportedMediaType => {
                oauth("invalid_request", "MCP requests must be POSTed as Content-Type: application/json".to_owned())
            }
            // JSON-RPC 2.0 §5.1: the server could not parse the request.
            Self::JsonRpcParseError => serde_json::json!({
                "jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": "Parse error: the body is not a JSON-RPC request"}
            }),
        })
    }

    pub(crate) fn into_response(self, metadata_url: &str) -> Response<Body> {
        let mut response = Response::new(match self.body() {
            Some(json) => Body::from(json.to_string()),
            None => Body::empty(),
        });
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        if self.body().is_some() {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        if let Some(challenge) = self.challenge(metadata_url)
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        match self {
            // The key refetch cooldown.
            Self::KeysUnavailable => _ = headers.insert(header::RETRY_AFTER, HeaderValue::from_static("30")),
            // Each request is a new attempt; a few seconds spare an AS that is coming back.
            Self::IntrospectionUnavailable => _ = headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5")),
            _ => {}
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRM: &str = "https://mcp.acme.test/.well-known/oauth-protected-resource/mcp";

    fn set(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn r022_r023_no_token_challenge_names_metadata_and_scope_without_error() {
        let rejection = Rejection::NoToken { needed: set(&["mcp:tools.read"]) };
        assert_eq!(
            rejection.challenge(PRM).unwrap(),
            format!("Bearer resource_metadata=\"{PRM}\", scope=\"mcp:tools.read\"")
        );
        assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn r007_no_empty_scope_parameter() {
        let rejection = Rejection::NoToken { needed: BTreeSet::new() };
        assert_eq!(rejection.challenge(PRM).unwrap(), format!("Bearer resource_metadata=\"{PRM}\""));
    }

    #[test]
    fn r023_invalid_token_challenge_has_error_and_description() {
        let rejection = Rejection::InvalidToken(TokenError::Expired);
        assert_eq!(
            rejection.challenge(PRM).unwrap(),
            format!(
                "Bearer error=\"invalid_token\", error_description=\"the access token expired\", \
                 resource_metadata=\"{PRM}\""
            )
        );
    }

    #[test]
    fn r024_r025_insufficient_scope_is_403_with_every_needed_scope() {
        let rejection = Rejection::InsufficientScope {
            needed: set(&["mcp:tools.read", "mcp:tools.write"]),
            missing: set(&["mcp:tools.write"]),
        };
        assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            rejection.challenge(PRM).unwrap(),
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"mcp:tools.read mcp:tools.write\", \
                 resource_metadata=\"{PRM}\", error_description=\"this request needs scope mcp:tools.write\""
            )
        );
    }

    #[test]
    fn r027_descriptions_cannot_break_out_of_their_quotes() {
        let hostile = TokenError::AlgorithmNotAccepted("x\", error=\"evil\\".to_owned(), "ES256".to_owned());
        let challenge = Rejection::InvalidToken(hostile).challenge(PRM).unwrap();
        assert_eq!(challenge.matches('"').count(), 6, "{challenge}");
        assert!(!challenge.contains('\\'));
        assert_eq!(description(&"a".repeat(1000)).len(), MAX_DESCRIPTION);
    }

    #[test]
    fn responses_carry_the_challenge_and_a_json_error() {
        let response = Rejection::InvalidToken(TokenError::BadSignature).into_response(PRM);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()[header::WWW_AUTHENTICATE].to_str().unwrap().contains("invalid_token"));
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let response = Rejection::BodyTooLarge(10).into_response(PRM);
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}

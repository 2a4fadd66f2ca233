use crate::error::{ParseError, has_forbidden_chars};
use std::fmt;

/// The authorization server's issuer identifier. It is used byte for byte as configured, in
/// metadata, tokens and the `iss` authorization response parameter (RFC 9207): we never add or
/// strip a trailing `/` (SPEC R042, §4 Q10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    raw: String,
    origin: String,
    /// The path with any terminating `/` removed (RFC 8414 §3.1); empty for a path-less issuer.
    path: String,
    loopback_http: bool,
}

impl Issuer {
    /// RFC 8414 §2: https, no query, no fragment. Plain http is accepted only for loopback hosts
    /// so that a zero-config local start works.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > 512 || has_forbidden_chars(raw) {
            return Err(ParseError::new(
                "issuer must be a URL of at most 512 characters without spaces or control characters",
            ));
        }
        let (scheme, rest) =
            raw.split_once("://").ok_or_else(|| ParseError::new("issuer must be an absolute https URL"))?;
        if raw.contains('?') || raw.contains('#') {
            return Err(ParseError::new("issuer must not contain a query or fragment"));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(ParseError::new("issuer must have a host and no user information"));
        }
        let parsed = url::Url::parse(raw).map_err(|e| ParseError::new(format!("issuer is not a valid URL: {e}")))?;
        let loopback = is_loopback_host(parsed.host_str().unwrap_or_default());
        match scheme {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(ParseError::new(
                    "issuer must use https unless its host is loopback (127.0.0.1, [::1], localhost)",
                ));
            }
            _ => return Err(ParseError::new("issuer must use the https scheme")),
        }
        if path.split('/').any(|s| s == "." || s == "..") {
            return Err(ParseError::new("issuer path must not contain dot segments"));
        }
        // The path becomes a route prefix: keep it to plain segment characters.
        if !path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b)) {
            return Err(ParseError::new("issuer path may contain only A-Z a-z 0-9 - . _ ~ and /"));
        }
        Ok(Self {
            raw: raw.to_owned(),
            origin: format!("{scheme}://{authority}"),
            path: path.trim_end_matches('/').to_owned(),
            loopback_http: scheme == "http",
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `host[:port]` as written in the issuer: what clients send as `Host`.
    pub fn authority(&self) -> &str {
        self.origin.split_once("://").map_or(self.origin.as_str(), |(_, authority)| authority)
    }

    /// Path prefix under which the server mounts its endpoints ("" or "/tenant").
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn is_https(&self) -> bool {
        !self.loopback_http
    }

    /// Absolute URL of an endpoint that lives under the issuer, e.g. `endpoint("/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.path, path)
    }

    /// Path (from the origin root) of an endpoint under the issuer.
    pub fn endpoint_path(&self, path: &str) -> String {
        format!("{}{}", self.path, path)
    }

    /// RFC 8414 §3.1: the well-known suffix goes between the host and the issuer's path.
    pub fn authorization_server_metadata_path(&self) -> String {
        format!("/.well-known/oauth-authorization-server{}", self.path)
    }

    /// OIDC Discovery §4: `<issuer>/.well-known/openid-configuration` (path appended).
    pub fn openid_configuration_path(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.path)
    }

    /// The path-inserted OIDC form that MCP clients try second (SPEC §1 step 4).
    pub fn openid_configuration_inserted_path(&self) -> String {
        format!("/.well-known/openid-configuration{}", self.path)
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// Hosts that RFC 8252 §7.3 and DESIGN §4 treat as loopback.
pub fn is_loopback_host(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]" | "::1" | "localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r041_metadata_path_is_inserted_between_host_and_issuer_path() {
        let issuer = Issuer::parse("https://auth.example.com/tenant1").unwrap();
        assert_eq!(issuer.authorization_server_metadata_path(), "/.well-known/oauth-authorization-server/tenant1");
        assert_eq!(issuer.openid_configuration_path(), "/tenant1/.well-known/openid-configuration");
        assert_eq!(issuer.openid_configuration_inserted_path(), "/.well-known/openid-configuration/tenant1");
        assert_eq!(issuer.endpoint("/token"), "https://auth.example.com/tenant1/token");
    }

    #[test]
    fn authority_is_host_and_port_as_written() {
        assert_eq!(Issuer::parse("https://auth.example.com/tenant1").unwrap().authority(), "auth.example.com");
        assert_eq!(Issuer::parse("http://127.0.0.1:8414").unwrap().authority(), "127.0.0.1:8414");
        assert_eq!(Issuer::parse("http://[::1]:9000/").unwrap().authority(), "[::1]:9000");
    }

    #[test]
    fn r041_pathless_issuer_uses_root_well_known() {
        let issuer = Issuer::parse("https://auth.example.com").unwrap();
        assert_eq!(issuer.authorization_server_metadata_path(), "/.well-known/oauth-authorization-server");
        assert_eq!(issuer.openid_configuration_path(), "/.well-known/openid-configuration");
    }

    #[test]
    fn r042_issuer_string_is_kept_byte_for_byte() {
        let issuer = Issuer::parse("https://auth.example.com/").unwrap();
        assert_eq!(issuer.as_str(), "https://auth.example.com/");
        assert_eq!(issuer.authorization_server_metadata_path(), "/.well-known/oauth-authorization-server");
        assert_eq!(issuer.endpoint("/token"), "https://auth.example.com/token");
    }

    #[test]
    fn r042_rejects_query_fragment_and_plain_http_on_public_hosts() {
        for bad in [
            "https://a.example/?x=1",
            "https://a.example/#f",
            "http://a.example",
            "ftp://a.example",
            "https://u@a.example",
            "a.example",
            "https://a.example/x/../y",
            "https://a.example/{tenant}",
            "https://a.example/a*b",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad} must be rejected");
        }
        assert!(Issuer::parse("http://127.0.0.1:8414").is_ok());
        assert!(Issuer::parse("http://localhost:8414").is_ok());
    }
}

use crate::error::{ParseError, has_forbidden_chars};
use crate::issuer::is_loopback_host;
use std::fmt;

const MAX_REDIRECT_URI_LEN: usize = 2048;

/// A redirect URI that is acceptable for registration: https, or http on a loopback host
/// (SPEC R105, R160), no fragment, no user information. The original string is kept: matching
/// is by simple string comparison (R112), never on a normalised form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct RedirectUri(String);

/// The pieces of a loopback redirect URI, cut from the raw string without normalising anything.
struct LoopbackParts<'a> {
    host: &'a str,
    /// Path and query, exactly as written.
    rest: &'a str,
}

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > MAX_REDIRECT_URI_LEN {
            return Err(ParseError::new(format!(
                "redirect_uri must be between 1 and {MAX_REDIRECT_URI_LEN} characters"
            )));
        }
        if has_forbidden_chars(raw) {
            return Err(ParseError::new("redirect_uri must not contain whitespace, control characters or backslashes"));
        }
        if raw.contains('#') {
            return Err(ParseError::new("redirect_uri must not contain a fragment (OAuth 2.1 §2.3)"));
        }
        let url =
            url::Url::parse(raw).map_err(|e| ParseError::new(format!("redirect_uri is not an absolute URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(ParseError::new("redirect_uri must not contain user information"));
        }
        match url.scheme() {
            "https" => {}
            "http" => {
                if !split_loopback(raw).is_some_and(|p| is_loopback_host(p.host)) {
                    return Err(ParseError::new(
                        "http redirect_uri is only allowed for loopback hosts (127.0.0.1, [::1], localhost); use https",
                    ));
                }
            }
            other => {
                return Err(ParseError::new(format!(
                    "redirect_uri scheme '{other}' is not allowed; use https or http on a loopback host"
                )));
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ParseError::new("redirect_uri must have a host"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Host shown on the consent page (R094).
    pub fn host(&self) -> String {
        url::Url::parse(&self.0).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
    }

    /// True when every character but the port must match: http on 127.0.0.1, [::1] or localhost.
    pub fn is_loopback(&self) -> bool {
        split_loopback(&self.0).is_some_and(|p| is_loopback_host(p.host))
    }

    /// Does a redirect_uri from an authorization request match this registered one?
    ///
    /// RFC 3986 §6.2.1 simple string comparison (R112). The one exception is loopback http
    /// (RFC 8252 §7.3, DESIGN §4): any port matches, including a registered URI without a port,
    /// while scheme, host, path and query must still be byte-identical. There is no cross-host
    /// matching: `localhost` never matches `127.0.0.1`.
    pub fn matches_request(&self, requested: &str) -> bool {
        if self.0 == requested {
            return true;
        }
        match (split_loopback(&self.0), split_loopback(requested)) {
            (Some(registered), Some(request)) => {
                is_loopback_host(registered.host) && registered.host == request.host && registered.rest == request.rest
            }
            _ => false,
        }
    }
}

/// Cuts `http://host[:port]rest` into host and rest when the port (if any) is all digits.
fn split_loopback(raw: &str) -> Option<LoopbackParts<'_>> {
    let after_scheme = raw.strip_prefix("http://")?;
    let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
    let (authority, rest) = after_scheme.split_at(authority_end);
    let (host, port) = if let Some(v6_end) = authority.strip_prefix('[').and_then(|a| a.find(']')) {
        let host = &authority[..v6_end + 2];
        (host, authority[v6_end + 2..].strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(LoopbackParts { host, rest })
}

impl fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn registered(raw: &str) -> RedirectUri {
        RedirectUri::parse(raw).unwrap()
    }

    #[test]
    fn r112_loopback_ip_literal_matches_any_port() {
        let uri = registered("http://127.0.0.1:3000/cb");
        assert!(uri.matches_request("http://127.0.0.1:51004/cb"));
        assert!(uri.matches_request("http://127.0.0.1/cb"));
        assert!(!uri.matches_request("http://127.0.0.1:51004/cb2"));
        assert!(!uri.matches_request("http://127.0.0.1:51004/cb?x=1"));
    }

    #[test]
    fn r112_loopback_never_matches_across_hosts() {
        let uri = registered("http://127.0.0.1:3000/cb");
        assert!(!uri.matches_request("http://localhost:51004/cb"));
        assert!(!uri.matches_request("http://[::1]:51004/cb"));
        let uri = registered("http://localhost/callback");
        assert!(uri.matches_request("http://localhost:43123/callback"));
        assert!(!uri.matches_request("http://127.0.0.1:43123/callback"));
    }

    #[test]
    fn r112_ipv6_loopback_matches_any_port() {
        let uri = registered("http://[::1]:8080/cb");
        assert!(uri.matches_request("http://[::1]:9999/cb"));
        assert!(uri.matches_request("http://[::1]/cb"));
        assert!(!uri.matches_request("http://[::2]:9999/cb"));
    }

    #[test]
    fn r112_https_is_exact_match_only() {
        let uri = registered("https://app.example.com/cb");
        assert!(uri.matches_request("https://app.example.com/cb"));
        assert!(!uri.matches_request("https://app.example.com/cb/"));
        assert!(!uri.matches_request("https://APP.example.com/cb"));
        assert!(!uri.matches_request("https://app.example.com:443/cb"));
        assert!(!uri.matches_request("https://app.example.com/cb?x"));
    }

    #[test]
    fn loopback_port_must_be_numeric() {
        let uri = registered("http://127.0.0.1:3000/cb");
        assert!(!uri.matches_request("http://127.0.0.1:@evil.example/cb"));
        assert!(!uri.matches_request("http://127.0.0.1:80ab/cb"));
    }

    #[test]
    fn r105_registration_rules() {
        for bad in [
            "http://app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "cursor://callback",
            "https://app.example.com/cb#frag",
            "https://user:pw@app.example.com/cb",
            "/relative",
            "https://app.example.com/c b",
            "https://app.example.com\\@evil/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad} must be rejected");
        }
        for good in [
            "https://app.example.com/cb",
            "http://127.0.0.1/callback",
            "http://localhost:3000/cb",
            "http://[::1]:4000/cb",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good} must be accepted");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in ".{0,300}") {
            let _ = RedirectUri::parse(&raw);
        }

        #[test]
        fn matching_never_panics_and_exact_always_matches(raw in "http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[0-9]{1,5})?/[a-z/?=]{0,20}", other in ".{0,80}") {
            if let Ok(uri) = RedirectUri::parse(&raw) {
                prop_assert!(uri.matches_request(&raw));
                let _ = uri.matches_request(&other);
            }
        }
    }
}

//! Client ID Metadata Document URLs (SPEC §2.6, R060–R062): which `client_id` values name a
//! document Postern may fetch. Every check runs on the raw string, because a WHATWG/`url`
//! parse silently removes `./` and `../` segments (R062).

use crate::error::{ParseError, has_forbidden_chars};
use std::fmt;

const MAX_CLIENT_ID_URL_LEN: usize = 2048;

/// An https `client_id` that satisfies R060–R062. The string is kept exactly as sent: the
/// document's own `client_id` must equal it byte for byte (R076).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientIdUrl {
    raw: String,
    host: String,
}

impl ClientIdUrl {
    /// Is this `client_id` meant as a metadata document URL (rather than a registered id)?
    /// Registered ids can never start with a scheme (`client::validate_registered_client_id`).
    pub fn is_url_shaped(raw: &str) -> bool {
        raw.starts_with("https://") || raw.starts_with("http://")
    }

    /// `allow_query`: R061 lets an AS accept a query; Postern refuses it unless configured.
    pub fn parse(raw: &str, allow_query: bool) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > MAX_CLIENT_ID_URL_LEN {
            return Err(ParseError::new(format!("client_id URL must be 1 to {MAX_CLIENT_ID_URL_LEN} characters")));
        }
        if has_forbidden_chars(raw) {
            return Err(ParseError::new(
                "client_id URL must not contain whitespace, control characters or backslashes",
            ));
        }
        let rest = raw
            .strip_prefix("https://")
            .ok_or_else(|| ParseError::new("client_id URL must use the https scheme (R060)"))?;
        if raw.contains('#') {
            return Err(ParseError::new("client_id URL must not contain a fragment (R060)"));
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(ParseError::new("client_id URL must not contain a username or password (R060)"));
        }
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        if path.is_empty() || path == "/" {
            return Err(ParseError::new(
                "client_id URL must have a path, e.g. https://app.example.com/oauth/client.json (R060)",
            ));
        }
        if path.split('/').any(is_dot_segment) {
            return Err(ParseError::new(
                "client_id URL must not contain . or .. path segments, also not percent-encoded (R062)",
            ));
        }
        if query.is_some() && !allow_query {
            return Err(ParseError::new("client_id URL must not contain a query string (R061)"));
        }
        let url = url::Url::parse(raw).map_err(|e| ParseError::new(format!("client_id is not a valid URL: {e}")))?;
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) => {
                return Err(ParseError::new("client_id URL must name a DNS host, not an IP address"));
            }
            None => return Err(ParseError::new("client_id URL must have a host")),
        };
        // The parser lowercases and IDNA-maps hosts; the raw authority must already be in that
        // form, so the host users see on the consent page is the host that is fetched.
        let raw_host = authority.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()));
        let raw_host = raw_host.map_or(authority, |(host, _)| host);
        if raw_host != host {
            return Err(ParseError::new(format!("client_id URL host must be written in canonical form ('{host}')")));
        }
        Ok(Self { raw: raw.to_owned(), host })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The lowercase DNS host, shown on the consent page (R094) and matched by domain policy.
    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for ClientIdUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// `.` or `..`, also when some of the dots are percent-encoded (`%2e`, `%2E`).
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2e", ".").replace("%2E", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn r060_accepts_the_spec_vectors() {
        for good in ["https://app.example.com/oauth/client.json", "https://app.example.com:8443/c"] {
            let url = ClientIdUrl::parse(good, false).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(url.as_str(), good);
            assert_eq!(url.host(), "app.example.com");
        }
    }

    #[test]
    fn r060_r062_rejects_the_spec_vectors() {
        for bad in [
            "http://app.example.com/c.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/a/../c.json",
            "https://app.example.com/./c.json",
            "https://app.example.com/%2e%2e/c.json",
            "https://app.example.com/%2E./c.json",
            "https://app.example.com/a/.%2E",
            "https://app.example.com/c.json#x",
            "https://u:p@app.example.com/c.json",
            "https://u@app.example.com/c.json",
            "https://app.example.com/c json",
            "https://app.example.com\\c.json",
            "https://app.example.com/c.json\n",
        ] {
            assert!(ClientIdUrl::parse(bad, false).is_err(), "{bad} must be rejected");
        }
    }

    #[test]
    fn r061_query_is_rejected_unless_allowed() {
        assert!(ClientIdUrl::parse("https://app.example.com/c.json?v=1", false).is_err());
        assert!(ClientIdUrl::parse("https://app.example.com/c.json?v=1", true).is_ok());
        assert!(ClientIdUrl::parse("https://app.example.com?v=1", true).is_err());
    }

    #[test]
    fn ip_literals_and_non_canonical_hosts_are_rejected() {
        for bad in [
            "https://127.0.0.1/c.json",
            "https://2130706433/c.json",
            "https://0x7f000001/c.json",
            "https://[::1]/c.json",
            "https://APP.example.com/c.json",
        ] {
            assert!(ClientIdUrl::parse(bad, false).is_err(), "{bad} must be rejected");
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in "https://.{0,100}") {
            let _ = ClientIdUrl::parse(&raw, true);
        }

        #[test]
        fn accepted_urls_have_no_dot_segments_and_keep_their_text(path in "(/[a-z.%2eE]{1,6}){1,4}") {
            let raw = format!("https://a.example{path}");
            if let Ok(url) = ClientIdUrl::parse(&raw, false) {
                prop_assert_eq!(url.as_str(), raw.as_str());
                prop_assert!(!path.split('/').any(is_dot_segment));
            }
        }
    }
}

//! The URL of one fetch, checked before any network I/O: https only, no credentials, and the host
//! either a name (resolved later, through the vetting resolver) or an IP literal judged here.
//!
//! IP literals need their own check because they never reach a resolver: reqwest connects to them
//! directly. The `url` crate (WHATWG host parsing) turns every IPv4 spelling into one address
//! first, so `https://2130706433/`, `https://0x7f000001/`, `https://0177.0.0.1/` and
//! `https://127.1/` are all `127.0.0.1` here, and `[::ffff:127.0.0.1]` is an IPv6 address the
//! policy refuses as IPv4-mapped. Nothing is hand-parsed (SPEC R068).

use std::net::IpAddr;
use url::{Host, Url};

use crate::{AddressPolicy, DocumentKind, FetchError, Verdict};

/// URLs longer than this are refused unread; no real document URL comes close.
const MAX_URL_LEN: usize = 8 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) url: Url,
    /// Lowercase host as in the URL (IPv6 without brackets); the governor's key.
    pub(crate) host: String,
    pub(crate) literal: Option<IpAddr>,
}

impl Target {
    pub(crate) fn parse(raw: &str, what: DocumentKind) -> Result<Self, FetchError> {
        let invalid = |reason: String| FetchError::InvalidUrl { what, reason };
        if raw.len() > MAX_URL_LEN {
            return Err(invalid(format!("it is {} bytes long, over {MAX_URL_LEN}", raw.len())));
        }
        let mut url = Url::parse(raw).map_err(|error| invalid(error.to_string()))?;
        if url.scheme() != "https" {
            return Err(FetchError::NotHttps { what, scheme: url.scheme().to_owned() });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(FetchError::Credentials { what });
        }
        // A fragment is never sent anyway; dropping it keeps it out of reports and errors.
        url.set_fragment(None);
        let (host, literal) = match url.host() {
            Some(Host::Domain(name)) => (name.to_owned(), name.parse::<IpAddr>().ok()),
            Some(Host::Ipv4(v4)) => (v4.to_string(), Some(IpAddr::V4(v4))),
            Some(Host::Ipv6(v6)) => (v6.to_string(), Some(IpAddr::V6(v6))),
            None => return Err(invalid("it has no host".to_owned())),
        };
        if host.is_empty() {
            return Err(invalid("it has no host".to_owned()));
        }
        Ok(Self { url, host, literal })
    }

    /// For an IP-literal URL, the policy's verdict now, before anything is sent.
    pub(crate) fn check_literal(&self, policy: &AddressPolicy, what: DocumentKind) -> Result<(), FetchError> {
        match self.literal.map(|ip| (ip, policy.verdict(ip))) {
            Some((address, Verdict::Blocked(reason))) => {
                Err(FetchError::BlockedAddress { what, host: self.host.clone(), address, reason })
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const WHAT: DocumentKind = DocumentKind::ClientMetadata;

    fn blocked_address(raw: &str, policy: &AddressPolicy) -> Option<IpAddr> {
        let target = Target::parse(raw, WHAT).unwrap();
        match target.check_literal(policy, WHAT) {
            Err(FetchError::BlockedAddress { address, .. }) => Some(address),
            _ => None,
        }
    }

    #[test]
    fn r068_every_ipv4_spelling_of_loopback_is_one_blocked_address() {
        let policy = AddressPolicy::default();
        for raw in [
            "https://2130706433/x",
            "https://0x7f000001/x",
            "https://0177.0.0.1/x",
            "https://127.1/x",
            "https://0x7f.1/x",
            "https://127.0.0.1./x",
            "https://[::ffff:127.0.0.1]/x",
            "https://[::ffff:7f00:1]/x",
            "https://[64:ff9b::7f00:1]/x",
            "https://[::1]/x",
        ] {
            assert!(blocked_address(raw, &policy).is_some(), "{raw} must be refused");
        }
        assert_eq!(blocked_address("https://0x7f000001/x", &policy), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(blocked_address("https://[::ffff:127.0.0.1]/x", &policy), Some("::ffff:127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn names_are_left_to_the_resolver_and_public_literals_pass() {
        let target = Target::parse("https://CIMD.Test:8443/client.json#frag", WHAT).unwrap();
        assert_eq!((target.host.as_str(), target.literal), ("cimd.test", None));
        assert_eq!(target.url.as_str(), "https://cimd.test:8443/client.json");
        assert_eq!(blocked_address("https://8.8.8.8/x", &AddressPolicy::default()), None);
    }

    #[test]
    fn r072_only_https_without_credentials() {
        assert!(matches!(Target::parse("http://cimd.test/x", WHAT), Err(FetchError::NotHttps { .. })));
        assert!(matches!(Target::parse("file:///etc/passwd", WHAT), Err(FetchError::NotHttps { .. })));
        assert!(matches!(Target::parse("https://user:pw@cimd.test/x", WHAT), Err(FetchError::Credentials { .. })));
        assert!(matches!(Target::parse("https://user@cimd.test/x", WHAT), Err(FetchError::Credentials { .. })));
        assert!(matches!(Target::parse("not a url", WHAT), Err(FetchError::InvalidUrl { .. })));
        let long = format!("https://cimd.test/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(Target::parse(&long, WHAT), Err(FetchError::InvalidUrl { .. })));
    }

    proptest! {
        #[test]
        fn any_string_is_refused_or_an_https_url_with_a_host(raw in "\\PC{0,200}") {
            if let Ok(target) = Target::parse(&raw, WHAT) {
                prop_assert_eq!(target.url.scheme(), "https");
                prop_assert!(!target.host.is_empty());
                prop_assert!(target.url.username().is_empty() && target.url.password().is_none());
                let _ = target.check_literal(&AddressPolicy::default(), WHAT);
            }
        }

        #[test]
        fn url_shaped_strings_never_panic(
            host in prop_oneof!["[0-9a-fA-Fx.]{1,30}", "\\[[0-9a-fA-F:.]{0,45}\\]", "[a-z0-9.-]{1,30}", "\\PC{1,30}"],
            port in proptest::option::of(any::<u16>()),
            path in "[/a-z0-9%.?#@:]{0,30}",
        ) {
            let raw = match port {
                Some(port) => format!("https://{host}:{port}/{path}"),
                None => format!("https://{host}/{path}"),
            };
            if let Ok(target) = Target::parse(&raw, WHAT)
                && let Some(ip) = target.literal
            {
                let policy = AddressPolicy::default();
                prop_assert_eq!(target.check_literal(&policy, WHAT).is_ok(), policy.verdict(ip).is_allowed());
            }
        }
    }
}

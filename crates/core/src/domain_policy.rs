//! Which CIMD hosts Postern talks to, decided before any network I/O (DESIGN §3, §4; R085).

use crate::error::ParseError;

/// What to do with a host on neither list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownDomains {
    Allow,
    /// Record the client as pending; an administrator approves or denies it.
    Approval,
    Deny,
}

impl UnknownDomains {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "allow" => Ok(Self::Allow),
            "approval" => Ok(Self::Approval),
            "deny" => Ok(Self::Deny),
            other => Err(ParseError::new(format!("unknown_domains '{other}' must be allow, approval or deny"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Approval => "approval",
            Self::Deny => "deny",
        }
    }
}

/// An exact host (`app.example.com`) or every subdomain of a suffix (`*.example.com`, which
/// does not match `example.com` itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainPattern(String);

impl DomainPattern {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let host = raw.strip_prefix("*.").unwrap_or(raw);
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !valid {
            return Err(ParseError::new(format!("'{raw}' is not a lowercase host name or *.suffix pattern")));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The pattern as written (`app.example.com` or `*.example.com`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For `*.example.com`, the suffix `example.com`; `None` for an exact host.
    pub fn wildcard_suffix(&self) -> Option<&str> {
        self.0.strip_prefix("*.")
    }

    pub fn matches(&self, host: &str) -> bool {
        match self.0.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host.ends_with(suffix)
                    && host[..host.len() - suffix.len()].ends_with('.')
            }
            None => host == self.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainDecision {
    Allow,
    NeedsApproval,
    Deny,
}

#[derive(Debug, Clone)]
pub struct DomainPolicy {
    pub allow: Vec<DomainPattern>,
    pub deny: Vec<DomainPattern>,
    pub unknown: UnknownDomains,
}

impl DomainPolicy {
    /// The deny list wins over the allow list; hosts on neither follow `unknown`.
    pub fn decide(&self, host: &str) -> DomainDecision {
        if self.deny.iter().any(|p| p.matches(host)) {
            return DomainDecision::Deny;
        }
        if self.allow.iter().any(|p| p.matches(host)) {
            return DomainDecision::Allow;
        }
        match self.unknown {
            UnknownDomains::Allow => DomainDecision::Allow,
            UnknownDomains::Approval => DomainDecision::NeedsApproval,
            UnknownDomains::Deny => DomainDecision::Deny,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&str]) -> Vec<DomainPattern> {
        list.iter().map(|p| DomainPattern::parse(p).unwrap()).collect()
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let pattern = DomainPattern::parse("*.example.com").unwrap();
        assert!(pattern.matches("a.example.com"));
        assert!(pattern.matches("b.a.example.com"));
        assert!(!pattern.matches("example.com"));
        assert!(!pattern.matches("badexample.com"));
        assert!(!pattern.matches("a.example.com.evil.net"));
    }

    #[test]
    fn r085_deny_wins_then_allow_then_the_unknown_rule() {
        let policy = DomainPolicy {
            allow: patterns(&["*.example.com", "claude.ai"]),
            deny: patterns(&["bad.example.com"]),
            unknown: UnknownDomains::Approval,
        };
        assert_eq!(policy.decide("good.example.com"), DomainDecision::Allow);
        assert_eq!(policy.decide("claude.ai"), DomainDecision::Allow);
        assert_eq!(policy.decide("bad.example.com"), DomainDecision::Deny);
        assert_eq!(policy.decide("other.net"), DomainDecision::NeedsApproval);
        let open = DomainPolicy { allow: vec![], deny: vec![], unknown: UnknownDomains::Allow };
        assert_eq!(open.decide("anything.net"), DomainDecision::Allow);
        let closed = DomainPolicy { unknown: UnknownDomains::Deny, ..open };
        assert_eq!(closed.decide("anything.net"), DomainDecision::Deny);
    }

    #[test]
    fn patterns_must_be_lowercase_host_names() {
        for bad in ["", "*.", "Example.com", "a..b", "exa mple.com", "*.*.example.com", "http://x.com"] {
            assert!(DomainPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(UnknownDomains::parse("maybe").is_err());
    }
}

use crate::error::ParseError;
use std::collections::BTreeSet;
use std::fmt;

const MAX_SCOPE_TOKENS: usize = 64;
const MAX_SCOPE_TOKEN_LEN: usize = 128;

/// One scope token: `%x21 / %x23-5B / %x5D-7E` (RFC 6749 §3.3, SPEC R027).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > MAX_SCOPE_TOKEN_LEN {
            return Err(ParseError::new(format!("each scope must be 1 to {MAX_SCOPE_TOKEN_LEN} characters")));
        }
        if !raw.bytes().all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b)) {
            return Err(ParseError::new("scope contains a character outside the RFC 6749 scope-token set"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scopes, kept sorted so that equal sets serialise identically.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a space-separated `scope` parameter. Repeated tokens collapse into one.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let mut set = BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            set.insert(Scope::parse(token)?);
            if set.len() > MAX_SCOPE_TOKENS {
                return Err(ParseError::new(format!("at most {MAX_SCOPE_TOKENS} scopes may be requested")));
            }
        }
        Ok(Self(set))
    }

    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset_of(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Scopes in `self` that `allowed` does not contain, for an actionable error message.
    pub fn not_in<'a>(&'a self, allowed: &'a ScopeSet) -> impl Iterator<Item = &'a Scope> + 'a {
        self.0.difference(&allowed.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_sorts_and_dedups() {
        let set = ScopeSet::parse("mcp:write  mcp:read mcp:write").unwrap();
        assert_eq!(set.to_string(), "mcp:read mcp:write");
    }

    #[test]
    fn r027_rejects_quote_backslash_and_controls() {
        assert!(ScopeSet::parse("a\"b").is_err());
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("a\tb").is_err());
        assert!(ScopeSet::parse("caf\u{e9}").is_err());
    }

    #[test]
    fn subset_and_difference() {
        let allowed = ScopeSet::parse("mcp:read mcp:write").unwrap();
        let asked = ScopeSet::parse("mcp:read admin").unwrap();
        assert!(!asked.is_subset_of(&allowed));
        assert_eq!(asked.not_in(&allowed).map(Scope::as_str).collect::<Vec<_>>(), ["admin"]);
    }

    proptest! {
        #[test]
        fn display_round_trips(raw in "[a-z:]{1,10}( [a-z:]{1,10}){0,5}") {
            let set = ScopeSet::parse(&raw).unwrap();
            prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
        }

        #[test]
        fn parse_never_panics(raw in ".{0,400}") {
            let _ = ScopeSet::parse(&raw);
        }
    }
}

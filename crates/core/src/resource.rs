use crate::error::{ParseError, has_forbidden_chars};
use crate::issuer::is_loopback_host;
use std::fmt;

const MAX_RESOURCE_LEN: usize = 2048;

/// A resource indicator (RFC 8707): the canonical URI of an MCP server. Compared byte for byte
/// with the configured resources and copied verbatim into the token's `aud` (R128, §4 Q6).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceUri(String);

impl ResourceUri {
    /// Shape rules for a `resource` request parameter (R127): absolute URI, no fragment.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty() || raw.len() > MAX_RESOURCE_LEN || has_forbidden_chars(raw) {
            return Err(ParseError::new(format!(
                "resource must be an absolute URI of at most {MAX_RESOURCE_LEN} characters"
            )));
        }
        if raw.contains('#') {
            return Err(ParseError::new("resource must not contain a fragment (RFC 8707 §2)"));
        }
        url::Url::parse(raw).map_err(|e| ParseError::new(format!("resource is not an absolute URI: {e}")))?;
        Ok(Self(raw.to_owned()))
    }

    /// Stricter rules for a resource the operator configures: https, or http on loopback.
    pub fn parse_configured(raw: &str) -> Result<Self, ParseError> {
        let resource = Self::parse(raw)?;
        let url = url::Url::parse(raw).map_err(|e| ParseError::new(e.to_string()))?;
        let loopback = url.host_str().is_some_and(is_loopback_host);
        match url.scheme() {
            "https" => Ok(resource),
            "http" if loopback => Ok(resource),
            _ => Err(ParseError::new(format!("resource '{raw}' must use https (http only on loopback hosts)"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ResourceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r127_resource_must_be_absolute_without_fragment() {
        assert!(ResourceUri::parse("https://mcp.example.com/mcp").is_ok());
        assert!(ResourceUri::parse("/mcp").is_err());
        assert!(ResourceUri::parse("https://mcp.example.com/mcp#x").is_err());
        assert!(ResourceUri::parse("").is_err());
    }

    #[test]
    fn configured_resources_need_https_unless_loopback() {
        assert!(ResourceUri::parse_configured("http://127.0.0.1:8414/demo/mcp").is_ok());
        assert!(ResourceUri::parse_configured("http://mcp.example.com/mcp").is_err());
    }

    #[test]
    fn resource_is_kept_verbatim() {
        assert_eq!(ResourceUri::parse("https://h/mcp/").unwrap().as_str(), "https://h/mcp/");
    }
}

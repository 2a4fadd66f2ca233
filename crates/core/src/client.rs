use crate::error::ParseError;
use std::fmt;

/// How a client authenticates at the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpointAuthMethod {
    /// A public client (R059): identifies itself by `client_id` only.
    None,
    ClientSecretBasic,
    ClientSecretPost,
    /// RFC 7523 §2.2: a JWT signed with a key from the client's `jwks` or `jwks_uri` (R142).
    PrivateKeyJwt,
}

/// OAuth 2.1 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Public,
    Confidential,
}

impl TokenEndpointAuthMethod {
    /// Whether the client proves itself with a shared secret (stored as a hash).
    pub fn uses_shared_secret(self) -> bool {
        matches!(self, Self::ClientSecretBasic | Self::ClientSecretPost)
    }

    pub const SUPPORTED: [&'static str; 4] = ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"];

    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw {
            "none" => Ok(Self::None),
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            other => Err(ParseError::new(format!(
                "token_endpoint_auth_method '{other}' is not supported; use one of: {}",
                Self::SUPPORTED.join(", ")
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn client_type(self) -> ClientType {
        match self {
            Self::None => ClientType::Public,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::PrivateKeyJwt => ClientType::Confidential,
        }
    }
}

impl fmt::Display for TokenEndpointAuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Rules for a pre-registered `client_id`: printable ASCII without spaces, bounded, and never
/// `https://...` so it cannot be confused with a CIMD URL (SPEC R057).
pub fn validate_registered_client_id(raw: &str) -> Result<(), ParseError> {
    if raw.is_empty() || raw.len() > 255 || !raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(ParseError::new("client_id must be 1 to 255 printable ASCII characters without spaces"));
    }
    if raw.starts_with("https://") || raw.starts_with("http://") {
        return Err(ParseError::new(
            "a pre-registered client_id must not be a URL; URL client_ids are Client ID Metadata Documents",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r059_method_decides_client_type() {
        assert_eq!(TokenEndpointAuthMethod::parse("none").unwrap().client_type(), ClientType::Public);
        assert_eq!(
            TokenEndpointAuthMethod::parse("client_secret_basic").unwrap().client_type(),
            ClientType::Confidential
        );
        assert!(TokenEndpointAuthMethod::parse("client_secret_jwt").is_err());
    }

    #[test]
    fn r057_registered_ids_are_not_urls() {
        assert!(validate_registered_client_id("conformance-client").is_ok());
        assert!(validate_registered_client_id("https://x.example/c.json").is_err());
        assert!(validate_registered_client_id("a b").is_err());
        assert!(validate_registered_client_id("").is_err());
    }
}

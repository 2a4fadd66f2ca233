//! The guard's own OAuth client at the authorization server, used to authenticate to the
//! introspection endpoint (R037) with `client_secret_basic`. The secret never appears in
//! `Debug` output, logs or error messages.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::HeaderValue;
use std::fmt;

/// A confidential client's `client_id` and secret.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ClientCredentials {
    client_id: String,
    secret: String,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials").field("client_id", &self.client_id).field("secret", &"<redacted>").finish()
    }
}

impl ClientCredentials {
    pub(crate) fn new(client_id: String, secret: String) -> Self {
        Self { client_id, secret }
    }

    /// Refuses credentials no authorization server could accept.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.client_id.is_empty() || self.secret.is_empty() {
            return Err("introspection needs a non-empty client_id and client secret".to_owned());
        }
        if self.client_id.chars().chain(self.secret.chars()).any(char::is_control) {
            return Err("the introspection client_id and secret must not contain control characters".to_owned());
        }
        Ok(())
    }

    /// `Authorization: Basic …` as RFC 6749 §2.3.1 defines it: both halves are
    /// form-urlencoded before base64, so a `:` or non-ASCII character in either survives.
    /// Marked sensitive, so HTTP libraries do not print it.
    pub(crate) fn basic_authorization(&self) -> HeaderValue {
        let encode = |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&self.client_id), encode(&self.secret));
        let mut value = HeaderValue::try_from(format!("Basic {}", STANDARD.encode(pair)))
            // Unreachable: base64 and the scheme are visible ASCII. Keep a value that fails
            // authentication rather than panic.
            .unwrap_or_else(|_| HeaderValue::from_static("Basic"));
        value.set_sensitive(true);
        value
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn basic_authorization_form_urlencodes_both_halves_before_base64() {
        let credentials = ClientCredentials::new("mcp server".to_owned(), "p:ss/é+".to_owned());
        let value = credentials.basic_authorization();
        let encoded = value.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "mcp+server:p%3Ass%2F%C3%A9%2B");
        assert!(value.is_sensitive());
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let credentials = ClientCredentials::new("rs".to_owned(), "pcs_very-secret".to_owned());
        let shown = format!("{credentials:?} {:?}", credentials.basic_authorization());
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains(&STANDARD.encode("rs:pcs_very-secret")), "{shown}");
        assert!(shown.contains("rs"));
    }

    #[test]
    fn empty_or_control_character_credentials_are_refused() {
        for (id, secret) in [("", "s"), ("rs", ""), ("r\ns", "s"), ("rs", "s\0")] {
            assert!(ClientCredentials::new(id.into(), secret.into()).check().is_err(), "{id:?} {secret:?}");
        }
        assert!(ClientCredentials::new("rs".into(), "s".into()).check().is_ok());
    }
}

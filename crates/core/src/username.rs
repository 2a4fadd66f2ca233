//! Local account names: the one rule for every way a user is created (CLI and admin API).

use crate::error::ParseError;
use std::fmt;

/// The longest username; also the longest name the login throttle keys by account.
pub const MAX_USERNAME_LEN: usize = 64;

/// A username of 1 to 64 characters from `A-Z a-z 0-9 . _ @ -`: safe in a log line, an audit
/// detail, a URL path and an HTML page without escaping surprises.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if raw.is_empty()
            || raw.len() > MAX_USERNAME_LEN
            || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
        {
            return Err(ParseError::new(format!(
                "username must be 1 to {MAX_USERNAME_LEN} characters from A-Z a-z 0-9 . _ @ -"
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_of_the_allowed_characters_up_to_64_bytes() {
        for name in ["alice", "a", "first.last@example.com", "svc_bot-1", &"x".repeat(64)] {
            assert_eq!(Username::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_empty_long_and_unusual_names() {
        for name in ["", &"x".repeat(65), "al ice", "alice\n", "<b>", "ålice", "a/b", "a\0b", "a\\b"] {
            let error = Username::parse(name).unwrap_err();
            assert!(error.0.contains("1 to 64 characters"), "{name:?}: {error}");
        }
    }
}

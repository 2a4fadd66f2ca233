use thiserror::Error;

/// Why a wire value could not become a typed value. The message is written for the client
/// developer who sent it and is safe to return in an `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Characters that have no business in any identifier we accept: controls, whitespace and
/// backslashes (which some URL parsers silently turn into `/`).
pub(crate) fn has_forbidden_chars(raw: &str) -> bool {
    raw.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
}

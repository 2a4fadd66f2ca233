//! The crate's one error type, for setting a guard up and for fetching keys.

/// Why a guard could not be built, or why keys could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// The [`GuardConfig`](crate::GuardConfig) is unusable; the message names the setting.
    #[error("invalid guard configuration: {0}")]
    Config(String),
    /// The default HTTP client could not be built (TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// The authorization server's metadata or keys could not be fetched or understood.
    #[error("authorization server keys: {0}")]
    Keys(String),
}

//! One error type for JSON endpoints whose variants are the OAuth error codes, rendered as
//! RFC 6749 §5.2 bodies with `Cache-Control: no-store`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    InvalidTarget,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// An OAuth error with a description the client developer can act on.
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self { code, description: description.into() }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    fn status(&self) -> StatusCode {
        match self.code {
            // RFC 6749 §5.2, R137: 401 with a `Basic` challenge, which the header method
            // requires and the body method may use.
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// Errors of the JSON endpoints (token, introspection, revocation).
#[derive(Debug)]
pub enum AppError {
    OAuth(OAuthError),
    /// Something on our side failed. The detail is logged, never sent.
    Internal(String),
}

impl From<OAuthError> for AppError {
    fn from(error: OAuthError) -> Self {
        Self::OAuth(error)
    }
}

impl From<postern_store::StoreError> for AppError {
    fn from(error: postern_store::StoreError) -> Self {
        Self::Internal(format!("store: {error}"))
    }
}

impl From<getrandom::Error> for AppError {
    fn from(error: getrandom::Error) -> Self {
        Self::Internal(format!("random source: {error}"))
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({ "error": self.code.as_str(), "error_description": self.description });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.code == ErrorCode::InvalidClient {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"postern\""));
        }
        response
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            Self::OAuth(error) => error.into_response(),
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                OAuthError::new(ErrorCode::ServerError, "the server could not complete the request; try again later")
                    .into_response()
            }
        }
    }
}

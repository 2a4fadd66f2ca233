//! Request bodies of the admin API: a JSON object with exactly the documented members. Every
//! error names the member at fault, so a client developer knows what to fix.

use super::error::AdminError;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value};

/// A JSON object body whose members were checked against the documented list.
pub struct JsonObject(Map<String, Value>);

impl JsonObject {
    /// Parses the body: `Content-Type: application/json`, an object, no member outside `allowed`.
    pub fn parse(headers: &HeaderMap, body: &Bytes, allowed: &[&str]) -> Result<Self, AdminError> {
        let is_json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(AdminError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request",
                "the request body must be application/json",
            ));
        }
        let expected = || allowed.join(", ");
        let Ok(Value::Object(members)) = serde_json::from_slice::<Value>(body) else {
            return Err(AdminError::bad_request(format!("the body must be a JSON object with {}", expected())));
        };
        if let Some(unknown) = members.keys().find(|name| !allowed.contains(&name.as_str())) {
            return Err(AdminError::bad_request(format!(
                "unknown member '{}'; the body may have {}",
                crate::params::clip(unknown, 40),
                expected()
            )));
        }
        Ok(Self(members))
    }

    /// A required string member.
    pub fn string(&self, name: &str) -> Result<&str, AdminError> {
        match self.0.get(name) {
            Some(Value::String(value)) => Ok(value),
            Some(_) => Err(AdminError::bad_request(format!("{name} must be a string"))),
            None => Err(AdminError::bad_request(format!("{name} is required"))),
        }
    }

    /// An optional boolean member.
    pub fn boolean_or(&self, name: &str, default: bool) -> Result<bool, AdminError> {
        match self.0.get(name) {
            Some(Value::Bool(value)) => Ok(*value),
            Some(_) => Err(AdminError::bad_request(format!("{name} must be true or false"))),
            None => Ok(default),
        }
    }
}

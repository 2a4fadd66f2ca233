//! What introspection mode is configured with, checked: see
//! [`GuardConfig::with_introspection`](crate::GuardConfig::with_introspection).

use crate::client_credentials::ClientCredentials;
use crate::config::{GuardConfig, INTROSPECTION_NEGATIVE_MAX_AGE, config_error, seconds};
use crate::error::GuardError;
use postern_core::ResourceUri;
use std::time::Duration;

/// A checked introspection configuration.
#[derive(Debug)]
pub(crate) struct IntrospectionSettings {
    /// Configured; `None` means read from the AS metadata.
    pub endpoint: Option<String>,
    pub client: ClientCredentials,
    /// Seconds an active result is reused, at most.
    pub max_age: i64,
    /// Seconds a refused result is reused, at most.
    pub negative_max_age: i64,
    pub max_entries: usize,
    pub timeout: Duration,
}

impl IntrospectionSettings {
    pub(crate) fn from_config(config: &GuardConfig) -> Result<Option<Self>, GuardError> {
        let Some(client) = &config.introspection_client else {
            if config.introspection_endpoint.is_some() {
                return Err(config_error("introspection_endpoint needs with_introspection (client credentials)"));
            }
            return Ok(None);
        };
        client.check().map_err(config_error)?;
        if config.jwks_uri.is_some() || config.static_jwks.is_some() {
            return Err(config_error(
                "introspection mode uses no keys: remove with_jwks_uri/with_static_jwks or with_introspection",
            ));
        }
        if let Some(uri) = &config.introspection_endpoint {
            ResourceUri::parse_configured(uri).map_err(|e| config_error(format!("introspection_endpoint: {e}")))?;
        }
        if config.introspection_timeout.is_zero() {
            return Err(config_error("introspection_timeout must be more than zero"));
        }
        let max_age = seconds(config.introspection_cache_max_age);
        Ok(Some(Self {
            endpoint: config.introspection_endpoint.clone(),
            client: client.clone(),
            max_age,
            negative_max_age: max_age.min(seconds(INTROSPECTION_NEGATIVE_MAX_AGE)),
            max_entries: config.introspection_cache_entries,
            timeout: config.introspection_timeout,
        }))
    }
}

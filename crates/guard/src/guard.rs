//! [`Guard`]: one configured resource server, shared by its layer, its metadata route and any
//! code that wants to verify a token directly.

use crate::config::{GuardConfig, Settings};
use crate::error::GuardError;
use crate::identity::AccessIdentity;
use crate::introspection::Introspector;
use crate::keys::KeyCache;
use crate::layer::GuardLayer;
use crate::metadata;
use crate::token::{Expectations, TokenError};
use crate::verified_tokens::VerifiedTokens;
use axum::Router;
use axum::body::Bytes;
use postern_core::Clock;
use std::sync::Arc;
use std::time::Duration;

/// A configured guard. Cheap to clone; clones share the key cache and the cache of verified
/// tokens (JWT mode) or of introspection results.
#[derive(Clone)]
pub struct Guard(Arc<Inner>);

pub(crate) struct Inner {
    pub settings: Settings,
    pub keys: KeyCache,
    /// Tokens whose signature was checked before (JWT mode).
    pub verified: VerifiedTokens,
    /// `Some` in introspection mode, which then replaces local JWT verification.
    pub introspection: Option<Introspector>,
    pub clock: Arc<dyn Clock>,
    metadata: serde_json::Value,
    metadata_body: Bytes,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("settings", &self.0.settings).finish_non_exhaustive()
    }
}

fn default_http_client() -> Result<reqwest::Client, GuardError> {
    reqwest::Client::builder()
        // Metadata and keys are fetched from where they are published, never from a redirect;
        // tokens are introspected where configured, never re-posted to another URL.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("postern-guard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| GuardError::HttpClient(e.to_string()))
}

impl Guard {
    /// Checks `config` and builds the guard. No network I/O happens here: keys are fetched (or
    /// the introspection endpoint discovered) on the first request, or by
    /// [`Guard::refresh_keys`].
    pub fn new(config: GuardConfig) -> Result<Self, GuardError> {
        let settings = Settings::from_config(&config)?;
        let http = match config.http {
            Some(client) => client,
            None => default_http_client()?,
        };
        let introspection = settings.introspection.as_ref().map(|introspection| {
            Introspector::new(introspection, settings.issuer.clone(), http.clone(), config.clock.clone())
        });
        let keys = KeyCache::new(
            &settings,
            config.jwks_uri.clone(),
            config.static_jwks.as_deref(),
            http,
            config.clock.clone(),
        )?;
        let verified = VerifiedTokens::new(settings.verified_cache_max_age, settings.verified_cache_entries);
        let metadata = metadata::document(&settings);
        let metadata_body = Bytes::from(metadata.to_string());
        Ok(Self(Arc::new(Inner {
            settings,
            keys,
            verified,
            introspection,
            clock: config.clock,
            metadata,
            metadata_body,
        })))
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.0
    }

    /// The `tower::Layer` that checks every request (see [`GuardLayer`]).
    pub fn layer(&self) -> GuardLayer {
        GuardLayer::new(self.clone())
    }

    /// Routes serving the Protected Resource Metadata at the path-inserted and the root
    /// well-known path. Merge it *outside* the guarded routes: discovery needs no token.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        metadata::router(&self.0.settings.metadata_paths, self.0.metadata_body.clone())
    }

    /// The Protected Resource Metadata document.
    pub fn metadata_document(&self) -> &serde_json::Value {
        &self.0.metadata
    }

    /// The path-inserted PRM URL that every challenge names in `resource_metadata`.
    pub fn metadata_url(&self) -> &str {
        &self.0.settings.metadata_url
    }

    /// The canonical resource URI, as configured.
    pub fn resource(&self) -> &str {
        &self.0.settings.resource
    }

    /// Verifies an access token (without scope policy) as the layer does: locally as an RFC
    /// 9068 JWT (its signature checked once per token, see
    /// [`GuardConfig::with_verified_token_cache`]), or in introspection mode by asking the
    /// authorization server (cached).
    pub async fn verify(&self, token: &str) -> Result<AccessIdentity, TokenError> {
        let settings = &self.0.settings;
        let expect = Expectations {
            issuer: settings.issuer.as_str(),
            resource: &settings.resource,
            algorithms: &settings.algorithms,
            leeway: settings.leeway,
        };
        match &self.0.introspection {
            Some(introspector) => introspector.check(token, &expect).await,
            None => self.0.verified.verify(token, &expect, &self.0.keys, self.0.clock.now()).await,
        }
    }

    /// Fetches the authorization server's keys now, ignoring the cooldown (e.g. at startup, to
    /// fail fast on a wrong issuer). Returns how many usable keys were found. Introspection
    /// mode uses no keys.
    pub async fn refresh_keys(&self) -> Result<usize, GuardError> {
        self.0.keys.refresh_now().await
    }
}

//! First-start preparation shared by `postern serve` and `postern migrate`: migrations, the
//! configured clients, and the initial administrator.

use crate::config::Settings;
use crate::passwords::{PasswordError, hash_password};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postern_core::secret::random_id;
use postern_store::{ClientRecord, ClientSource, ClientStatus, Store, StoreError, UserRecord};

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("random source: {0}")]
    Random(String),
}

/// What the operator must be told once.
pub struct BootstrapReport {
    /// Set when the `admin` user was just created: print it once, it is stored only hashed.
    pub admin_password: Option<String>,
}

pub async fn prepare(store: &Store, settings: &Settings, now: i64) -> Result<BootstrapReport, BootstrapError> {
    store.migrate().await?;
    store.sync_config_clients(&config_clients(settings, now)).await?;
    let admin_password = if store.count_users().await? == 0 { Some(create_admin(store, now).await?) } else { None };
    Ok(BootstrapReport { admin_password })
}

fn config_clients(settings: &Settings, now: i64) -> Vec<ClientRecord> {
    settings
        .clients
        .iter()
        .map(|c| ClientRecord {
            client_id: c.client_id.clone(),
            client_name: c.client_name.clone(),
            redirect_uris: c.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect(),
            grant_types: c.grant_types.clone(),
            token_endpoint_auth_method: c.auth_method.as_str().to_owned(),
            secret_hash: c.secret_hash.clone(),
            scope: c.scope.as_ref().map(ToString::to_string),
            jwks: c.jwks.clone(),
            jwks_uri: c.jwks_uri.clone(),
            source: ClientSource::Config,
            status: ClientStatus::Active,
            secret_expires_at: None,
            created_at: now,
        })
        .collect()
}

async fn create_admin(store: &Store, now: i64) -> Result<String, BootstrapError> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| BootstrapError::Random(e.to_string()))?;
    let password = URL_SAFE_NO_PAD.encode(bytes);
    let user = UserRecord {
        id: random_id("u_").map_err(|e| BootstrapError::Random(e.to_string()))?,
        username: "admin".to_owned(),
        password_hash: hash_password(&password)?,
        is_admin: true,
        created_at: now,
        disabled_at: None,
    };
    store.create_user(&user).await?;
    Ok(password)
}

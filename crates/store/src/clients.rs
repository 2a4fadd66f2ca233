use crate::{Result, Store, StoreError, from_json_list, on_backend, to_json_list};

/// Where a pre-registered client came from: the configuration file (re-synced at every start)
/// or `postern clients add`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    Config,
    Cli,
    /// Resolved from a Client ID Metadata Document; never stored in `clients` (the inventory
    /// is `cimd_clients`).
    MetadataDocument,
    /// Registered itself through `POST /register` (RFC 7591): publisher not verified.
    Dcr,
}

impl ClientSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Cli => "cli",
            Self::MetadataDocument => "metadata_document",
            Self::Dcr => "dcr",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "config" => Ok(Self::Config),
            "cli" => Ok(Self::Cli),
            "dcr" => Ok(Self::Dcr),
            other => Err(StoreError::Corrupt(format!("unknown client source '{other}'"))),
        }
    }
}

/// Whether a client may be used. Pre-registered clients are active; a self-registered one may
/// wait for an administrator (`dcr.approval = "required"`), and any client can be blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientStatus {
    Active,
    Pending,
    Denied,
}

impl ClientStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Denied => "denied",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "active" => Ok(Self::Active),
            "pending" => Ok(Self::Pending),
            "denied" => Ok(Self::Denied),
            other => Err(StoreError::Corrupt(format!("unknown client status '{other}'"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// SHA-256 hex of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// Scope ceiling; `None` means every scope of the requested resource.
    pub scope: Option<String>,
    /// For `private_key_jwt`: a JWK Set (JSON) or the URL of one, never both.
    pub jwks: Option<String>,
    pub jwks_uri: Option<String>,
    pub source: ClientSource,
    pub status: ClientStatus,
    /// When the client secret stops working; `None`: never.
    pub secret_expires_at: Option<i64>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    client_id: String,
    client_name: String,
    redirect_uris: String,
    grant_types: String,
    token_endpoint_auth_method: String,
    secret_hash: Option<String>,
    scope: Option<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    source: String,
    status: String,
    secret_expires_at: Option<i64>,
    created_at: i64,
}

impl TryFrom<ClientRow> for ClientRecord {
    type Error = StoreError;
    fn try_from(row: ClientRow) -> Result<Self> {
        Ok(Self {
            redirect_uris: from_json_list(&row.redirect_uris)?,
            grant_types: from_json_list(&row.grant_types)?,
            source: ClientSource::parse(&row.source)?,
            status: ClientStatus::parse(&row.status)?,
            secret_expires_at: row.secret_expires_at,
            client_id: row.client_id,
            client_name: row.client_name,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            secret_hash: row.secret_hash,
            scope: row.scope,
            jwks: row.jwks,
            jwks_uri: row.jwks_uri,
            created_at: row.created_at,
        })
    }
}

/// `SELECT <all client columns> FROM clients <tail>` as one string literal.
macro_rules! select_clients {
    ($tail:literal) => {
        concat!(
            "SELECT client_id, client_name, redirect_uris, grant_types, token_endpoint_auth_method, secret_hash, scope, jwks, jwks_uri, source, status, secret_expires_at, created_at FROM clients ",
            $tail
        )
    };
}

/// The INSERT of one client row, for either backend (used inside transactions too).
macro_rules! insert_client_query {
    ($client:expr) => {
        sqlx::query(
            "INSERT INTO clients (client_id, client_name, redirect_uris, grant_types, token_endpoint_auth_method, secret_hash, scope, jwks, jwks_uri, source, status, secret_expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&$client.client_id)
        .bind(&$client.client_name)
        .bind($crate::to_json_list(&$client.redirect_uris))
        .bind($crate::to_json_list(&$client.grant_types))
        .bind(&$client.token_endpoint_auth_method)
        .bind(&$client.secret_hash)
        .bind(&$client.scope)
        .bind(&$client.jwks)
        .bind(&$client.jwks_uri)
        .bind($client.source.as_str())
        .bind($client.status.as_str())
        .bind($client.secret_expires_at)
        .bind($client.created_at)
    };
}
pub(crate) use insert_client_query;

/// Revokes every grant and refresh token of a removed client, inside the caller's transaction.
macro_rules! revoke_client_grants {
    ($tx:expr, $client_id:expr, $now:expr) => {
        sqlx::query("UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
            .bind($client_id)
            .bind($now)
            .execute($tx)
            .await?;
        sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL")
            .bind($client_id)
            .bind($now)
            .execute($tx)
            .await?;
    };
}
pub(crate) use revoke_client_grants;

impl Store {
    pub async fn insert_client(&self, client: &ClientRecord) -> Result<()> {
        on_backend!(self, |pool| insert_client_query!(client).execute(pool).await.map(|_| ()))
            .map_err(|e| StoreError::conflict_or(e, &format!("client '{}'", client.client_id)))?;
        Ok(())
    }

    /// Replaces every configuration-sourced client with `clients`, in one transaction, so the
    /// database always mirrors the file. A config client may not shadow a CLI-added one. An
    /// administrator's block (or a pending status) survives the replacement: restarting must
    /// not unblock a client.
    pub async fn sync_config_clients(&self, clients: &[ClientRecord]) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let kept: std::collections::HashMap<String, String> =
                sqlx::query_as("SELECT client_id, status FROM clients WHERE source = 'config' AND status <> 'active'")
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
            sqlx::query("DELETE FROM clients WHERE source = 'config'").execute(&mut *tx).await?;
            for client in clients {
                let status = kept.get(&client.client_id).map_or(client.status.as_str(), String::as_str);
                sqlx::query(
                    "INSERT INTO clients (client_id, client_name, redirect_uris, grant_types, token_endpoint_auth_method, secret_hash, scope, jwks, jwks_uri, source, created_at, status)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'config', $10, $11)",
                )
                .bind(&client.client_id)
                .bind(&client.client_name)
                .bind(to_json_list(&client.redirect_uris))
                .bind(to_json_list(&client.grant_types))
                .bind(&client.token_endpoint_auth_method)
                .bind(&client.secret_hash)
                .bind(&client.scope)
                .bind(&client.jwks)
                .bind(&client.jwks_uri)
                .bind(client.created_at)
                .bind(status)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    StoreError::conflict_or(e, &format!("client '{}' (added with the CLI)", client.client_id))
                })?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    pub async fn find_client(&self, client_id: &str) -> Result<Option<ClientRecord>> {
        let row = on_backend!(self, |pool| sqlx::query_as::<_, ClientRow>(select_clients!("WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(pool)
            .await)?;
        row.map(ClientRecord::try_from).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRecord>> {
        let rows = on_backend!(self, |pool| sqlx::query_as::<_, ClientRow>(select_clients!("ORDER BY client_id"))
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(ClientRecord::try_from).collect()
    }

    /// An administrator's decision on a client (approve a pending one, block or unblock any).
    /// Blocking revokes nothing by itself: a blocked client can neither get codes nor use its
    /// tokens at the token endpoint. Returns false when the client is unknown.
    pub async fn set_client_status(&self, client_id: &str, status: ClientStatus) -> Result<bool> {
        let updated = on_backend!(self, |pool| sqlx::query("UPDATE clients SET status = $2 WHERE client_id = $1")
            .bind(client_id)
            .bind(status.as_str())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Removes a CLI-added client and revokes every grant it holds. Returns false when no such
    /// client exists. Config clients are removed by editing the configuration.
    pub async fn delete_cli_client(&self, client_id: &str, now: i64) -> Result<bool> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1 AND source = 'cli'")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            // Only a removed client's grants are revoked: an unknown id or a config client's
            // id must change nothing.
            if deleted == 0 {
                tx.rollback().await?;
                return Ok(false);
            }
            revoke_client_grants!(&mut *tx, client_id, now);
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }
}

use super::{now, open_store, settings};
use anyhow::bail;
use clap::Subcommand;
use postern_core::client::validate_registered_client_id;
use postern_core::{OpaqueToken, ScopeSet, TokenEndpointAuthMethod};
use postern_server::config::validate_redirect_uris;
use postern_store::{ClientRecord, ClientSource};
use std::path::Path;

#[derive(Subcommand)]
pub enum ClientsCommand {
    /// Pre-register a client. A confidential client's secret is printed once.
    Add {
        client_id: String,
        /// A redirect URI (repeat for several): https, or http on 127.0.0.1, [::1] or localhost.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Name shown on the login and consent pages.
        #[arg(long)]
        name: Option<String>,
        /// Issue a client secret (client_secret_basic) instead of a public client.
        #[arg(long)]
        confidential: bool,
        /// Scope ceiling (space-separated); default: every scope of the requested resource.
        #[arg(long)]
        scope: Option<String>,
        /// Do not issue refresh tokens to this client.
        #[arg(long)]
        no_refresh_tokens: bool,
    },
    /// List pre-registered clients.
    List,
    /// Remove a client added with `clients add` and revoke its grants.
    Remove { client_id: String },
}

pub async fn run(config: Option<&Path>, command: ClientsCommand) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    match command {
        ClientsCommand::Add { client_id, redirect_uris, name, confidential, scope, no_refresh_tokens } => {
            validate_registered_client_id(&client_id)?;
            let redirect_uris = validate_redirect_uris(&redirect_uris).map_err(anyhow::Error::msg)?;
            let scope = scope.as_deref().map(ScopeSet::parse).transpose()?;
            if name.as_ref().is_some_and(|n| n.trim().is_empty() || n.len() > 200) {
                bail!("--name must be 1 to 200 characters");
            }
            let secret = confidential.then(|| OpaqueToken::generate("pcs_")).transpose()?;
            let method =
                if confidential { TokenEndpointAuthMethod::ClientSecretBasic } else { TokenEndpointAuthMethod::None };
            let mut grant_types = vec!["authorization_code".to_owned()];
            if !no_refresh_tokens {
                grant_types.push("refresh_token".to_owned());
            }
            let record = ClientRecord {
                client_name: name.unwrap_or_else(|| client_id.clone()),
                client_id: client_id.clone(),
                redirect_uris: redirect_uris.iter().map(|u| u.as_str().to_owned()).collect(),
                grant_types,
                token_endpoint_auth_method: method.as_str().to_owned(),
                secret_hash: secret.as_ref().map(|s| s.hash().as_str().to_owned()),
                scope: scope.map(|s| s.to_string()),
                source: ClientSource::Cli,
                created_at: now(),
            };
            store.insert_client(&record).await?;
            println!("added client {client_id} ({})", method.as_str());
            if let Some(secret) = secret {
                println!("client_secret: {}", secret.expose());
                println!("The secret is stored only as a hash; it is shown only this once.");
            }
        }
        ClientsCommand::List => {
            for client in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    client.client_id,
                    client.token_endpoint_auth_method,
                    match client.source {
                        ClientSource::Config => "config",
                        ClientSource::Cli => "cli",
                    },
                    client.client_name,
                    client.redirect_uris.join(" ")
                );
            }
        }
        ClientsCommand::Remove { client_id } => {
            if store.delete_cli_client(&client_id, now()).await? {
                println!("removed client {client_id}; its grants are revoked");
            } else if store.find_client(&client_id).await?.is_some() {
                bail!("client {client_id} comes from the configuration file; remove it there");
            } else {
                bail!("no client {client_id}");
            }
        }
    }
    store.close().await;
    Ok(())
}

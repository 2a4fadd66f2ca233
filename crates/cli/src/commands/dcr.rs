//! `postern dcr tokens ...`: initial access tokens for `dcr.require_initial_access_token`
//! (RFC 7591 §3). A token is printed once and stored only as a hash.

use super::{now, open_store, settings};
use anyhow::bail;
use clap::Subcommand;
use postern_core::OpaqueToken;
use postern_core::secret::random_id;
use postern_store::InitialAccessToken;
use std::path::Path;

#[derive(Subcommand)]
pub enum DcrCommand {
    /// Initial access tokens that registrations must present.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a token; its value is printed once.
    Create {
        /// What the token is for (shown by `list`).
        #[arg(long)]
        label: String,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expires_in: Option<i64>,
        /// How many registrations it allows (default: unlimited).
        #[arg(long)]
        uses: Option<i64>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by its id.
    Revoke { id: String },
}

pub async fn run(config: Option<&Path>, command: DcrCommand) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    let DcrCommand::Tokens(command) = command;
    match command {
        TokensCommand::Create { label, expires_in, uses } => {
            if label.trim().is_empty() || label.len() > 200 {
                bail!("--label must be 1 to 200 characters");
            }
            if expires_in.is_some_and(|s| s <= 0) || uses.is_some_and(|u| u <= 0) {
                bail!("--expires-in and --uses must be positive");
            }
            let token = OpaqueToken::generate("piat_")?;
            let record = InitialAccessToken {
                id: random_id("iat_")?,
                token_hash: token.hash().as_str().to_owned(),
                label,
                created_at: now(),
                expires_at: expires_in.map(|s| now() + s),
                uses_left: uses,
                revoked_at: None,
            };
            store.create_initial_access_token(&record).await?;
            if !settings.dcr.enabled || !settings.dcr.require_initial_access_token {
                eprintln!(
                    "note: registrations need this token only with dcr.enabled and dcr.require_initial_access_token"
                );
            }
            println!("{}\t{}", record.id, token.expose());
        }
        TokensCommand::List => {
            for token in store.list_initial_access_tokens().await? {
                let state = if token.revoked_at.is_some() { "revoked" } else { "active" };
                let optional = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                println!(
                    "{}\t{}\t{state}\texpires_at={}\tuses_left={}",
                    token.id,
                    token.label,
                    optional(token.expires_at),
                    optional(token.uses_left)
                );
            }
        }
        TokensCommand::Revoke { id } => {
            if !store.revoke_initial_access_token(&id, now()).await? {
                bail!("no active initial access token with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

//! `postern admin-tokens ...`: bearer tokens for the admin API (`/admin/api/v1`). A token is
//! printed once and stored only as a hash; `read` tokens see, only `write` tokens change.

use super::{now, open_store, settings};
use anyhow::bail;
use clap::{Subcommand, ValueEnum};
use postern_core::OpaqueToken;
use postern_core::secret::random_id;
use postern_store::{AdminAccess, AdminTokenRecord};
use std::path::Path;

#[derive(Subcommand)]
pub enum AdminTokensCommand {
    /// Create a token; its value is printed once.
    Create {
        /// What the token is for (shown by `list` and in the audit log).
        #[arg(long)]
        label: String,
        /// `read` (inventory, audit, metrics) or `write` (also approve, block, revoke, edit).
        #[arg(long, value_enum)]
        access: Access,
        /// Seconds until it expires (default: never).
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// List tokens (never their values).
    List,
    /// Revoke a token by its id; it stops working on every node at once.
    Revoke { id: String },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Access {
    Read,
    Write,
}

impl From<Access> for AdminAccess {
    fn from(access: Access) -> Self {
        match access {
            Access::Read => AdminAccess::Read,
            Access::Write => AdminAccess::Write,
        }
    }
}

pub async fn run(config: Option<&Path>, command: AdminTokensCommand) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    match command {
        AdminTokensCommand::Create { label, access, expires_in } => {
            if label.trim().is_empty() || label.len() > 200 || label.chars().any(char::is_control) {
                bail!("--label must be 1 to 200 printable characters");
            }
            if expires_in.is_some_and(|s| s <= 0) {
                bail!("--expires-in must be positive");
            }
            let token = OpaqueToken::generate("padm_")?;
            let record = AdminTokenRecord {
                id: random_id("adm_")?,
                label,
                access: access.into(),
                created_at: now(),
                expires_at: expires_in.map(|s| now() + s),
                last_used_at: None,
                revoked_at: None,
            };
            store.create_admin_token(&record, token.hash().as_str()).await?;
            println!("{}\t{}", record.id, token.expose());
        }
        AdminTokensCommand::List => {
            for token in store.list_admin_tokens().await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else if token.is_live(now()) {
                    "active"
                } else {
                    "expired"
                };
                let optional = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
                println!(
                    "{}\t{}\t{}\t{state}\texpires_at={}\tlast_used_at={}",
                    token.id,
                    token.label,
                    token.access.as_str(),
                    optional(token.expires_at),
                    optional(token.last_used_at)
                );
            }
        }
        AdminTokensCommand::Revoke { id } => {
            if !store.revoke_admin_token(&id, now()).await? {
                bail!("no active admin token with id {id}");
            }
            println!("revoked {id}");
        }
    }
    Ok(())
}

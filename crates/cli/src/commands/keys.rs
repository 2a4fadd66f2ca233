use super::{now, open_store, settings};
use clap::Subcommand;
use postern_server::keys::{KEY_RELOAD_MARGIN_SECS, generate_es256, still_published};
use std::path::Path;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List signing keys and whether they are still published.
    List,
    /// Create a new current signing key. The previous key stays published in the JWKS until
    /// every token it signed has expired; running servers switch within a minute.
    Rotate,
}

pub async fn run(config: Option<&Path>, command: KeysCommand) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    match command {
        KeysCommand::List => {
            let now = now();
            for key in store.list_signing_keys().await? {
                let ttl = settings.access_token_ttl;
                let status = match key.retired_at {
                    None => "current".to_owned(),
                    Some(at) if still_published(Some(at), now, ttl) => {
                        format!("retired, published for {} more seconds", at + ttl + KEY_RELOAD_MARGIN_SECS - now)
                    }
                    Some(_) => "retired".to_owned(),
                };
                let encrypted = if key.private_key.starts_with("aes256gcm:") { "encrypted" } else { "unencrypted" };
                println!("{}\t{}\tcreated {}\t{status}\t{encrypted}", key.kid, key.alg, key.created_at);
            }
        }
        KeysCommand::Rotate => {
            let key = generate_es256(settings.key_encryption_key.as_ref(), now())?;
            store.add_current_signing_key(&key).await?;
            println!("new current signing key {} ({})", key.kid, key.alg);
        }
    }
    store.close().await;
    Ok(())
}

pub mod admin_tokens;
pub mod clients;
pub mod config;
pub mod dcr;
pub mod keys;
pub mod serve;
pub mod users;

use anyhow::Context;
use postern_core::{Clock, SystemClock};
use postern_server::{Config, Settings};
use postern_store::Store;
use std::path::Path;

/// Logs go to stderr; `POSTERN_LOG` sets the filter (default `info`) and
/// `POSTERN_LOG_FORMAT=json` switches to JSON lines.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("POSTERN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only for a person at a terminal; log collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    if std::env::var("POSTERN_LOG_FORMAT").is_ok_and(|v| v == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub fn settings(config: Option<&Path>) -> anyhow::Result<Settings> {
    let config = Config::load(config)?;
    Ok(config.validate()?)
}

/// Opens the configured database and brings the schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(&settings.database)
        .await
        .with_context(|| format!("cannot open database {}", redact_database_url(&settings.database)))?;
    store.migrate().await.context("database migration failed")?;
    Ok(store)
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    println!("database {} is up to date", redact_database_url(&settings.database));
    store.close().await;
    Ok(())
}

pub fn now() -> i64 {
    SystemClock.now()
}

/// Hides a password in a database URL before it is printed or logged.
pub fn redact_database_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_redacted() {
        assert_eq!(redact_database_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_database_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_database_url("sqlite://postern-data/p.db"), "sqlite://postern-data/p.db");
    }
}

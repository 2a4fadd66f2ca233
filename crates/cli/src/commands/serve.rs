use super::{open_store, redact_database_url, settings};
use anyhow::Context;
use postern_core::SystemClock;
use postern_server::{Application, bootstrap};
use std::path::Path;
use std::sync::Arc;

pub async fn run(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = settings(config)?;
    if settings.key_encryption_key.is_none() {
        tracing::warn!("no key_encryption_key configured: signing keys are stored unencrypted in the database");
    }
    if !settings.issuer.is_https() {
        tracing::warn!(issuer = %settings.issuer, "issuer is plain http (loopback only); use https in production");
    }
    let store = open_store(&settings).await?;
    let report = bootstrap::prepare(&store, &settings, super::now()).await.context("first-start preparation failed")?;
    if let Some(password) = report.admin_password {
        eprintln!("\n  Created user 'admin' with password: {password}\n  It is shown only this once.\n");
    }
    let app = Application::build(settings.clone(), store, Arc::new(SystemClock)).await?;
    tracing::info!(
        issuer = %settings.issuer,
        listen = %app.local_addr()?,
        database = %redact_database_url(&settings.database),
        "postern is ready"
    );
    app.run(shutdown_signal()).await?;
    tracing::info!("postern stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

use super::{open_store, redact_database_url};
use anyhow::Context;
use postern_core::SystemClock;
use postern_server::config::ResourceConfig;
use postern_server::{Application, Config, bootstrap};
use std::path::Path;
use std::sync::Arc;

pub async fn run(config: Option<&Path>, demo: bool) -> anyhow::Result<()> {
    let mut config = Config::load(config)?;
    if demo {
        include_demo(&mut config);
    }
    let settings = config.validate()?;
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
    let mut app = Application::build(settings.clone(), store, Arc::new(SystemClock)).await?;
    if demo {
        let resource = demo_resource(&settings.issuer);
        let routes = postern_demo::router(&resource, settings.issuer.as_str(), settings.issuer.authority())
            .context("demo MCP server")?;
        app = app.merge(routes);
        eprintln!(
            "\n  Demo MCP server: {resource}\n  Connect an MCP client to it (README: \"Try it with an MCP client\").\n"
        );
    }
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

/// The demo MCP server's canonical URI: under the issuer, so it shares its origin and listener.
fn demo_resource(issuer: &postern_core::Issuer) -> String {
    issuer.endpoint(postern_demo::DEMO_PATH)
}

/// `--demo` makes the demo a configured resource (tokens can only be issued for configured
/// resources) and opens Dynamic Client Registration, so every kind of MCP client can connect.
/// Both are logged: a demo is not a production configuration.
fn include_demo(config: &mut Config) {
    let Ok(issuer) = postern_core::Issuer::parse(&config.issuer) else {
        return; // validate() reports the issuer with a precise message
    };
    let uri = demo_resource(&issuer);
    if !config.resources.iter().any(|r| r.uri == uri) {
        config.resources.push(ResourceConfig {
            uri: uri.clone(),
            name: "Postern demo MCP server".to_owned(),
            scopes: vec![postern_demo::READ_SCOPE.to_owned(), postern_demo::WRITE_SCOPE.to_owned()],
            default_scopes: Some(vec![postern_demo::READ_SCOPE.to_owned()]),
        });
    }
    if !config.dcr.enabled {
        tracing::warn!("--demo: dynamic client registration is enabled");
        config.dcr.enabled = true;
    }
    tracing::info!(resource = %uri, "--demo: serving the demo MCP server");
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

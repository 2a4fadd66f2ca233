//! The `postern` binary: a thin shell over `postern-server` (STYLE.md: thin main).

mod commands;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "postern", version, about = "OAuth 2.1 authorization server for MCP")]
struct Cli {
    /// TOML configuration file (defaults apply without one; POSTERN_* variables override).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the authorization server (creates the database, keys and admin user on first start).
    Serve {
        /// Also serve a demo MCP server at ISSUER/demo/mcp, protected by postern-guard, and accept
        /// dynamically registered clients: a complete setup to try with any MCP client.
        #[arg(long)]
        demo: bool,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage local users.
    #[command(subcommand)]
    Users(commands::users::UsersCommand),
    /// Manage pre-registered clients; list, approve or deny CIMD clients (client_id URLs).
    #[command(subcommand)]
    Clients(commands::clients::ClientsCommand),
    /// Dynamic Client Registration: initial access tokens.
    #[command(subcommand)]
    Dcr(commands::dcr::DcrCommand),
    /// Bearer tokens for the admin API (/admin/api/v1).
    #[command(subcommand)]
    AdminTokens(commands::admin_tokens::AdminTokensCommand),
    /// Manage token-signing keys.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Check or print configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = cli.config.as_deref();
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { demo } => commands::serve::run(config, demo).await,
            Command::Migrate => commands::migrate(config).await,
            Command::Users(command) => commands::users::run(config, command).await,
            Command::Clients(command) => commands::clients::run(config, command).await,
            Command::Keys(command) => commands::keys::run(config, command).await,
            Command::Dcr(command) => commands::dcr::run(config, command).await,
            Command::AdminTokens(command) => commands::admin_tokens::run(config, command).await,
            Command::Config(command) => commands::config::run(config, command),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

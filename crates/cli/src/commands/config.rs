use clap::Subcommand;
use postern_server::Config;
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Validate a configuration file (with POSTERN_* overrides applied).
    Check { file: PathBuf },
    /// Print the built-in defaults as TOML.
    PrintDefault,
}

pub fn run(_global: Option<&Path>, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { file } => {
            let settings = Config::load(Some(&file))?.validate()?;
            println!(
                "{}: ok (issuer {}, {} resource(s), {} client(s))",
                file.display(),
                settings.issuer,
                settings.resources.len(),
                settings.clients.len()
            );
        }
        ConfigCommand::PrintDefault => print!("{}", Config::default().to_toml()),
    }
    Ok(())
}

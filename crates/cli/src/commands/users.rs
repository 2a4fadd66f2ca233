use super::{now, open_store, settings};
use anyhow::Context;
use clap::Subcommand;
use postern_core::secret::random_id;
use postern_server::passwords::hash_password;
use postern_store::UserRecord;
use std::io::BufRead;
use std::path::Path;

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a local user; the password is read from standard input.
    Add {
        name: String,
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input (required: passwords never
        /// go on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List local users.
    List,
}

pub async fn run(config: Option<&Path>, command: UsersCommand) -> anyhow::Result<()> {
    let settings = settings(config)?;
    let store = open_store(&settings).await?;
    match command {
        UsersCommand::Add { name, admin, password_stdin: _ } => {
            postern_core::Username::parse(&name)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).context("cannot read the password from stdin")?;
            let password = password.trim_end_matches(['\n', '\r']);
            let user = UserRecord {
                id: random_id("u_")?,
                username: name.clone(),
                password_hash: hash_password(password)?,
                is_admin: admin,
                created_at: now(),
                disabled_at: None,
            };
            store.create_user(&user).await?;
            println!("added user {name}{}", if admin { " (admin)" } else { "" });
        }
        UsersCommand::List => {
            for user in store.list_users().await? {
                println!("{}\t{}\t{}", user.username, user.id, if user.is_admin { "admin" } else { "user" });
            }
        }
    }
    store.close().await;
    Ok(())
}

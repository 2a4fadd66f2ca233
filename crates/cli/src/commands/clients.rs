use super::{now, open_store, settings};
use anyhow::{Context, bail};
use clap::Subcommand;
use postern_core::client::validate_registered_client_id;
use postern_core::domain_policy::DomainDecision;
use postern_core::timestamp::rfc3339;
use postern_core::{ClientIdUrl, OpaqueToken, ScopeSet, TokenEndpointAuthMethod};
use postern_server::config::{CimdSettings, validate_redirect_uris};
use postern_store::{
    AuditEvent, CimdClientRecord, CimdDecision, CimdStatus, ClientRecord, ClientSource, ClientStatus, Store,
};
use std::path::Path;

/// What `approve`/`deny` promise about running servers: /authorize reads a CIMD client's
/// inventory entry through a per-node cache of 5 seconds (`INVENTORY_TTL_SECS` in
/// postern-server's `cimd` module).
const APPLY_DELAY_NOTE: &str = "running servers apply this within 5 seconds";

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
    /// List pre-registered clients, or with --cimd the Client ID Metadata Document inventory.
    ///
    /// Without --cimd: one line per pre-registered client, tab-separated: client_id, token
    /// endpoint auth method, source (config or cli), name, redirect URIs.
    ///
    /// With --cimd: one line per CIMD client this server has seen or an operator has decided,
    /// tab-separated: client_id, status (allowed, pending, approved, denied), client_name ("-"
    /// before a valid document was fetched), first seen, last seen (UTC, RFC 3339).
    List {
        // The two inventories stay separate commands rather than one mixed listing: their
        // columns differ, and scripts that read the tab-separated pre-registered listing keep
        // working. When CIMD clients await a decision, plain `list` says so on stderr, so an
        // operator who only knows `clients list` still finds them.
        /// List CIMD clients (https client_ids) and their approval status instead.
        #[arg(long)]
        cimd: bool,
    },
    /// Remove a client added with `clients add` and revoke its grants.
    Remove { client_id: String },
    /// Approve a CIMD client (or a self-registered client waiting for approval).
    ///
    /// A CIMD client may then be used even though its domain is not in `cimd.allow_domains`. A
    /// client that registered itself with `dcr.approval = "required"` is named by its client_id
    /// (`dcr_...`) and becomes usable.
    ///
    /// CLIENT_ID is the client's metadata document URL, exactly as the client sends it (see
    /// `clients list --cimd`). A client waiting as "pending" (`cimd.unknown_domains = "approval"`)
    /// can sign users in from then on. A client the server has not seen yet is pre-approved.
    /// Domain policy comes first: an approval does not override `cimd.deny_domains` or
    /// `cimd.unknown_domains = "deny"` (the command says so when the configuration does that).
    /// Running servers apply it within 5 seconds.
    Approve {
        /// The client's metadata document URL (e.g. https://app.example.com/oauth/client.json),
        /// or a registered client_id
        #[arg(value_name = "CLIENT_ID")]
        client_id: String,
    },
    /// Deny (block) a CIMD client, or any registered client by its client_id.
    ///
    /// New authorization requests naming it are refused; a blocked registered client also can
    /// no longer use the token endpoint.
    ///
    /// CLIENT_ID is the client's metadata document URL, exactly as the client sends it (see
    /// `clients list --cimd`). Works for pending, allowed and previously approved clients alike;
    /// a client the server has not seen yet is pre-denied. Running servers apply it within 5
    /// seconds.
    Deny {
        /// The client's metadata document URL (e.g. https://app.example.com/oauth/client.json),
        /// or a registered client_id
        #[arg(value_name = "CLIENT_ID")]
        client_id: String,
    },
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
                jwks: None,
                jwks_uri: None,
                source: ClientSource::Cli,
                status: ClientStatus::Active,
                secret_expires_at: None,
                created_at: now(),
            };
            store.insert_client(&record).await?;
            println!("added client {client_id} ({})", method.as_str());
            if let Some(secret) = secret {
                println!("client_secret: {}", secret.expose());
                println!("The secret is stored only as a hash; it is shown only this once.");
            }
        }
        ClientsCommand::List { cimd: false } => {
            for client in store.list_clients().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    client.client_id,
                    client.token_endpoint_auth_method,
                    client.source.as_str(),
                    client.client_name,
                    client.redirect_uris.join(" ")
                );
            }
            let pending = store.list_cimd_clients().await?.iter().filter(|c| c.status == CimdStatus::Pending).count();
            if pending > 0 {
                eprintln!(
                    "{pending} CIMD client(s) await approval: see `postern clients list --cimd`, then `postern clients approve|deny CLIENT_ID`"
                );
            }
        }
        ClientsCommand::List { cimd: true } => {
            for client in store.list_cimd_clients().await? {
                println!("{}", cimd_line(&client));
            }
        }
        ClientsCommand::Remove { client_id } => {
            if store.delete_cli_client(&client_id, now()).await? {
                println!("removed client {client_id}; its grants are revoked");
            } else if store.find_client(&client_id).await?.is_some() {
                bail!("client {client_id} comes from the configuration file; remove it there");
            } else if store.find_cimd_client(&client_id).await?.is_some() {
                bail!("{client_id} is a CIMD client; use `postern clients deny` to refuse it");
            } else {
                bail!("no client {client_id}");
            }
        }
        ClientsCommand::Approve { client_id } if !ClientIdUrl::is_url_shaped(&client_id) => {
            println!("{}", decide_registered(&store, &client_id, ClientStatus::Active).await?);
        }
        ClientsCommand::Deny { client_id } if !ClientIdUrl::is_url_shaped(&client_id) => {
            println!("{}", decide_registered(&store, &client_id, ClientStatus::Denied).await?);
        }
        ClientsCommand::Approve { client_id } => {
            let url = parse_cimd_client_id(&client_id)?;
            println!("{}", decide(&store, &url, CimdStatus::Approved, now()).await?);
            if let Some(note) = approval_without_effect(&settings.cimd, url.host()) {
                eprintln!("note: {note}");
            }
        }
        ClientsCommand::Deny { client_id } => {
            let url = parse_cimd_client_id(&client_id)?;
            println!("{}", decide(&store, &url, CimdStatus::Denied, now()).await?);
        }
    }
    store.close().await;
    Ok(())
}

/// Approves (activates) or blocks a registered client, such as one that registered itself and
/// waits for approval (`dcr.approval = "required"`). Audited like CIMD decisions.
async fn decide_registered(store: &Store, client_id: &str, status: ClientStatus) -> anyhow::Result<String> {
    let Some(previous) = store.find_client(client_id).await? else {
        bail!(
            "no client {client_id}: it is not a registered client_id, and not a CIMD client_id (an https URL of a \
             client metadata document); pre-registered clients are added with `postern clients add`"
        );
    };
    let (kind, verb) = match status {
        ClientStatus::Denied => ("client_denied", "denied"),
        _ => ("client_approved", "approved"),
    };
    let event = AuditEvent {
        client_id: Some(client_id.to_owned()),
        detail: serde_json::json!({ "by": "cli", "previous": previous.status.as_str() }),
        ..AuditEvent::new(kind)
    };
    // The same transaction as the admin API: denying revokes what the client holds.
    let revoke = status == ClientStatus::Denied;
    if store.decide_registered_client(client_id, previous.status, status, revoke, event, now()).await?.is_none() {
        bail!("client {client_id} changed status while being decided; try again");
    }
    Ok(format!("{verb} {client_id} (was {}); running servers apply this within 5 seconds", previous.status.as_str()))
}

/// Why an approval would change nothing under this configuration: the server applies domain
/// policy before it reads the inventory, and only a host that needs approval looks at it.
fn approval_without_effect(cimd: &CimdSettings, host: &str) -> Option<String> {
    if !cimd.enabled {
        return Some("CIMD is disabled in this configuration (cimd.enabled = false); the approval is kept for when it is enabled".to_owned());
    }
    (cimd.domains.decide(host) == DomainDecision::Deny).then(|| {
        format!(
            "this configuration refuses {host} (cimd.deny_domains or cimd.unknown_domains = \"deny\"), \
             which an approval does not override; the approval is kept for when the policy changes"
        )
    })
}

/// A query is accepted (R061 allows one): the operator may name any client a server accepted,
/// whatever that server's `allow_query` setting.
fn parse_cimd_client_id(raw: &str) -> anyhow::Result<ClientIdUrl> {
    ClientIdUrl::parse(raw, true).with_context(|| {
        if ClientIdUrl::is_url_shaped(raw) {
            format!("'{raw}' is not a valid CIMD client_id")
        } else {
            format!(
                "'{raw}' is not a CIMD client_id (an https URL of a client metadata document); \
                 pre-registered clients are managed with `postern clients add` and `remove`"
            )
        }
    })
}

/// Records an operator's decision and its audit event; returns the line to print.
async fn decide(store: &Store, url: &ClientIdUrl, status: CimdStatus, now: i64) -> anyhow::Result<String> {
    let client_id = url.as_str();
    let previous = store.find_cimd_client(client_id).await?.map(|c| c.status);
    let (kind, verb) = match status {
        CimdStatus::Denied => ("cimd_client_denied", "denied"),
        _ => ("cimd_client_approved", "approved"),
    };
    let event = AuditEvent {
        client_id: Some(client_id.to_owned()),
        detail: serde_json::json!({ "by": "cli", "previous": previous.map(CimdStatus::as_str) }),
        ..AuditEvent::new(kind)
    };
    // A client not seen yet is pre-decided: the server keeps this status when it shows up.
    // Denying revokes what the client holds, in the same transaction, as the admin API does.
    let decision = CimdDecision {
        client_id,
        host: url.host(),
        from: previous,
        to: status,
        by: "cli",
        revoke: status == CimdStatus::Denied,
    };
    if store.decide_metadata_client(decision, event, now).await?.is_none() {
        bail!("CIMD client {client_id} changed status while being decided; try again");
    }
    Ok(match previous {
        Some(previous) => format!("{verb} {client_id} (was {}); {APPLY_DELAY_NOTE}", previous.as_str()),
        None => format!("pre-{verb} {client_id} (not seen by this server yet); {APPLY_DELAY_NOTE}"),
    })
}

fn cimd_line(client: &CimdClientRecord) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}",
        client.client_id,
        client.status.as_str(),
        client.client_name.as_deref().map_or_else(|| "-".to_owned(), printable),
        rfc3339(client.first_seen),
        rfc3339(client.last_seen)
    )
}

/// The name comes from a document on the internet: the server refuses control characters, and
/// this keeps a terminal safe from any that reach the database another way (also tabs, which
/// would shift columns).
fn printable(name: &str) -> String {
    name.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_control_characters() {
        assert_eq!(printable("Agent\t\u{1b}[31m"), "Agent\u{fffd}\u{fffd}[31m");
    }

    #[test]
    fn registered_ids_get_a_hint_and_bad_urls_name_the_rule() {
        let error = format!("{:#}", parse_cimd_client_id("svc").unwrap_err());
        assert!(error.contains("clients add"), "{error}");
        let error = format!("{:#}", parse_cimd_client_id("https://app.example.com/").unwrap_err());
        assert!(error.contains("must have a path"), "{error}");
        assert!(parse_cimd_client_id("https://app.example.com/c.json?v=1").is_ok());
    }
}

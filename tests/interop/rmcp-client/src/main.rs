//! rmcp (the Rust MCP SDK) as the client of the interop scenarios: tests/interop/README.md is
//! the contract (environment variables, scenarios, output). Run by tests/interop/run.py.

mod browser;
mod checks;
mod session;

use anyhow::{Context, anyhow, bail};
use checks::Checks;
use rmcp::transport::auth::{CredentialStore, InMemoryCredentialStore, StoredCredentials};
use serde_json::{Value, json};
use session::{Challenge, Env, Identity, Session};
use std::process::ExitCode;

fn var(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("environment variable {name} is not set"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut checks = Checks::default();
    if let Err(error) = run(&mut checks).await {
        checks.abort(&error);
    }
    checks.exit_code()
}

async fn run(checks: &mut Checks) -> anyhow::Result<()> {
    let env = Env { issuer: var("POSTERN_ISSUER")?, mcp_url: var("MCP_URL")?, driver: var("LOGIN_DRIVER")? };
    let preregistered = Identity::Preregistered(var("PREREGISTERED_CLIENT_ID")?);
    match var("SCENARIO")?.as_str() {
        "preregistered" => sign_in_and_use(checks, &env, &preregistered).await.map(drop),
        "cimd" => sign_in_and_use(checks, &env, &Identity::MetadataDocument(var("CIMD_CLIENT_ID")?)).await.map(drop),
        "dcr" => sign_in_and_use(checks, &env, &Identity::Dynamic).await.map(drop),
        "step-up" => step_up(checks, &env, &preregistered).await,
        "refresh" => refresh(checks, &env, &preregistered).await,
        "rejected" => {
            rejected(checks, &env, &preregistered, "an expired token", &var("EXPIRED_TOKEN")?).await?;
            rejected(checks, &env, &preregistered, "a token for another resource", &var("WRONG_AUDIENCE_TOKEN")?).await
        }
        other => bail!("unknown scenario {other}"),
    }
}

/// The first visit of a new client: 401 challenge, authorization, tools, `whoami`.
async fn sign_in_and_use(checks: &mut Checks, env: &Env, identity: &Identity) -> anyhow::Result<Session> {
    let challenge = session::first_contact(env).await?;
    checks.check(
        challenge.contains("resource_metadata=")
            && challenge.contains("scope=\"mcp:read\"")
            && !challenge.contains("error="),
        format!("first contact: 401 names the metadata and scope mcp:read, no error (R021-R023): {challenge}"),
    );
    let credentials = InMemoryCredentialStore::new();
    let manager = session::authorize(env, identity, &challenge, &credentials).await?;
    checks.check(true, "authorized through the login and consent forms; iss matched");
    let session = session::connect(env, manager, credentials).await?;
    let tools = session.connection.peer().list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    checks.check(names.contains(&"whoami") && names.contains(&"write_note"), format!("tools/list: {names:?}"));
    expect_whoami(checks, &session, identity).await?;
    Ok(session)
}

/// `whoami` must answer with the token's user and the client id this client used.
async fn expect_whoami(checks: &mut Checks, session: &Session, identity: &Identity) -> anyhow::Result<Value> {
    let who = session::call_json(&session.connection, "whoami", json!({})).await?;
    let held = session::held_tokens(&session.credentials).await?;
    let access_token = held["access_token"].as_str().ok_or_else(|| anyhow!("no access token held"))?;
    let claims = session::claims(access_token)?;
    checks.check(
        who["sub"] == claims["sub"] && who["sub"].is_string(),
        format!("whoami.sub is the token's sub: {}", who["sub"]),
    );
    let client_ok = match identity {
        Identity::Preregistered(id) | Identity::MetadataDocument(id) => who["client_id"] == id.as_str(),
        // RFC 7591 clients get an id Postern made, never one that looks like a URL (R057).
        Identity::Dynamic => who["client_id"].as_str().is_some_and(|id| id.starts_with("dcr_")),
    };
    checks.check(client_ok, format!("whoami.client_id: {}", who["client_id"]));
    Ok(who)
}

/// `write_note` needs `mcp:write`: 403 insufficient_scope, re-authorization for the union of
/// scopes, then the call succeeds.
async fn step_up(checks: &mut Checks, env: &Env, identity: &Identity) -> anyhow::Result<()> {
    let session = sign_in_and_use(checks, env, identity).await?;
    let error = match session::call_json(&session.connection, "write_note", json!({"text": "from rmcp"})).await {
        Ok(answer) => bail!("write_note with an mcp:read token succeeded: {answer}"),
        Err(error) => error,
    };
    let Some(Challenge::InsufficientScope { header, required_scope }) = session::challenge_in(&error) else {
        bail!("write_note failed without an insufficient_scope challenge: {error}");
    };
    checks.check(
        header.contains("error=\"insufficient_scope\"") && header.contains("resource_metadata="),
        format!("403 challenge: {header}"),
    );
    let required = required_scope.unwrap_or_default();
    checks.check(
        required.split(' ').any(|s| s == "mcp:write") && required.split(' ').any(|s| s == "mcp:read"),
        format!("the challenge names every scope the call needs (R025): {required}"),
    );
    {
        let manager = session.client.auth_manager.lock().await;
        let url = manager.request_scope_upgrade(&required).await?;
        let callback = browser::open(&env.driver, &url)?;
        let code = browser::query_param(&callback, "code").ok_or_else(|| anyhow!("no code in {callback}"))?;
        let state = browser::query_param(&callback, "state").unwrap_or_default();
        let iss = browser::query_param(&callback, "iss");
        manager.exchange_code_for_token_with_issuer(&code, &state, iss.as_deref()).await.context("step-up exchange")?;
    }
    let scope = session::held_tokens(&session.credentials).await?["scope"].as_str().unwrap_or_default().to_owned();
    checks.check(scope.contains("mcp:write") && scope.contains("mcp:read"), format!("new token's scope: {scope}"));
    // The 403 ended rmcp's connection (it does not resume after an auth error): reconnect with
    // the same authorized client, as an application would.
    let session = session::reconnect(env, session).await?;
    let saved = session::call_json(&session.connection, "write_note", json!({"text": "from rmcp"})).await?;
    checks.check(saved["saved"] == true, format!("write_note after step-up: {saved}"));
    Ok(())
}

/// An access token the server rejects is replaced by a refresh grant, with no new login.
async fn refresh(checks: &mut Checks, env: &Env, identity: &Identity) -> anyhow::Result<()> {
    let session = sign_in_and_use(checks, env, identity).await?;
    let before = session::held_tokens(&session.credentials).await?;
    let Some(old_refresh) = before["refresh_token"].as_str().map(str::to_owned) else {
        bail!("no refresh token was issued");
    };
    replace_access_token(&session.credentials, "garbage.not.a-token").await?;
    let logins = browser::times_opened();
    expect_whoami(checks, &session, identity).await?;
    let after = session::held_tokens(&session.credentials).await?;
    checks.check(after["access_token"] != "garbage.not.a-token", "a new access token replaced the rejected one");
    checks.check(
        after["refresh_token"].as_str().is_some_and(|new| new != old_refresh),
        "the refresh token rotated (R150)",
    );
    checks.check(browser::times_opened() == logins, "no new login was needed");
    Ok(())
}

/// A held token the server must refuse: 401 invalid_token with the metadata URL, then the
/// client authorizes again and succeeds.
async fn rejected(checks: &mut Checks, env: &Env, identity: &Identity, what: &str, token: &str) -> anyhow::Result<()> {
    let manager = session::connect_holding(env, identity, token).await?;
    let credentials = InMemoryCredentialStore::new();
    let challenge = match session::connect(env, manager, credentials.clone()).await {
        Ok(_) => bail!("the MCP server accepted {what}"),
        Err(error) => {
            session::challenge_in(error.as_ref()).ok_or_else(|| anyhow!("no challenge for {what}: {error:#}"))?
        }
    };
    let header = challenge.header();
    checks.check(
        matches!(challenge, Challenge::Unauthorized(_))
            && header.contains("error=\"invalid_token\"")
            && header.contains("resource_metadata="),
        format!("{what}: 401 invalid_token with resource_metadata (R020, R023): {header}"),
    );
    let manager = session::authorize(env, identity, header, &credentials).await?;
    let session = session::connect(env, manager, credentials).await?;
    expect_whoami(checks, &session, identity).await?;
    Ok(())
}

async fn replace_access_token(credentials: &InMemoryCredentialStore, access_token: &str) -> anyhow::Result<()> {
    let stored = credentials.load().await?.ok_or_else(|| anyhow!("no stored credentials"))?;
    let mut json = serde_json::to_value(&stored)?;
    json["token_response"]["access_token"] = Value::from(access_token);
    let replaced: StoredCredentials = serde_json::from_value(json)?;
    credentials.save(replaced).await?;
    Ok(())
}

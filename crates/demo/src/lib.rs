//! The demo MCP server of `postern serve --demo`: what a real MCP server protected by
//! postern-guard looks like, small enough to read in one sitting.
//!
//! Two tools, so that a client meets both an ordinary call and step-up authorization:
//! `whoami` (scope `mcp:read`) answers with the verified identity the guard handed over, and
//! `write_note` (scope `mcp:write`) keeps a short note per user. The guard's scope policy is the
//! one place those scopes are enforced; a `tools/call` of `write_note` with an `mcp:read` token
//! gets `403 insufficient_scope` before it reaches this code.

mod notes;
mod server;

pub use notes::{MAX_NOTE_CHARS, MAX_NOTES_PER_USER, MAX_USERS, NoteRefused, Notes};
pub use server::DemoMcp;

use axum::Router;
use postern_guard::{Guard, GuardConfig, GuardError, ScopePolicy};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Where the demo MCP server is mounted, under the issuer (`https://auth.example.com/t1` serves
/// it at `https://auth.example.com/t1/demo/mcp`).
pub const DEMO_PATH: &str = "/demo/mcp";
/// Needed for every request, including `tools/list` and `whoami`.
pub const READ_SCOPE: &str = "mcp:read";
/// Needed on top of [`READ_SCOPE`] to call `write_note`.
pub const WRITE_SCOPE: &str = "mcp:write";

/// The guard configuration of the demo: `resource` is its canonical URI, tokens come from
/// `issuer`, and `write_note` needs `mcp:write` on top of `mcp:read`.
pub fn guard_config(resource: &str, issuer: &str) -> GuardConfig {
    let policy = ScopePolicy::new().require([READ_SCOPE]).tool("write_note", [WRITE_SCOPE]);
    GuardConfig::new(resource, issuer)
        .with_resource_name("Postern demo MCP server")
        // R008: the baseline a client asks for first; write access is requested by step-up.
        .with_scopes_supported([READ_SCOPE])
        .with_policy(policy)
}

/// The demo's routes: the MCP endpoint at [`DEMO_PATH`] behind the guard, and its Protected
/// Resource Metadata (path-inserted and root well-known URLs), which need no token.
///
/// `allowed_host` is the `host[:port]` clients use to reach it (rmcp refuses other `Host`
/// headers, a defence against DNS rebinding).
pub fn router(resource: &str, issuer: &str, allowed_host: &str) -> Result<Router, GuardError> {
    let guard = Guard::new(guard_config(resource, issuer))?;
    Ok(routes(&guard, Notes::default(), allowed_host))
}

/// The path of an absolute URI (`/` when it has none).
fn path_of(uri: &str) -> &str {
    let after_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
}

/// [`router`] with a guard and note store built by the caller (tests, or a server that wants
/// to verify tokens elsewhere with the same key cache). The MCP endpoint is served at the path
/// of the guard's resource.
pub fn routes(guard: &Guard, notes: Notes, allowed_host: &str) -> Router {
    // Stateless: nothing about a caller outlives its request, so a session id can never stand
    // in for a token (R032), and any node can answer any request.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts([allowed_host.to_owned()]);
    let mcp = StreamableHttpService::new(
        move || Ok(DemoMcp::new(notes.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new().route_service(path_of(guard.resource()), mcp).layer(guard.layer()).merge(guard.metadata_router())
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_endpoint_is_mounted_at_the_resource_path() {
        assert_eq!(path_of("http://127.0.0.1:8414/demo/mcp"), "/demo/mcp");
        assert_eq!(path_of("https://auth.example.com/t1/demo/mcp"), "/t1/demo/mcp");
        assert_eq!(path_of("https://mcp.example.com"), "/");
    }
}

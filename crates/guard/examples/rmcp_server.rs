//! An MCP server (rmcp, streamable HTTP) protected by postern-guard, in one file.
//!
//! ```sh
//! cargo run --release -- serve --demo            # Postern on http://127.0.0.1:8414
//! cargo run -p postern-guard --example rmcp_server
//! ```
//! then point an MCP client at `http://127.0.0.1:3001/mcp`. Postern issues tokens only for
//! configured resources, so give it this one too (`postern serve --demo --config postern.toml`):
//!
//! ```toml
//! [[resources]]
//! uri = "http://127.0.0.1:3001/mcp"
//! name = "Example MCP server"
//! scopes = ["notes:read"]
//! ```
//!
//! The guard answers everything that is not a valid, audience-bound token with enough scope
//! (401/403 challenges), serves the Protected Resource Metadata, and hands each request's
//! verified identity to the tools as an [`AccessIdentity`] in the HTTP request's extensions.

use postern_guard::{AccessIdentity, Guard, GuardConfig, ScopePolicy};
use rmcp::handler::server::tool::Extension;
use rmcp::model::{CallToolResult, ContentBlock, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, tool, tool_handler, tool_router};
use std::sync::Arc;

const RESOURCE: &str = "http://127.0.0.1:3001/mcp";
const ISSUER: &str = "http://127.0.0.1:8414";

#[derive(Clone)]
struct Hello;

#[tool_router]
impl Hello {
    #[tool(description = "Greets the user the access token was issued to.")]
    async fn hello(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        // Put there by the guard layer; bind any per-user state to `sub`, never to the MCP
        // session id (SPEC R032).
        let who = parts
            .extensions
            .get::<AccessIdentity>()
            .ok_or_else(|| ErrorData::internal_error("postern-guard does not wrap this server", None))?;
        let text = format!("Hello {}, calling through {} with {:?}", who.sub, who.client_id, who.scopes);
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
    }
}

#[tool_handler]
impl ServerHandler for Hello {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let guard = Guard::new(
        GuardConfig::new(RESOURCE, ISSUER)
            .with_scopes_supported(["notes:read"])
            .with_policy(ScopePolicy::new().require(["notes:read"])),
    )?;
    let mcp = StreamableHttpService::new(
        || Ok(Hello),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts(["127.0.0.1:3001"]),
    );
    let app = axum::Router::new().route_service("/mcp", mcp).layer(guard.layer()).merge(guard.metadata_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    println!("MCP server on {RESOURCE}, tokens from {ISSUER}");
    axum::serve(listener, app).await?;
    Ok(())
}

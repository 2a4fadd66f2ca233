//! The MCP server: tools that read the caller's identity the guard verified.

use crate::notes::Notes;
use crate::{READ_SCOPE, WRITE_SCOPE};
use postern_guard::AccessIdentity;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::json;

/// One instance per request (the demo is stateless); the notes are shared.
#[derive(Clone)]
pub struct DemoMcp {
    notes: Notes,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct WriteNote {
    /// The note, at most 1000 characters.
    text: String,
}

/// The identity postern-guard put into the HTTP request's extensions. rmcp hands the request's
/// `http::request::Parts` to tools; a call without an identity means the guard does not wrap
/// this server, which must fail loudly rather than run anonymously.
fn caller(parts: &axum::http::request::Parts) -> Result<&AccessIdentity, ErrorData> {
    parts.extensions.get::<AccessIdentity>().ok_or_else(|| {
        ErrorData::internal_error("no verified identity: the guard layer does not wrap this server", None)
    })
}

#[tool_router]
impl DemoMcp {
    pub fn new(notes: Notes) -> Self {
        Self { notes }
    }

    #[tool(description = "Who am I? The user, client, scopes and expiry of the access token this call was made with.")]
    async fn whoami(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&parts)?;
        let answer = json!({
            "sub": who.sub,
            "client_id": who.client_id,
            "scopes": who.scopes,
            "expires_at": who.exp,
            "notes": self.notes.of(&who.sub).len(),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(answer.to_string())]))
    }

    #[tool(description = "Keep a short note for the signed-in user. Needs the mcp:write scope.")]
    async fn write_note(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
        Parameters(WriteNote { text }): Parameters<WriteNote>,
    ) -> Result<CallToolResult, ErrorData> {
        let who = caller(&parts)?;
        // The guard's policy already demanded mcp:write; checking again keeps this tool safe if
        // someone mounts it behind a different policy.
        if !who.has_scope(WRITE_SCOPE) {
            return Err(ErrorData::invalid_request(format!("write_note needs the {WRITE_SCOPE} scope"), None));
        }
        match self.notes.add(&who.sub, &text) {
            Ok(count) => {
                let answer = json!({"saved": true, "notes": count, "sub": who.sub});
                Ok(CallToolResult::success(vec![ContentBlock::text(answer.to_string())]))
            }
            Err(refused) => Err(ErrorData::invalid_params(refused.to_string(), None)),
        }
    }
}

#[tool_handler]
impl ServerHandler for DemoMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("postern-demo", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Postern's demo MCP server. `whoami` ({READ_SCOPE}) shows the identity your access token carries; \
                 `write_note` ({WRITE_SCOPE}) asks for more scope, which your client obtains by step-up authorization."
            ))
    }
}

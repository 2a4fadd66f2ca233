//! Which scopes a request needs: a base set for every request, plus per JSON-RPC method and per
//! tool of `tools/call`. This is what lets `tools/call` of one tool require more than
//! `tools/list`, and so what triggers step-up authorization (SPEC §1 step 11, R024–R025).

use crate::jsonrpc::Call;
use std::collections::{BTreeSet, HashMap};

/// The JSON-RPC method whose `params.name` names a tool.
const TOOLS_CALL: &str = "tools/call";

/// Scopes required per request.
///
/// ```
/// use postern_guard::ScopePolicy;
///
/// let policy = ScopePolicy::new()
///     .require(["mcp:read"]) // every request, including GET and DELETE
///     .method("resources/read", ["files:read"])
///     .tool("write_note", ["mcp:write"]);
/// ```
///
/// A request needs the union of the base scopes and, for each JSON-RPC message in its body
/// (single or batch), the scopes of its `method` and, for `tools/call`, of the tool it names.
/// Methods and tools not listed need only the base scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopePolicy {
    base: BTreeSet<String>,
    methods: HashMap<String, BTreeSet<String>>,
    tools: HashMap<String, BTreeSet<String>>,
}

impl ScopePolicy {
    /// A policy that requires no scope: any valid token for this resource is enough.
    pub fn new() -> Self {
        Self::default()
    }

    /// Scopes every request needs (added to those given before).
    pub fn require<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.base.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Scopes a JSON-RPC `method` needs on top of the base scopes (e.g. `"tools/list"`).
    pub fn method<I, S>(mut self, method: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.methods.entry(method.into()).or_default().extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Scopes a `tools/call` of the tool `name` needs on top of the base and method scopes.
    pub fn tool<I, S>(mut self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tools.entry(name.into()).or_default().extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The scopes every request needs.
    pub fn base(&self) -> &BTreeSet<String> {
        &self.base
    }

    /// Every scope the policy names, for checking them once at configuration time.
    pub(crate) fn all_scopes(&self) -> impl Iterator<Item = &String> {
        self.base.iter().chain(self.methods.values().flatten()).chain(self.tools.values().flatten())
    }

    /// Whether any rule depends on the body; if not, the layer never reads it.
    pub(crate) fn inspects_body(&self) -> bool {
        !self.methods.is_empty() || !self.tools.is_empty()
    }

    /// Every scope needed by a request carrying `calls` (R025: the whole set, not only what is
    /// missing from the token, so a client that replaces its token keeps what it still needs).
    pub(crate) fn required(&self, calls: &[Call]) -> BTreeSet<String> {
        let mut needed = self.base.clone();
        for call in calls {
            let Some(method) = call.method.as_deref() else { continue };
            if let Some(scopes) = self.methods.get(method) {
                needed.extend(scopes.iter().cloned());
            }
            if method == TOOLS_CALL
                && let Some(scopes) = call.name.0.as_deref().and_then(|tool| self.tools.get(tool))
            {
                needed.extend(scopes.iter().cloned());
            }
        }
        needed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::{ParamsName, parse};

    fn policy() -> ScopePolicy {
        ScopePolicy::new()
            .require(["mcp:read"])
            .method("tools/call", ["mcp:tools"])
            .tool("write_note", ["mcp:write"])
            .tool("delete_note", ["mcp:write", "mcp:admin"])
    }

    fn set(scopes: &[&str]) -> BTreeSet<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn base_scopes_apply_to_requests_without_a_body() {
        assert_eq!(policy().required(&[]), set(&["mcp:read"]));
    }

    #[test]
    fn listing_tools_needs_only_the_base_scopes() {
        let calls = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert_eq!(policy().required(&calls), set(&["mcp:read"]));
    }

    #[test]
    fn a_tool_call_needs_base_method_and_tool_scopes() {
        let calls = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"write_note"}}"#).unwrap();
        assert_eq!(policy().required(&calls), set(&["mcp:read", "mcp:tools", "mcp:write"]));
    }

    #[test]
    fn an_unlisted_tool_needs_base_and_method_scopes() {
        let calls = parse(br#"{"method":"tools/call","params":{"name":"whoami"}}"#).unwrap();
        assert_eq!(policy().required(&calls), set(&["mcp:read", "mcp:tools"]));
    }

    #[test]
    fn a_batch_needs_the_union_of_its_messages() {
        let body = br#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"delete_note"}}]"#;
        assert_eq!(policy().required(&parse(body).unwrap()), set(&["mcp:admin", "mcp:read", "mcp:tools", "mcp:write"]));
    }

    #[test]
    fn tool_names_only_count_for_tools_call() {
        // `prompts/get` also has `params.name`; it must not pick up the tool rule.
        let calls = [Call { method: Some("prompts/get".into()), name: ParamsName(Some("write_note".into())) }];
        assert_eq!(policy().required(&calls), set(&["mcp:read"]));
    }

    #[test]
    fn only_method_or_tool_rules_make_the_body_worth_reading() {
        assert!(!ScopePolicy::new().require(["a"]).inspects_body());
        assert!(ScopePolicy::new().method("m", ["a"]).inspects_body());
        assert!(ScopePolicy::new().tool("t", ["a"]).inspects_body());
    }
}

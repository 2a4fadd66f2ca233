//! The CIMD domain policy (R085) at runtime:
//!
//! - `GET /domain-policy`: the lists in force, each entry marked `source: config|runtime`,
//!   and `unknown_domains` with where its value comes from.
//! - `PUT /domain-policy/rules/{pattern}` `{"list": "allow"|"deny"}`: adds a runtime rule (or
//!   moves one to the other list). `DELETE /domain-policy/rules/{pattern}` removes a runtime
//!   rule; rules of the configuration file are changed in the file.
//! - `PUT /domain-policy/unknown-domains` `{"value": "allow"|"approval"|"deny"}` overrides the
//!   file's `cimd.unknown_domains`; `DELETE` returns to the file's value.
//!
//! Runtime rules are merged with `[cimd]` wherever the policy is evaluated (deny wins; see
//! [`crate::cimd::policy`]). A change that makes the policy refuse a domain it accepted
//! revokes, in the same transaction, everything the metadata-document clients of that domain
//! hold (grants, refresh tokens, codes, consents), so their tokens stop working at once.
//! This node applies a change to the next request; other nodes within 5 seconds.

use super::auth::AdminCaller;
use super::error::AdminError;
use super::json_body::JsonObject;
use crate::cimd::policy;
use crate::params::clip;
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use postern_core::domain_policy::{DomainDecision, DomainPattern, DomainPolicy, UnknownDomains};
use postern_store::{DomainList, DomainPolicyChange, DomainRuleRecord, RuntimeDomainPolicy, RuntimeSetting};
use serde_json::{Value, json};

/// Runtime rules one server keeps at most: each is checked on every authorization request of a
/// metadata-document client, and an operator with more wants the configuration file.
pub const MAX_RUNTIME_RULES: usize = 1000;

/// `GET /domain-policy`.
pub async fn show(State(state): State<AppState>, _caller: AdminCaller) -> Result<Json<Value>, AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    Ok(Json(policy_json(&EffectivePolicy::of(&state, &runtime))))
}

/// The policy as operators see it: each list with where each entry comes from, and
/// `unknown_domains` with its source. The API and the console both show this.
pub struct EffectivePolicy {
    pub cimd_enabled: bool,
    pub allow: Vec<PolicyEntry>,
    pub deny: Vec<PolicyEntry>,
    pub unknown_domains: UnknownDomainsSetting,
}

/// One entry of a list: from `[cimd]` (`rule` is `None`) or added at runtime.
pub struct PolicyEntry {
    pub pattern: String,
    pub rule: Option<DomainRuleRecord>,
}

impl PolicyEntry {
    pub fn source(&self) -> &'static str {
        if self.rule.is_some() { "runtime" } else { "config" }
    }
}

/// `unknown_domains` in force: the runtime value when an administrator set one, else the file's.
pub struct UnknownDomainsSetting {
    pub value: String,
    pub config_value: &'static str,
    pub runtime: Option<RuntimeSetting>,
}

impl UnknownDomainsSetting {
    pub fn source(&self) -> &'static str {
        if self.runtime.is_some() { "runtime" } else { "config" }
    }
}

impl EffectivePolicy {
    pub fn of(state: &AppState, runtime: &RuntimeDomainPolicy) -> Self {
        let config = &state.settings.cimd.domains;
        let list = |configured: &[DomainPattern], which: DomainList| {
            let from_file = configured.iter().map(|p| PolicyEntry { pattern: p.as_str().to_owned(), rule: None });
            let from_runtime = runtime
                .rules
                .iter()
                .filter(|r| r.list == which)
                .map(|r| PolicyEntry { pattern: r.pattern.clone(), rule: Some(r.clone()) });
            from_file.chain(from_runtime).collect::<Vec<_>>()
        };
        let config_value = config.unknown.as_str();
        Self {
            cimd_enabled: state.settings.cimd.enabled,
            allow: list(&config.allow, DomainList::Allow),
            deny: list(&config.deny, DomainList::Deny),
            unknown_domains: UnknownDomainsSetting {
                value: runtime.unknown_domains.as_ref().map_or_else(|| config_value.to_owned(), |s| s.value.clone()),
                config_value,
                runtime: runtime.unknown_domains.clone(),
            },
        }
    }
}

fn policy_json(policy: &EffectivePolicy) -> Value {
    let list = |entries: &[PolicyEntry]| {
        entries
            .iter()
            .map(|entry| match &entry.rule {
                Some(rule) => rule_json(rule),
                None => json!({ "pattern": entry.pattern, "source": "config" }),
            })
            .collect::<Vec<_>>()
    };
    json!({
        "cimd_enabled": policy.cimd_enabled,
        "allow": list(&policy.allow),
        "deny": list(&policy.deny),
        "unknown_domains": unknown_domains_json(&policy.unknown_domains),
    })
}

fn unknown_domains_json(setting: &UnknownDomainsSetting) -> Value {
    match &setting.runtime {
        Some(runtime) => json!({
            "value": runtime.value, "source": "runtime", "config_value": setting.config_value,
            "updated_at": runtime.updated_at, "updated_by": runtime.updated_by,
        }),
        None => json!({ "value": setting.value, "source": "config", "config_value": setting.config_value }),
    }
}

fn rule_json(rule: &DomainRuleRecord) -> Value {
    json!({
        "pattern": rule.pattern, "list": rule.list.as_str(), "source": "runtime",
        "created_at": rule.created_at, "created_by": rule.created_by,
    })
}

/// What adding or moving a rule did.
pub struct RuleAdded {
    /// The rule as stored.
    pub rule: Option<DomainRuleRecord>,
    /// False when the same rule already existed (nothing was written or audited).
    pub changed: bool,
    /// True for a new pattern, false for a rule moved to the other list.
    pub created: bool,
    pub revoked_grants: u64,
}

/// `PUT /domain-policy/rules/{pattern}`: 201 for a new rule, 200 for a moved or unchanged one.
pub async fn put_rule(
    State(state): State<AppState>,
    caller: AdminCaller,
    pattern: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AdminError> {
    let pattern = pattern_param(pattern)?;
    let body = JsonObject::parse(&headers, &body, &["list"])?;
    let list = DomainList::parse(body.string("list")?)
        .ok_or_else(|| AdminError::bad_request("list must be \"allow\" or \"deny\""))?;
    let added = add_rule(&state, &caller, &pattern, list).await?;
    let status = if added.created { StatusCode::CREATED } else { StatusCode::OK };
    let body = json!({
        "rule": added.rule.as_ref().map(rule_json), "changed": added.changed, "revoked_grants": added.revoked_grants,
    });
    Ok((status, Json(body)).into_response())
}

/// Adds a runtime rule or moves one to the other list, with its audit event (the API and the
/// console both call this).
pub async fn add_rule(
    state: &AppState,
    caller: &AdminCaller,
    pattern: &DomainPattern,
    list: DomainList,
) -> Result<RuleAdded, AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    let previous = runtime.rules.iter().find(|r| r.pattern == pattern.as_str());
    if let Some(rule) = previous.filter(|r| r.list == list) {
        return Ok(RuleAdded { rule: Some(rule.clone()), changed: false, created: false, revoked_grants: 0 });
    }
    if previous.is_none() && runtime.rules.len() >= MAX_RUNTIME_RULES {
        return Err(AdminError::conflict(format!(
            "there are already {MAX_RUNTIME_RULES} runtime rules; remove some, or move them to the configuration file"
        )));
    }
    let mut audit = caller.audit("admin_domain_rule_added");
    audit.detail = json!({
        "actor": caller.actor, "pattern": pattern.as_str(), "list": list.as_str(),
        "previous_list": previous.map(|r| r.list.as_str()),
    });
    let change = DomainPolicyChange::PutRule { pattern: pattern.as_str(), list, by: &caller.actor };
    let revoked_grants = apply(state, &runtime, change, audit).await?;
    let runtime = state.store.runtime_domain_policy().await?;
    let rule = runtime.rules.into_iter().find(|r| r.pattern == pattern.as_str());
    Ok(RuleAdded { rule, changed: true, created: previous.is_none(), revoked_grants })
}

/// `DELETE /domain-policy/rules/{pattern}`.
pub async fn delete_rule(
    State(state): State<AppState>,
    caller: AdminCaller,
    pattern: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, AdminError> {
    let pattern = pattern_param(pattern)?;
    let (removed, revoked) = remove_rule(&state, &caller, &pattern).await?;
    Ok(Json(json!({ "removed": rule_json(&removed), "revoked_grants": revoked })))
}

/// The runtime rule for `pattern`: 409 when the pattern is the configuration file's, 404 when
/// there is none.
pub async fn runtime_rule(state: &AppState, pattern: &DomainPattern) -> Result<DomainRuleRecord, AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    if let Some(rule) = runtime.rules.into_iter().find(|r| r.pattern == pattern.as_str()) {
        return Ok(rule);
    }
    let config = &state.settings.cimd.domains;
    let in_file = |list: &[DomainPattern]| list.iter().any(|p| p.as_str() == pattern.as_str());
    if in_file(&config.allow) || in_file(&config.deny) {
        return Err(AdminError::conflict(format!(
            "{} comes from the configuration file ([cimd] allow_domains or deny_domains); change it there",
            pattern.as_str()
        )));
    }
    Err(AdminError::not_found(format!("no runtime domain rule for {}", pattern.as_str())))
}

/// Removes a runtime rule with its audit event (the API and the console both call this);
/// returns the rule removed and the number of grants revoked.
pub async fn remove_rule(
    state: &AppState,
    caller: &AdminCaller,
    pattern: &DomainPattern,
) -> Result<(DomainRuleRecord, u64), AdminError> {
    let rule = runtime_rule(state, pattern).await?;
    let runtime = state.store.runtime_domain_policy().await?;
    let mut audit = caller.audit("admin_domain_rule_removed");
    audit.detail = json!({ "actor": caller.actor, "pattern": rule.pattern, "list": rule.list.as_str() });
    let revoked = apply(state, &runtime, DomainPolicyChange::DeleteRule { pattern: pattern.as_str() }, audit).await?;
    Ok((rule, revoked))
}

/// `PUT /domain-policy/unknown-domains`.
pub async fn put_unknown_domains(
    State(state): State<AppState>,
    caller: AdminCaller,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let body = JsonObject::parse(&headers, &body, &["value"])?;
    let value = UnknownDomains::parse(body.string("value")?)
        .map_err(|_| AdminError::bad_request("value must be \"allow\", \"approval\" or \"deny\""))?;
    let (changed, revoked) = set_unknown_domains(&state, &caller, value).await?;
    let runtime = state.store.runtime_domain_policy().await?;
    let mut body = unknown_domains_json(&EffectivePolicy::of(&state, &runtime).unknown_domains);
    body["changed"] = json!(changed);
    body["revoked_grants"] = json!(revoked);
    Ok(Json(body))
}

/// Sets the runtime `unknown_domains` with its audit event (the API and the console both call
/// this); returns whether it changed and the number of grants revoked.
pub async fn set_unknown_domains(
    state: &AppState,
    caller: &AdminCaller,
    value: UnknownDomains,
) -> Result<(bool, u64), AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    let previous = runtime.unknown_domains.as_ref().map(|s| s.value.clone());
    if previous.as_deref() == Some(value.as_str()) {
        return Ok((false, 0));
    }
    let mut audit = caller.audit("admin_unknown_domains_set");
    audit.detail = json!({
        "actor": caller.actor, "value": value.as_str(), "previous": previous,
        "config_value": state.settings.cimd.domains.unknown.as_str(),
    });
    let change = DomainPolicyChange::SetUnknownDomains { value: value.as_str(), by: &caller.actor };
    Ok((true, apply(state, &runtime, change, audit).await?))
}

/// `DELETE /domain-policy/unknown-domains`: back to the configuration file's value.
pub async fn reset_unknown_domains(
    State(state): State<AppState>,
    caller: AdminCaller,
) -> Result<Json<Value>, AdminError> {
    let revoked = reset_unknown_domains_to_config(&state, &caller).await?;
    let mut body = unknown_domains_json(&EffectivePolicy::of(&state, &RuntimeDomainPolicy::default()).unknown_domains);
    body["revoked_grants"] = json!(revoked);
    Ok(Json(body))
}

/// Drops the runtime `unknown_domains` with its audit event (the API and the console both
/// call this); 404 when there is none. Returns the number of grants revoked.
pub async fn reset_unknown_domains_to_config(state: &AppState, caller: &AdminCaller) -> Result<u64, AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    let Some(previous) = &runtime.unknown_domains else {
        return Err(AdminError::not_found("unknown_domains has no runtime value; the configuration file's applies"));
    };
    let mut audit = caller.audit("admin_unknown_domains_reset");
    audit.detail = json!({
        "actor": caller.actor, "previous": previous.value,
        "value": state.settings.cimd.domains.unknown.as_str(),
    });
    apply(state, &runtime, DomainPolicyChange::ResetUnknownDomains, audit).await
}

/// The metadata-document clients `change` would refuse that the policy in force accepts, for
/// a confirmation page: each with its live grants, which the change would revoke.
pub async fn refused_by(state: &AppState, change: DomainPolicyChange<'_>) -> Result<Vec<(String, i64)>, AdminError> {
    let runtime = state.store.runtime_domain_policy().await?;
    let config = &state.settings.cimd.domains;
    let old = policy::merge(config, &runtime)?;
    let new = policy::merge(config, &changed(&runtime, change, state.now()))?;
    let mut refused = Vec::new();
    for client_id in newly_refused(state, &old, &new).await? {
        let grants = state.store.find_inventory_item(&client_id, state.now()).await?.map_or(0, |i| i.live_grants);
        refused.push((client_id, grants));
    }
    Ok(refused)
}

/// Applies a change with its audit event, revoking what the metadata-document clients of every
/// domain the change refuses hold, and makes this node use the new policy at once. Returns the
/// number of grants revoked.
async fn apply(
    state: &AppState,
    before: &RuntimeDomainPolicy,
    change: DomainPolicyChange<'_>,
    audit: postern_store::AuditEvent,
) -> Result<u64, AdminError> {
    let config = &state.settings.cimd.domains;
    let old = policy::merge(config, before)?;
    let new = policy::merge(config, &changed(before, change, state.now()))?;
    let refused = newly_refused(state, &old, &new).await?;
    let outcome = state.store.change_domain_policy(change, &refused, audit, state.now()).await;
    // Also after a failure: the database is the truth, and the next request rereads it.
    state.cimd.policy.invalidate();
    let outcome = outcome?;
    if !outcome.applied {
        return Err(AdminError::conflict("the domain policy changed while this request was handled; read it again"));
    }
    Ok(outcome.revoked_grants)
}

/// The runtime policy as it will be after `change`.
fn changed(before: &RuntimeDomainPolicy, change: DomainPolicyChange<'_>, now: i64) -> RuntimeDomainPolicy {
    let mut after = before.clone();
    match change {
        DomainPolicyChange::PutRule { pattern, list, by } => {
            after.rules.retain(|r| r.pattern != pattern);
            after.rules.push(DomainRuleRecord {
                pattern: pattern.to_owned(),
                list,
                created_at: now,
                created_by: Some(by.to_owned()),
            });
        }
        DomainPolicyChange::DeleteRule { pattern } => after.rules.retain(|r| r.pattern != pattern),
        DomainPolicyChange::SetUnknownDomains { value, by } => {
            after.unknown_domains = Some(postern_store::RuntimeSetting {
                name: postern_store::UNKNOWN_DOMAINS_SETTING.to_owned(),
                value: value.to_owned(),
                updated_at: now,
                updated_by: Some(by.to_owned()),
            });
        }
        DomainPolicyChange::ResetUnknownDomains => after.unknown_domains = None,
    }
    after
}

/// Metadata-document clients whose domain `new` refuses and `old` did not.
async fn newly_refused(state: &AppState, old: &DomainPolicy, new: &DomainPolicy) -> Result<Vec<String>, AdminError> {
    let hosts = state.store.cimd_client_hosts().await?;
    Ok(hosts
        .into_iter()
        .filter(|(_, host)| new.decide(host) == DomainDecision::Deny && old.decide(host) != DomainDecision::Deny)
        .map(|(client_id, _)| client_id)
        .collect())
}

/// A pattern as `[cimd]` takes it: a lowercase host or `*.suffix`.
fn pattern_param(raw: Result<Path<String>, PathRejection>) -> Result<DomainPattern, AdminError> {
    let Path(raw) = raw.map_err(|_| AdminError::bad_request("pattern must be a percent-encoded UTF-8 path segment"))?;
    parse_pattern(&raw)
}

/// Parses a domain pattern as `[cimd]` takes it, with an error that shows both forms.
pub fn parse_pattern(raw: &str) -> Result<DomainPattern, AdminError> {
    DomainPattern::parse(raw).map_err(|_| {
        AdminError::bad_request(format!(
            "pattern '{}' must be a lowercase host name (app.example.com) or *.suffix (*.example.com), as in [cimd]",
            clip(raw, 100)
        ))
    })
}

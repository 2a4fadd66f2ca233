//! `GET /admin/domains`: the CIMD domain policy in force, each entry marked as coming from the
//! configuration file or from an administrator at runtime, with forms to add and remove
//! runtime rules and to change `unknown_domains`. The changes are the admin API's
//! (routes/admin/domains.rs, same functions and audit events).
//!
//! A change that can only widen access (an allow rule, `unknown_domains = "allow"`) is made at
//! once; one that can narrow it (a deny rule, removing a rule, `approval`, `deny`, going back to
//! the file's value) is confirmed first, on a page listing the clients in use that it would
//! refuse and the grants it would revoke.

use super::confirm::{self, Confirmation, hidden};
use super::{Admin, Chrome, ConsoleForm, Link, Notice, after_change, error_page, query_params};
use super::{display, names};
use crate::pages;
use crate::params::Params;
use crate::routes::admin::domains::{self as api, EffectivePolicy};
use crate::routes::admin::error::AdminError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use postern_core::domain_policy::UnknownDomains;
use postern_store::{DomainList, DomainPolicyChange};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Refused clients a confirmation page names; the count covers the rest.
const NAMED_CLIENTS: usize = 20;
/// The `unknown_domains` form's value for "back to the configuration file".
const CONFIG_VALUE: &str = "config";

/// The allow list or the deny list.
pub struct RuleList {
    pub title: &'static str,
    pub rows: Vec<RuleRow>,
}

/// One entry of a list as the page shows it.
pub struct RuleRow {
    pub pattern: String,
    pub source: &'static str,
    pub added: String,
    pub remove_href: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/domains.html")]
struct PolicyPage {
    chrome: Chrome,
    cimd_enabled: bool,
    unknown_value: String,
    unknown_source: &'static str,
    unknown_config_value: &'static str,
    unknown_updated: Option<String>,
    lists: Vec<RuleList>,
    rules_action: String,
    unknown_action: String,
}

/// `GET /admin/domains`.
pub async fn page(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let mut chrome = admin.chrome(&state, "domains");
    let result = async {
        chrome.notice = Notice::from_query(&query_params(raw.as_deref())?);
        Ok::<_, AdminError>(EffectivePolicy::of(&state, &state.store.runtime_domain_policy().await?))
    }
    .await;
    let (policy, actors) = match result {
        Ok(policy) => match actor_names(&state, &policy).await {
            Ok(actors) => (policy, actors),
            Err(error) => return error_page(admin.chrome(&state, "domains"), &error, None),
        },
        Err(error) => return error_page(admin.chrome(&state, "domains"), &error, None),
    };
    let by = |actor: &Option<String>, at: i64| {
        let name = actor.as_ref().and_then(|a| actors.get(a)).map_or("unknown", String::as_str);
        format!("{name}, {}", display::time(at))
    };
    let rows = |entries: &[api::PolicyEntry]| {
        entries
            .iter()
            .map(|entry| RuleRow {
                pattern: entry.pattern.clone(),
                source: entry.source(),
                added: entry.rule.as_ref().map_or_else(String::new, |rule| by(&rule.created_by, rule.created_at)),
                remove_href: entry.rule.as_ref().map(|rule| chrome.paths.remove_rule(&rule.pattern)),
            })
            .collect::<Vec<_>>()
    };
    let unknown = &policy.unknown_domains;
    let page = PolicyPage {
        cimd_enabled: policy.cimd_enabled,
        unknown_value: unknown.value.clone(),
        unknown_source: unknown.source(),
        unknown_config_value: unknown.config_value,
        unknown_updated: unknown.runtime.as_ref().map(|setting| by(&setting.updated_by, setting.updated_at)),
        lists: vec![
            RuleList { title: "Allow", rows: rows(&policy.allow) },
            RuleList { title: "Deny", rows: rows(&policy.deny) },
        ],
        rules_action: chrome.paths.page("/domains/rules"),
        unknown_action: chrome.paths.page("/domains/unknown"),
        chrome,
    };
    pages::render(StatusCode::OK, &page)
}

/// Who made each runtime rule and setting, in words (each distinct actor looked up once).
async fn actor_names(state: &AppState, policy: &EffectivePolicy) -> Result<HashMap<String, String>, AdminError> {
    let actors = policy
        .allow
        .iter()
        .chain(&policy.deny)
        .filter_map(|entry| entry.rule.as_ref()?.created_by.clone())
        .chain(policy.unknown_domains.runtime.as_ref().and_then(|setting| setting.updated_by.clone()));
    let mut names = HashMap::new();
    for actor in actors {
        if let Entry::Vacant(slot) = names.entry(actor) {
            let name = names::actor(state, slot.key()).await?;
            slot.insert(name);
        }
    }
    Ok(names)
}

/// `POST /admin/domains/rules` (`csrf_token`, `pattern`, `list`, `confirm`): an allow rule at
/// once, a deny rule after confirmation.
pub async fn add_rule(State(state): State<AppState>, ConsoleForm { params, admin }: ConsoleForm) -> Response {
    let result = async {
        let pattern = api::parse_pattern(params.get("pattern").unwrap_or_default())?;
        let list = params
            .get("list")
            .and_then(DomainList::parse)
            .ok_or_else(|| AdminError::bad_request("list must be allow or deny"))?;
        if list == DomainList::Deny && !confirm::confirmed(&params) {
            let change = DomainPolicyChange::PutRule { pattern: pattern.as_str(), list, by: &admin.caller.actor };
            let question = format!("Deny every client of {}?", pattern.as_str());
            let fields = vec![hidden("pattern", pattern.as_str()), hidden("list", "deny")];
            let opening = format!(
                "Metadata-document clients whose host matches {} are refused from now on, whatever their approval.",
                pattern.as_str()
            );
            let asked = asking(&state, question, opening, "/domains/rules", fields, "Add deny rule");
            return Ok(confirmation(&state, &admin, change, asked).await);
        }
        let added = api::add_rule(&state, &admin.caller, &pattern, list).await?;
        let notice = if added.changed { Notice::RuleAdded } else { Notice::RuleUnchanged };
        Ok(after_change(&notice.on(&admin_paths(&state), added.revoked_grants)))
    }
    .await;
    result.unwrap_or_else(|error| policy_error(&state, &admin, &error))
}

/// `GET /admin/domains/rules/remove?pattern=`: what removing the rule does.
pub async fn confirm_remove(State(state): State<AppState>, RawQuery(raw): RawQuery, admin: Admin) -> Response {
    let result = async {
        let params = query_params(raw.as_deref())?;
        removal_confirmation(&state, &admin, &params).await
    }
    .await;
    result.unwrap_or_else(|error| policy_error(&state, &admin, &error))
}

async fn removal_confirmation(state: &AppState, admin: &Admin, params: &Params) -> Result<Response, AdminError> {
    let pattern = api::parse_pattern(params.get("pattern").unwrap_or_default())?;
    let rule = api::runtime_rule(state, &pattern).await?;
    let change = DomainPolicyChange::DeleteRule { pattern: pattern.as_str() };
    let question = format!("Remove the {} rule for {}?", rule.list.as_str(), rule.pattern);
    let opening = match rule.list {
        DomainList::Allow => {
            format!("Clients of {} are then judged by the other rules and by unknown_domains.", rule.pattern)
        }
        DomainList::Deny => format!("Clients of {} are no longer refused by this rule.", rule.pattern),
    };
    let fields = vec![hidden("pattern", &rule.pattern)];
    let asked = asking(state, question, opening, "/domains/rules/remove", fields, "Remove rule");
    Ok(confirmation(state, admin, change, asked).await)
}

/// `POST /admin/domains/rules/remove` (`csrf_token`, `pattern`, `confirm`).
pub async fn remove_rule(State(state): State<AppState>, ConsoleForm { params, admin }: ConsoleForm) -> Response {
    let result = async {
        if !confirm::confirmed(&params) {
            return removal_confirmation(&state, &admin, &params).await;
        }
        let pattern = api::parse_pattern(params.get("pattern").unwrap_or_default())?;
        let (_, revoked) = api::remove_rule(&state, &admin.caller, &pattern).await?;
        Ok(after_change(&Notice::RuleRemoved.on(&admin_paths(&state), revoked)))
    }
    .await;
    result.unwrap_or_else(|error| policy_error(&state, &admin, &error))
}

/// `POST /admin/domains/unknown` (`csrf_token`, `value` = allow | approval | deny | config,
/// `confirm`).
pub async fn set_unknown(State(state): State<AppState>, ConsoleForm { params, admin }: ConsoleForm) -> Response {
    let result = async {
        let raw = params.get("value").unwrap_or_default();
        let value = match raw {
            CONFIG_VALUE => None,
            raw => Some(
                UnknownDomains::parse(raw)
                    .map_err(|_| AdminError::bad_request("unknown_domains must be allow, approval or deny"))?,
            ),
        };
        if value != Some(UnknownDomains::Allow) && !confirm::confirmed(&params) {
            let config_value = state.settings.cimd.domains.unknown.as_str();
            let (change, question, opening) = match value {
                None => (
                    DomainPolicyChange::ResetUnknownDomains,
                    format!("Use the configuration file's unknown_domains ({config_value}) again?"),
                    format!("Domains on neither list are then treated as the file says: {config_value}."),
                ),
                Some(value) => (
                    DomainPolicyChange::SetUnknownDomains { value: value.as_str(), by: &admin.caller.actor },
                    format!("Set unknown_domains to {}?", value.as_str()),
                    match value {
                        UnknownDomains::Deny => "Clients of domains on neither list are refused.".to_owned(),
                        _ => "Clients of domains on neither list wait for an administrator's approval before their \
                              first use."
                            .to_owned(),
                    },
                ),
            };
            let fields = vec![hidden("value", raw)];
            let asked = asking(&state, question, opening, "/domains/unknown", fields, "Change policy");
            return Ok(confirmation(&state, &admin, change, asked).await);
        }
        let (notice, revoked) = match value {
            None => (Notice::UnknownDomainsReset, api::reset_unknown_domains_to_config(&state, &admin.caller).await?),
            Some(value) => match api::set_unknown_domains(&state, &admin.caller, value).await? {
                (true, revoked) => (Notice::UnknownDomainsSet, revoked),
                (false, _) => (Notice::UnknownDomainsUnchanged, 0),
            },
        };
        Ok(after_change(&notice.on(&admin_paths(&state), revoked)))
    }
    .await;
    result.unwrap_or_else(|error| policy_error(&state, &admin, &error))
}

/// The confirmation page of a policy change: `asked` (what it does) followed by the clients in
/// use it would refuse and the grants it would revoke.
async fn confirmation(
    state: &AppState,
    admin: &Admin,
    change: DomainPolicyChange<'_>,
    mut asked: Confirmation,
) -> Response {
    let chrome = admin.chrome(state, "domains");
    let refused = match api::refused_by(state, change).await {
        Ok(refused) => refused,
        Err(error) => return error_page(chrome, &error, None),
    };
    if refused.is_empty() {
        asked.consequences.push("No client in the inventory that is accepted now would be refused.".to_owned());
    } else {
        let grants: i64 = refused.iter().map(|(_, grants)| grants).sum();
        asked.consequences.push(format!(
            "This refuses {} accepted now and revokes {} at once: {}{}.",
            display::count(refused.len() as i64, "client", "clients"),
            display::count(grants, "grant", "grants"),
            refused.iter().take(NAMED_CLIENTS).map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", "),
            if refused.len() > NAMED_CLIENTS { ", …" } else { "" }
        ));
    }
    confirm::page(chrome, asked)
}

/// A policy change's question, posting to `action` (a console path) with `fields`.
fn asking(
    state: &AppState,
    question: String,
    opening: String,
    action: &str,
    fields: Vec<pages::Hidden>,
    label: &str,
) -> Confirmation {
    let paths = super::Paths::new(state);
    Confirmation {
        question,
        consequences: vec![opening],
        action: paths.page(action),
        fields,
        confirm_label: label.to_owned(),
        cancel_href: paths.page("/domains"),
    }
}

fn admin_paths(state: &AppState) -> String {
    super::Paths::new(state).page("/domains")
}

fn policy_error(state: &AppState, admin: &Admin, error: &AdminError) -> Response {
    let back = Link::new(admin_paths(state), "Back to the domain policy");
    error_page(admin.chrome(state, "domains"), error, Some(back))
}

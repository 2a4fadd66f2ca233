//! `POST /admin/api/v1/clients/{client_id}/{approve|deny|block|unblock}`: an administrator's
//! decision on a client of any kind.
//!
//! - `approve`: a pending client becomes usable. A metadata-document client allowed by domain
//!   policy may also be approved explicitly (it then stays usable if its domain later needs
//!   approval), and one not seen yet is pre-approved.
//! - `deny`: a pending client is refused (it is then `blocked`); an unseen metadata-document
//!   client is pre-denied.
//! - `block`: any client that is not blocked is refused from now on.
//! - `unblock`: a blocked client is usable again (a metadata-document client as `approved`).
//!
//! Denying and blocking revoke, in the same transaction as the decision and its audit event,
//! every grant of the client with its refresh tokens, its outstanding codes and its users'
//! consents: /token refuses its refresh tokens and /introspect answers `active: false` for its
//! access tokens from the next request on, on every node (both read the database). The client
//! itself is refused at once by this node, whose caches are cleared; other nodes reread client
//! records and inventory decisions within 5 seconds. A transition that does not apply to the
//! client's status is 409, naming the status.

use super::auth::AdminCaller;
use super::clients::{client_id_param, item_json, unknown_client};
use super::error::AdminError;
use crate::cimd;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use postern_core::ClientIdUrl;
use postern_store::{CimdDecision, CimdStatus, ClientStatus};
use serde_json::{Value, json};

/// An administrator's decision on a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAction {
    Approve,
    Deny,
    Block,
    Unblock,
}

impl ClientAction {
    fn audit_kind(self) -> &'static str {
        match self {
            Self::Approve => "admin_client_approved",
            Self::Deny => "admin_client_denied",
            Self::Block => "admin_client_blocked",
            Self::Unblock => "admin_client_unblocked",
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Self::Approve => "approve",
            Self::Deny => "deny",
            Self::Block => "block",
            Self::Unblock => "unblock",
        }
    }

    pub fn parse(verb: &str) -> Option<Self> {
        [Self::Approve, Self::Deny, Self::Block, Self::Unblock].into_iter().find(|a| a.verb() == verb)
    }

    /// Deny and block revoke everything the client holds.
    pub fn revokes(self) -> bool {
        matches!(self, Self::Deny | Self::Block)
    }
}

/// What a decision changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decided {
    /// The status as stored before (`None`: a metadata-document client not seen yet).
    pub previous_status: Option<&'static str>,
    pub revoked_grants: u64,
}

type ClientPath = Result<Path<String>, PathRejection>;

pub async fn approve(
    state: State<AppState>,
    caller: AdminCaller,
    client_id: ClientPath,
) -> Result<Json<Value>, AdminError> {
    decide(state, caller, client_id, ClientAction::Approve).await
}

pub async fn deny(
    state: State<AppState>,
    caller: AdminCaller,
    client_id: ClientPath,
) -> Result<Json<Value>, AdminError> {
    decide(state, caller, client_id, ClientAction::Deny).await
}

pub async fn block(
    state: State<AppState>,
    caller: AdminCaller,
    client_id: ClientPath,
) -> Result<Json<Value>, AdminError> {
    decide(state, caller, client_id, ClientAction::Block).await
}

pub async fn unblock(
    state: State<AppState>,
    caller: AdminCaller,
    client_id: ClientPath,
) -> Result<Json<Value>, AdminError> {
    decide(state, caller, client_id, ClientAction::Unblock).await
}

/// `{"client": <inventory item>, "previous_status": "...", "revoked_grants": n}`.
async fn decide(
    State(state): State<AppState>,
    caller: AdminCaller,
    client_id: ClientPath,
    action: ClientAction,
) -> Result<Json<Value>, AdminError> {
    let client_id = client_id_param(client_id)?;
    let decided = apply(&state, &caller, &client_id, action).await?;
    let item =
        state.store.find_inventory_item(&client_id, state.now()).await?.ok_or_else(|| unknown_client(&client_id))?;
    let policy = cimd::domain_policy(&state).await?;
    Ok(Json(json!({
        "client": item_json(&item, &policy),
        "previous_status": decided.previous_status,
        "revoked_grants": decided.revoked_grants,
    })))
}

/// Applies `action` to the client with its audit event (the API and the console both call
/// this); a transition that does not apply to the client's status is a 409 naming the status.
pub async fn apply(
    state: &AppState,
    caller: &AdminCaller,
    client_id: &str,
    action: ClientAction,
) -> Result<Decided, AdminError> {
    let (previous_status, revoked_grants) = if ClientIdUrl::is_url_shaped(client_id) {
        decide_metadata_client(state, caller, client_id, action).await?
    } else {
        decide_registered_client(state, caller, client_id, action).await?
    };
    Ok(Decided { previous_status, revoked_grants })
}

fn conflict(client_id: &str, action: ClientAction, status: &str, hint: &str) -> AdminError {
    AdminError::conflict(format!(
        "cannot {} {}: its status is {status}{hint}",
        action.verb(),
        crate::params::clip(client_id, 200)
    ))
}

fn changed_meanwhile(client_id: &str) -> AdminError {
    AdminError::conflict(format!(
        "the status of {} changed while this request was handled; read it again and retry",
        crate::params::clip(client_id, 200)
    ))
}

async fn decide_registered_client(
    state: &AppState,
    caller: &AdminCaller,
    client_id: &str,
    action: ClientAction,
) -> Result<(Option<&'static str>, u64), AdminError> {
    let Some(client) = state.store.find_client(client_id).await? else {
        return Err(unknown_client(client_id));
    };
    let from = client.status;
    let to = match (action, from) {
        (ClientAction::Approve, ClientStatus::Pending) | (ClientAction::Unblock, ClientStatus::Denied) => {
            ClientStatus::Active
        }
        (ClientAction::Deny, ClientStatus::Pending)
        | (ClientAction::Block, ClientStatus::Pending | ClientStatus::Active) => ClientStatus::Denied,
        (ClientAction::Approve | ClientAction::Block, ClientStatus::Denied) => {
            return Err(conflict(
                client_id,
                action,
                "blocked",
                if action == ClientAction::Approve { "; unblock it" } else { "" },
            ));
        }
        (ClientAction::Deny, ClientStatus::Active) => {
            return Err(conflict(client_id, action, "active", "; only a pending client is denied, block it instead"));
        }
        (ClientAction::Deny, ClientStatus::Denied) => return Err(conflict(client_id, action, "blocked", "")),
        (ClientAction::Approve | ClientAction::Unblock, ClientStatus::Active | ClientStatus::Pending) => {
            return Err(conflict(client_id, action, from.as_str(), ""));
        }
    };
    let mut audit = caller.audit(action.audit_kind());
    audit.client_id = Some(client_id.to_owned());
    audit.detail = json!({
        "actor": caller.actor,
        "client_kind": if client.source.as_str() == "dcr" { "dcr" } else { "preregistered" },
        "previous_status": from.as_str(),
        "status": to.as_str(),
    });
    let now = state.now();
    let revoked = state
        .store
        .decide_registered_client(client_id, from, to, action.revokes(), audit, now)
        .await?
        .ok_or_else(|| changed_meanwhile(client_id))?;
    state.clients.forget(client_id);
    Ok((Some(from.as_str()), revoked))
}

async fn decide_metadata_client(
    state: &AppState,
    caller: &AdminCaller,
    client_id: &str,
    action: ClientAction,
) -> Result<(Option<&'static str>, u64), AdminError> {
    // A query is accepted whatever `cimd.allow_query` says (R061 allows one): an operator may
    // name any client a server ever accepted, as with `postern clients approve`.
    let url = ClientIdUrl::parse(client_id, true)
        .map_err(|e| AdminError::bad_request(format!("client_id is not a valid metadata document URL: {e}")))?;
    let from = state.store.find_cimd_client(client_id).await?.map(|record| record.status);
    let to = match (action, from) {
        (ClientAction::Approve, None | Some(CimdStatus::Pending | CimdStatus::Allowed))
        | (ClientAction::Unblock, Some(CimdStatus::Denied)) => CimdStatus::Approved,
        (ClientAction::Deny, None | Some(CimdStatus::Pending))
        | (ClientAction::Block, None | Some(CimdStatus::Pending | CimdStatus::Allowed | CimdStatus::Approved)) => {
            CimdStatus::Denied
        }
        (ClientAction::Unblock, None) => return Err(unknown_client(client_id)),
        (ClientAction::Approve | ClientAction::Block, Some(CimdStatus::Denied)) => {
            return Err(conflict(
                client_id,
                action,
                "blocked",
                if action == ClientAction::Approve { "; unblock it" } else { "" },
            ));
        }
        (ClientAction::Deny, Some(CimdStatus::Denied)) => return Err(conflict(client_id, action, "blocked", "")),
        (ClientAction::Deny, Some(status)) => {
            return Err(conflict(
                client_id,
                action,
                status.as_str(),
                "; only a pending client is denied, block it instead",
            ));
        }
        (ClientAction::Approve, Some(CimdStatus::Approved))
        | (ClientAction::Unblock, Some(CimdStatus::Pending | CimdStatus::Allowed | CimdStatus::Approved)) => {
            let status = from.map_or("unknown", CimdStatus::as_str);
            return Err(conflict(client_id, action, status, ""));
        }
    };
    let mut audit = caller.audit(action.audit_kind());
    audit.client_id = Some(client_id.to_owned());
    audit.detail = json!({
        "actor": caller.actor,
        "client_kind": "metadata_document",
        "host": url.host(),
        "previous_status": from.map(CimdStatus::as_str),
        "status": to.as_str(),
    });
    let decision = CimdDecision { client_id, host: url.host(), from, to, by: &caller.actor, revoke: action.revokes() };
    let revoked = state
        .store
        .decide_metadata_client(decision, audit, state.now())
        .await?
        .ok_or_else(|| changed_meanwhile(client_id))?;
    state.cimd.forget_inventory(client_id);
    Ok((from.map(CimdStatus::as_str), revoked))
}

//! Who an identifier is, for people: the audit log and the decisions name users by id
//! (`u_...`) and actors as `user:<id>` or `token:<id>`; the pages show usernames where an
//! account still exists. Each lookup is one indexed read; a page asks for at most one per row.

use crate::routes::admin::error::AdminError;
use crate::state::AppState;
use std::collections::HashMap;

/// Usernames of the given user ids that exist (each id looked up once).
pub async fn usernames(state: &AppState, ids: Vec<String>) -> Result<HashMap<String, String>, AdminError> {
    let mut names = HashMap::new();
    for id in ids {
        if !names.contains_key(&id)
            && let Some(user) = state.store.find_user(&id).await?
        {
            names.insert(id, user.username);
        }
    }
    Ok(names)
}

/// An actor as the audit log records it, in words: `alice` for `user:<id>`, `admin token
/// <id>` for `token:<id>`, and anything else as it is.
pub async fn actor(state: &AppState, actor: &str) -> Result<String, AdminError> {
    if let Some(id) = actor.strip_prefix("user:") {
        return Ok(state.store.find_user(id).await?.map_or_else(|| actor.to_owned(), |user| user.username));
    }
    Ok(match actor.strip_prefix("token:") {
        Some(id) => format!("admin token {id}"),
        None => actor.to_owned(),
    })
}

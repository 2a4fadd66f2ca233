//! `GET /admin/api/v1/overview`: the counts an operator looks at first.

use super::auth::AdminCaller;
use super::error::AdminError;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use postern_store::{CountBy, InventoryCounts};
use serde_json::{Map, Value, json};

fn counts(rows: Vec<CountBy>) -> Value {
    Value::Object(rows.into_iter().map(|row| (row.key, Value::from(row.count))).collect::<Map<_, _>>())
}

/// Clients of every kind waiting for an administrator (the API and the console both show it).
pub fn pending_approvals(inventory: &InventoryCounts) -> i64 {
    inventory
        .cimd_clients
        .iter()
        .chain(&inventory.registered_clients)
        .filter(|row| row.key == "pending" || row.key.ends_with("/pending"))
        .map(|row| row.count)
        .sum::<i64>()
}

pub async fn overview(State(state): State<AppState>, _caller: AdminCaller) -> Result<Json<Value>, AdminError> {
    let inventory = state.store.inventory_counts().await?;
    let pending = pending_approvals(&inventory);
    Ok(Json(json!({
        "clients": {
            "registered": counts(inventory.registered_clients),
            "metadata_document": counts(inventory.cimd_clients),
        },
        "pending_approvals": pending,
        "users": {"total": inventory.users, "disabled": inventory.disabled_users},
        "live_grants": inventory.live_grants,
    })))
}

//! `GET /admin/api/v1/openapi.json`: the admin API's OpenAPI 3.1 document, checked into the
//! repository beside this file and compiled in, so what is served is what was reviewed.

use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;

/// The document; `tests/it/admin_openapi.rs` checks it against the router.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::DOCUMENT;
    use crate::passwords::{MAX_PASSWORD_LEN, MIN_PASSWORD_LEN};
    use crate::routes::admin::{audit, clients, grants, inventory_params, users};
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).unwrap()
    }

    /// The schema of parameter `name` of `method path`.
    fn parameter(document: &Value, path: &str, method: &str, name: &str) -> Value {
        document["paths"][path][method]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))["schema"]
            .clone()
    }

    fn number(value: &Value) -> u64 {
        value.as_u64().unwrap_or_else(|| panic!("not a number: {value}"))
    }

    /// Fuzzers and client generators believe the document: a bound it states that the API does
    /// not enforce (or the other way round) sends valid requests to 400s, or invalid ones past
    /// the documentation. Each documented bound is the constant the handler checks.
    #[test]
    fn documented_bounds_are_the_bounds_the_handlers_enforce() {
        let document = document();
        let max_length =
            |path: &str, method: &str, name: &str| number(&parameter(&document, path, method, name)["maxLength"]);
        let as_u64 = |n: usize| n as u64;

        for action in ["", "/approve", "/deny", "/block", "/unblock"] {
            let method = if action.is_empty() { "get" } else { "post" };
            let path = format!("/clients/{{client_id}}{action}");
            assert_eq!(max_length(&path, method, "client_id"), as_u64(clients::MAX_CLIENT_ID_CHARS), "{path}");
        }
        assert_eq!(max_length("/grants/{grant_id}", "delete", "grant_id"), as_u64(grants::MAX_GRANT_ID_CHARS));
        for action in ["disable", "enable", "password"] {
            let path = format!("/users/{{id}}/{action}");
            assert_eq!(max_length(&path, "post", "id"), as_u64(users::MAX_USER_ID_LEN), "{path}");
        }

        assert_eq!(max_length("/clients", "get", "q"), as_u64(inventory_params::MAX_TEXT_CHARS));
        assert_eq!(max_length("/clients", "get", "cursor"), as_u64(inventory_params::MAX_CURSOR_CHARS));
        let clients_limit = parameter(&document, "/clients", "get", "limit");
        assert_eq!(number(&clients_limit["maximum"]), inventory_params::MAX_LIMIT as u64);

        for path in ["/audit", "/audit/export"] {
            for name in ["client_id", "user_id"] {
                assert_eq!(max_length(path, "get", name), as_u64(audit::MAX_ID_LEN), "{path} {name}");
            }
            for name in ["since", "until"] {
                let maximum = number(&parameter(&document, path, "get", name)["maximum"]);
                assert_eq!(maximum, audit::MAX_TIME as u64, "{path} {name}");
            }
            let types = parameter(&document, path, "get", "type");
            assert_eq!(number(&types["maxItems"]), as_u64(audit::MAX_TYPES), "{path}");
            let pattern = format!("^[a-z0-9_]{{1,{}}}$", audit::MAX_TYPE_LEN);
            assert_eq!(types["items"]["pattern"], pattern.as_str(), "{path}");
        }
        let audit_limit = parameter(&document, "/audit", "get", "limit");
        assert_eq!(number(&audit_limit["maximum"]), audit::MAX_PAGE_SIZE as u64);

        for (path, method) in [("/users", "post"), ("/users/{id}/password", "post")] {
            let password = &document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["properties"]
                ["password"];
            assert_eq!(number(&password["minLength"]), as_u64(MIN_PASSWORD_LEN), "{path}");
            assert_eq!(number(&password["maxLength"]), as_u64(MAX_PASSWORD_LEN), "{path}");
        }
    }
}

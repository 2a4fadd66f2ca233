//! The checked-in OpenAPI document and the admin router describe the same API: every
//! documented operation exists, every route is documented, and the server serves the document.

use crate::admin_support::*;
use crate::support::*;
use postern_server::routes::admin::UNKNOWN_ENDPOINT;
use postern_server::routes::admin::openapi::DOCUMENT;
use postern_store::AdminAccess;
use reqwest::Method;
use serde_json::Value;

backend_tests!(
    every_documented_operation_exists_and_the_document_is_served,
    a_path_that_is_no_endpoint_gets_a_json_404_after_authentication,
);

fn document() -> Value {
    serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
}

/// A concrete path for a templated one (`{client_id}` -> `x`).
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| if segment.starts_with('{') { "x" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

async fn every_documented_operation_exists_and_the_document_is_served(app: TestApp) {
    let read = app.admin_token(AdminAccess::Read).await;
    let doc = document();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let reply = app.admin(method.clone(), &concrete(path), AdminAuth::Token(&read), None).await;
            // A path that is no route gets the catch-all's 404, a wrong method 405; a read token
            // reaches every GET and is refused (403) by every change: proof the route is there.
            let expected =
                if method == Method::GET { reply.status != 405 && reply.status != 401 } else { reply.status == 403 };
            assert!(expected, "{method} {path}: {} {}", reply.status, reply.body);
            if reply.status == 404 {
                assert_eq!(reply.json()["error"], "not_found", "{method} {path}");
                let description = reply.json()["error_description"].as_str().unwrap().to_owned();
                assert!(!description.starts_with(UNKNOWN_ENDPOINT), "{method} {path} is not routed: {description}");
            }
        }
    }
    let served = app.admin(Method::GET, "/openapi.json", AdminAuth::Token(&read), None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.json(), doc);
}

async fn a_path_that_is_no_endpoint_gets_a_json_404_after_authentication(app: TestApp) {
    let write = app.admin_token(AdminAccess::Write).await;
    for path in ["/nothing-here", "/clients/https:/app.example.com/client.json/approve", "/users/u_x/disable/more"] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let reply = app.admin(method.clone(), path, AdminAuth::Token(&write), None).await;
            assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
            assert_eq!(reply.header("content-type").as_deref(), Some("application/json"), "{method} {path}");
            let description = reply.json()["error_description"].as_str().unwrap().to_owned();
            assert!(description.starts_with(UNKNOWN_ENDPOINT) && description.contains("percent-encoded"));
        }
        // The API's door is the same for every path: no credentials, 401.
        assert_eq!(app.admin(Method::GET, path, AdminAuth::Anonymous, None).await.status, 401, "{path}");
    }
}

#[test]
fn every_route_of_the_admin_router_is_documented() {
    let router = include_str!("../../src/routes/admin/mod.rs");
    let doc = document();
    let documented = doc["paths"].as_object().unwrap();
    let routes: Vec<&str> = router.split("path(\"").skip(1).filter_map(|rest| rest.split('"').next()).collect();
    assert!(routes.len() >= 15, "found {routes:?}");
    // The catch-all answers paths that are not endpoints; it is no operation to document.
    for route in routes.into_iter().filter(|route| !route.starts_with("/{*")) {
        assert!(documented.contains_key(route), "{route} is routed but not in openapi.json");
    }
}

#[test]
fn the_document_is_openapi_3_1_with_bearer_security_and_error_schema() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["adminToken"]["scheme"], "bearer");
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for status in ["400", "401", "403"] {
                assert!(responses.contains_key(status), "{method} {path} does not document {status}");
            }
        }
    }
}

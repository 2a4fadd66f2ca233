//! The admin API's client inventory and client decisions (issue 6): one listing of every kind
//! of client with filters, sort and pages; each client's detail; approve, deny, block and
//! unblock with their audit events; and the "done means": blocking a client makes its
//! refresh token fail and introspection report `active: false` within one request.

use crate::admin_client_support::*;
use crate::admin_support::*;
use crate::support::*;
use postern_store::test_support::Backend;
use postern_store::{AdminAccess, CimdStatus, ClientStatus};
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    the_inventory_lists_every_kind_with_filters_and_pages,
    hostile_parameters_are_refused_with_400_naming_them,
    a_read_only_token_may_look_but_not_act,
    blocking_a_client_stops_its_refresh_token_and_introspection_at_once,
    pending_clients_are_approved_or_denied_and_each_decision_is_audited,
    ;
    own_server:
    blocking_a_metadata_document_client_revokes_its_grants_at_once,
    the_detail_shows_the_document_history_the_consents_and_the_grants,
);

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|i| i["client_id"].as_str().unwrap().to_owned()).collect()
}

async fn the_inventory_lists_every_kind_with_filters_and_pages(app: TestApp) {
    let token = app.admin_token(AdminAccess::Read).await;
    let get = |query: String| {
        let (app, token) = (&app, token.clone());
        async move {
            let reply = app.admin(Method::GET, &format!("/clients{query}"), AdminAuth::Token(&token), None).await;
            assert_eq!(reply.status, 200, "{query}: {}", reply.body);
            reply.json()
        }
    };
    pending_dcr_client(&app, "dcr_pending", "https://dcr.example.net/cb").await;
    seen_cimd_client(&app, "https://agent.example.org/c.json", "agent.example.org", CimdStatus::Denied, "Agent").await;

    let all = get("?sort=client_id".into()).await;
    assert_eq!(
        ids(&all),
        [CONFIDENTIAL_CLIENT, "dcr_pending", "https://agent.example.org/c.json", RESOURCE_SERVER_CLIENT, PUBLIC_CLIENT]
    );
    let by_id = |id: &str| all["items"].as_array().unwrap().iter().find(|i| i["client_id"] == id).unwrap().clone();
    let confidential = by_id(CONFIDENTIAL_CLIENT);
    assert_eq!(confidential["kind"], "preregistered");
    assert_eq!(
        confidential["provenance"],
        json!({
            "source": "config", "description": "configuration file", "registered_ip": null, "document_host": null,
        })
    );
    assert_eq!(confidential["owning_domain"], "app.example.com", "its first https redirect URI");
    assert_eq!(confidential["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!((confidential["status"].as_str(), confidential["live_grants"].as_i64()), (Some("active"), Some(0)));
    assert_eq!(by_id(PUBLIC_CLIENT)["owning_domain"], Value::Null, "loopback redirect URIs only");
    let dcr = by_id("dcr_pending");
    assert_eq!((dcr["kind"].as_str(), dcr["status"].as_str()), (Some("dcr"), Some("pending")));
    assert_eq!(dcr["provenance"]["description"], "registered itself from 198.51.100.9");
    let cimd = by_id("https://agent.example.org/c.json");
    assert_eq!((cimd["kind"].as_str(), cimd["status"].as_str()), (Some("metadata_document"), Some("blocked")));
    assert_eq!((cimd["client_name"].as_str(), cimd["stored_status"].as_str()), (Some("Agent"), Some("denied")));
    assert_eq!(cimd["redirect_uris"], json!([LOOPBACK_REDIRECT]), "from the validated document");
    assert_eq!(cimd["domain_decision"], "allow");
    assert_eq!(cimd["provenance"]["document_host"], "agent.example.org");

    assert_eq!(ids(&get("?kind=dcr".into()).await), ["dcr_pending"]);
    assert_eq!(ids(&get("?status=blocked".into()).await), ["https://agent.example.org/c.json"]);
    assert_eq!(
        ids(&get("?domain=*.example.com&sort=client_id".into()).await),
        [CONFIDENTIAL_CLIENT, RESOURCE_SERVER_CLIENT]
    );
    assert_eq!(ids(&get("?q=PUBLIC%20TEST".into()).await), [PUBLIC_CLIENT], "names match, case-insensitively");

    // A client's activity moves it to the front of the default order (most recent first).
    app.clock.advance(10);
    let _ = app.tokens().await;
    let recent = get(String::new()).await;
    assert_eq!(ids(&recent)[0], PUBLIC_CLIENT);
    assert_eq!(recent["items"][0]["live_grants"], 1);

    // Pages of two, in client_id order, end with next_cursor null and repeat nothing.
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let query = match &cursor {
            Some(cursor) => format!("?sort=client_id&limit=2&cursor={cursor}"),
            None => "?sort=client_id&limit=2".to_owned(),
        };
        let page = get(query).await;
        walked.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(walked, ids(&all));
}

async fn hostile_parameters_are_refused_with_400_naming_them(app: TestApp) {
    let token = app.admin_token(AdminAccess::Write).await;
    let other_sort = {
        let reply = app.admin(Method::GET, "/clients?sort=first_seen&limit=1", AdminAuth::Token(&token), None).await;
        reply.json()["next_cursor"].as_str().unwrap().to_owned()
    };
    let huge_id = "a".repeat(5000);
    for (method, path, named) in [
        (Method::GET, "/clients?limit=1000000".to_owned(), "limit"),
        (Method::GET, "/clients?limit=0".to_owned(), "limit"),
        (Method::GET, "/clients?cursor=not-a-cursor".to_owned(), "cursor"),
        (Method::GET, format!("/clients?sort=client_id&cursor={other_sort}"), "cursor"),
        (Method::GET, "/clients?sort=name".to_owned(), "sort"),
        (Method::GET, "/clients?status=denied".to_owned(), "status"),
        (Method::GET, "/clients?domain=Bad%20Host".to_owned(), "domain"),
        (Method::GET, "/clients?owner=me".to_owned(), "'owner'"),
        (Method::GET, format!("/clients/{huge_id}"), "client_id"),
        (Method::POST, format!("/clients/{}/approve", encoded("https://app.example.com/")), "client_id"),
        (Method::DELETE, "/domain-policy/rules/Bad%20Host".to_owned(), "pattern"),
        (Method::DELETE, "/domain-policy/rules/*.".to_owned(), "pattern"),
    ] {
        let reply = app.admin(method.clone(), &path, AdminAuth::Token(&token), None).await;
        assert_eq!(reply.status, 400, "{method} {path:.80}: {}", reply.body);
        assert_eq!(reply.json()["error"], "invalid_request");
        let description = reply.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(named), "{path:.80}: {description}");
    }
    let put = |path: &'static str, body: Value| app.admin(Method::PUT, path, AdminAuth::Token(&token), Some(body));
    let reply = put("/domain-policy/rules/example.com", json!({ "list": "maybe" })).await;
    assert_eq!((reply.status, reply.json()["error_description"].as_str().unwrap().starts_with("list")), (400, true));
    let reply = put("/domain-policy/rules/example.com", json!({ "list": "deny", "extra": 1 })).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    let reply = put("/domain-policy/unknown-domains", json!({ "value": "sometimes" })).await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    // Nothing was changed by any of them.
    assert_eq!(app.store.runtime_domain_policy().await.unwrap(), Default::default());
}

async fn a_read_only_token_may_look_but_not_act(app: TestApp) {
    let read = app.admin_token(AdminAccess::Read).await;
    let (_, refresh) = app.tokens().await;
    for (method, path, body) in [
        (Method::POST, format!("/clients/{PUBLIC_CLIENT}/block"), None),
        (Method::PUT, "/domain-policy/rules/example.com".to_owned(), Some(json!({ "list": "deny" }))),
        (Method::PUT, "/domain-policy/unknown-domains".to_owned(), Some(json!({ "value": "deny" }))),
        (Method::DELETE, "/grants/anything".to_owned(), None),
    ] {
        let reply = app.admin(method.clone(), &path, AdminAuth::Token(&read), body).await;
        assert_eq!(reply.status, 403, "{method} {path}: {}", reply.body);
        assert_eq!(reply.json()["error"], "insufficient_access");
    }
    assert_eq!(app.admin(Method::GET, "/domain-policy", AdminAuth::Token(&read), None).await.status, 200);
    assert_eq!(app.store.find_client(PUBLIC_CLIENT).await.unwrap().unwrap().status, ClientStatus::Active);
    assert_eq!(refresh_as(&app, &refresh, PUBLIC_CLIENT).await.status, 200, "nothing was revoked");
    assert_eq!(app.audit_count("admin_client_blocked").await, 0);
}

async fn blocking_a_client_stops_its_refresh_token_and_introspection_at_once(app: TestApp) {
    let token = app.admin_token(AdminAccess::Write).await;
    let (access, refresh) = app.tokens().await;
    assert_eq!(active(&app, &access).await, true);

    let reply =
        app.admin(Method::POST, &format!("/clients/{PUBLIC_CLIENT}/block"), AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        (body["client"]["status"].as_str(), body["previous_status"].as_str()),
        (Some("blocked"), Some("active"))
    );
    assert_eq!(body["revoked_grants"], 1);

    // The very next requests, with the clock standing still (no cache lifetime has passed).
    let refused = refresh_as(&app, &refresh, PUBLIC_CLIENT).await;
    assert_oauth_error(&refused, 401, "invalid_client");
    assert_eq!(active(&app, &access).await, false);
    let page = app.authorize(&app.authorize_params(), None).await;
    assert_eq!(page.status, 403, "this node forgot its cached client: {}", page.body);
    assert!(page.body.contains("blocked"), "{}", page.body);

    let (client_id, _, detail) = last_event(&app, "admin_client_blocked").await;
    assert_eq!(client_id.as_deref(), Some(PUBLIC_CLIENT));
    assert!(detail["actor"].as_str().unwrap().starts_with("token:adm_write"), "{detail}");
    assert_eq!((detail["previous_status"].as_str(), detail["revoked_grants"].as_i64()), (Some("active"), Some(1)));

    let again =
        app.admin(Method::POST, &format!("/clients/{PUBLIC_CLIENT}/block"), AdminAuth::Token(&token), None).await;
    assert_eq!(again.status, 409, "{}", again.body);

    // Unblocking makes the client usable, not its revoked tokens; users are asked again.
    let reply =
        app.admin(Method::POST, &format!("/clients/{PUBLIC_CLIENT}/unblock"), AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["client"]["status"], "active");
    assert_oauth_error(&refresh_as(&app, &refresh, PUBLIC_CLIENT).await, 400, "invalid_grant");
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    let consent = app.authorize(&app.authorize_params(), Some(&cookie)).await;
    assert_eq!(consent.status, 200, "the consent was forgotten at the block: {}", consent.body);
    assert!(consent.body.contains("Authorize access"), "{}", consent.body);
    assert_eq!(app.audit_count("admin_client_unblocked").await, 1);
}

async fn pending_clients_are_approved_or_denied_and_each_decision_is_audited(app: TestApp) {
    let token = app.admin_token(AdminAccess::Write).await;
    let act = |id: &str, action: &str| {
        let path = format!("/clients/{}/{action}", encoded(id));
        let (app, token) = (&app, token.clone());
        async move { app.admin(Method::POST, &path, AdminAuth::Token(&token), None).await }
    };
    pending_dcr_client(&app, "dcr_a", "https://a.example/cb").await;
    pending_dcr_client(&app, "dcr_b", "https://b.example/cb").await;

    let approved = act("dcr_a", "approve").await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(
        (approved.json()["client"]["status"].as_str(), approved.json()["revoked_grants"].as_i64()),
        (Some("active"), Some(0))
    );
    assert_eq!(act("dcr_a", "approve").await.status, 409, "already active");
    let deny_active = act("dcr_a", "deny").await;
    assert_eq!(deny_active.status, 409);
    assert!(deny_active.json()["error_description"].as_str().unwrap().contains("block it instead"));
    assert_eq!(act("dcr_b", "deny").await.json()["client"]["status"], "blocked");
    assert_eq!(act("dcr_b", "approve").await.status, 409, "a blocked client is unblocked, not approved");
    assert_eq!(act("dcr_nobody", "approve").await.status, 404);

    // Metadata-document clients: pending ones, and ones not seen yet (pre-decisions).
    let pending = "https://pending.example/client.json";
    seen_cimd_client(&app, pending, "pending.example", CimdStatus::Pending, "Pending").await;
    let reply = act(pending, "approve").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.json()["client"]["stored_status"].as_str(), reply.json()["previous_status"].as_str()),
        (Some("approved"), Some("pending"))
    );
    let unseen = "https://unseen.example/client.json";
    let reply = act(unseen, "deny").await;
    assert_eq!((reply.status, reply.json()["previous_status"].clone()), (200, Value::Null), "{}", reply.body);
    let record = app.store.find_cimd_client(unseen).await.unwrap().unwrap();
    assert_eq!((record.status, record.host.as_str()), (CimdStatus::Denied, "unseen.example"));
    assert!(record.decided_by.unwrap().starts_with("token:adm_write"));
    assert_eq!(act("https://never.example/client.json", "unblock").await.status, 404);

    assert_eq!(app.audit_count("admin_client_approved").await, 2);
    assert_eq!(app.audit_count("admin_client_denied").await, 2);
    let (client_id, _, detail) = last_event(&app, "admin_client_denied").await;
    assert_eq!(client_id.as_deref(), Some(unseen));
    assert_eq!(
        (detail["client_kind"].as_str(), detail["previous_status"].clone()),
        (Some("metadata_document"), Value::Null)
    );
}

async fn blocking_a_metadata_document_client_revokes_its_grants_at_once(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_id = documents.serve_client("/agent/client.json", "Agent", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let token = app.admin_token(AdminAccess::Write).await;
    let (access, refresh) = cimd_tokens(&app, &client_id).await;

    let path = format!("/clients/{}/block", encoded(&client_id));
    let reply = app.admin(Method::POST, &path, AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.json()["previous_status"].as_str(), reply.json()["revoked_grants"].as_i64()),
        (Some("allowed"), Some(1))
    );
    assert_oauth_error(&refresh_as(&app, &refresh, &client_id).await, 401, "invalid_client");
    assert_eq!(active(&app, &access).await, false);
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    let page = app.authorize(&cimd_params(&app, &client_id), Some(&cookie)).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("has blocked"), "{}", page.body);
}

async fn the_detail_shows_the_document_history_the_consents_and_the_grants(backend: Backend) {
    let documents = DocumentServer::start().await;
    let path = "/changing/client.json";
    let client_id = documents.url(path);
    let serve = |redirects: &[&str]| {
        let route =
            Route::json(&client_document(&client_id, "Changing", redirects)).header("cache-control", "no-store");
        documents.serve(path, route);
    };
    serve(&[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let token = app.admin_token(AdminAccess::Read).await;
    let _ = cimd_tokens(&app, &client_id).await;
    // The document gains a redirect URI: a security-relevant change, fetched at the next request.
    serve(&[LOOPBACK_REDIRECT, "https://new.example/cb"]);
    app.clock.advance(60);
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    let asked_again = app.authorize(&cimd_params(&app, &client_id), Some(&cookie)).await;
    assert_eq!(asked_again.status, 200, "{}", asked_again.body);

    let reply =
        app.admin(Method::GET, &format!("/clients/{}", encoded(&client_id)), AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let detail = reply.json();
    assert_eq!(
        (detail["kind"].as_str(), detail["owning_domain"].as_str()),
        (Some("metadata_document"), Some("cimd.test"))
    );
    let document = &detail["metadata_document"];
    assert_eq!(document["client"]["redirect_uris"], json!([LOOPBACK_REDIRECT, "https://new.example/cb"]));
    let history = document["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{document}");
    assert_eq!(history[0]["security_relevant_change"], true);
    assert_eq!(history[1]["client"]["redirect_uris"], json!([LOOPBACK_REDIRECT]));
    assert_eq!(history[0]["fetched_at"].as_i64().unwrap() - history[1]["fetched_at"].as_i64().unwrap(), 60);
    assert!(document["recent_fetches"].as_array().unwrap().len() >= 2);
    assert_eq!(document["recent_fetches"][0]["detail"]["outcome"], "ok");

    let consents = detail["consents"].as_array().unwrap();
    assert_eq!(consents.len(), 1);
    assert_eq!(
        (consents[0]["username"].as_str(), consents[0]["redirect_uri"].as_str()),
        (Some(USERNAME), Some(LOOPBACK_REDIRECT))
    );
    let grants = detail["grants"].as_array().unwrap();
    assert_eq!(
        (grants.len(), grants[0]["username"].as_str(), grants[0]["scope"].as_str()),
        (1, Some(USERNAME), Some("mcp:read"))
    );
    assert_eq!(detail["live_grants"], 1);

    let missing = app
        .admin(
            Method::GET,
            &format!("/clients/{}", encoded("https://cimd.test/none.json")),
            AdminAuth::Token(&token),
            None,
        )
        .await;
    assert_eq!(missing.status, 404, "{}", missing.body);
}

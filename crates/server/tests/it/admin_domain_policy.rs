//! The admin API's runtime domain policy (R085) and grant revocation: rules and
//! `unknown_domains` merged with the configuration file (deny wins), blocking a whole domain
//! revokes its metadata-document clients' grants at once, and one user's grant can be revoked.

use crate::admin_client_support::{
    LOOPBACK_REDIRECT, active, cimd_params, cimd_tokens, encoded, last_event, refresh_as,
};
use crate::admin_support::*;
use crate::support::*;
use postern_store::AdminAccess;
use postern_store::test_support::Backend;
use reqwest::Method;
use serde_json::json;

backend_tests!(
    revoking_one_grant_leaves_the_users_other_grants_alone,
    ;
    own_server:
    r085_a_deny_rule_blocks_a_whole_domain_and_revokes_its_grants_at_once,
    r085_the_policy_shows_where_each_entry_comes_from_and_file_rules_stay_in_the_file,
    r085_unknown_domains_can_be_changed_at_runtime_and_reset_to_the_file,
);

async fn r085_a_deny_rule_blocks_a_whole_domain_and_revokes_its_grants_at_once(backend: Backend) {
    let documents = DocumentServer::start().await;
    let first = documents.serve_client("/one/client.json", "One", &[LOOPBACK_REDIRECT]);
    let second = documents.serve_client("/two/client.json", "Two", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let token = app.admin_token(AdminAccess::Write).await;
    // Signed in before any consent to the public client is remembered (session_of consents).
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    let (access_1, refresh_1) = cimd_tokens(&app, &first).await;
    let (access_2, _) = cimd_tokens(&app, &second).await;
    let (registered_access, registered_refresh) = app.tokens().await;

    let reply = app
        .admin(Method::PUT, "/domain-policy/rules/cimd.test", AdminAuth::Token(&token), Some(json!({ "list": "deny" })))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let body = reply.json();
    assert_eq!((body["rule"]["source"].as_str(), body["rule"]["list"].as_str()), (Some("runtime"), Some("deny")));
    assert_eq!(body["revoked_grants"], 2, "both clients of the domain");

    // At once, on the next requests: refresh refused, access tokens inactive, /authorize refused.
    assert_oauth_error(&refresh_as(&app, &refresh_1, &first).await, 401, "invalid_client");
    assert_eq!((active(&app, &access_1).await, active(&app, &access_2).await), (json!(false), json!(false)));
    let page = app.authorize(&cimd_params(&app, &first), Some(&cookie)).await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("does not accept applications from cimd.test"), "{}", page.body);
    // Clients of other domains keep theirs.
    assert_eq!(active(&app, &registered_access).await, json!(true));
    assert_eq!(refresh_as(&app, &registered_refresh, PUBLIC_CLIENT).await.status, 200);

    let (_, _, detail) = last_event(&app, "admin_domain_rule_added").await;
    assert_eq!(detail["pattern"], "cimd.test");
    assert!(detail["actor"].as_str().unwrap().starts_with("token:adm_write"), "{detail}");
    assert_eq!(detail["revoked_grants"], 2);

    // Putting the same rule again changes nothing; removing it lets the domain in again, but
    // the revoked tokens stay revoked.
    let again = app
        .admin(Method::PUT, "/domain-policy/rules/cimd.test", AdminAuth::Token(&token), Some(json!({ "list": "deny" })))
        .await;
    assert_eq!((again.status, again.json()["changed"].clone()), (200, json!(false)));
    let removed = app.admin(Method::DELETE, "/domain-policy/rules/cimd.test", AdminAuth::Token(&token), None).await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.json()["removed"]["pattern"], "cimd.test");
    assert_eq!(app.audit_count("admin_domain_rule_removed").await, 1);
    let page = app.authorize(&cimd_params(&app, &first), Some(&cookie)).await;
    assert_eq!(page.status, 200, "consent asked again: {}", page.body);
    assert!(page.body.contains("Authorize access"), "{}", page.body);
    assert_oauth_error(&refresh_as(&app, &refresh_1, &first).await, 400, "invalid_grant");
    let gone = app.admin(Method::DELETE, "/domain-policy/rules/cimd.test", AdminAuth::Token(&token), None).await;
    assert_eq!(gone.status, 404, "{}", gone.body);
}

async fn r085_the_policy_shows_where_each_entry_comes_from_and_file_rules_stay_in_the_file(backend: Backend) {
    let documents = DocumentServer::start().await;
    let app = TestApp::spawn_with_documents(backend, &documents, |config| {
        config.cimd.allow_domains = vec!["*.partner.example".into(), "cimd.test".into()];
        config.cimd.deny_domains = vec!["bad.example".into()];
    })
    .await;
    let token = app.admin_token(AdminAccess::Write).await;
    let put = |pattern: &str, list: &str| {
        let (app, token, path) = (&app, token.clone(), format!("/domain-policy/rules/{pattern}"));
        let body = json!({ "list": list });
        async move { app.admin(Method::PUT, &path, AdminAuth::Token(&token), Some(body)).await }
    };
    assert_eq!(put("claude.ai", "allow").await.status, 201);
    assert_eq!(put("*.evil.example", "deny").await.status, 201);
    // Moving a runtime rule to the other list.
    let moved = put("claude.ai", "deny").await;
    assert_eq!((moved.status, moved.json()["rule"]["list"].clone()), (200, json!("deny")));

    let policy = app.admin(Method::GET, "/domain-policy", AdminAuth::Token(&token), None).await.json();
    let entries = |list: &str| -> Vec<(String, String)> {
        policy[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["pattern"].as_str().unwrap().to_owned(), e["source"].as_str().unwrap().to_owned()))
            .collect()
    };
    let pair = |p: &str, s: &str| (p.to_owned(), s.to_owned());
    assert_eq!(entries("allow"), [pair("*.partner.example", "config"), pair("cimd.test", "config")]);
    assert_eq!(
        entries("deny"),
        [pair("bad.example", "config"), pair("*.evil.example", "runtime"), pair("claude.ai", "runtime")]
    );
    assert_eq!(policy["unknown_domains"], json!({ "value": "allow", "source": "config", "config_value": "allow" }));
    assert!(policy["deny"][2]["created_by"].as_str().unwrap().starts_with("token:adm_write"));

    let file_rule = app.admin(Method::DELETE, "/domain-policy/rules/bad.example", AdminAuth::Token(&token), None).await;
    assert_eq!(file_rule.status, 409, "{}", file_rule.body);
    assert!(file_rule.json()["error_description"].as_str().unwrap().contains("configuration file"));
    // A runtime deny wins over the file's allow of the same domain.
    let client_id = documents.serve_client("/p/client.json", "Partner", &[LOOPBACK_REDIRECT]);
    assert_eq!(app.authorize(&cimd_params(&app, &client_id), None).await.status, 200, "allowed by the file");
    assert_eq!(put("cimd.test", "deny").await.status, 201);
    let refused = app.authorize(&cimd_params(&app, &client_id), None).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}

async fn r085_unknown_domains_can_be_changed_at_runtime_and_reset_to_the_file(backend: Backend) {
    let documents = DocumentServer::start().await;
    let known = documents.serve_client("/known/client.json", "Known", &[LOOPBACK_REDIRECT]);
    let newcomer = documents.serve_client("/new/client.json", "Newcomer", &[LOOPBACK_REDIRECT]);
    let app = TestApp::spawn_with_documents(backend, &documents, |_| {}).await;
    let token = app.admin_token(AdminAccess::Write).await;
    let (access, _) = cimd_tokens(&app, &known).await;
    let set = |value: &str| {
        let (app, token, body) = (&app, token.clone(), json!({ "value": value }));
        async move { app.admin(Method::PUT, "/domain-policy/unknown-domains", AdminAuth::Token(&token), Some(body)).await }
    };

    let reply = set("approval").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(
        (body["value"].as_str(), body["source"].as_str(), body["config_value"].as_str()),
        (Some("approval"), Some("runtime"), Some("allow"))
    );
    assert_eq!(body["revoked_grants"], 0, "waiting for approval revokes nothing");
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    let waiting = app.authorize(&cimd_params(&app, &newcomer), Some(&cookie)).await;
    assert_eq!(waiting.status, 403, "{}", waiting.body);
    assert!(waiting.body.contains("Waiting for administrator approval"), "{}", waiting.body);
    let approve = app
        .admin(Method::POST, &format!("/clients/{}/approve", encoded(&newcomer)), AdminAuth::Token(&token), None)
        .await;
    assert_eq!(approve.status, 200, "{}", approve.body);
    let consent = app.authorize(&cimd_params(&app, &newcomer), Some(&cookie)).await;
    assert_eq!(consent.status, 200, "approved, and this node applies it at once: {}", consent.body);
    assert!(consent.body.contains("Newcomer"), "{}", consent.body);

    // "deny" refuses every domain on no allow list: the known client's grant is revoked.
    let reply = set("deny").await;
    assert_eq!(reply.json()["revoked_grants"], 1, "{}", reply.body);
    assert_eq!(active(&app, &access).await, json!(false));
    let (_, _, detail) = last_event(&app, "admin_unknown_domains_set").await;
    assert_eq!((detail["value"].as_str(), detail["previous"].as_str()), (Some("deny"), Some("approval")));

    let reset = app.admin(Method::DELETE, "/domain-policy/unknown-domains", AdminAuth::Token(&token), None).await;
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!((reset.json()["value"].as_str(), reset.json()["source"].as_str()), (Some("allow"), Some("config")));
    assert_eq!(app.audit_count("admin_unknown_domains_reset").await, 1);
    let again = app.admin(Method::DELETE, "/domain-policy/unknown-domains", AdminAuth::Token(&token), None).await;
    assert_eq!(again.status, 404, "{}", again.body);
}

async fn revoking_one_grant_leaves_the_users_other_grants_alone(app: TestApp) {
    let token = app.admin_token(AdminAccess::Write).await;
    let (access_1, refresh_1) = app.tokens().await;
    let (access_2, refresh_2) = app.tokens().await;
    let detail =
        app.admin(Method::GET, &format!("/clients/{PUBLIC_CLIENT}"), AdminAuth::Token(&token), None).await.json();
    let grants = detail["grants"].as_array().unwrap().clone();
    assert_eq!(grants.len(), 2, "{detail}");
    // The grant behind the first refresh token.
    let first = app.store.find_refresh_token(postern_core::TokenHash::of(&refresh_1).as_str()).await.unwrap().unwrap();
    assert!(grants.iter().any(|g| g["grant_id"] == first.grant_id.as_str()));

    let reply = app.admin(Method::DELETE, &format!("/grants/{}", first.grant_id), AdminAuth::Token(&token), None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.json()["user_id"].as_str(), reply.json()["client_id"].as_str()),
        (Some("u_alice"), Some(PUBLIC_CLIENT))
    );
    assert_eq!(active(&app, &access_1).await, json!(false));
    assert_oauth_error(&refresh_as(&app, &refresh_1, PUBLIC_CLIENT).await, 400, "invalid_grant");
    assert_eq!(active(&app, &access_2).await, json!(true));
    assert_eq!(refresh_as(&app, &refresh_2, PUBLIC_CLIENT).await.status, 200);

    let (client_id, user_id, detail) = last_event(&app, "admin_grant_revoked").await;
    assert_eq!((client_id.as_deref(), user_id.as_deref()), (Some(PUBLIC_CLIENT), Some("u_alice")));
    assert_eq!(detail["grant_id"], first.grant_id.as_str());
    assert!(detail["actor"].as_str().unwrap().starts_with("token:adm_write"), "{detail}");

    let again = app.admin(Method::DELETE, &format!("/grants/{}", first.grant_id), AdminAuth::Token(&token), None).await;
    assert_eq!(again.status, 409, "{}", again.body);
    let unknown = app.admin(Method::DELETE, "/grants/g_unknown", AdminAuth::Token(&token), None).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}

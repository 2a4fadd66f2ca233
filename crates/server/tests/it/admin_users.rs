//! `/admin/api/v1/users`: listing, creating, disabling, enabling and resetting passwords, each
//! with its audit event naming the administrator who acted.

use crate::admin_support::*;
use crate::support::*;
use postern_core::Clock;
use postern_store::AdminAccess;
use reqwest::Method;
use serde_json::{Value, json};

backend_tests!(
    lists_users_with_live_grant_counts_and_never_a_password_hash,
    creates_a_user_who_can_then_sign_in_and_the_creation_is_audited,
    creating_a_user_refuses_bad_input_naming_the_member_at_fault,
    a_read_token_can_list_users_but_change_nothing,
    disabling_a_user_ends_their_session_and_refresh_tokens_and_refuses_their_sign_in,
    enabling_a_user_lets_them_sign_in_again,
    resetting_a_password_ends_sessions_and_only_the_new_password_works,
    an_admin_session_needs_the_csrf_header_and_cannot_disable_itself,
);

const NEW_PASSWORD: &str = "a brand new password for alice";

async fn write_token(app: &TestApp) -> String {
    app.admin_token(AdminAccess::Write).await
}

/// The newest audit event of `kind`, with its detail parsed.
async fn last_event(app: &TestApp, kind: &str) -> (postern_store::AuditRecord, Value) {
    let event = app
        .store
        .recent_audit_events(1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} event"));
    let detail = serde_json::from_str(event.detail.as_deref().unwrap_or("null")).unwrap();
    (event, detail)
}

/// Alice's tokens and signed-in session cookie, from one real authorization.
async fn alice_signed_in_with_tokens(app: &TestApp) -> (String, String, String) {
    let (redirect, cookie) = app.authorize_through_browser(&app.authorize_params()).await;
    let code = redirect.location_param("code").expect("code");
    let reply = app.exchange(&code).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    (body["access_token"].as_str().unwrap().to_owned(), body["refresh_token"].as_str().unwrap().to_owned(), cookie)
}

/// Is `cookie` a signed-in session? The account page answers with the list only then.
async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    let page = app.http.get(app.url("/account/apps")).header("cookie", cookie).send().await.unwrap();
    page.text().await.unwrap().contains("Connected apps")
}

async fn lists_users_with_live_grant_counts_and_never_a_password_hash(app: TestApp) {
    alice_signed_in_with_tokens(&app).await;
    let token = app.admin_token(AdminAccess::Read).await;

    let reply = app.admin(Method::GET, "/users", AdminAuth::Token(&token), None).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let users = reply.json()["users"].as_array().unwrap().clone();
    // The first start created the `admin` account; the tests add alice.
    let names: Vec<&str> = users.iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", USERNAME], "by username");
    assert_eq!((users[0]["is_admin"].as_bool(), users[0]["live_grants"].as_i64()), (Some(true), Some(0)));
    let alice = &users[1];
    assert_eq!(alice["id"], "u_alice");
    assert_eq!(alice["username"], USERNAME);
    assert_eq!(alice["is_admin"], false);
    assert_eq!(alice["created_at"], app.clock.now());
    assert_eq!(alice["disabled_at"], Value::Null);
    assert_eq!(alice["live_grants"], 1);
    assert!(!reply.body.contains("argon2") && !reply.body.contains("password"), "{}", reply.body);
}

async fn creates_a_user_who_can_then_sign_in_and_the_creation_is_audited(app: TestApp) {
    let token = write_token(&app).await;
    let body = json!({"username": "carol", "password": "carol's long password", "is_admin": true});

    let reply = app.admin(Method::POST, "/users", AdminAuth::Token(&token), Some(body.clone())).await;

    assert_eq!(reply.status, 201, "{}", reply.body);
    let created = reply.json();
    assert_eq!((created["username"].as_str(), created["is_admin"].as_bool()), (Some("carol"), Some(true)));
    assert_eq!(created["live_grants"], 0);
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("u_"), "{id}");
    assert!(!reply.body.contains("argon2") && !reply.body.contains("long password"), "{}", reply.body);
    let (event, detail) = last_event(&app, "admin_user_created").await;
    assert_eq!(event.user_id.as_deref(), Some(id.as_str()));
    assert!(detail["actor"].as_str().unwrap().starts_with("token:adm_write"), "{detail}");
    assert_eq!((detail["username"].as_str(), detail["is_admin"].as_bool()), (Some("carol"), Some(true)));
    assert!(!event.detail.unwrap().contains("long password"));
    // The password was hashed for real: carol signs in with it.
    let (cookie, _) = app.session_of("carol", "carol's long password").await;
    assert!(signed_in(&app, &cookie).await);

    let again = app.admin(Method::POST, "/users", AdminAuth::Token(&token), Some(body)).await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.json()["error_description"].as_str().unwrap().contains("carol"));
}

async fn creating_a_user_refuses_bad_input_naming_the_member_at_fault(app: TestApp) {
    let token = write_token(&app).await;
    let password = "long enough password";
    for (body, named) in [
        (json!({"username": "", "password": password}), "username"),
        (json!({"username": "bad name", "password": password}), "username"),
        (json!({"username": "x".repeat(65), "password": password}), "username"),
        (json!({"username": "dave", "password": "too short"}), "password"),
        (json!({"username": "dave", "password": "x".repeat(1025)}), "password"),
        (json!({"username": "dave"}), "password"),
        (json!({"password": password}), "username"),
        (json!({"username": 7, "password": password}), "username"),
        (json!({"username": "dave", "password": password, "is_admin": "yes"}), "is_admin"),
        (json!({"username": "dave", "password": password, "role": "admin"}), "role"),
        (json!(["dave", password]), "JSON object"),
    ] {
        let reply = app.admin(Method::POST, "/users", AdminAuth::Token(&token), Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.json()["error"], "invalid_request");
        let description = reply.json()["error_description"].as_str().unwrap().to_owned();
        assert!(description.contains(named), "{body}: {description}");
    }
    let form = app
        .http
        .post(app.url("/admin/api/v1/users"))
        .bearer_auth(&token)
        .form(&[("username", "dave"), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    assert!(app.store.find_user_by_username("dave").await.unwrap().is_none(), "nothing was created");
}

async fn a_read_token_can_list_users_but_change_nothing(app: TestApp) {
    let token = app.admin_token(AdminAccess::Read).await;
    let users = app.store.count_users().await.unwrap();
    let new_user = json!({"username": "carol", "password": "carol's long password"});
    for (path, body) in [
        ("/users", Some(new_user)),
        ("/users/u_alice/disable", None),
        ("/users/u_alice/enable", None),
        ("/users/u_alice/password", Some(json!({"password": NEW_PASSWORD}))),
    ] {
        let reply = app.admin(Method::POST, path, AdminAuth::Token(&token), body).await;
        assert_eq!(reply.status, 403, "{path}: {}", reply.body);
        assert_eq!(reply.json()["error"], "insufficient_access");
    }
    assert_eq!(app.store.count_users().await.unwrap(), users);
    assert!(app.store.find_user("u_alice").await.unwrap().unwrap().disabled_at.is_none());
    for kind in ["admin_user_created", "admin_user_disabled", "admin_user_enabled", "admin_user_password_reset"] {
        assert_eq!(app.audit_count(kind).await, 0, "{kind}");
    }
}

async fn disabling_a_user_ends_their_session_and_refresh_tokens_and_refuses_their_sign_in(app: TestApp) {
    let (access, refresh, cookie) = alice_signed_in_with_tokens(&app).await;
    assert!(signed_in(&app, &cookie).await);
    let token = write_token(&app).await;

    let reply = app.admin(Method::POST, "/users/u_alice/disable", AdminAuth::Token(&token), None).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["changed"], true);
    assert_eq!(body["grants_revoked"], 1);
    assert!(body["sessions_ended"].as_u64().unwrap() >= 1, "{body}");
    assert_eq!(body["user"]["disabled_at"], app.clock.now());
    assert_eq!(body["user"]["live_grants"], 0);
    // The session is gone, the refresh token is dead and the access token is inactive.
    assert!(!signed_in(&app, &cookie).await);
    assert_oauth_error(&app.refresh(&refresh).await, 400, "invalid_grant");
    assert_eq!(app.introspect(&access).await["active"], false);
    // The right password no longer signs in (and says why only after the right password).
    let page = app.authorize(&app.authorize_params(), None).await;
    let anonymous = page.session_cookie().unwrap();
    let (refused, _) = app.login(&page, &anonymous, &app.authorize_params(), PASSWORD).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("disabled"));
    assert_eq!(app.audit_count("login_refused_disabled").await, 1);
    let (event, detail) = last_event(&app, "admin_user_disabled").await;
    assert_eq!(event.user_id.as_deref(), Some("u_alice"));
    assert!(detail["actor"].as_str().unwrap().starts_with("token:"), "{detail}");

    let again = app.admin(Method::POST, "/users/u_alice/disable", AdminAuth::Token(&token), None).await;
    assert_eq!((again.status, again.json()["changed"].clone()), (200, json!(false)));
    assert_eq!(app.audit_count("admin_user_disabled").await, 1, "a no-op is not a second event");
    let unknown = app.admin(Method::POST, "/users/u_nobody/disable", AdminAuth::Token(&token), None).await;
    assert_eq!((unknown.status, unknown.json()["error"].clone()), (404, json!("not_found")));
    let long = format!("/users/{}/disable", "u".repeat(5000));
    assert_eq!(app.admin(Method::POST, &long, AdminAuth::Token(&token), None).await.status, 404);
}

async fn enabling_a_user_lets_them_sign_in_again(app: TestApp) {
    let token = write_token(&app).await;
    app.admin(Method::POST, "/users/u_alice/disable", AdminAuth::Token(&token), None).await;

    let reply = app.admin(Method::POST, "/users/u_alice/enable", AdminAuth::Token(&token), None).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.json()["changed"].clone(), reply.json()["user"]["disabled_at"].clone()),
        (json!(true), Value::Null)
    );
    let (cookie, _) = app.session_of(USERNAME, PASSWORD).await;
    assert!(signed_in(&app, &cookie).await);
    let (event, detail) = last_event(&app, "admin_user_enabled").await;
    assert_eq!(event.user_id.as_deref(), Some("u_alice"));
    assert!(detail["actor"].as_str().is_some());
    let again = app.admin(Method::POST, "/users/u_alice/enable", AdminAuth::Token(&token), None).await;
    assert_eq!(again.json()["changed"], false);
    assert_eq!(app.admin(Method::POST, "/users/u_x/enable", AdminAuth::Token(&token), None).await.status, 404);
}

async fn resetting_a_password_ends_sessions_and_only_the_new_password_works(app: TestApp) {
    let (_, refresh, cookie) = alice_signed_in_with_tokens(&app).await;
    let token = write_token(&app).await;
    let short = app
        .admin(Method::POST, "/users/u_alice/password", AdminAuth::Token(&token), Some(json!({"password": "short"})))
        .await;
    assert_eq!(short.status, 400);
    assert!(short.json()["error_description"].as_str().unwrap().starts_with("password must be 12"));

    let body = json!({"password": NEW_PASSWORD});
    let reply = app.admin(Method::POST, "/users/u_alice/password", AdminAuth::Token(&token), Some(body)).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.json()["sessions_ended"].as_u64().unwrap() >= 1);
    assert!(!reply.body.contains(NEW_PASSWORD));
    assert!(!signed_in(&app, &cookie).await, "the old session ended");
    assert_eq!(app.refresh(&refresh).await.status, 200, "applications stay connected");
    let page = app.authorize(&app.authorize_params(), None).await;
    let anonymous = page.session_cookie().unwrap();
    let (old, _) = app.login(&page, &anonymous, &app.authorize_params(), PASSWORD).await;
    assert_eq!(old.status, 401, "the old password is refused");
    let (new, _) = app.login(&page, &anonymous, &app.authorize_params(), NEW_PASSWORD).await;
    assert_eq!(new.status, 303, "the remembered consent lets the new password through: {}", new.body);
    let (event, detail) = last_event(&app, "admin_user_password_reset").await;
    assert_eq!(event.user_id.as_deref(), Some("u_alice"));
    assert!(detail["actor"].as_str().is_some());
    assert!(!event.detail.unwrap().contains(NEW_PASSWORD));
    let unknown = json!({"password": NEW_PASSWORD});
    assert_eq!(
        app.admin(Method::POST, "/users/u_x/password", AdminAuth::Token(&token), Some(unknown)).await.status,
        404
    );
}

async fn an_admin_session_needs_the_csrf_header_and_cannot_disable_itself(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;

    let without = app.admin(Method::POST, "/users/u_alice/disable", AdminAuth::Session(&cookie, None), None).await;
    assert_eq!(without.status, 403, "{}", without.body);
    assert!(app.store.find_user("u_alice").await.unwrap().unwrap().disabled_at.is_none());

    let with = app.admin(Method::POST, "/users/u_alice/disable", AdminAuth::Session(&cookie, Some(&csrf)), None).await;
    assert_eq!(with.status, 200, "{}", with.body);
    let (_, detail) = last_event(&app, "admin_user_disabled").await;
    assert_eq!(detail["actor"], format!("user:{ADMIN_USER_ID}"));

    let own = format!("/users/{ADMIN_USER_ID}/disable");
    let itself = app.admin(Method::POST, &own, AdminAuth::Session(&cookie, Some(&csrf)), None).await;
    assert_eq!(itself.status, 409, "{}", itself.body);
    assert!(app.store.find_user(ADMIN_USER_ID).await.unwrap().unwrap().disabled_at.is_none());
}

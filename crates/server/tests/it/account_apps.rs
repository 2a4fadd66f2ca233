//! The "connected apps" page: a user sees only their own grants and revokes them with a form
//! bound to their session (CSRF), never anyone else's.

use crate::support::*;
use postern_core::Clock;
use postern_store::UserRecord;

backend_tests!(
    signed_out_the_page_offers_a_sign_in_form_that_leads_back_to_the_list,
    the_page_lists_only_the_signed_in_users_live_grants,
    revoking_with_the_pages_csrf_token_ends_the_grant_and_is_audited,
    revoking_without_the_sessions_csrf_token_or_cookie_fails_and_changes_nothing,
    another_users_grant_cannot_be_revoked_and_is_indistinguishable_from_an_unknown_one,
);

const BOB: &str = "bob";
const BOB_PASSWORD: &str = "bob's own long password";

async fn add_bob(app: &TestApp) {
    let bob = UserRecord {
        id: "u_bob".into(),
        username: BOB.into(),
        password_hash: postern_server::passwords::hash_password(BOB_PASSWORD).unwrap(),
        is_admin: false,
        created_at: app.clock.now(),
        disabled_at: None,
    };
    app.store.create_user(&bob).await.unwrap();
}

/// A code for `params` authorized by `username`, through the real login and consent forms.
async fn refresh_token_of(app: &TestApp, username: &str, password: &str, params: &[(String, String)]) -> String {
    let page = app.authorize(params, None).await;
    let anonymous = page.session_cookie().unwrap();
    let (consent, cookie) = app.login_as(&page, &anonymous, params, username, password).await;
    let redirect = app.consent(&consent, &cookie, params, "approve").await;
    let code = redirect.location_param("code").unwrap_or_else(|| panic!("no code: {}", redirect.body));
    let client_id = params.iter().find(|(n, _)| n == "client_id").unwrap().1.clone();
    let reply = if client_id == CONFIDENTIAL_CLIENT {
        app.exchange_confidential(&code).await
    } else {
        app.exchange(&code).await
    };
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["refresh_token"].as_str().unwrap().to_owned()
}

async fn apps_page(app: &TestApp, cookie: Option<&str>) -> Reply {
    let mut request = app.http.get(app.url("/account/apps"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Reply { status, headers, body: response.text().await.unwrap() }
}

/// Signs in on the account page's own form; returns the signed-in cookie.
async fn account_session(app: &TestApp, username: &str, password: &str) -> String {
    let page = apps_page(app, None).await;
    let anonymous = page.session_cookie().unwrap();
    let form = [
        ("csrf_token".to_owned(), page.csrf_token()),
        ("username".to_owned(), username.to_owned()),
        ("password".to_owned(), password.to_owned()),
    ];
    let reply = app.post_form("/account/sign-in", Some(&anonymous), &form).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    reply.session_cookie().expect("a new session cookie")
}

async fn revoke(app: &TestApp, cookie: Option<&str>, csrf: Option<&str>, grant_id: &str) -> Reply {
    let mut form = vec![("grant_id".to_owned(), grant_id.to_owned())];
    if let Some(csrf) = csrf {
        form.push(("csrf_token".to_owned(), csrf.to_owned()));
    }
    app.post_form("/account/apps/revoke", cookie, &form).await
}

async fn signed_out_the_page_offers_a_sign_in_form_that_leads_back_to_the_list(app: TestApp) {
    let page = apps_page(&app, None).await;

    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Sign in") && page.body.contains("name=\"password\""), "{}", page.body);
    assert!(page.body.contains(&format!("action=\"{}\"", "/account/sign-in")), "{}", page.body);
    assert!(!page.body.contains("<script"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{csp}");
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    let anonymous = page.session_cookie().expect("a cookie binds the form");

    let form = |password: &str| {
        [
            ("csrf_token".to_owned(), page.csrf_token()),
            ("username".to_owned(), USERNAME.to_owned()),
            ("password".to_owned(), password.to_owned()),
        ]
    };
    let wrong = app.post_form("/account/sign-in", Some(&anonymous), &form("not the password")).await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert!(wrong.body.contains("Incorrect username or password."));
    let forged = app.post_form("/account/sign-in", Some(&anonymous), &form(PASSWORD)[1..]).await;
    assert_eq!(forged.status, 403, "no CSRF token: {}", forged.body);

    let signed_in = app.post_form("/account/sign-in", Some(&anonymous), &form(PASSWORD)).await;

    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(signed_in.location(), "/account/apps");
    let cookie = signed_in.session_cookie().expect("a new session cookie");
    assert_ne!(cookie, anonymous, "signing in replaces the cookie (no session fixation)");
    let list = apps_page(&app, Some(&cookie)).await;
    assert!(list.body.contains("Connected apps") && list.body.contains(USERNAME), "{}", list.body);
    assert!(list.body.contains("No application is connected"));
    let event = app.store.recent_audit_events(10).await.unwrap().into_iter().find(|e| e.kind == "login_succeeded");
    let event = event.expect("the sign-in is audited");
    assert_eq!((event.user_id.as_deref(), event.client_id), (Some("u_alice"), None));
}

async fn the_page_lists_only_the_signed_in_users_live_grants(app: TestApp) {
    add_bob(&app).await;
    refresh_token_of(&app, USERNAME, PASSWORD, &app.authorize_params()).await;
    refresh_token_of(&app, BOB, BOB_PASSWORD, &app.confidential_authorize_params()).await;
    let cookie = account_session(&app, USERNAME, PASSWORD).await;

    let page = apps_page(&app, Some(&cookie)).await;

    assert_eq!(page.status, 200);
    assert!(page.body.contains("Public Test Client"), "{}", page.body);
    assert!(page.body.contains("Pre-registered by the operator"));
    assert!(page.body.contains(&format!("<code>{}</code>", app.resource)));
    assert!(page.body.contains("<code>mcp:read</code>"));
    assert!(page.body.contains(&postern_core::timestamp::rfc3339(app.clock.now())));
    assert!(!page.body.contains("Confidential Test Client"), "bob's grant is not on alice's page");
    assert_eq!(page.body.matches("name=\"grant_id\"").count(), 1);
    assert!(!page.body.contains("<script"));
}

async fn revoking_with_the_pages_csrf_token_ends_the_grant_and_is_audited(app: TestApp) {
    let refresh = refresh_token_of(&app, USERNAME, PASSWORD, &app.authorize_params()).await;
    let cookie = account_session(&app, USERNAME, PASSWORD).await;
    let page = apps_page(&app, Some(&cookie)).await;
    let grant_id = page.hidden_value("grant_id").unwrap();

    let reply = revoke(&app, Some(&cookie), Some(&page.csrf_token()), &grant_id).await;

    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.location(), "/account/apps");
    assert_oauth_error(&app.refresh(&refresh).await, 400, "invalid_grant");
    assert!(apps_page(&app, Some(&cookie)).await.body.contains("No application is connected"));
    let event =
        app.store.recent_audit_events(10).await.unwrap().into_iter().find(|e| e.kind == "grant_revoked_by_user");
    let event = event.expect("the revocation is audited");
    assert_eq!((event.user_id.as_deref(), event.client_id.as_deref()), (Some("u_alice"), Some(PUBLIC_CLIENT)));
    assert!(event.detail.unwrap().contains(&grant_id));
    // The consent went with it: the application must ask again.
    let again = app.authorize(&app.authorize_params(), Some(&cookie)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(again.body.contains("Authorize access"), "{}", again.body);
    // Revoking it twice is the same as revoking something unknown.
    assert_eq!(revoke(&app, Some(&cookie), Some(&page.csrf_token()), &grant_id).await.status, 404);
}

async fn revoking_without_the_sessions_csrf_token_or_cookie_fails_and_changes_nothing(app: TestApp) {
    add_bob(&app).await;
    let refresh = refresh_token_of(&app, USERNAME, PASSWORD, &app.authorize_params()).await;
    let cookie = account_session(&app, USERNAME, PASSWORD).await;
    let page = apps_page(&app, Some(&cookie)).await;
    let grant_id = page.hidden_value("grant_id").unwrap();
    // Bob has an application of his own, so his page has a form (and a CSRF token) too.
    refresh_token_of(&app, BOB, BOB_PASSWORD, &app.confidential_authorize_params()).await;
    let bobs_cookie = account_session(&app, BOB, BOB_PASSWORD).await;
    let bobs_csrf = apps_page(&app, Some(&bobs_cookie)).await.csrf_token();
    let csrf = page.csrf_token();

    for (why, cookie, csrf) in [
        ("no CSRF token", Some(cookie.as_str()), None),
        ("a made-up CSRF token", Some(cookie.as_str()), Some("forged-token")),
        ("another session's CSRF token", Some(cookie.as_str()), Some(bobs_csrf.as_str())),
        ("no cookie", None, Some(csrf.as_str())),
    ] {
        let reply = revoke(&app, cookie, csrf, &grant_id).await;
        assert_eq!(reply.status, 403, "{why}: {}", reply.body);
        assert!(reply.header("location").is_none(), "{why}");
    }

    assert_eq!(app.refresh(&refresh).await.status, 200, "the grant is still live");
    assert_eq!(app.audit_count("grant_revoked_by_user").await, 0);
}

async fn another_users_grant_cannot_be_revoked_and_is_indistinguishable_from_an_unknown_one(app: TestApp) {
    add_bob(&app).await;
    let bobs_refresh = refresh_token_of(&app, BOB, BOB_PASSWORD, &app.authorize_params()).await;
    let bobs_cookie = account_session(&app, BOB, BOB_PASSWORD).await;
    let bobs_grant = apps_page(&app, Some(&bobs_cookie)).await.hidden_value("grant_id").unwrap();
    // Alice has an application of her own, so her page has a form (and a CSRF token).
    refresh_token_of(&app, USERNAME, PASSWORD, &app.confidential_authorize_params()).await;
    let cookie = account_session(&app, USERNAME, PASSWORD).await;
    let csrf = apps_page(&app, Some(&cookie)).await.csrf_token();

    let someone_elses = revoke(&app, Some(&cookie), Some(&csrf), &bobs_grant).await;
    let unknown = revoke(&app, Some(&cookie), Some(&csrf), "g_does-not-exist-anywhere").await;
    let huge = revoke(&app, Some(&cookie), Some(&csrf), &"g".repeat(3000)).await;

    assert_eq!(someone_elses.status, 404, "{}", someone_elses.body);
    assert_eq!(someone_elses.body, unknown.body, "no oracle: the same page either way");
    assert_eq!((huge.status, huge.body), (404, unknown.body));
    assert_eq!(app.refresh(&bobs_refresh).await.status, 200, "bob's grant is untouched");
    assert_eq!(app.audit_count("grant_revoked_by_user").await, 0);
}

//! The login and consent forms: failures, throttling, CSRF, session cookies and denial
//! (R093, R096, R113, R144).

use crate::support::*;
use postern_store::test_support::Backend;

backend_tests!(
    wrong_password_is_a_401_page_that_records_login_failed_and_starts_no_session,
    unknown_user_gets_the_same_page_as_a_wrong_password,
    sixth_attempt_for_one_username_within_a_minute_is_throttled_even_with_the_right_password,
    login_without_a_valid_csrf_token_or_cookie_is_refused_without_redirect,
    consent_without_a_valid_csrf_token_or_cookie_is_refused_without_redirect,
    login_replaces_the_anonymous_session_cookie,
    denying_consent_redirects_access_denied_with_state_and_iss,
    session_cookie_is_httponly_samesite_lax_and_path_root_without_secure_over_http;
    own_server: session_cookie_over_https_uses_the_host_prefix_and_secure,
);

/// The login page of the standard request and its anonymous cookie.
async fn login_page(app: &TestApp) -> (Reply, String) {
    let page = app.authorize(&app.authorize_params(), None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let cookie = page.session_cookie().expect("anonymous cookie");
    (page, cookie)
}

/// R096: refused on a page; nothing is sent to the client.
fn assert_refused_form(reply: &Reply, why: &str) {
    assert_eq!(reply.status, 400, "{why}: {}", reply.body);
    assert!(reply.header("location").is_none(), "{why}");
    assert!(reply.body.contains("This sign-in request is not valid"), "{why}: {}", reply.body);
}

async fn wrong_password_is_a_401_page_that_records_login_failed_and_starts_no_session(app: TestApp) {
    // R093: no session and no redirect until the user has authenticated.
    let (page, cookie) = login_page(&app).await;
    let params = app.authorize_params();
    let (reply, _) = app.login(&page, &cookie, &params, "not the password at all").await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.body.contains("Incorrect username or password."));
    assert!(reply.header("location").is_none());
    // No new (signed-in) session cookie is handed out.
    assert!(reply.set_cookies().is_empty(), "{:?}", reply.set_cookies());
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "login_failed"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "login_succeeded"), "{kinds:?}");
    // The browser's cookie is still anonymous: the next request asks for a login again.
    let again = app.authorize(&params, Some(&cookie)).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("name=\"password\""), "{}", again.body);
    let silent = app.authorize(&and_param(&params, "prompt", "none"), Some(&cookie)).await;
    assert_eq!(silent.location_param("error").as_deref(), Some("login_required"));
}

async fn unknown_user_gets_the_same_page_as_a_wrong_password(app: TestApp) {
    // R093: the login page must not reveal which usernames exist.
    let (page, cookie) = login_page(&app).await;
    let params = app.authorize_params();
    let (wrong_password, _) = app.login_as(&page, &cookie, &params, USERNAME, "not the password at all").await;
    let (unknown_user, _) = app.login_as(&page, &cookie, &params, "mallory", "not the password at all").await;
    // No user enumeration: same status, same page apart from the echoed username.
    assert_eq!(wrong_password.status, 401);
    assert_eq!(unknown_user.status, 401);
    assert_eq!(
        wrong_password.body.replace(&format!("value=\"{USERNAME}\""), "value=\"?\""),
        unknown_user.body.replace("value=\"mallory\"", "value=\"?\"")
    );
    assert_eq!(app.audit_count("login_failed").await, 2);
}

async fn sixth_attempt_for_one_username_within_a_minute_is_throttled_even_with_the_right_password(app: TestApp) {
    // R093, DESIGN §4: per-account throttling of password guesses.
    let (page, cookie) = login_page(&app).await;
    let params = app.authorize_params();
    // login.attempts_per_user_per_minute defaults to 5.
    for attempt in 1..=5 {
        let (reply, _) = app.login(&page, &cookie, &params, &format!("wrong password {attempt}")).await;
        assert_eq!(reply.status, 401, "attempt {attempt}");
    }
    let (blocked, _) = app.login(&page, &cookie, &params, PASSWORD).await;
    assert_eq!(blocked.status, 429, "{}", blocked.body);
    assert!(blocked.header("location").is_none());
    assert!(blocked.set_cookies().is_empty());
    assert!(!app.audit_kinds().await.iter().any(|k| k == "login_succeeded"));
    // Per account: another username is not blocked by alice's failures.
    let (other, _) = app.login_as(&page, &cookie, &params, "bob", "wrong password").await;
    assert_eq!(other.status, 401);
    // The window ends after a minute.
    app.clock.advance(61);
    let (consent_page, _) = app.login(&page, &cookie, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    assert!(consent_page.body.contains("Authorize access"));
}

async fn login_without_a_valid_csrf_token_or_cookie_is_refused_without_redirect(app: TestApp) {
    // R096: forms carry CSRF protection bound to the browser's cookie.
    let (page, cookie) = login_page(&app).await;
    let (other_page, other_cookie) = login_page(&app).await;
    let params = app.authorize_params();
    let form = |csrf: Option<&str>| {
        let mut form = params.clone();
        if let Some(csrf) = csrf {
            form.push(("csrf_token".into(), csrf.into()));
        }
        form.push(("username".into(), USERNAME.into()));
        form.push(("password".into(), PASSWORD.into()));
        form
    };
    let cases = [
        ("wrong csrf_token", Some(cookie.as_str()), form(Some("forged-token"))),
        ("missing csrf_token", Some(cookie.as_str()), form(None)),
        ("empty csrf_token", Some(cookie.as_str()), form(Some(""))),
        ("no cookie", None, form(Some(&page.csrf_token()))),
        // A token from another browser's page does not fit this browser's cookie.
        ("another browser's token", Some(cookie.as_str()), form(Some(&other_page.csrf_token()))),
        ("another browser's cookie", Some(other_cookie.as_str()), form(Some(&page.csrf_token()))),
    ];
    for (why, cookie, form) in cases {
        let reply = app.post_form("/login", cookie, &form).await;
        assert_refused_form(&reply, why);
        assert!(reply.set_cookies().is_empty(), "{why}: a session was started");
    }
    let kinds = app.audit_kinds().await;
    assert!(!kinds.iter().any(|k| k == "login_succeeded" || k == "code_issued"), "{kinds:?}");
}

async fn consent_without_a_valid_csrf_token_or_cookie_is_refused_without_redirect(app: TestApp) {
    // R096: the consent form has CSRF protection.
    let params = app.authorize_params();
    let (page, anonymous) = login_page(&app).await;
    let (consent_page, cookie) = app.login(&page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200);
    let form = |csrf: Option<&str>| {
        let mut form = params.clone();
        if let Some(csrf) = csrf {
            form.push(("csrf_token".into(), csrf.into()));
        }
        form.push(("decision".into(), "approve".into()));
        form
    };
    let cases = [
        ("wrong csrf_token", Some(cookie.as_str()), form(Some("forged-token"))),
        ("missing csrf_token", Some(cookie.as_str()), form(None)),
        ("no cookie", None, form(Some(&consent_page.csrf_token()))),
        // The login page's token belonged to the anonymous cookie that login replaced.
        ("pre-login token", Some(cookie.as_str()), form(Some(&page.csrf_token()))),
    ];
    for (why, cookie, form) in cases {
        assert_refused_form(&app.post_form("/consent", cookie, &form).await, why);
    }
    let kinds = app.audit_kinds().await;
    assert!(!kinds.iter().any(|k| k == "consent_granted" || k == "code_issued"), "{kinds:?}");
    // The real form still works.
    let redirect = app.consent(&consent_page, &cookie, &params, "approve").await;
    assert!(redirect.location_param("code").is_some());
}

async fn login_replaces_the_anonymous_session_cookie(app: TestApp) {
    let params = app.authorize_params();
    let (page, anonymous) = login_page(&app).await;
    let (consent_page, signed_in) = app.login(&page, &anonymous, &params, PASSWORD).await;
    assert_eq!(consent_page.status, 200);
    // No session fixation: the signed-in value is new.
    // RFC 6265 §4.1.1: one Set-Cookie per cookie name.
    assert_eq!(page.set_cookies().len(), 1, "{:?}", page.set_cookies());
    assert_eq!(consent_page.set_cookies().len(), 1, "{:?}", consent_page.set_cookies());
    assert_ne!(signed_in, anonymous);
    assert_eq!(signed_in.split('=').next(), anonymous.split('=').next());
    // The pre-login value carries no session.
    let with_old = app.authorize(&and_param(&params, "prompt", "none"), Some(&anonymous)).await;
    assert_eq!(with_old.location_param("error").as_deref(), Some("login_required"));
    let with_new = app.authorize(&params, Some(&signed_in)).await;
    assert!(with_new.body.contains("Authorize access"), "{}", with_new.body);
}

async fn denying_consent_redirects_access_denied_with_state_and_iss(app: TestApp) {
    let params = app.authorize_params();
    let (page, anonymous) = login_page(&app).await;
    let (consent_page, cookie) = app.login(&page, &anonymous, &params, PASSWORD).await;
    let denied = app.consent(&consent_page, &cookie, &params, "deny").await;
    // R113, R114, R118, R115 (303 after a form post).
    assert_eq!(denied.status, 303);
    assert!(denied.location().starts_with(&format!("{PUBLIC_REDIRECT}?")));
    assert_eq!(denied.location_param("error").as_deref(), Some("access_denied"));
    assert_eq!(denied.location_param("state").as_deref(), Some("xyz-state"));
    assert_eq!(denied.location_param("iss").as_deref(), Some(app.issuer.as_str()));
    assert!(denied.location_param("code").is_none());
    let kinds = app.audit_kinds().await;
    assert!(kinds.iter().any(|k| k == "consent_denied"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "code_issued" || k == "consent_granted"), "{kinds:?}");
    // Nothing was remembered: the next request asks again.
    let again = app.authorize(&params, Some(&cookie)).await;
    assert!(again.body.contains("Authorize access"), "{}", again.body);
}

/// R096: HttpOnly, SameSite=Lax and Path=/ on every session cookie.
fn assert_session_cookie_attributes(set_cookie: &str, name: &str, secure: bool) {
    let mut parts = set_cookie.split(';').map(str::trim);
    let (cookie_name, value) = parts.next().unwrap().split_once('=').unwrap();
    assert_eq!(cookie_name, name, "{set_cookie}");
    assert!(value.len() >= 20, "{set_cookie}");
    let attributes: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
    for expected in ["httponly", "samesite=lax", "path=/"] {
        assert!(attributes.iter().any(|a| a == expected), "{set_cookie} lacks {expected}");
    }
    assert_eq!(attributes.iter().any(|a| a == "secure"), secure, "{set_cookie}");
    assert!(!attributes.iter().any(|a| a.starts_with("domain=")), "{set_cookie}");
}

async fn session_cookie_is_httponly_samesite_lax_and_path_root_without_secure_over_http(app: TestApp) {
    // R096: cookie attributes; http loopback issuers cannot use __Host-/Secure.
    let params = app.authorize_params();
    let page = app.authorize(&params, None).await;
    // An http (loopback) issuer: Secure would make browsers drop the cookie.
    assert_session_cookie_attributes(&page.set_cookies()[0], "postern_session", false);
    let (consent_page, _) = app.login(&page, &page.session_cookie().unwrap(), &params, PASSWORD).await;
    assert_session_cookie_attributes(&consent_page.set_cookies()[0], "postern_session", false);
}

async fn session_cookie_over_https_uses_the_host_prefix_and_secure(backend: Backend) {
    // R096: __Host- prefix, Secure, HttpOnly, SameSite=Lax.
    let app = TestApp::spawn_with(backend, |config| config.issuer = config.issuer.replace("http://", "https://")).await;
    // The test client speaks plain http to the listener; the issuer only decides the cookie.
    let url = format!("{}/authorize", app.origin);
    let reply = app.http.get(url).query(&app.authorize_params()).send().await.unwrap();
    assert_eq!(reply.status(), 200);
    let set_cookie = reply.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert_session_cookie_attributes(&set_cookie, "__Host-postern_session", true);
}

//! Admin API fixtures: tokens with read or write access, an administrator's browser session,
//! and requests with either; and the admin console's pages and forms as a browser sends them.

use crate::support::{Reply, TestApp};
use postern_core::{Clock, TokenHash};
use postern_store::{AdminAccess, AdminTokenRecord, UserRecord};

pub const ADMIN_USERNAME: &str = "root";
pub const ADMIN_PASSWORD: &str = "admin password for the tests";
pub const ADMIN_USER_ID: &str = "u_root";
/// A second account (`u_bob`), made with [`TestApp::add_bob`].
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob's password, long enough";

/// How a test calls the admin API.
pub enum AdminAuth<'a> {
    Token(&'a str),
    /// A session cookie, and the CSRF token to echo (None: send none).
    Session(&'a str, Option<&'a str>),
    Anonymous,
}

impl TestApp {
    /// A live admin token with `access`; returns its value.
    pub async fn admin_token(&self, access: AdminAccess) -> String {
        let value = format!("padm_test-{}-{}", access.as_str(), self.clock.now());
        let id = format!("adm_{}_{}", access.as_str(), TokenHash::of(&value).as_str().get(..8).unwrap_or("x"));
        let record = AdminTokenRecord {
            id,
            label: format!("{} token for tests", access.as_str()),
            access,
            created_at: self.clock.now(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        };
        self.store.create_admin_token(&record, TokenHash::of(&value).as_str()).await.unwrap();
        value
    }

    /// Signs in an administrator through the real login form; returns (`name=value` cookie,
    /// CSRF token).
    pub async fn admin_session(&self) -> (String, String) {
        if self.store.find_user(ADMIN_USER_ID).await.unwrap().is_none() {
            self.store
                .create_user(&UserRecord {
                    id: ADMIN_USER_ID.into(),
                    username: ADMIN_USERNAME.into(),
                    password_hash: postern_server::passwords::hash_password(ADMIN_PASSWORD).unwrap(),
                    is_admin: true,
                    created_at: self.clock.now(),
                    disabled_at: None,
                })
                .await
                .unwrap();
        }
        self.session_of(ADMIN_USERNAME, ADMIN_PASSWORD).await
    }

    /// Signs `username` in through the login form of an authorization request.
    pub async fn session_of(&self, username: &str, password: &str) -> (String, String) {
        let params = self.authorize_params();
        let page = self.authorize(&params, None).await;
        let anonymous = page.session_cookie().expect("anonymous cookie");
        let (consent_page, cookie) = self.login_as(&page, &anonymous, &params, username, password).await;
        // The consent page's form carries the CSRF token bound to the new session cookie.
        assert_eq!(consent_page.status, 200, "consent page expected after login: {}", consent_page.body);
        (cookie, consent_page.csrf_token())
    }

    /// A request to `/admin/api/v1{path}` with `auth`.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: AdminAuth<'_>,
        body: Option<serde_json::Value>,
    ) -> Reply {
        let mut request = self.http.request(method, self.url(&format!("/admin/api/v1{path}")));
        request = match auth {
            AdminAuth::Token(token) => request.bearer_auth(token),
            AdminAuth::Session(cookie, csrf) => {
                // `cookie` is the `name=value` pair the server set.
                let request = request.header(reqwest::header::COOKIE, cookie);
                match csrf {
                    Some(csrf) => request.header("x-csrf-token", csrf),
                    None => request,
                }
            }
            AdminAuth::Anonymous => request,
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Reply { status, headers, body: response.text().await.unwrap() }
    }

    /// Adds the account `bob` (`u_bob`), an administrator or not.
    pub async fn add_bob(&self, is_admin: bool) {
        self.store
            .create_user(&UserRecord {
                id: "u_bob".into(),
                username: BOB.into(),
                password_hash: postern_server::passwords::hash_password(BOB_PASSWORD).unwrap(),
                is_admin,
                created_at: self.clock.now(),
                disabled_at: None,
            })
            .await
            .unwrap();
    }

    /// GET a page of the admin console (`/admin...`) with a session cookie (`name=value`).
    pub async fn console_page(&self, cookie: Option<&str>, path: &str) -> Reply {
        let mut request = self.http.get(self.url(path));
        if let Some(cookie) = cookie {
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Reply { status, headers, body: response.text().await.unwrap() }
    }

    /// POST a form of the admin console with the session cookie and these fields.
    pub async fn console_post(&self, cookie: &str, path: &str, form: &[(&str, &str)]) -> Reply {
        let form: Vec<(String, String)> = form.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        self.post_form(path, Some(cookie), &form).await
    }
}

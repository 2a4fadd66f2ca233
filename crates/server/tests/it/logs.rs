//! "Tokens never appear in logs" (Done-means; R039, R161): everything the process logs at
//! every level, including sqlx and tower_http, while a full flow runs, must be free of codes,
//! tokens, passwords, client secrets and session cookies.
//!
//! The subscriber is process-wide, not `set_default`: SQLite runs its queries on a dedicated
//! worker thread and argon2 on the blocking pool, and a thread-local subscriber would silently
//! miss what they log. nextest runs every test in its own process; under `cargo test` the
//! buffer is shared, so each test reads only what was logged after it started.

use crate::support::*;
use base64::Engine;
use postern_store::test_support::Backend;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use tracing_subscriber::fmt::MakeWriter;

backend_tests!(; own_server: no_code_token_password_secret_or_cookie_appears_in_any_log_line);

/// An in-memory log sink.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Capture {
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn text_since(&self, offset: usize) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())[offset..]).into_owned()
    }
}

/// Installs, once per process, a TRACE-level subscriber for every target, writing plain text.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(capture.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("nothing else installs a global subscriber");
        capture
    })
}

fn field(reply: &Reply, name: &str) -> String {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()[name].as_str().unwrap_or_else(|| panic!("no {name}: {}", reply.body)).to_owned()
}

/// The value part of a `name=value` cookie.
fn cookie_value(cookie: &str) -> String {
    cookie.split_once('=').unwrap().1.to_owned()
}

async fn no_code_token_password_secret_or_cookie_appears_in_any_log_line(backend: Backend) {
    // R039, R161: no token, code or credential in any log line.
    let capture = capture();
    let start = capture.len();
    // The server starts inside the capture, so its spans and sqlx's are recorded too.
    let app = TestApp::spawn(backend).await;
    let mut secrets: Vec<(&str, String)> = Vec::new();

    // A failed sign-in with a wrong password.
    let wrong_password = "wrong horse battery staple 42";
    let params = app.authorize_params();
    let page = app.authorize(&params, None).await;
    let anonymous = page.session_cookie().unwrap();
    let (failed, _) = app.login(&page, &anonymous, &params, wrong_password).await;
    assert_eq!(failed.status, 401);
    secrets.push(("wrong password", wrong_password.to_owned()));
    secrets.push(("anonymous cookie", cookie_value(&anonymous)));

    // The whole flow: sign-in, consent, code, tokens, two refreshes, introspection, revocation.
    let (redirect, signed_in) = app.authorize_through_browser(&params).await;
    let code = redirect.location_param("code").unwrap();
    let first = app.exchange(&code).await;
    let (access, refresh) = (field(&first, "access_token"), field(&first, "refresh_token"));
    let second = app.refresh(&refresh).await;
    let (access_2, refresh_2) = (field(&second, "access_token"), field(&second, "refresh_token"));
    let third = app.refresh(&refresh_2).await;
    let (access_3, refresh_3) = (field(&third, "access_token"), field(&third, "refresh_token"));
    assert_eq!(app.introspect(&access_3).await["active"], true);
    assert_eq!(app.revoke(&refresh_3, PUBLIC_CLIENT).await.status, 200);
    // A replayed code and a reused refresh token take the warning paths.
    assert_eq!(app.exchange(&code).await.status, 400);
    assert_eq!(app.refresh(&refresh).await.status, 400);
    for (name, value) in [
        ("code", code),
        ("access token", access),
        ("refresh token", refresh),
        ("second access token", access_2),
        ("second refresh token", refresh_2),
        ("third access token", access_3),
        ("third refresh token", refresh_3),
        ("session cookie", cookie_value(&signed_in)),
    ] {
        secrets.push((name, value));
    }

    // A confidential client's secret at /token: wrong, in the header, and in the body.
    let wrong_secret = "pcs_wrong-secret-that-must-not-be-logged";
    let confidential_code = app.code_for(&app.confidential_authorize_params()).await;
    let form =
        [("grant_type", "authorization_code"), ("code", confidential_code.as_str()), ("code_verifier", VERIFIER)];
    assert_eq!(app.token_basic(CONFIDENTIAL_CLIENT, wrong_secret, &form).await.status, 401);
    let tokens = app.exchange_confidential(&confidential_code).await;
    let confidential_refresh = field(&tokens, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", confidential_refresh.as_str()),
        ("client_id", CONFIDENTIAL_CLIENT),
        ("client_secret", CONFIDENTIAL_SECRET),
    ];
    let refreshed = app.token(&form).await;
    secrets.push(("confidential code", confidential_code));
    secrets.push(("confidential access token", field(&tokens, "access_token")));
    secrets.push(("confidential refresh token", confidential_refresh));
    secrets.push(("refreshed confidential refresh token", field(&refreshed, "refresh_token")));
    secrets.push(("wrong client secret", wrong_secret.to_owned()));

    for (name, value) in [("password", PASSWORD), ("client secret", CONFIDENTIAL_SECRET), ("code_verifier", VERIFIER)] {
        secrets.push((name, value.to_owned()));
    }
    // The same values as they travel: form-encoded, and inside a Basic header.
    let form_encoded = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    secrets.push(("form-encoded password", form_encoded(PASSWORD)));
    secrets.push(("form-encoded wrong password", form_encoded(wrong_password)));
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}"));
    secrets.push(("Basic credentials", basic));

    drop(app);
    let log = capture.text_since(start);
    // The capture works: requests, the token endpoint and sqlx's queries were all recorded.
    assert!(!log.is_empty(), "nothing was captured");
    for needle in ["/token", "/login", "/revoke", "sqlx::query", "tower_http::trace"] {
        assert!(log.contains(needle), "capture lacks {needle}; is it broken?\n{}", clip(&log));
    }
    for (name, value) in &secrets {
        assert!(!value.is_empty(), "{name} is empty");
        if let Some(at) = log.find(value.as_str()) {
            let line_start = log[..at].rfind('\n').map_or(0, |i| i + 1);
            let line_end = log[at..].find('\n').map_or(log.len(), |i| at + i);
            panic!("the {name} appears in the log:\n{}", &log[line_start..line_end]);
        }
    }
}

fn clip(log: &str) -> &str {
    &log[..log.len().min(4000)]
}

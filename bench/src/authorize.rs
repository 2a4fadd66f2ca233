//! `/authorize` for a signed-in user whose consent is remembered: the request a returning MCP
//! client makes, answered with a code. Run for a pre-registered client and for a CIMD client
//! whose document is cached, to measure what the metadata-document path costs (issue 3: less
//! than 10% extra).

use crate::{Outcome, Target, run};
use anyhow::{Context, bail};
use postern_core::PkceVerifier;
use postern_fetch::test_fixture::{Parts, TlsServer, json, not_found};
use std::time::Duration;

pub const REDIRECT: &str = "http://127.0.0.1/callback";
const DOCUMENT_PATH: &str = "/bench/client.json";

/// Serves the CIMD client's document, cacheable for an hour.
pub async fn document_server() -> TlsServer {
    // The client_id names the server's port, which is known only once it listens.
    let port = std::sync::Arc::new(std::sync::OnceLock::<u16>::new());
    let known_port = port.clone();
    let server = TlsServer::start(move |request: Parts| {
        let port = known_port.get().copied().unwrap_or_default();
        async move {
            if request.uri.path() != DOCUMENT_PATH {
                return not_found();
            }
            let document = serde_json::json!({
                "client_id": format!("https://{}:{port}{DOCUMENT_PATH}", postern_fetch::test_fixture::HOST),
                "client_name": "Bench Agent",
                "redirect_uris": [REDIRECT],
            });
            json(200, document.to_string(), &[("cache-control", "max-age=3600")])
        }
    })
    .await;
    let _ = port.set(server.addr.port());
    server
}

pub fn document_url(server: &TlsServer) -> String {
    server.url(DOCUMENT_PATH)
}

fn authorize_url(target: &Target, client_id: &str) -> anyhow::Result<String> {
    let challenge = PkceVerifier::parse(crate::VERIFIER)?.challenge();
    let query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "mcp:read"),
        ("resource", target.resource.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "bench"),
    ];
    let query = query.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
    Ok(format!("{}/authorize?{query}", target.base))
}

fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in once through the real login form, returning the session cookie.
pub async fn sign_in(target: &Target, client_id: &str) -> anyhow::Result<String> {
    let page = target.browser.get(authorize_url(target, client_id)?).send().await?;
    let cookie = session_cookie(&page).context("no session cookie on the login page")?;
    let body = page.text().await?;
    let form = [
        ("csrf_token", csrf_token(&body)?),
        ("username", crate::USERNAME.to_owned()),
        ("password", crate::PASSWORD.to_owned()),
    ];
    let hidden = hidden_fields(&body);
    let reply = target
        .browser
        .post(format!("{}/login", target.base))
        .header("cookie", &cookie)
        .form(&[form.to_vec(), hidden].concat())
        .send()
        .await?;
    session_cookie(&reply).context("login did not start a session")
}

/// Approves `client_id` once on the consent page, so later requests go straight to a code.
pub async fn approve(target: &Target, cookie: &str, client_id: &str) -> anyhow::Result<()> {
    let page = target.browser.get(authorize_url(target, client_id)?).header("cookie", cookie).send().await?;
    if page.status().is_redirection() {
        return Ok(());
    }
    let body = page.text().await?;
    let mut form = vec![("csrf_token", csrf_token(&body)?), ("decision", "approve".to_owned())];
    form.extend(hidden_fields(&body));
    let reply =
        target.browser.post(format!("{}/consent", target.base)).header("cookie", cookie).form(&form).send().await?;
    if !reply.status().is_redirection() {
        let status = reply.status();
        let body = reply.text().await.unwrap_or_default();
        let heading = body.split("<h1>").nth(1).and_then(|h| h.split("</h1>").next()).unwrap_or_default();
        bail!("consent for {client_id} was not accepted: HTTP {status} ({heading})");
    }
    Ok(())
}

/// GET /authorize until `duration` is over; every answer must be a redirect with a code.
pub async fn load(
    target: &'static Target,
    duration: Duration,
    concurrency: usize,
    cookie: String,
    client_id: String,
) -> anyhow::Result<Outcome> {
    let url = std::sync::Arc::new(authorize_url(target, &client_id)?);
    let cookie = std::sync::Arc::new(cookie);
    run(target, duration, concurrency, move |t, _| {
        let (url, cookie) = (url.clone(), cookie.clone());
        async move {
            let reply = t.browser.get(url.as_str()).header("cookie", cookie.as_str()).send().await?;
            let location = reply.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default();
            if reply.status() != 302 || !location.contains("code=") {
                bail!("expected a redirect with a code, got HTTP {} to {location:?}", reply.status());
            }
            Ok(())
        }
    })
    .await
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    response.headers().get_all("set-cookie").iter().find_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
}

fn csrf_token(body: &str) -> anyhow::Result<String> {
    attribute_after(body, "name=\"csrf_token\" value=\"").context("no CSRF token on the page")
}

/// The forwarded authorization parameters of a login or consent form.
fn hidden_fields(body: &str) -> Vec<(&'static str, String)> {
    const NAMES: [&str; 9] = [
        "response_type",
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "resource",
        "code_challenge",
        "code_challenge_method",
        "document_fingerprint",
    ];
    NAMES
        .iter()
        .filter_map(|name| {
            let value = attribute_after(body, &format!("name=\"{name}\" value=\""))?;
            Some((*name, html_unescape(&value)))
        })
        .collect()
}

fn attribute_after(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..start + end].to_owned())
}

/// Undoes askama's attribute escaping: numeric character references and the five named ones.
fn html_unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find(';') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let entity = &after[..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&rest[start..=start + 1 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

//! The user's browser: tests/interop/driver/login.py signs in and approves through Postern's
//! real forms and hands back the URL Postern redirected to.

use anyhow::{Context, bail};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many times a browser was opened, so scenarios can prove that a refresh needed none.
static OPENED: AtomicUsize = AtomicUsize::new(0);

pub fn times_opened() -> usize {
    OPENED.load(Ordering::SeqCst)
}

/// "Opens" `authorization_url` and returns the redirect to the client's callback.
pub fn open(driver: &str, authorization_url: &str) -> anyhow::Result<String> {
    OPENED.fetch_add(1, Ordering::SeqCst);
    let output =
        Command::new("python3").arg(driver).arg(authorization_url).output().context("running the login driver")?;
    if !output.status.success() {
        bail!("login driver failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(String::from_utf8(output.stdout).context("login driver output")?.trim().to_owned())
}

/// The value of query parameter `name` in `url`.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

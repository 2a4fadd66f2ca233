//! No string a client sends as a URL can panic the fetcher, and with every address denied no
//! string gets a response out of it.

use std::sync::Arc;

use postern_fetch::{FetchConfig, FetchRequest, SafeFetcher, StaticResolver};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn url_like() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,120}",
        ("(https?|ftp|HTTPS)", "[a-zA-Z0-9.:@%\\[\\]-]{0,40}", "[/a-z0-9%.?#@:]{0,30}")
            .prop_map(|(scheme, host, path)| format!("{scheme}://{host}/{path}")),
    ]
}

/// Test safety: an IP-literal URL outside loopback is skipped, so even a broken fetcher could
/// never send a packet off this machine. (Names resolve through an empty `StaticResolver`.)
fn reaches_beyond_loopback(raw: &str) -> bool {
    match url::Url::parse(raw).ok().and_then(|url| url.host().map(|host| host.to_owned())) {
        Some(url::Host::Ipv4(v4)) => !v4.is_loopback(),
        Some(url::Host::Ipv6(v6)) => !v6.is_loopback() && v6.to_ipv4_mapped().is_none_or(|v4| !v4.is_loopback()),
        _ => false,
    }
}

#[test]
fn random_url_strings_never_panic_and_never_connect_when_everything_is_denied() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = FetchConfig {
        deny_cidrs: vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()],
        ..FetchConfig::default()
    };
    let fetcher =
        runtime.block_on(async { SafeFetcher::with_resolver(config, Arc::new(StaticResolver::new())).unwrap() });
    let mut runner = TestRunner::new(Config { cases: 256, ..Config::default() });
    runner
        .run(&url_like(), |raw| {
            if reaches_beyond_loopback(&raw) {
                return Ok(());
            }
            let (result, report) = runtime.block_on(fetcher.fetch(FetchRequest::client_metadata(&raw)));
            prop_assert!(result.is_err());
            prop_assert_eq!(report.peer, None);
            prop_assert_eq!(report.status, None);
            Ok(())
        })
        .unwrap();
}

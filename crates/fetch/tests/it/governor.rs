//! The fetch governor (SPEC R071): over a limit a fetch fails at once, it never waits.

use std::sync::Arc;
use std::time::Duration;

use postern_fetch::{FetchConfig, FetchError, FetchErrorKind, FetchOutcome, FetchRequest, GovernorConfig};

use crate::support::{Fixture, HOST, resolver};

#[tokio::test]
async fn r071_the_per_host_concurrency_cap_fails_fast() {
    let fixture = Fixture::start().await;
    let config = FetchConfig {
        total_timeout: Duration::from_secs(30),
        governor: GovernorConfig { per_host_concurrency: 1, ..GovernorConfig::default() },
        ..fixture.config()
    };
    let fetcher = Arc::new(fixture.fetcher_with(config, Arc::new(resolver())));
    let slow_url = fixture.url("/slow");
    let slow = {
        let fetcher = fetcher.clone();
        tokio::spawn(async move { fetcher.fetch(FetchRequest::client_metadata(&slow_url)).await })
    };
    fixture.wait_for_hit("/slow").await;

    let url = fixture.url("/good.json");
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(error, FetchError::HostBusy { host: HOST.into(), limit: 1 });
    assert_eq!(error.to_string(), "too many fetches from cimd.test are in progress (limit 1); try again shortly");
    assert_eq!(report.outcome, FetchOutcome::Failed(FetchErrorKind::RateLimited));
    assert!(!slow.is_finished(), "refused while the first fetch was still running, without waiting for it");
    assert_eq!(fixture.hits.of("/good.json"), 0);
    slow.abort();
}

#[tokio::test]
async fn r071_the_global_rate_limit_fails_fast() {
    let fixture = Fixture::start().await;
    let governor = GovernorConfig { global_fetches: 2, global_period: Duration::from_secs(3600), ..Default::default() };
    let fetcher = fixture.fetcher_with(FetchConfig { governor, ..fixture.config() }, Arc::new(resolver()));
    let url = fixture.url("/good.json");
    for _ in 0..2 {
        assert!(fetcher.fetch(FetchRequest::client_metadata(&url)).await.0.is_ok());
    }
    let (result, _) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(result.unwrap_err(), FetchError::RateLimited { fetches: 2, per: Duration::from_secs(3600) });
    assert_eq!(fixture.hits.of("/good.json"), 2);
}

//! What the fetcher accepts from a server, route by route (SPEC R066, R067, R070-R072, R075).

use std::time::Duration;

use postern_fetch::{
    CacheBounds, DocumentKind, FetchConfig, FetchError, FetchErrorKind, FetchOutcome, FetchRequest, lifetime,
};

use crate::support::{Fixture, GOOD_JSON, LOOPBACK, OVERSIZE};
use postern_fetch::test_fixture::gzip_bomb;

const WHAT: DocumentKind = DocumentKind::ClientMetadata;

#[tokio::test]
async fn r066_a_good_document_is_returned_with_its_caching_headers_and_a_report() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/good.json");
    let (result, report) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    let fetched = result.unwrap();
    assert_eq!(fetched.body, GOOD_JSON.as_bytes());
    assert_eq!(fetched.content_type, "application/json");
    assert_eq!(fetched.cache_control.as_deref(), Some("max-age=3600"));
    assert!(fetched.date.is_some(), "Date is passed on for the cache");
    assert_eq!(lifetime(&fetched.cache_headers(), CacheBounds::default()), Some(Duration::from_secs(3600)));

    assert_eq!(report.url, url);
    assert_eq!(report.what, WHAT);
    assert_eq!(report.resolved, [LOOPBACK]);
    assert_eq!(report.peer, Some(fixture.addr));
    assert_eq!(report.status, Some(200));
    assert_eq!(report.bytes, GOOD_JSON.len() as u64);
    assert_eq!(report.outcome, FetchOutcome::Ok);
}

#[tokio::test]
async fn r075_structured_json_media_types_are_accepted() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/plus.json");
    let (result, _) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(result.unwrap().content_type, "application/oauth-client+json");
}

#[tokio::test]
async fn r072_sends_no_credentials_or_compression_and_a_fixed_user_agent() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/headers.json");
    let (result, _) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    let sent = String::from_utf8(result.unwrap().body).unwrap();
    let mut lines: Vec<&str> = sent.lines().collect();
    lines.sort_unstable();
    let host = format!("host: cimd.test:{}", fixture.addr.port());
    let user_agent = concat!("user-agent: Postern/", env!("CARGO_PKG_VERSION"));
    let mut expected = vec!["accept: application/json", "accept-encoding: identity", host.as_str(), user_agent];
    expected.sort_unstable();
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn r067_a_redirect_is_an_error_naming_its_target_and_is_not_followed() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/redirect");
    let (result, report) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(
        error,
        FetchError::Redirect { what: WHAT, status: 301, location: "https://169.254.169.254/latest/meta-data/".into() }
    );
    assert!(
        error
            .to_string()
            .ends_with("redirects are not followed (status 301 to https://169.254.169.254/latest/meta-data/)"),
        "{error}"
    );
    assert_eq!((report.status, report.outcome), (Some(301), FetchOutcome::Failed(FetchErrorKind::Redirect)));
    assert_eq!(fixture.hits.total(), 1, "exactly one request was made");
}

#[tokio::test]
async fn r066_any_status_other_than_200_is_an_error() {
    let fixture = Fixture::start().await;
    let fetcher = fixture.fetcher();
    for (path, status) in [("/missing", 404), ("/error", 500)] {
        let url = fixture.url(path);
        let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
        let error = result.unwrap_err();
        assert_eq!(error, FetchError::Status { what: WHAT, status });
        assert_eq!(
            error.to_string(),
            format!("client metadata document fetch returned HTTP status {status}; only 200 is accepted")
        );
        assert_eq!(report.status, Some(status));
    }
}

#[tokio::test]
async fn r070_a_declared_oversize_body_is_refused_before_it_is_read() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/big-declared");
    let (result, report) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(error.to_string(), "client metadata document is 20480 bytes, over the 16384-byte limit");
    assert_eq!(report.bytes, 0);
    assert_eq!(report.outcome, FetchOutcome::Failed(FetchErrorKind::TooLarge));
}

#[tokio::test]
async fn r070_an_oversize_body_without_content_length_is_cut_off_at_the_cap() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/big-chunked");
    let (result, report) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    match result.unwrap_err() {
        FetchError::TooLargeStreamed { received, limit: 16384, .. } => {
            assert!(received > 16384 && received < OVERSIZE as u64, "stopped early, after {received} bytes");
            assert_eq!(report.bytes, received);
        }
        other => panic!("expected the streamed cap, got {other:?}"),
    }
}

#[tokio::test]
async fn r070_the_cap_is_per_request() {
    let fixture = Fixture::start().await;
    let fetcher = fixture.fetcher();
    let big = fixture.url("/big-chunked");
    let (result, _) = fetcher.fetch(FetchRequest::client_metadata(&big).max_bytes(64 * 1024)).await;
    assert_eq!(result.unwrap().body.len(), OVERSIZE);
    let good = fixture.url("/good.json");
    let (result, _) = fetcher.fetch(FetchRequest::jwks(&good).max_bytes(10)).await;
    assert_eq!(
        result.unwrap_err(),
        FetchError::TooLarge { what: DocumentKind::Jwks, size: GOOD_JSON.len() as u64, limit: 10 }
    );
}

#[tokio::test]
async fn r071_a_slow_drip_body_is_cut_off_by_the_total_timeout() {
    let fixture = Fixture::start().await;
    let config = FetchConfig { total_timeout: Duration::from_secs(1), ..fixture.config() };
    let fetcher = fixture.fetcher_with(config, std::sync::Arc::new(crate::support::resolver()));
    let url = fixture.url("/slow");
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(result.unwrap_err(), FetchError::Timeout { what: WHAT, after: Duration::from_secs(1) });
    assert_eq!(report.status, Some(200), "the headers came; the body did not finish");
    assert_eq!(report.outcome, FetchOutcome::Failed(FetchErrorKind::Timeout));
}

#[tokio::test]
async fn r071_a_server_that_never_answers_the_tls_handshake_hits_the_connect_timeout() {
    let fixture = Fixture::start().await;
    // Accepted by the kernel's backlog, never by anyone: TCP connects, TLS never starts.
    let silent = tokio::net::TcpListener::bind((LOOPBACK, 0)).await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let resolver = postern_fetch::StaticResolver::new().answer("silent.test", [LOOPBACK]);
    let config = FetchConfig {
        connect_timeout: Duration::from_millis(300),
        total_timeout: Duration::from_secs(30),
        ..fixture.config()
    };
    let fetcher = fixture.fetcher_with(config, std::sync::Arc::new(resolver));
    let url = format!("https://silent.test:{port}/client.json");
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(
        result.unwrap_err(),
        FetchError::ConnectTimeout { what: WHAT, host: "silent.test".into(), after: Duration::from_millis(300) }
    );
    assert_eq!((report.resolved.as_slice(), report.status), ([LOOPBACK].as_slice(), None));
}

#[tokio::test]
async fn r070_a_compressed_body_is_refused_not_decompressed() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/gzip");
    let (result, report) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(result.unwrap_err(), FetchError::ContentEncoding { what: WHAT, encoding: "gzip".into() });
    assert_eq!(report.bytes, 0, "not one byte of the {}-byte gzip body (1 MiB inflated) was read", gzip_bomb().len());
}

#[tokio::test]
async fn r075_a_wrong_content_type_is_refused() {
    let fixture = Fixture::start().await;
    let url = fixture.url("/page.html");
    let (result, _) = fixture.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(
        error.to_string(),
        "client metadata document has content type \"text/html; charset=utf-8\"; \
         expected application/json or application/<type>+json"
    );
}

#[tokio::test]
async fn logos_may_be_raster_images_but_never_svg() {
    let fixture = Fixture::start().await;
    let fetcher = fixture.fetcher();
    let png = fixture.url("/logo.png");
    let (result, _) = fetcher.fetch(FetchRequest::logo(&png)).await;
    assert_eq!(result.unwrap().content_type, "image/png");
    let svg = fixture.url("/logo.svg");
    let (result, _) = fetcher.fetch(FetchRequest::logo(&svg)).await;
    assert!(matches!(result, Err(FetchError::ContentType { what: DocumentKind::Logo, .. })), "{result:?}");
    let (result, _) = fetcher.fetch(FetchRequest::client_metadata(&png)).await;
    assert!(matches!(result, Err(FetchError::ContentType { .. })), "a JSON fetch does not take an image");
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused() {
    let fixture = Fixture::start().await;
    let config = FetchConfig { extra_root_certs_pem: Vec::new(), ..fixture.config() };
    let fetcher = fixture.fetcher_with(config, std::sync::Arc::new(crate::support::resolver()));
    let url = fixture.url("/good.json");
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    match result.unwrap_err() {
        FetchError::Connect { reason, .. } => assert!(reason.contains("certificate"), "{reason}"),
        other => panic!("expected a TLS failure, got {other:?}"),
    }
    assert_eq!((report.status, fixture.hits.total()), (None, 0));
}

#[tokio::test]
async fn extra_roots_that_are_not_pem_are_a_configuration_error() {
    let config = FetchConfig { extra_root_certs_pem: vec![b"not a certificate".to_vec()], ..FetchConfig::default() };
    let error = postern_fetch::SafeFetcher::with_resolver(config, std::sync::Arc::new(crate::support::resolver()))
        .err()
        .unwrap();
    assert!(matches!(error, FetchError::Config { .. }), "{error}");
}

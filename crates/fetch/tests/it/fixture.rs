//! `postern_fetch::test_fixture` as another crate's tests use it: a handler of their own, async.

use std::time::Duration;

use postern_fetch::test_fixture::{Parts, TlsServer, json, not_found};
use postern_fetch::{FetchError, FetchRequest};

#[tokio::test]
async fn a_handler_sees_path_query_and_headers_and_may_answer_late() {
    let server = TlsServer::start(|request: Parts| async move {
        match request.uri.path() {
            "/echo.json" => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let accept = request.headers.get("accept").and_then(|value| value.to_str().ok()).unwrap_or("");
                let body = format!(r#"{{"query":"{}","accept":"{accept}"}}"#, request.uri.query().unwrap_or(""));
                json(200, body, &[])
            }
            _ => not_found(),
        }
    })
    .await;
    let url = server.url("/echo.json?client=1");
    let (result, _) = server.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(result.unwrap().body, br#"{"query":"client=1","accept":"application/json"}"#);
    assert_eq!((server.hits.of("/echo.json"), server.hits.total()), (1, 1), "counted by path, without the query");
}

#[tokio::test]
async fn a_dropped_server_no_longer_answers() {
    let server = TlsServer::start(|_| async { not_found() }).await;
    let (fetcher, url) = (server.fetcher(), server.url("/anything"));
    drop(server);
    // Aborting takes effect when the runtime next gets to the server's task.
    tokio::task::yield_now().await;
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert!(matches!(result, Err(FetchError::Connect { .. })), "{result:?}");
    assert_eq!(report.status, None);
}

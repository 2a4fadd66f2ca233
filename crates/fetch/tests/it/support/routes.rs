//! The fixture server's routes: one well-behaved document and many that misbehave on purpose.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use postern_fetch::test_fixture::http::HeaderMap;
use postern_fetch::test_fixture::http::header::CONTENT_TYPE;
use postern_fetch::test_fixture::{Body, Bytes, Response, gzip_bomb, json, not_found, response};

pub const GOOD_JSON: &str =
    r#"{"client_id":"https://cimd.test/good.json","client_name":"Good","redirect_uris":["https://app.test/cb"]}"#;
/// Over the default 16 KiB document cap.
pub const OVERSIZE: usize = 20 * 1024;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;

pub fn respond(path: &str, request_headers: &HeaderMap) -> Response<Body> {
    match path {
        // The request's headers, one `name: value` line each, to check what the fetcher sends.
        "/headers.json" => {
            let lines: String = request_headers
                .iter()
                .map(|(name, value)| format!("{name}: {}\n", value.to_str().unwrap_or("?")))
                .collect();
            json(200, lines, &[])
        }
        "/good.json" => json(200, GOOD_JSON, &[("cache-control", "max-age=3600")]),
        "/plus.json" => response(200, "application/oauth-client+json; charset=utf-8", GOOD_JSON, &[]),
        "/redirect" => response(301, "text/plain", "", &[("location", "https://169.254.169.254/latest/meta-data/")]),
        "/error" => json(500, "{}", &[]),
        "/big-declared" => json(200, "x".repeat(OVERSIZE), &[]),
        "/big-chunked" => streamed("application/json", OVERSIZE / 1024, 1024, Duration::ZERO),
        // One byte every 200 ms for ten seconds: longer than any total timeout in these tests.
        "/slow" => streamed("application/json", 50, 1, Duration::from_millis(200)),
        "/gzip" => {
            let gzipped = gzip_bomb();
            json(200, gzipped, &[("content-encoding", "gzip")])
        }
        "/page.html" => response(200, "text/html; charset=utf-8", "<!doctype html><title>no</title>", &[]),
        "/logo.png" => response(200, "image/png", PNG, &[]),
        "/logo.svg" => response(200, "image/svg+xml", SVG, &[]),
        _ => not_found(),
    }
}

/// A body without Content-Length (chunked), sent as `chunks` chunks of `size` bytes by a task
/// that pauses between them.
fn streamed(content_type: &str, chunks: usize, size: usize, pause: Duration) -> Response<Body> {
    let (mut sender, channel) = Channel::<Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for _ in 0..chunks {
            if sender.send_data(Bytes::from(vec![b' '; size])).await.is_err() {
                return;
            }
            tokio::time::sleep(pause).await;
        }
    });
    Response::builder().status(200).header(CONTENT_TYPE, content_type).body(channel.boxed()).unwrap()
}

//! The fixture server's routes: one well-behaved document and many that misbehave on purpose.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::BodyExt;
use http_body_util::channel::Channel;
use postern_fetch::test_fixture::http::HeaderMap;
use postern_fetch::test_fixture::http::header::CONTENT_TYPE;
use postern_fetch::test_fixture::{Body, Bytes, Response, json, not_found, response};

pub const GOOD_JSON: &str =
    r#"{"client_id":"https://cimd.test/good.json","client_name":"Good","redirect_uris":["https://app.test/cb"]}"#;
/// Over the default 16 KiB document cap.
pub const OVERSIZE: usize = 20 * 1024;

/// A real gzip member holding a 1 MiB JSON document, 1148 bytes on the wire. A deflate stream of
/// one repeated byte is mostly zero bytes, so it is written as head, zeros, tail.
const GZIP_HEAD: [u8; 120] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xcc, 0x4d, 0x0e, 0xc1, 0x40, 0x00, 0x06, 0xd0,
    0xab, 0xc8, 0xac, 0x45, 0xad, 0x1d, 0x85, 0x88, 0x54, 0x67, 0xc2, 0x08, 0x35, 0x69, 0xc7, 0x86, 0xb8, 0x3b, 0x8d,
    0x70, 0x01, 0xdb, 0xf7, 0xb6, 0xdf, 0xcf, 0x23, 0x74, 0xe7, 0x9c, 0xfa, 0xba, 0xcb, 0x31, 0xac, 0x66, 0xe1, 0x58,
    0x6b, 0x19, 0x57, 0x4d, 0xd3, 0xe5, 0x4b, 0x5c, 0xd4, 0x34, 0xd6, 0xe6, 0x70, 0xcf, 0x65, 0x71, 0x1a, 0xaf, 0x7d,
    0x98, 0xcf, 0xbe, 0xdd, 0xbe, 0xbd, 0xa4, 0xa9, 0xbd, 0xce, 0xa5, 0xa4, 0x38, 0x05, 0x43, 0x8a, 0x79, 0x48, 0x5d,
    0xdd, 0xdd, 0x86, 0x3c, 0xbe, 0xa3, 0xcd, 0xef, 0xa9, 0x2d, 0xe5, 0x73, 0xd4, 0xed, 0xc3, 0xf6, 0xdd, 0x2c, 0x6d,
    0x8c, 0xb9, 0x3f, 0x4c, 0xf3, 0x25,
];
const GZIP_ZEROS: usize = 1015;
const GZIP_TAIL: [u8; 13] = [0xc0, 0x9f, 0xc2, 0xf3, 0x05, 0xcc, 0x3c, 0x66, 0x8c, 0x7e, 0x00, 0x10, 0x00];
pub const GZIPPED_JSON_LEN: usize = GZIP_HEAD.len() + GZIP_ZEROS + GZIP_TAIL.len();

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
            let gzipped = [&GZIP_HEAD[..], &[0; GZIP_ZEROS], &GZIP_TAIL[..]].concat();
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

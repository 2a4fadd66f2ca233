//! For tests only (feature `test-fixture`, DESIGN §7): an HTTPS server for [`HOST`] on `127.0.0.1:0`,
//! with a certificate from a throwaway CA, answering through a handler the test supplies, and
//! [`SafeFetcher`]s that trust that CA and resolve [`HOST`] to the server through a [`StaticResolver`].
//!
//! ```no_run
//! # async fn example() {
//! use postern_fetch::FetchRequest;
//! use postern_fetch::test_fixture::{Parts, TlsServer, json, not_found};
//!
//! let server = TlsServer::start(|request: Parts| async move {
//!     match request.uri.path() {
//!         "/client.json" => json(200, r#"{"client_name":"App"}"#, &[("cache-control", "max-age=60")]),
//!         _ => not_found(),
//!     }
//! })
//! .await;
//! let url = server.url("/client.json");
//! let (result, _report) = server.fetcher().fetch(FetchRequest::client_metadata(&url)).await;
//! assert_eq!(server.hits.of("/client.json"), 1);
//! # }
//! ```
// Test code: a fixture that cannot start should fail the test loudly, where it happened.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

pub use bytes::Bytes;
pub use hyper::http::{self, Request, Response, request::Parts};

use crate::{FetchConfig, Resolve, SafeFetcher, StaticResolver};

/// The host name the server's certificate is for; [`resolver`] answers it with `127.0.0.1`.
pub const HOST: &str = "cimd.test";

/// A response body: whole ([`response`], [`json`]) or streamed, e.g. from an
/// `http_body_util::channel::Channel` fed by a spawned task to drip bytes slowly.
pub type Body = BoxBody<Bytes, Infallible>;

/// [`HOST`] resolving to the server's address.
pub fn resolver() -> StaticResolver {
    StaticResolver::new().answer(HOST, [IpAddr::V4(Ipv4Addr::LOCALHOST)])
}

/// A response with a whole body, its `Content-Type`, and `headers` added as given.
pub fn response(status: u16, content_type: &str, body: impl Into<Bytes>, headers: &[(&str, &str)]) -> Response<Body> {
    let mut builder = Response::builder().status(status).header(CONTENT_TYPE, content_type);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into()).boxed()).expect("a valid status and headers")
}

/// An `application/json` response.
pub fn json(status: u16, body: impl Into<Bytes>, headers: &[(&str, &str)]) -> Response<Body> {
    response(status, "application/json", body, headers)
}

/// A plain-text 404.
pub fn not_found() -> Response<Body> {
    response(404, "text/plain", "not found", &[])
}

/// Requests the server has seen, by path (without the query); shared with its connection tasks.
#[derive(Debug, Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, usize>>>);

impl Hits {
    /// How many requests for `path` arrived.
    pub fn of(&self, path: &str) -> usize {
        self.lock().get(path).copied().unwrap_or(0)
    }

    /// How many requests arrived, for any path.
    pub fn total(&self) -> usize {
        self.lock().values().sum()
    }

    fn record(&self, path: &str) {
        *self.lock().entry(path.to_owned()).or_default() += 1;
    }

    // No code panics while holding the lock, so a poisoned map still holds right counts.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running server. Dropping it stops the server and closes its open connections.
pub struct TlsServer {
    pub addr: SocketAddr,
    /// The CA that signed the server's certificate, as PEM (for `FetchConfig::extra_root_certs_pem`).
    pub ca_pem: Vec<u8>,
    pub hits: Hits,
    server: JoinHandle<()>,
}

impl TlsServer {
    /// Starts serving HTTP/1.1 over TLS. Every request is counted in [`Hits`], then answered by
    /// `handler`, which gets the request's method, URI (path and query) and headers; its body is not
    /// read. The handler is async so that a route can take its time before answering.
    pub async fn start<H, F>(handler: H) -> Self
    where
        H: Fn(Parts) -> F + Send + Sync + 'static,
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let (ca_pem, server_config) = certificates();
        let acceptor = TlsAcceptor::from(Arc::new(server_config));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.expect("a free loopback port");
        let addr = listener.local_addr().expect("the bound address");
        let hits = Hits::default();
        let handler = Arc::new(handler);
        let server = tokio::spawn(serve(listener, acceptor, hits.clone(), handler));
        Self { addr, ca_pem, hits, server }
    }

    /// `https://cimd.test:<port><path>`; `path` starts with `/` and may carry a query.
    pub fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.addr.port())
    }

    /// Trusts the test CA and opens `127.0.0.1/32`, nothing more.
    pub fn config(&self) -> FetchConfig {
        FetchConfig {
            allow_cidrs: vec!["127.0.0.1/32".parse().expect("a valid CIDR")],
            extra_root_certs_pem: vec![self.ca_pem.clone()],
            ..FetchConfig::default()
        }
    }

    /// A fetcher with [`Self::config`] and [`resolver`].
    pub fn fetcher(&self) -> SafeFetcher {
        self.fetcher_with(self.config(), Arc::new(resolver()))
    }

    /// A fetcher with another configuration (usually [`Self::config`] changed) or other DNS answers.
    pub fn fetcher_with(&self, config: FetchConfig, resolver: Arc<dyn Resolve>) -> SafeFetcher {
        SafeFetcher::with_resolver(config, resolver).expect("a valid test fetch configuration")
    }

    /// Waits, five seconds at most, until the server has seen a request for `path`.
    pub async fn wait_for_hit(&self, path: &str) {
        for _ in 0..500 {
            if self.hits.of(path) > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the server never saw a request for {path}");
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Accepts connections until aborted. The connections are tasks of a `JoinSet` owned here, so
/// aborting this task drops the set and ends them too: a dropped server leaves nothing running.
async fn serve<H, F>(listener: TcpListener, acceptor: TlsAcceptor, hits: Hits, handler: Arc<H>)
where
    H: Fn(Parts) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else { continue };
        // Forget the connections that have ended, so the set does not grow with every request.
        while connections.try_join_next().is_some() {}
        let (acceptor, hits, handler) = (acceptor.clone(), hits.clone(), handler.clone());
        connections.spawn(async move {
            // A client that refuses our certificate ends the handshake: that is for the test to judge.
            let Ok(tls) = acceptor.accept(tcp).await else { return };
            let service = service_fn(move |request: Request<Incoming>| {
                let (parts, _body) = request.into_parts();
                hits.record(parts.uri.path());
                let response = handler(parts);
                async move { Ok::<_, Infallible>(response.await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
        });
    }
}

/// A fresh CA (returned as PEM) and a server configuration with a certificate it signed for
/// [`HOST`], `localhost` and `127.0.0.1`.
fn certificates() -> (Vec<u8>, rustls::ServerConfig) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "Postern test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().unwrap();
    let leaf_params =
        CertificateParams::new(vec![HOST.to_owned(), "localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).unwrap();

    // Explicit provider: the process-wide default may be unset, or not aws-lc-rs, in a test binary.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone()], PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()))
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem().into_bytes(), config)
}

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

/// A real gzip member that inflates to a 1 MiB JSON document: a body that is small only while
/// compressed (the fetcher must refuse it without decompressing).
pub fn gzip_bomb() -> Vec<u8> {
    [&GZIP_HEAD[..], &[0; GZIP_ZEROS], &GZIP_TAIL[..]].concat()
}

//! The TLS fixture (DESIGN §7): a test CA, a server for `cimd.test` over rustls on
//! `127.0.0.1:0` that misbehaves on purpose (see `routes`), and fetchers that trust that CA and
//! resolve `cimd.test` to the server through a `StaticResolver`.

mod routes;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use postern_fetch::{FetchConfig, SafeFetcher, StaticResolver};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::PrivateKeyDer};

pub use routes::{GOOD_JSON, GZIPPED_JSON_LEN, OVERSIZE};

pub const HOST: &str = "cimd.test";
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// `cimd.test` resolving to the fixture server.
pub fn resolver() -> StaticResolver {
    StaticResolver::new().answer(HOST, [LOOPBACK])
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Requests seen, by path; shared with the server's connection tasks.
#[derive(Clone, Default)]
pub struct Hits(Arc<Mutex<HashMap<String, usize>>>);

impl Hits {
    fn record(&self, path: &str) {
        *self.0.lock().unwrap().entry(path.to_owned()).or_default() += 1;
    }

    pub fn of(&self, path: &str) -> usize {
        self.0.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn total(&self) -> usize {
        self.0.lock().unwrap().values().sum()
    }
}

pub struct Fixture {
    pub addr: SocketAddr,
    pub ca_pem: Vec<u8>,
    pub hits: Hits,
    server: JoinHandle<()>,
}

impl Fixture {
    pub async fn start() -> Self {
        let (ca_pem, server_config) = certificates();
        let acceptor = TlsAcceptor::from(Arc::new(server_config));
        let listener = TcpListener::bind((LOOPBACK, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Hits::default();
        let server_hits = hits.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let (acceptor, hits) = (acceptor.clone(), server_hits.clone());
                tokio::spawn(async move {
                    // A client that refuses our certificate ends the handshake: not our concern.
                    let Ok(tls) = acceptor.accept(tcp).await else { return };
                    let service = service_fn(move |request| {
                        let hits = hits.clone();
                        async move {
                            hits.record(request.uri().path());
                            Ok::<_, std::convert::Infallible>(routes::respond(request.uri().path(), request.headers()))
                        }
                    });
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
                });
            }
        });
        Self { addr, ca_pem, hits, server }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{HOST}:{}{path}", self.addr.port())
    }

    /// Trusts the test CA and opens `127.0.0.1/32`, nothing more.
    pub fn config(&self) -> FetchConfig {
        FetchConfig {
            allow_cidrs: vec!["127.0.0.1/32".parse().unwrap()],
            extra_root_certs_pem: vec![self.ca_pem.clone()],
            ..FetchConfig::default()
        }
    }

    /// A fetcher with [`Self::config`] and `cimd.test` resolving to the server.
    pub fn fetcher(&self) -> SafeFetcher {
        self.fetcher_with(self.config(), Arc::new(resolver()))
    }

    pub fn fetcher_with(&self, config: FetchConfig, resolver: Arc<StaticResolver>) -> SafeFetcher {
        SafeFetcher::with_resolver(config, resolver).unwrap()
    }

    /// Waits (bounded) until the server has seen a request for `path`.
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

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A CA (returned as PEM, for `extra_root_certs`) and a server certificate it signed for
/// `cimd.test`, `localhost` and `127.0.0.1`.
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

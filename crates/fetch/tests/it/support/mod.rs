//! The TLS fixture (DESIGN §7): `postern_fetch::test_fixture`'s server for `cimd.test`, answering
//! with routes that misbehave on purpose (see `routes`).

mod routes;

use std::future::ready;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;

use postern_fetch::test_fixture::TlsServer;

pub use postern_fetch::test_fixture::{HOST, resolver};
pub use routes::{GOOD_JSON, OVERSIZE};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A [`TlsServer`] serving [`routes::respond`].
pub struct Fixture(TlsServer);

impl Fixture {
    pub async fn start() -> Self {
        Self(TlsServer::start(|request| ready(routes::respond(request.uri.path(), &request.headers))).await)
    }
}

impl Deref for Fixture {
    type Target = TlsServer;

    fn deref(&self) -> &TlsServer {
        &self.0
    }
}

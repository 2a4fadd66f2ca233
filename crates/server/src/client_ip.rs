//! The address of the party a request really comes from. Behind a reverse proxy the TCP peer is
//! the proxy, so `X-Forwarded-For` is read, but only when the peer is a configured trusted proxy
//! (anyone can send the header; trusting it by default would let clients pick their own
//! throttling key, PEERS §4 item 14).

use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

/// Walks the forwarding chain from the nearest hop outwards and returns the first address that
/// is not a trusted proxy. A malformed chain stops the walk at the last address known good.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in hops.iter().rev().take(32) {
        match hop {
            Ok(ip) if is_trusted(&client) => client = *ip,
            _ => break,
        }
    }
    client
}

/// Extractor for the resolved client address.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(addr)| addr.ip());
        Ok(Self(resolve(peer, &parts.headers, &state.settings.trusted_proxies)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        headers
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn untrusted_peers_cannot_choose_their_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("198.51.100.7"), &headers("203.0.113.9"), &trusted), ip("198.51.100.7"));
        assert_eq!(resolve(ip("10.0.0.1"), &headers("203.0.113.9"), &[]), ip("10.0.0.1"));
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        // A client-sent spoof on the left is ignored: the first untrusted hop from the right wins.
        assert_eq!(resolve(ip("10.0.0.1"), &headers("1.2.3.4, 203.0.113.9, 10.0.0.2"), &trusted), ip("203.0.113.9"));
        assert_eq!(resolve(ip("10.0.0.1"), &headers("203.0.113.9"), &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn malformed_chains_stop_at_the_last_good_address() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(resolve(ip("10.0.0.1"), &headers("203.0.113.9, garbage"), &trusted), ip("10.0.0.1"));
        assert_eq!(resolve(ip("10.0.0.1"), &HeaderMap::new(), &trusted), ip("10.0.0.1"));
    }
}

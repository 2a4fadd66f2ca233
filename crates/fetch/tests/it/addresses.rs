//! Which addresses a fetch may reach (SPEC R068): every DNS answer and every IP literal is judged
//! by the address policy before anything is sent, and the connection goes only where was judged.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postern_fetch::{FetchConfig, FetchError, FetchErrorKind, FetchOutcome, FetchRequest, StaticResolver};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{Fixture, HOST, LOOPBACK, ip};

fn blocked(error: FetchError) -> (IpAddr, &'static str) {
    match error {
        FetchError::BlockedAddress { address, reason, .. } => (address, reason),
        other => panic!("expected a blocked address, got {other:?}"),
    }
}

#[tokio::test]
async fn r068_a_name_resolving_to_a_blocked_address_is_refused_before_connecting() {
    let fixture = Fixture::start().await;
    // Only 127.0.0.1/32 is allowed; the rest of 127/8 stays blocked.
    let resolver = Arc::new(StaticResolver::new().answer("internal.test", [ip("127.0.0.2")]));
    let fetcher = fixture.fetcher_with(fixture.config(), resolver);
    let url = format!("https://internal.test:{}/good.json", fixture.addr.port());
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(blocked(error.clone()), (ip("127.0.0.2"), "loopback (127.0.0.0/8)"));
    assert_eq!(
        error.to_string(),
        "client metadata document host internal.test resolves to 127.0.0.2, which Postern does not fetch from: \
         loopback (127.0.0.0/8)"
    );
    assert_eq!(report.resolved, [ip("127.0.0.2")]);
    assert_eq!((report.peer, report.outcome), (None, FetchOutcome::Failed(FetchErrorKind::BlockedAddress)));
}

#[tokio::test]
async fn r068_loopback_is_refused_unless_the_operator_allows_it() {
    let fixture = Fixture::start().await;
    let without_allow_list = FetchConfig { allow_cidrs: Vec::new(), ..fixture.config() };
    let fetcher = fixture.fetcher_with(without_allow_list, Arc::new(crate::support::resolver()));
    let url = fixture.url("/good.json");
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(blocked(result.unwrap_err()), (LOOPBACK, "loopback (127.0.0.0/8)"));
    assert_eq!(report.resolved, [LOOPBACK]);
    assert_eq!(fixture.hits.total(), 0, "no request reached the server");
}

/// Accepts connections on `addr` and remembers who connected, to prove nobody did.
async fn trap(addr: SocketAddr) -> Arc<Mutex<Vec<SocketAddr>>> {
    let listener = TcpListener::bind(addr).await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((_, peer)) = listener.accept().await {
            record.lock().unwrap().push(peer);
        }
    });
    seen
}

#[tokio::test]
async fn r068_dns_rebinding_is_refused_on_the_lookup_that_turns_private_and_nothing_connects_there() {
    let fixture = Fixture::start().await;
    // 127.0.0.1 stands in for the public address (allowed by allow_cidrs); 127.0.0.2 is the
    // private address the attacker's DNS switches to. A listener there would see any connection.
    let rebound = SocketAddr::new(ip("127.0.0.2"), fixture.addr.port());
    let seen = trap(rebound).await;
    let resolver = Arc::new(StaticResolver::new().answer(HOST, [LOOPBACK]).answer(HOST, [rebound.ip()]));
    let fetcher = fixture.fetcher_with(fixture.config(), resolver.clone());
    let url = fixture.url("/good.json");

    let (first, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(report.peer, Some(fixture.addr));
    assert_eq!(resolver.lookups(HOST), 1, "one lookup per fetch: the connection used the vetted answer");

    let (second, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(blocked(second.unwrap_err()), (rebound.ip(), "loopback (127.0.0.0/8)"));
    assert_eq!(resolver.lookups(HOST), 2);
    assert_eq!((report.resolved.as_slice(), report.peer), ([rebound.ip()].as_slice(), None));
    assert_eq!(fixture.hits.of("/good.json"), 1);

    // Our own connection queues behind any the fetcher made; once it is accepted, the list is
    // complete, and it holds ours alone.
    let control = TcpStream::connect(rebound).await.unwrap();
    let control_addr = control.local_addr().unwrap();
    for _ in 0..500 {
        if seen.lock().unwrap().contains(&control_addr) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(*seen.lock().unwrap(), [control_addr], "the fetcher never connected to the rebound address");
}

// Test safety: a blocked address other than loopback only ever follows 127.0.0.1 in an answer,
// so even a broken fetcher would connect to the fixture (and fail the test), never outwards.

#[tokio::test]
async fn r068_mixed_answers_are_refused_whatever_their_order() {
    let fixture = Fixture::start().await;
    for (answers, refused, reason) in [
        ([LOOPBACK, ip("169.254.169.254")], ip("169.254.169.254"), "link-local and cloud metadata (169.254.0.0/16)"),
        ([LOOPBACK, ip("10.0.0.7")], ip("10.0.0.7"), "private network (10.0.0.0/8)"),
        ([ip("127.0.0.2"), LOOPBACK], ip("127.0.0.2"), "loopback (127.0.0.0/8)"),
    ] {
        let resolver = Arc::new(StaticResolver::new().answer(HOST, answers));
        let fetcher = fixture.fetcher_with(fixture.config(), resolver);
        let url = fixture.url("/good.json");
        let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
        assert_eq!(blocked(result.unwrap_err()), (refused, reason));
        assert_eq!(report.resolved, answers);
    }
    assert_eq!(fixture.hits.total(), 0, "not even the allowed address was used");
}

#[tokio::test]
async fn r068_ipv6_answers_that_embed_ipv4_are_refused_even_with_ipv4_loopback_allowed() {
    let fixture = Fixture::start().await;
    for (answers, refused, reason) in [
        (vec![ip("::ffff:127.0.0.1")], "::ffff:127.0.0.1", "IPv4-mapped IPv6 (::ffff:0:0/96)"),
        (vec![LOOPBACK, ip("64:ff9b::7f00:1")], "64:ff9b::7f00:1", "NAT64, embeds an IPv4 address (64:ff9b::/96)"),
        (vec![LOOPBACK, ip("::127.0.0.1")], "::127.0.0.1", "unspecified or IPv4-compatible IPv6 (::/96)"),
    ] {
        let resolver = Arc::new(StaticResolver::new().answer(HOST, answers));
        let fetcher = fixture.fetcher_with(fixture.config(), resolver);
        let url = fixture.url("/good.json");
        let (result, _) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
        assert_eq!(blocked(result.unwrap_err()), (ip(refused), reason), "{refused}");
    }
    assert_eq!(fixture.hits.total(), 0);
}

#[tokio::test]
async fn r068_ip_literal_urls_in_every_spelling_are_judged_before_sending() {
    // Loopback spellings only (a NAT64 literal is covered by the unit tests, without a network).
    let fixture = Fixture::start().await;
    let port = fixture.addr.port();
    let resolver = Arc::new(StaticResolver::new());
    let strict = fixture.fetcher_with(FetchConfig { allow_cidrs: Vec::new(), ..fixture.config() }, resolver.clone());
    for (host, address) in [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
        ("[::1]", "::1"),
    ] {
        let url = format!("https://{host}:{port}/good.json");
        let (result, report) = strict.fetch(FetchRequest::client_metadata(&url)).await;
        assert_eq!(blocked(result.unwrap_err()).0, ip(address), "{url}");
        assert_eq!(report.resolved, [ip(address)], "{url}");
    }
    // The mapped form stays refused even where 127.0.0.1 itself is allowed.
    let allowing = fixture.fetcher_with(fixture.config(), resolver.clone());
    let url = format!("https://[::ffff:127.0.0.1]:{port}/good.json");
    let (result, _) = allowing.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(blocked(result.unwrap_err()).0, ip("::ffff:127.0.0.1"));
    assert_eq!(fixture.hits.total(), 0);
}

#[tokio::test]
async fn an_allowed_ip_literal_is_fetched_without_any_lookup() {
    let fixture = Fixture::start().await;
    let resolver = Arc::new(StaticResolver::new());
    let fetcher = fixture.fetcher_with(fixture.config(), resolver.clone());
    let url = format!("https://0x7f000001:{}/good.json", fixture.addr.port());
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!((report.resolved.as_slice(), report.peer), ([LOOPBACK].as_slice(), Some(fixture.addr)));
}

#[tokio::test]
async fn r072_plain_http_is_refused_before_any_lookup() {
    let fixture = Fixture::start().await;
    let resolver = Arc::new(crate::support::resolver());
    let fetcher = fixture.fetcher_with(fixture.config(), resolver.clone());
    let url = format!("http://{HOST}:{}/good.json", fixture.addr.port());
    let (result, report) = fetcher.fetch(FetchRequest::client_metadata(&url)).await;
    let error = result.unwrap_err();
    assert_eq!(error.to_string(), "client metadata document URL must use https, not http");
    assert_eq!((resolver.lookups(HOST), fixture.hits.total()), (0, 0));
    assert_eq!(report.outcome, FetchOutcome::Failed(FetchErrorKind::InvalidUrl));
}

#[tokio::test]
async fn names_that_do_not_resolve_are_named_in_the_error() {
    let fixture = Fixture::start().await;
    let resolver = Arc::new(StaticResolver::new().answer("empty.test", []));
    let fetcher = fixture.fetcher_with(fixture.config(), resolver);
    let unknown = format!("https://unknown.test:{}/x", fixture.addr.port());
    let (result, _) = fetcher.fetch(FetchRequest::jwks(&unknown)).await;
    assert!(matches!(result, Err(FetchError::Resolve { ref host, .. }) if host == "unknown.test"), "{result:?}");
    let empty = format!("https://empty.test:{}/x", fixture.addr.port());
    let (result, _) = fetcher.fetch(FetchRequest::jwks(&empty)).await;
    assert_eq!(result.unwrap_err().to_string(), "the JWKS document host empty.test has no IPv4 or IPv6 address");
}

#[tokio::test]
async fn the_default_hickory_resolver_answers_localhost_with_both_loopbacks_and_both_must_be_allowed() {
    let fixture = Fixture::start().await;
    let url = format!("https://localhost:{}/good.json", fixture.addr.port());
    // hickory answers `localhost.` itself (RFC 6761), without a query: 127.0.0.1 and ::1.
    let ipv4_only = postern_fetch::SafeFetcher::new(fixture.config()).unwrap();
    let (result, report) = ipv4_only.fetch(FetchRequest::client_metadata(&url)).await;
    assert_eq!(blocked(result.unwrap_err()), (ip("::1"), "loopback (::1)"), "a mixed answer is refused whole");
    assert!(report.resolved.contains(&LOOPBACK) && report.resolved.contains(&ip("::1")), "{report:?}");

    let both = FetchConfig {
        allow_cidrs: vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()],
        ..fixture.config()
    };
    let (result, report) =
        postern_fetch::SafeFetcher::new(both).unwrap().fetch(FetchRequest::client_metadata(&url)).await;
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(report.peer, Some(fixture.addr));
}

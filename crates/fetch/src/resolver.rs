//! Name resolution behind a small trait, so tests can answer DNS themselves (STYLE: capability
//! traits only where a fake truly helps). The answers are judged by the address policy elsewhere
//! (`vetted_dns`); a resolver only reports what the name resolves to.

use hickory_resolver::config::{CLOUDFLARE, LookupIpStrategy, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::{ResolverBuilder, TokioResolver};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Mutex;

use crate::FetchError;

/// The future a [`Resolve`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Looks up every address of a host name (A and AAAA). An empty answer is not an error here.
pub trait Resolve: Send + Sync {
    /// `host` as it appears in the URL (lowercase, no brackets, no trailing-dot normalisation).
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// The production resolver: hickory with the system's configuration (`/etc/resolv.conf`).
pub struct HickoryResolver {
    inner: TokioResolver,
}

impl HickoryResolver {
    /// Reads the system configuration. When it cannot be read (a container without
    /// `/etc/resolv.conf`, say) it falls back to Cloudflare's public resolvers over UDP and TCP and
    /// logs a warning, so fetching still works on an ordinary internet-connected host.
    pub fn from_system() -> Result<Self, FetchError> {
        Self::from_builder(TokioResolver::builder_tokio())
    }

    /// Uses `config` (the name servers and search domains) instead of the system's.
    pub fn with_config(config: ResolverConfig) -> Result<Self, FetchError> {
        Self::from_builder(Ok(TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())))
    }

    fn from_builder(system: Result<ResolverBuilder<TokioRuntimeProvider>, NetError>) -> Result<Self, FetchError> {
        let mut builder = system.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read the system DNS configuration; resolving through 1.1.1.1 and 1.0.0.1");
            TokioResolver::builder_with_config(
                ResolverConfig::udp_and_tcp(&CLOUDFLARE),
                TokioRuntimeProvider::default(),
            )
        });
        // Both families, so a name that mixes a public A record with a private AAAA record is seen
        // whole and refused (SafeFetcher treats mixed answers as hostile).
        builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        let inner = builder
            .build()
            .map_err(|error| FetchError::Config { reason: format!("cannot build the DNS resolver: {error}") })?;
        Ok(Self { inner })
    }
}

impl Resolve for HickoryResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            // A trailing dot makes the name fully qualified: no search domain from resolv.conf is
            // appended, so `https://intranet/...` cannot become `intranet.corp.example.`.
            let fqdn = if host.ends_with('.') { host.to_owned() } else { format!("{host}.") };
            match self.inner.lookup_ip(fqdn.as_str()).await {
                Ok(lookup) => Ok(lookup.iter().collect()),
                Err(error) if error.is_no_records_found() || error.is_nx_domain() => Ok(Vec::new()),
                Err(error) => Err(io::Error::other(error.to_string())),
            }
        })
    }
}

/// A resolver for tests: each host answers from a list set up in advance. Successive
/// [`answer`](Self::answer) calls for one host are handed out one lookup at a time, the last one
/// repeating, which is how a test plays a DNS rebinding attack (public first, private next).
#[derive(Debug, Default)]
pub struct StaticResolver {
    hosts: Mutex<HashMap<String, StaticHost>>,
}

#[derive(Debug, Default)]
struct StaticHost {
    answers: VecDeque<Vec<IpAddr>>,
    lookups: usize,
}

impl StaticResolver {
    /// A resolver that knows no host yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next answer for `host` (compared case-insensitively).
    #[must_use]
    pub fn answer(self, host: &str, addresses: impl IntoIterator<Item = IpAddr>) -> Self {
        self.lock().entry(host.to_ascii_lowercase()).or_default().answers.push_back(addresses.into_iter().collect());
        self
    }

    /// How many times `host` was looked up.
    pub fn lookups(&self, host: &str) -> usize {
        self.lock().get(&host.to_ascii_lowercase()).map_or(0, |h| h.lookups)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StaticHost>> {
        self.hosts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Resolve for StaticResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        let answer = {
            let mut hosts = self.lock();
            match hosts.get_mut(&host.to_ascii_lowercase()) {
                Some(entry) => {
                    entry.lookups += 1;
                    let next = if entry.answers.len() > 1 {
                        entry.answers.pop_front()
                    } else {
                        entry.answers.front().cloned()
                    };
                    Ok(next.unwrap_or_default())
                }
                None => Err(io::Error::new(io::ErrorKind::NotFound, format!("no answer is set up for {host}"))),
            }
        };
        Box::pin(std::future::ready(answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn static_resolver_hands_out_answers_in_order_and_repeats_the_last() {
        let resolver =
            StaticResolver::new().answer("Rebind.test", [ip("8.8.8.8")]).answer("rebind.test", [ip("10.0.0.1")]);
        assert_eq!(resolver.resolve("rebind.test").await.unwrap(), [ip("8.8.8.8")]);
        assert_eq!(resolver.resolve("REBIND.test").await.unwrap(), [ip("10.0.0.1")]);
        assert_eq!(resolver.resolve("rebind.test").await.unwrap(), [ip("10.0.0.1")]);
        assert_eq!(resolver.lookups("rebind.test"), 3);
        assert_eq!(resolver.resolve("other.test").await.unwrap_err().kind(), io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn an_unreadable_system_configuration_falls_back_to_a_working_resolver() {
        let resolver = HickoryResolver::from_builder(Err(NetError::from("resolv.conf: permission denied")));
        assert!(resolver.is_ok());
    }
}

//! The bridge between our [`Resolve`] and reqwest: the only way reqwest learns an address.
//!
//! Why there is no DNS rebinding window: reqwest (hyper-util's connector) asks this resolver for
//! the host's addresses and then connects to exactly the addresses returned, with no lookup of
//! its own. This resolver hands back only answers the [`AddressPolicy`] has just judged, so the
//! address that is checked is the address that is connected to; there is no second resolution
//! for an attacker's DNS to answer differently. Connections are not pooled (`SafeFetcher`), so
//! every fetch looks the name up afresh and is judged afresh. IP-literal hosts never reach a
//! resolver, which is why `Target::check_literal` judges them before sending.

use std::error::Error;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use reqwest::dns::{Addrs, Name, Resolving};

use crate::{AddressPolicy, DocumentKind, FetchError, Resolve, Verdict};

tokio::task_local! {
    /// The current fetch's DNS answers, for its report. Set by `SafeFetcher::fetch` around the
    /// request; the connector runs inside the same task, so the resolver can record them.
    static ANSWERS: Arc<Mutex<Vec<IpAddr>>>;
}

/// Runs `future` with a fresh place for the DNS answers, returned alongside its output even if
/// the future is cut short by a timeout (the `Arc` outlives it).
pub(crate) fn recording_answers<F: Future>(future: F) -> (Arc<Mutex<Vec<IpAddr>>>, impl Future<Output = F::Output>) {
    let answers = Arc::new(Mutex::new(Vec::new()));
    (answers.clone(), ANSWERS.scope(answers, future))
}

fn record(answers: &[IpAddr]) {
    let _ = ANSWERS
        .try_with(|slot| slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).extend_from_slice(answers));
}

/// Why the vetting resolver gave reqwest no address; found again in reqwest's error chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    Lookup(String),
    NoAddress,
    Blocked { address: IpAddr, reason: &'static str },
}

impl Refusal {
    pub(crate) fn into_error(self, what: DocumentKind, host: &str) -> FetchError {
        let host = host.to_owned();
        match self {
            Self::Lookup(reason) => FetchError::Resolve { what, host, reason },
            Self::NoAddress => FetchError::NoAddress { what, host },
            Self::Blocked { address, reason } => FetchError::BlockedAddress { what, host, address, reason },
        }
    }

    /// The refusal somewhere in `error`'s source chain, if the resolver caused the failure.
    pub(crate) fn find(error: &(dyn Error + 'static)) -> Option<Self> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(refusal) = error.downcast_ref::<Self>() {
                return Some(refusal.clone());
            }
            current = error.source();
        }
        None
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lookup(reason) => write!(f, "DNS lookup failed: {reason}"),
            Self::NoAddress => f.write_str("no address"),
            Self::Blocked { address, reason } => write!(f, "{address} is refused: {reason}"),
        }
    }
}

impl Error for Refusal {}

/// Every answer must be allowed. One blocked answer refuses the whole name, rather than
/// connecting to the allowed rest: a name mixing public and private addresses is an attack (or a
/// misconfiguration worth hearing about), not something to work around.
pub(crate) fn vet(policy: &AddressPolicy, answers: &[IpAddr]) -> Result<(), Refusal> {
    if answers.is_empty() {
        return Err(Refusal::NoAddress);
    }
    for &address in answers {
        if let Verdict::Blocked(reason) = policy.verdict(address) {
            return Err(Refusal::Blocked { address, reason });
        }
    }
    Ok(())
}

pub(crate) struct VettingResolver {
    pub(crate) resolver: Arc<dyn Resolve>,
    pub(crate) policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for VettingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (resolver, policy) = (self.resolver.clone(), self.policy.clone());
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let answers = resolver.resolve(&host).await.map_err(|error| Refusal::Lookup(error.to_string()))?;
            record(&answers);
            vet(&policy, &answers)?;
            // Port 0 is replaced by the URL's port.
            let addrs: Addrs = Box::new(answers.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn r068_one_blocked_answer_refuses_the_name_whatever_its_order() {
        let policy = AddressPolicy::default();
        assert_eq!(vet(&policy, &ips(&["93.184.215.14", "8.8.8.8"])), Ok(()));
        for mixed in [["93.184.215.14", "10.0.0.7"], ["10.0.0.7", "93.184.215.14"]] {
            assert_eq!(
                vet(&policy, &ips(&mixed)),
                Err(Refusal::Blocked { address: "10.0.0.7".parse().unwrap(), reason: "private network (10.0.0.0/8)" })
            );
        }
        assert!(matches!(vet(&policy, &ips(&["2606:4700::1", "::ffff:8.8.8.8"])), Err(Refusal::Blocked { .. })));
        assert_eq!(vet(&policy, &[]), Err(Refusal::NoAddress));
    }

    #[test]
    fn a_refusal_is_found_through_an_error_chain() {
        #[derive(Debug)]
        struct Wrapper(Refusal);
        impl fmt::Display for Wrapper {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("wrapped")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        let wrapped = Wrapper(Refusal::NoAddress);
        assert_eq!(Refusal::find(&wrapped), Some(Refusal::NoAddress));
        assert_eq!(Refusal::find(&std::io::Error::other("unrelated")), None);
    }
}

//! Postern's outbound fetching (DESIGN §2, issue 3). [`SafeFetcher`] is the one HTTP client for
//! everything Postern fetches; every address it could connect to is first judged by the
//! [`AddressPolicy`]: only public unicast addresses are allowed unless the operator explicitly
//! allows a range.

pub mod address_policy;
pub mod cache_lifetime;
pub mod document_cache;
mod error;
mod fetcher;
mod governor;
mod media_type;
mod report;
mod resolver;
mod target;
#[cfg(feature = "test-fixture")]
pub mod test_fixture;
mod vetted_dns;

pub use address_policy::{AddressPolicy, Verdict};
pub use cache_lifetime::{CacheBounds, CacheHeaders, lifetime};
pub use document_cache::{CacheOutcome, DocumentCache};
pub use error::{DocumentKind, FetchError, FetchErrorKind};
pub use fetcher::{
    DEFAULT_DOCUMENT_MAX_BYTES, DEFAULT_IMAGE_MAX_BYTES, FetchConfig, FetchRequest, Fetched, SafeFetcher,
};
pub use governor::GovernorConfig;
pub use media_type::Accept;
pub use report::{FetchOutcome, FetchReport};
pub use resolver::{BoxFuture, HickoryResolver, Resolve, StaticResolver};

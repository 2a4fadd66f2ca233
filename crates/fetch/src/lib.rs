//! Postern's outbound fetching (DESIGN §2, issue 3). Every address a fetch could connect to is
//! first judged by the [`AddressPolicy`]: only public unicast addresses are allowed unless the
//! operator explicitly allows a range.

pub mod address_policy;
pub mod cache_lifetime;
pub mod document_cache;

pub use address_policy::{AddressPolicy, Verdict};
pub use cache_lifetime::{CacheBounds, CacheHeaders, lifetime};
pub use document_cache::{CacheOutcome, DocumentCache};

//! Postern's protocol core: OAuth values parsed once into types that cannot be invalid, and the
//! pure decisions (redirect matching, PKCE, code redemption, refresh rotation) that the server
//! applies. Nothing here performs I/O; time comes from a [`Clock`].

pub mod client;
pub mod client_id_url;
pub mod client_metadata_document;
pub mod clock;
pub mod domain_policy;
pub mod error;
pub mod grant;
pub mod issuer;
pub mod pkce;
pub mod redirect_uri;
pub mod registration_metadata;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod timestamp;
pub mod username;

pub use client::{ClientType, TokenEndpointAuthMethod};
pub use client_id_url::ClientIdUrl;
pub use clock::{Clock, FixedClock, SystemClock, UnixTime};
pub use error::ParseError;
pub use issuer::Issuer;
pub use pkce::{PkceChallenge, PkceVerifier};
pub use redirect_uri::RedirectUri;
pub use resource::ResourceUri;
pub use scope::{Scope, ScopeSet};
pub use secret::{OpaqueToken, TokenHash};
pub use username::Username;

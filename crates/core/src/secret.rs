use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A freshly minted bearer secret (authorization code, refresh token, client secret, session
/// id): 256 random bits, base64url, behind a short prefix that says what it is so secret
/// scanners and humans can tell them apart. Only its [`TokenHash`] is ever stored.
pub struct OpaqueToken(String);

impl OpaqueToken {
    /// # Errors
    /// Fails only when the operating system's random source does.
    pub fn generate(prefix: &str) -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpaqueToken(..)")
    }
}

/// Hex SHA-256 of a presented secret. A plain hash is enough because every secret we issue
/// has 256 bits of entropy; lookups by hash keep the database free of usable secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(secret: &str) -> Self {
        let digest = Sha256::digest(secret.as_bytes());
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
        }
        Self(hex)
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison for secrets checked against a known record (client secrets).
    pub fn matches(&self, presented: &str) -> bool {
        Self::of(presented).0.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A random identifier that is not a secret (user ids, grant ids, `jti`).
///
/// # Errors
/// Fails only when the operating system's random source does.
pub fn random_id(prefix: &str) -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_256_bit() {
        let a = OpaqueToken::generate("prt_").unwrap();
        let b = OpaqueToken::generate("prt_").unwrap();
        assert_ne!(a.expose(), b.expose());
        assert!(a.expose().starts_with("prt_"));
        assert_eq!(a.expose().len(), 4 + 43);
    }

    #[test]
    fn hash_is_sha256_hex_and_matches_only_the_secret() {
        assert_eq!(TokenHash::of("abc").as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        let hash = TokenHash::of("s3cret");
        assert!(hash.matches("s3cret"));
        assert!(!hash.matches("s3cret "));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = OpaqueToken::generate("pc_").unwrap();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}

use crate::error::ParseError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An S256 code challenge: the base64url (no padding) SHA-256 of the verifier, always 43
/// characters. Postern supports only S256 (R120, R122), so anything else can never verify and
/// is rejected at the authorization endpoint instead of failing later at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkceChallenge(String);

impl PkceChallenge {
    /// `method` is the raw `code_challenge_method`; absent means `plain` (RFC 7636 §4.3), which
    /// we do not support (R122).
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, ParseError> {
        let challenge = challenge.ok_or_else(|| {
            ParseError::new("code_challenge is required: PKCE with S256 is mandatory for every client")
        })?;
        match method {
            Some("S256") => {}
            None => {
                return Err(ParseError::new(
                    "code_challenge_method is required and must be S256 (an absent method means plain, which is not supported)",
                ));
            }
            Some(other) => {
                return Err(ParseError::new(format!(
                    "code_challenge_method '{}' is not supported; use S256",
                    truncate(other)
                )));
            }
        }
        if challenge.len() != 43 || !challenge.bytes().all(is_base64url_byte) {
            return Err(ParseError::new(
                "code_challenge must be the 43-character base64url (unpadded) SHA-256 of the code_verifier",
            ));
        }
        Ok(Self(challenge.to_owned()))
    }

    /// Rebuilds a challenge read back from storage, where it was validated on the way in.
    pub fn from_stored(challenge: String) -> Self {
        Self(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6, compared in constant time.
    pub fn is_satisfied_by(&self, verifier: &PkceVerifier) -> bool {
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.0.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

/// A `code_verifier`: 43 to 128 characters from the unreserved set (RFC 7636 §4.1).
#[derive(Clone, PartialEq, Eq)]
pub struct PkceVerifier(String);

impl std::fmt::Debug for PkceVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PkceVerifier(..)")
    }
}

impl PkceVerifier {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        if !(43..=128).contains(&raw.len()) || !raw.bytes().all(is_unreserved_byte) {
            return Err(ParseError::new(
                "code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1)",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The S256 challenge for this verifier (used by test clients and benchmarks).
    pub fn challenge(&self) -> PkceChallenge {
        PkceChallenge(URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes())))
    }
}

fn is_base64url_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

fn is_unreserved_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn truncate(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn r120_rfc7636_appendix_b_vector_verifies() {
        let challenge = PkceChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        assert!(challenge.is_satisfied_by(&PkceVerifier::parse(VERIFIER).unwrap()));
        assert_eq!(PkceVerifier::parse(VERIFIER).unwrap().challenge(), challenge);
    }

    #[test]
    fn r125_wrong_verifier_does_not_verify() {
        let challenge = PkceChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap();
        let other = PkceVerifier::parse(&"a".repeat(43)).unwrap();
        assert!(!challenge.is_satisfied_by(&other));
    }

    #[test]
    fn r121_r122_missing_challenge_plain_and_missing_method_are_rejected() {
        assert!(PkceChallenge::parse(None, Some("S256")).is_err());
        assert!(PkceChallenge::parse(Some(CHALLENGE), None).is_err());
        assert!(PkceChallenge::parse(Some(CHALLENGE), Some("plain")).is_err());
        assert!(PkceChallenge::parse(Some(CHALLENGE), Some("s256")).is_err());
    }

    #[test]
    fn r123_challenge_format_is_checked() {
        assert!(PkceChallenge::parse(Some(&CHALLENGE[..42]), Some("S256")).is_err());
        assert!(PkceChallenge::parse(Some(&format!("{}=", &CHALLENGE[..42])), Some("S256")).is_err());
        assert!(PkceVerifier::parse(&"a".repeat(42)).is_err());
        assert!(PkceVerifier::parse(&"a".repeat(129)).is_err());
        assert!(PkceVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
    }

    proptest! {
        #[test]
        fn any_valid_verifier_satisfies_its_own_challenge(v in "[A-Za-z0-9._~-]{43,128}") {
            let verifier = PkceVerifier::parse(&v).unwrap();
            prop_assert!(verifier.challenge().is_satisfied_by(&verifier));
        }

        #[test]
        fn parsers_never_panic(c in ".{0,200}", m in ".{0,20}") {
            let _ = PkceChallenge::parse(Some(&c), Some(&m));
            let _ = PkceVerifier::parse(&c);
        }
    }
}

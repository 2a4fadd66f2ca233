//! `private_key_jwt` client assertions (RFC 7523 §2.2 and §3, SPEC R142): reading a client's
//! JWK Set and verifying an assertion against it.
//!
//! Pure: no I/O and no clock. The caller finds the keys (the registered `jwks`, or `jwks_uri`
//! through the fetcher), refetches them once when [`AssertionError::is_unknown_key`] says they may
//! be stale, stores [`VerifiedAssertion::jti`] until [`VerifiedAssertion::expires_at`] to stop
//! replays, and answers every error with `invalid_client`.
//!
//! Only the client's registered keys count: keys named in the assertion's own header (`jwk`,
//! `jku`, `x5u`, `x5c`) are ignored, since whoever forged the assertion chose them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde_json::{Map, Value};
use std::str::FromStr;

/// The only `client_assertion_type` accepted at the token endpoint (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// An assertion is a handful of claims and one signature; 8 KiB leaves room for RSA-8192.
pub const MAX_ASSERTION_BYTES: usize = 8 * 1024;
/// Without a `kid` every fitting key is tried, so the set's size bounds the work per request.
pub const MAX_JWKS_KEYS: usize = 10;
/// Tolerated clock difference between the client and this server.
pub const CLOCK_LEEWAY_SECS: i64 = 30;
/// Longest accepted `exp - now`: every accepted `jti` is stored until its assertion expires,
/// so a far-away `exp` would pin a row for that long.
pub const MAX_LIFETIME_SECS: i64 = 600;
const MAX_JTI_CHARS: usize = 256;
/// The asymmetric algorithms jsonwebtoken verifies; `none` and HMAC are never accepted (R142).
const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::EdDSA,
];
const ASYMMETRIC_NAMES: &str = "ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512 or EdDSA";
/// JWK members only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What a valid assertion must say, supplied by the caller.
#[derive(Debug, Clone, Copy)]
pub struct AssertionRules<'a> {
    /// The authenticating client: both `iss` and `sub` must equal it exactly.
    pub client_id: &'a str,
    /// Values identifying this server (the issuer and the token endpoint URL); `aud` must name one.
    pub audiences: &'a [&'a str],
    /// Current Unix time in seconds, from the injected clock.
    pub now: i64,
}

/// An assertion whose signature and claims check out. It authenticates the client only once the
/// caller has stored `jti` as unseen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    pub jti: String,
    /// Keep the `jti` until this Unix time: `exp` plus the leeway, after which the assertion is
    /// rejected as expired anyway.
    pub expires_at: i64,
}

/// Why an assertion or a JWK Set was refused. Every message tells the client developer what to
/// fix, and quotes untrusted input only in a short, printable excerpt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssertionError {
    #[error("client_assertion is {0} bytes long; at most 8192 are accepted")]
    TooLarge(usize),
    #[error("client_assertion is not a signed JWT in JWS compact form (base64url header.payload.signature): {0}")]
    Malformed(&'static str),
    #[error(
        "client_assertion alg is none (unsigned); sign it with a private key whose public key is in the client's JWK Set"
    )]
    Unsigned,
    #[error(
        "client_assertion alg {0} is an HMAC (client_secret_jwt), which this server does not accept; sign it with a private key whose public key is in the client's JWK Set"
    )]
    Symmetric(String),
    #[error("client_assertion alg {0} is not supported; use {ASYMMETRIC_NAMES}")]
    UnsupportedAlgorithm(String),
    #[error("client_assertion header has crit, and this server supports no JWS extensions; remove crit")]
    CriticalHeader,
    #[error(
        "no key with kid {0} in the client's JWK Set; publish the signing key in the registered jwks or at jwks_uri"
    )]
    UnknownKey(String),
    #[error("the key with kid {kid} in the client's JWK Set cannot verify {alg}: {reason}")]
    KeyUnusable { kid: String, alg: String, reason: String },
    #[error(
        "client_assertion has no kid and no key in the client's JWK Set can verify {0}: a key fits when its kty and crv suit {0}, its use is sig or absent, and its alg is {0} or absent"
    )]
    NoKeyForAlgorithm(String),
    #[error("client_assertion signature does not verify with {}", match .kid {
        Some(kid) => format!("the key with kid {kid}"),
        None => "any key in the client's JWK Set".to_owned(),
    })]
    BadSignature { kid: Option<String> },
    #[error("client_assertion {claim} must be the client_id {client_id}")]
    NotClient { claim: &'static str, client_id: String },
    #[error("client_assertion aud must name this authorization server as a string or in an array: {expected}")]
    Audience { expected: String },
    #[error("client_assertion has no {0} claim, which is required")]
    MissingClaim(&'static str),
    #[error("client_assertion {claim} must be {expected}")]
    InvalidClaim { claim: &'static str, expected: &'static str },
    #[error(
        "client_assertion expired at {exp} (server time {now}, {CLOCK_LEEWAY_SECS} s leeway); create a fresh assertion for each request"
    )]
    Expired { exp: i64, now: i64 },
    #[error(
        "client_assertion exp is {ahead_secs} s after server time; at most {MAX_LIFETIME_SECS} s (+{CLOCK_LEEWAY_SECS} s leeway) are accepted, because the server remembers every jti until its exp to stop replays"
    )]
    TooLongLived { ahead_secs: i64 },
    #[error(
        "client_assertion {claim} ({value}) is in the future (server time {now}, {CLOCK_LEEWAY_SECS} s leeway); check the client's clock"
    )]
    NotYetValid { claim: &'static str, value: i64, now: i64 },
    #[error("the client's JWK Set is not usable: {0}")]
    InvalidJwks(String),
}

impl AssertionError {
    /// True when the keys at hand may be stale: the assertion names a `kid` the set lacks, or
    /// has no `kid` and no key in the set verifies it (the client may have rotated). The caller
    /// refetches `jwks_uri`, at most once per cooldown, and verifies again.
    pub fn is_unknown_key(&self) -> bool {
        matches!(self, Self::UnknownKey(_) | Self::NoKeyForAlgorithm(_) | Self::BadSignature { kid: None })
    }
}

/// Reads a client's JWK Set (registered `jwks`, or the body of its `jwks_uri`): an object with
/// 1 to [`MAX_JWKS_KEYS`] public keys, at least one of which can verify an assertion. Keys of
/// unsupported types are kept but never used; private or symmetric keys reject the whole set,
/// since publishing one means the client leaked it.
pub fn parse_jwks(value: &Value) -> Result<JwkSet, AssertionError> {
    let invalid = |message: String| AssertionError::InvalidJwks(message);
    let Some(keys) = value.get("keys").and_then(Value::as_array) else {
        return Err(invalid("it must be a JSON object with a keys array".to_owned()));
    };
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
        return Err(invalid(format!("it has {} keys; 1 to {MAX_JWKS_KEYS} are accepted", keys.len())));
    }
    let mut parsed = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        let Some(members) = key.as_object() else {
            return Err(invalid(format!("key {index} is not a JSON object")));
        };
        if members.get("kty").and_then(Value::as_str) == Some("oct") {
            return Err(invalid(format!(
                "key {index} is a symmetric (kty oct) key; private_key_jwt verifies with public keys only"
            )));
        }
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|member| members.contains_key(**member)) {
            return Err(invalid(format!(
                "key {index} contains the private member {member}; publish public keys only, and replace the leaked key"
            )));
        }
        let jwk: Jwk =
            serde_json::from_value(key.clone()).map_err(|e| invalid(format!("key {index} is not a valid JWK: {e}")))?;
        // Bad material in a supported key type is a client mistake worth reporting now, not
        // at the first failed token request.
        key_material(&jwk).map_err(|reason| invalid(format!("key {index}: {reason}")))?;
        parsed.push(jwk);
    }
    if !parsed.iter().any(|jwk| ASYMMETRIC.iter().any(|alg| decoding_key_for(jwk, *alg).is_ok())) {
        return Err(invalid(format!(
            "none of its keys can verify signatures; publish an EC (P-256, P-384), RSA (2048 to 8192 bits) or OKP (Ed25519) key whose use is sig or absent, for {ASYMMETRIC_NAMES}"
        )));
    }
    Ok(JwkSet { keys: parsed })
}

/// Verifies a `client_assertion` against the client's keys and `rules`. Time claims are checked
/// against `rules.now`, never the system clock. Replay protection is left to the caller: store the
/// returned `jti` and refuse it while it is remembered.
pub fn verify_client_assertion(
    assertion: &str,
    keys: &JwkSet,
    rules: &AssertionRules,
) -> Result<VerifiedAssertion, AssertionError> {
    let jws = CompactJws::parse(assertion)?;
    verify_signature(&jws, keys)?;
    check_claims(&jws.claims, rules)
}

/// An assertion split and decoded, its signature not yet checked.
struct CompactJws<'a> {
    /// `header.payload`, exactly as signed.
    signing_input: &'a str,
    signature: &'a str,
    alg: Algorithm,
    kid: Option<String>,
    claims: Map<String, Value>,
}

impl<'a> CompactJws<'a> {
    fn parse(assertion: &'a str) -> Result<Self, AssertionError> {
        if assertion.len() > MAX_ASSERTION_BYTES {
            return Err(AssertionError::TooLarge(assertion.len()));
        }
        let mut parts = assertion.split('.');
        let (Some(encoded_header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AssertionError::Malformed("it must have exactly three parts separated by dots"));
        };
        let header = decode_json_object(encoded_header)
            .ok_or(AssertionError::Malformed("the header is not a base64url-encoded JSON object"))?;
        let alg = signing_algorithm(header.get("alg"))?;
        // RFC 7515 §4.1.11: extensions listed in crit must be understood; we understand none.
        if header.contains_key("crit") {
            return Err(AssertionError::CriticalHeader);
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return Err(AssertionError::Malformed("the header's kid must be a string")),
        };
        let claims = decode_json_object(payload)
            .ok_or(AssertionError::Malformed("the payload is not a base64url-encoded JSON object"))?;
        if signature.is_empty() || URL_SAFE_NO_PAD.decode(signature).is_err() {
            return Err(AssertionError::Malformed("the signature is empty or not base64url"));
        }
        let signing_input = &assertion[..encoded_header.len() + 1 + payload.len()];
        Ok(Self { signing_input, signature, alg, kid, claims })
    }
}

fn decode_json_object(part: &str) -> Option<Map<String, Value>> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

fn signing_algorithm(alg: Option<&Value>) -> Result<Algorithm, AssertionError> {
    let Some(name) = alg.and_then(Value::as_str) else {
        return Err(AssertionError::Malformed("the header has no alg string"));
    };
    if name.eq_ignore_ascii_case("none") {
        return Err(AssertionError::Unsigned);
    }
    match Algorithm::from_str(name) {
        Ok(alg) if alg.family() == AlgorithmFamily::Hmac => Err(AssertionError::Symmetric(format!("{alg:?}"))),
        Ok(alg) if ASYMMETRIC.contains(&alg) => Ok(alg),
        _ => Err(AssertionError::UnsupportedAlgorithm(excerpt(name))),
    }
}

/// With a `kid`, only the keys carrying it are tried; without, every key that fits the alg.
fn verify_signature(jws: &CompactJws, keys: &JwkSet) -> Result<(), AssertionError> {
    if keys.keys.len() > MAX_JWKS_KEYS {
        return Err(AssertionError::InvalidJwks(format!(
            "it has {} keys; at most {MAX_JWKS_KEYS} are accepted",
            keys.keys.len()
        )));
    }
    let alg = jws.alg;
    let (mut named, mut fitting, mut refusal) = (0, 0, None);
    let candidates =
        keys.keys.iter().filter(|jwk| jws.kid.as_ref().is_none_or(|kid| jwk.common.key_id.as_ref() == Some(kid)));
    for jwk in candidates {
        named += 1;
        match decoding_key_for(jwk, alg) {
            Ok(key) => {
                fitting += 1;
                // verify errs only on a key/alg mismatch or a non-base64url signature, both ruled
                // out above; either way nothing is accepted.
                if jsonwebtoken::crypto::verify(jws.signature, jws.signing_input.as_bytes(), &key, alg).unwrap_or(false)
                {
                    return Ok(());
                }
            }
            Err(reason) => {
                refusal.get_or_insert(reason);
            }
        }
    }
    let kid = jws.kid.as_deref().map(excerpt);
    Err(match (kid, named, fitting) {
        (Some(kid), 0, _) => AssertionError::UnknownKey(kid),
        (Some(kid), _, 0) => {
            AssertionError::KeyUnusable { kid, alg: format!("{alg:?}"), reason: refusal.unwrap_or_default() }
        }
        (None, _, 0) => AssertionError::NoKeyForAlgorithm(format!("{alg:?}")),
        (kid, _, _) => AssertionError::BadSignature { kid },
    })
}

/// The key to verify `alg` with, or why this JWK may not be used for it.
fn decoding_key_for(jwk: &Jwk, alg: Algorithm) -> Result<DecodingKey, String> {
    let fits = match (alg, &jwk.algorithm) {
        (Algorithm::ES256, AlgorithmParameters::EllipticCurve(ec)) => ec.curve == EllipticCurve::P256,
        (Algorithm::ES384, AlgorithmParameters::EllipticCurve(ec)) => ec.curve == EllipticCurve::P384,
        (Algorithm::EdDSA, AlgorithmParameters::OctetKeyPair(okp)) => okp.curve == EllipticCurve::Ed25519,
        (alg, AlgorithmParameters::RSA(_)) => alg.family() == AlgorithmFamily::Rsa,
        _ => false,
    };
    if !fits {
        return Err(format!("its key type is {}", key_type(jwk)));
    }
    // RFC 7517 §4.2: an encryption key must not verify signatures.
    if jwk.common.public_key_use.as_ref().is_some_and(|key_use| *key_use != PublicKeyUse::Signature) {
        return Err("its use is not sig".to_owned());
    }
    // RFC 7517 §4.4: a key bound to one algorithm is not used with another.
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg != KeyAlgorithm::from(alg)
    {
        return Err(match key_alg {
            KeyAlgorithm::UNKNOWN_ALGORITHM => format!("its alg is not {alg:?}"),
            key_alg => format!("its alg is {key_alg}, not {alg:?}"),
        });
    }
    key_material(jwk)?.ok_or_else(|| format!("{} keys are not supported", key_type(jwk)))
}

/// The public key of a supported key type; `None` for types this server does not verify with,
/// an error for a supported type whose members are malformed.
fn key_material(jwk: &Jwk) -> Result<Option<DecodingKey>, String> {
    let bad = |e: jsonwebtoken::errors::Error| format!("its key material is malformed: {e}");
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => {
            let size = match ec.curve {
                EllipticCurve::P256 => 32,
                EllipticCurve::P384 => 48,
                _ => return Ok(None),
            };
            let (x, y) = (base64url(&ec.x, "x")?, base64url(&ec.y, "y")?);
            if x.len() != size || y.len() != size {
                return Err(format!("x and y must be {size} bytes each for {}", key_type(jwk)));
            }
            DecodingKey::from_ec_components(&ec.x, &ec.y).map(Some).map_err(bad)
        }
        AlgorithmParameters::RSA(rsa) => {
            // The aws-lc verifiers accept 2048- to 8192-bit moduli; say so instead of failing
            // every signature later.
            let bits = significant_bits(&base64url(&rsa.n, "n")?);
            if !(2048..=8192).contains(&bits) {
                return Err(format!("its RSA modulus has {bits} bits; 2048 to 8192 are accepted"));
            }
            if significant_bits(&base64url(&rsa.e, "e")?) == 0 {
                return Err("its RSA exponent e is zero".to_owned());
            }
            DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map(Some).map_err(bad)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            if base64url(&okp.x, "x")?.len() != 32 {
                return Err("x of an Ed25519 key must be 32 bytes".to_owned());
            }
            DecodingKey::from_ed_components(&okp.x).map(Some).map_err(bad)
        }
        _ => Ok(None),
    }
}

fn base64url(value: &str, member: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(value).map_err(|_| format!("its {member} is not base64url without padding"))
}

/// Bit length of a big-endian unsigned integer.
fn significant_bits(bytes: &[u8]) -> usize {
    match bytes.iter().position(|byte| *byte != 0) {
        Some(first) => (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize,
        None => 0,
    }
}

fn key_type(jwk: &Jwk) -> String {
    let curve = |curve: &EllipticCurve| match curve {
        EllipticCurve::P256 => "P-256",
        EllipticCurve::P384 => "P-384",
        EllipticCurve::P521 => "P-521",
        EllipticCurve::Ed25519 => "Ed25519",
        _ => "other-curve",
    };
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => format!("EC {}", curve(&ec.curve)),
        AlgorithmParameters::RSA(_) => "RSA".to_owned(),
        AlgorithmParameters::OctetKeyPair(okp) => format!("OKP {}", curve(&okp.curve)),
        AlgorithmParameters::OctetKey(_) => "oct".to_owned(),
        AlgorithmParameters::Other(other) => {
            other.fields.get("kty").and_then(Value::as_str).map_or_else(|| "unknown".to_owned(), excerpt)
        }
        _ => "unknown".to_owned(),
    }
}

fn check_claims(claims: &Map<String, Value>, rules: &AssertionRules) -> Result<VerifiedAssertion, AssertionError> {
    // RFC 7523 §3: the client is both the issuer and the subject of its assertion.
    for claim in ["iss", "sub"] {
        if claims.get(claim).and_then(Value::as_str) != Some(rules.client_id) {
            return Err(AssertionError::NotClient { claim, client_id: rules.client_id.to_owned() });
        }
    }
    if !names_one_of(claims.get("aud"), rules.audiences) {
        return Err(AssertionError::Audience { expected: rules.audiences.join(" or ") });
    }
    let now = rules.now;
    let exp = numeric_date(claims, "exp")?.ok_or(AssertionError::MissingClaim("exp"))?;
    if exp.saturating_add(CLOCK_LEEWAY_SECS) <= now {
        return Err(AssertionError::Expired { exp, now });
    }
    if exp > now.saturating_add(MAX_LIFETIME_SECS + CLOCK_LEEWAY_SECS) {
        return Err(AssertionError::TooLongLived { ahead_secs: exp.saturating_sub(now) });
    }
    for claim in ["nbf", "iat"] {
        if let Some(value) = numeric_date(claims, claim)?
            && value > now.saturating_add(CLOCK_LEEWAY_SECS)
        {
            return Err(AssertionError::NotYetValid { claim, value, now });
        }
    }
    let jti = match claims.get("jti") {
        None => return Err(AssertionError::MissingClaim("jti")),
        // Control characters are refused because the jti is stored as text (PostgreSQL refuses NUL).
        Some(Value::String(jti))
            if (1..=MAX_JTI_CHARS).contains(&jti.chars().count()) && !jti.chars().any(char::is_control) =>
        {
            jti.clone()
        }
        Some(_) => {
            return Err(AssertionError::InvalidClaim {
                claim: "jti",
                expected: "a string of 1 to 256 characters without control characters",
            });
        }
    };
    Ok(VerifiedAssertion { jti, expires_at: exp.saturating_add(CLOCK_LEEWAY_SECS) })
}

/// RFC 7519 §4.1.3: `aud` is one string or an array of strings.
fn names_one_of(aud: Option<&Value>, audiences: &[&str]) -> bool {
    match aud {
        Some(Value::String(aud)) => audiences.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(|aud| audiences.contains(&aud)),
        _ => false,
    }
}

/// RFC 7519 §2: a NumericDate is seconds since the epoch and may have a fraction.
fn numeric_date(claims: &Map<String, Value>, claim: &'static str) -> Result<Option<i64>, AssertionError> {
    let invalid = AssertionError::InvalidClaim { claim, expected: "a NumericDate (seconds since 1970-01-01 UTC)" };
    match claims.get(claim) {
        None => Ok(None),
        Some(Value::Number(number)) => number
            .as_i64()
            // Saturates beyond the i64 range, which the bounds below then refuse.
            .or_else(|| number.as_f64().filter(|seconds| seconds.is_finite()).map(|seconds| seconds as i64))
            .map(Some)
            .ok_or(invalid),
        Some(_) => Err(invalid),
    }
}

/// Untrusted text quoted back in an error description: RFC 6749 §5.2 allows printable ASCII
/// without `"` and `\`, and a short excerpt is enough to recognise it.
fn excerpt(text: &str) -> String {
    text.chars().filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\')).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair,
    };
    use base64::engine::general_purpose::STANDARD;
    use jsonwebtoken::{EncodingKey, Header};
    use proptest::prelude::*;
    use serde_json::json;

    const CLIENT: &str = "https://client.example/oauth/metadata.json";
    const ISSUER: &str = "https://as.example";
    const TOKEN_ENDPOINT: &str = "https://as.example/token";
    const NOW: i64 = 1_750_000_000;
    const AUDIENCES: &[&str] = &[ISSUER, TOKEN_ENDPOINT];

    fn rules() -> AssertionRules<'static> {
        AssertionRules { client_id: CLIENT, audiences: AUDIENCES, now: NOW }
    }

    /// A client key pair: the private half signs, the public JWK goes in the client's set.
    struct ClientKey {
        alg: Algorithm,
        private: EncodingKey,
        public: Value,
    }

    impl ClientKey {
        fn new(private: EncodingKey, alg: Algorithm, kid: &str) -> Self {
            let mut public = serde_json::to_value(Jwk::from_encoding_key(&private, alg).unwrap()).unwrap();
            public["kid"] = json!(kid);
            Self { alg, private, public }
        }

        fn es256(kid: &str) -> Self {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
            Self::new(EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES256, kid)
        }

        fn es384(kid: &str) -> Self {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_FIXED_SIGNING, &SystemRandom::new()).unwrap();
            Self::new(EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES384, kid)
        }

        fn ed25519(kid: &str) -> Self {
            let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).unwrap();
            Self::new(EncodingKey::from_ed_der(pkcs8.as_ref()), Algorithm::EdDSA, kid)
        }

        fn rsa(kid: &str, alg: Algorithm) -> Self {
            let pkcs8 = RsaKeyPair::generate(KeySize::Rsa2048).unwrap().as_der().unwrap();
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                STANDARD.encode(pkcs8.as_ref())
            );
            Self::new(EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(), alg, kid)
        }

        fn kid(&self) -> &str {
            self.public["kid"].as_str().unwrap()
        }

        fn with_public(mut self, member: &str, value: Value) -> Self {
            self.public[member] = value;
            self
        }

        fn without_public(mut self, member: &str) -> Self {
            self.public.as_object_mut().unwrap().remove(member);
            self
        }

        /// An assertion naming this key's kid.
        fn sign(&self, claims: &Value) -> String {
            let mut header = Header::new(self.alg);
            header.kid = Some(self.kid().to_owned());
            self.sign_with(header, claims)
        }

        fn sign_with(&self, header: Header, claims: &Value) -> String {
            jsonwebtoken::encode(&header, claims, &self.private).unwrap()
        }

        fn sign_without_kid(&self, claims: &Value) -> String {
            self.sign_with(Header::new(self.alg), claims)
        }
    }

    fn jwks(keys: &[&ClientKey]) -> JwkSet {
        parse_jwks(&json!({ "keys": keys.iter().map(|key| key.public.clone()).collect::<Vec<_>>() })).unwrap()
    }

    fn claims() -> Value {
        json!({ "iss": CLIENT, "sub": CLIENT, "aud": ISSUER, "exp": NOW + 60, "iat": NOW, "jti": "a1b2c3" })
    }

    fn claims_with(name: &str, value: Value) -> Value {
        let mut claims = claims();
        claims[name] = value;
        claims
    }

    fn claims_without(name: &str) -> Value {
        let mut claims = claims();
        claims.as_object_mut().unwrap().remove(name);
        claims
    }

    fn b64(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    /// Checks `claims` signed by a fresh ES256 key registered for the client.
    fn verify_claims(claims: &Value) -> Result<VerifiedAssertion, AssertionError> {
        let key = ClientKey::es256("k1");
        verify_client_assertion(&key.sign(claims), &jwks(&[&key]), &rules())
    }

    // Signatures and keys.

    #[test]
    fn accepts_an_assertion_signed_with_the_key_its_kid_names() {
        let other = ClientKey::es256("k0");
        let key = ClientKey::es256("k1");
        let verified = verify_client_assertion(&key.sign(&claims()), &jwks(&[&other, &key]), &rules()).unwrap();
        assert_eq!(verified, VerifiedAssertion { jti: "a1b2c3".to_owned(), expires_at: NOW + 60 + CLOCK_LEEWAY_SECS });
    }

    #[test]
    fn without_kid_tries_every_key_that_fits_the_alg() {
        let other_ec = ClientKey::es256("k0");
        let rsa = ClientKey::rsa("r0", Algorithm::RS256);
        let key = ClientKey::es256("k1").without_public("kid").without_public("alg");
        let keys = jwks(&[&other_ec, &rsa, &key]);
        assert!(verify_client_assertion(&key.sign_without_kid(&claims()), &keys, &rules()).is_ok());
    }

    #[test]
    fn accepts_every_asymmetric_family() {
        let rsa = ClientKey::rsa("r1", Algorithm::RS256).without_public("alg");
        let keys = [ClientKey::es384("e384"), ClientKey::ed25519("ed1")];
        for key in &keys {
            assert!(verify_client_assertion(&key.sign(&claims()), &jwks(&[key]), &rules()).is_ok(), "{:?}", key.alg);
        }
        for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256, Algorithm::PS384] {
            let mut header = Header::new(alg);
            header.kid = Some("r1".to_owned());
            let assertion = rsa.sign_with(header, &claims());
            assert!(verify_client_assertion(&assertion, &jwks(&[&rsa]), &rules()).is_ok(), "{alg:?}");
        }
    }

    #[test]
    fn refuses_an_unknown_kid_and_asks_for_a_refetch() {
        let registered = ClientKey::es256("old");
        let rotated = ClientKey::es256("new");
        let error = verify_client_assertion(&rotated.sign(&claims()), &jwks(&[&registered]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::UnknownKey("new".to_owned()));
        assert!(error.is_unknown_key());
    }

    #[test]
    fn refuses_a_signature_from_a_key_other_than_the_one_named() {
        let registered = ClientKey::es256("k1");
        let attacker = ClientKey::es256("k1");
        let error = verify_client_assertion(&attacker.sign(&claims()), &jwks(&[&registered]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::BadSignature { kid: Some("k1".to_owned()) });
        assert!(!error.is_unknown_key(), "the named key is present; refetching cannot help");
    }

    #[test]
    fn without_kid_a_signature_no_key_verifies_may_mean_rotated_keys() {
        let registered = ClientKey::es256("k1");
        let other = ClientKey::es256("k2");
        let error =
            verify_client_assertion(&other.sign_without_kid(&claims()), &jwks(&[&registered]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::BadSignature { kid: None });
        assert!(error.is_unknown_key());
    }

    #[test]
    fn refuses_a_tampered_payload() {
        let key = ClientKey::es256("k1");
        let genuine = key.sign(&claims_with("sub", json!("someone-else")));
        let parts: Vec<&str> = genuine.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], b64(&claims()), parts[2]);
        let error = verify_client_assertion(&tampered, &jwks(&[&key]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::BadSignature { kid: Some("k1".to_owned()) });
    }

    #[test]
    fn ignores_a_key_embedded_in_the_header() {
        let registered = ClientKey::es256("k1");
        let attacker = ClientKey::es256("evil");
        let mut header = Header::new(Algorithm::ES256);
        header.jwk = Some(serde_json::from_value(attacker.public.clone()).unwrap());
        let assertion = attacker.sign_with(header, &claims());
        let error = verify_client_assertion(&assertion, &jwks(&[&registered]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::BadSignature { kid: None });
    }

    #[test]
    fn refuses_an_es256_header_naming_an_rsa_key() {
        let rsa = ClientKey::rsa("r1", Algorithm::RS256).without_public("alg");
        let ec = ClientKey::es256("e1");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("r1".to_owned());
        let assertion = ec.sign_with(header, &claims());
        let error = verify_client_assertion(&assertion, &jwks(&[&rsa]), &rules()).unwrap_err();
        assert!(matches!(&error, AssertionError::KeyUnusable { reason, .. } if reason.contains("RSA")), "{error}");
        assert!(!error.is_unknown_key());
        let error = verify_client_assertion(&ec.sign_without_kid(&claims()), &jwks(&[&rsa]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::NoKeyForAlgorithm("ES256".to_owned()));
    }

    #[test]
    fn refuses_an_es384_header_naming_a_p256_key() {
        let p256 = ClientKey::es256("k1").without_public("alg");
        let p384 = ClientKey::es384("k1");
        let error = verify_client_assertion(&p384.sign(&claims()), &jwks(&[&p256]), &rules()).unwrap_err();
        assert!(matches!(&error, AssertionError::KeyUnusable { reason, .. } if reason.contains("P-256")), "{error}");
    }

    #[test]
    fn refuses_a_key_whose_own_alg_differs_from_the_header_alg() {
        let bound = ClientKey::rsa("r1", Algorithm::RS256);
        let mut header = Header::new(Algorithm::PS256);
        header.kid = Some("r1".to_owned());
        let assertion = bound.sign_with(header, &claims());
        let error = verify_client_assertion(&assertion, &jwks(&[&bound]), &rules()).unwrap_err();
        assert!(matches!(&error, AssertionError::KeyUnusable { reason, .. } if reason.contains("RS256")), "{error}");
        let unbound = bound.without_public("alg");
        assert!(verify_client_assertion(&assertion, &jwks(&[&unbound]), &rules()).is_ok());
    }

    #[test]
    fn never_verifies_with_an_encryption_key() {
        let key = ClientKey::es256("k1");
        let assertion = key.sign(&claims());
        let signing = jwks(&[&key.with_public("use", json!("sig"))]);
        assert!(verify_client_assertion(&assertion, &signing, &rules()).is_ok());
        let mut encryption = signing;
        encryption.keys[0].common.public_key_use = Some(PublicKeyUse::Encryption);
        let error = verify_client_assertion(&assertion, &encryption, &rules()).unwrap_err();
        assert!(matches!(&error, AssertionError::KeyUnusable { reason, .. } if reason.contains("use")), "{error}");
    }

    #[test]
    fn refuses_a_set_of_more_than_ten_keys_even_when_built_by_hand() {
        let key = ClientKey::es256("k1");
        let mut keys = jwks(&[&key]);
        keys.keys = vec![keys.keys[0].clone(); MAX_JWKS_KEYS + 1];
        let error = verify_client_assertion(&key.sign(&claims()), &keys, &rules()).unwrap_err();
        assert!(matches!(error, AssertionError::InvalidJwks(_)), "{error}");
    }

    // The header.

    #[test]
    fn refuses_an_unsigned_assertion() {
        let key = ClientKey::es256("k1");
        for alg in ["none", "None", "NONE"] {
            let assertion = format!("{}.{}.", b64(&json!({ "alg": alg, "kid": "k1" })), b64(&claims()));
            let error = verify_client_assertion(&assertion, &jwks(&[&key]), &rules()).unwrap_err();
            assert_eq!(error, AssertionError::Unsigned);
            assert!(error.to_string().contains("none"));
        }
    }

    #[test]
    fn refuses_hmac_even_with_a_symmetric_key_in_the_set() {
        let secret = b"a shared secret the client also knows";
        let assertion =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(secret)).unwrap();
        // parse_jwks refuses oct keys; build the set by hand to show verification refuses HMAC too.
        let keys: JwkSet =
            serde_json::from_value(json!({ "keys": [{ "kty": "oct", "k": URL_SAFE_NO_PAD.encode(secret) }] })).unwrap();
        let error = verify_client_assertion(&assertion, &keys, &rules()).unwrap_err();
        assert_eq!(error, AssertionError::Symmetric("HS256".to_owned()));
        assert!(error.to_string().contains("client_secret_jwt"));
    }

    #[test]
    fn refuses_algorithms_jsonwebtoken_cannot_verify() {
        let key = ClientKey::es256("k1");
        for alg in ["ES512", "RSA-OAEP", "", "es256"] {
            let assertion = format!("{}.{}.c2ln", b64(&json!({ "alg": alg })), b64(&claims()));
            let error = verify_client_assertion(&assertion, &jwks(&[&key]), &rules()).unwrap_err();
            assert_eq!(error, AssertionError::UnsupportedAlgorithm(alg.to_owned()));
        }
        let no_alg = format!("{}.{}.c2ln", b64(&json!({ "kid": "k1" })), b64(&claims()));
        let error = verify_client_assertion(&no_alg, &jwks(&[&key]), &rules()).unwrap_err();
        assert!(matches!(error, AssertionError::Malformed(_)));
    }

    #[test]
    fn refuses_critical_header_extensions() {
        let key = ClientKey::es256("k1");
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".to_owned());
        header.crit = Some(vec!["exp".to_owned()]);
        header.extras.insert("exp", NOW + 60);
        let error = verify_client_assertion(&key.sign_with(header, &claims()), &jwks(&[&key]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::CriticalHeader);
    }

    #[test]
    fn refuses_anything_but_three_base64url_parts() {
        let key = ClientKey::es256("k1");
        let valid = key.sign(&claims());
        let parts: Vec<&str> = valid.split('.').collect();
        let header = parts[0];
        let malformed = [
            String::new(),
            parts[..2].join("."),
            format!("{valid}.{}", parts[2]),
            format!("{header}.{}.{}.{}.{}", parts[1], parts[2], parts[2], parts[2]),
            format!("{valid}\n"),
            format!("{header}=.{}.{}", parts[1], parts[2]),
            format!("{header}.{}.", parts[1]),
            format!("{header}.{}.{}", b64(&json!(["not", "an", "object"])), parts[2]),
            format!("{}.{}.{}", b64(&json!({ "alg": "ES256", "kid": 7 })), parts[1], parts[2]),
        ];
        for assertion in malformed {
            let error = verify_client_assertion(&assertion, &jwks(&[&key]), &rules()).unwrap_err();
            assert!(matches!(error, AssertionError::Malformed(_)), "{assertion:?}: {error}");
        }
    }

    #[test]
    fn refuses_an_assertion_over_8_kib_even_when_validly_signed() {
        let key = ClientKey::es256("k1");
        let small = key.sign(&claims_with("padding", json!("x".repeat(5_000))));
        assert!(small.len() <= MAX_ASSERTION_BYTES);
        assert!(verify_client_assertion(&small, &jwks(&[&key]), &rules()).is_ok());
        let large = key.sign(&claims_with("padding", json!("x".repeat(6_500))));
        assert!(large.len() > MAX_ASSERTION_BYTES);
        let error = verify_client_assertion(&large, &jwks(&[&key]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::TooLarge(large.len()));
    }

    #[test]
    fn quotes_untrusted_header_values_only_as_printable_excerpts() {
        let key = ClientKey::es256("k1");
        let kid = format!("\"\\\u{0}{}", "k".repeat(100));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid);
        let error = verify_client_assertion(&key.sign_with(header, &claims()), &jwks(&[&key]), &rules()).unwrap_err();
        assert_eq!(error, AssertionError::UnknownKey("k".repeat(64)));
    }

    // Claims.

    #[test]
    fn requires_iss_and_sub_to_be_exactly_the_client_id() {
        for claim in ["iss", "sub"] {
            let expected = AssertionError::NotClient { claim, client_id: CLIENT.to_owned() };
            for value in [json!(format!("{CLIENT}/")), json!(CLIENT.to_uppercase()), json!([CLIENT]), json!(null)] {
                assert_eq!(verify_claims(&claims_with(claim, value)), Err(expected.clone()));
            }
            assert_eq!(verify_claims(&claims_without(claim)), Err(expected));
        }
    }

    #[test]
    fn requires_aud_to_name_this_server() {
        for aud in [json!(ISSUER), json!(TOKEN_ENDPOINT), json!(["https://other.example", TOKEN_ENDPOINT])] {
            assert!(verify_claims(&claims_with("aud", aud.clone())).is_ok(), "{aud}");
        }
        let expected = AssertionError::Audience { expected: format!("{ISSUER} or {TOKEN_ENDPOINT}") };
        for aud in [
            json!("https://other.example"),
            json!(format!("{ISSUER}/")),
            json!([]),
            json!(["https://other.example"]),
            json!([[ISSUER]]),
            json!({ "aud": ISSUER }),
        ] {
            assert_eq!(verify_claims(&claims_with("aud", aud.clone())), Err(expected.clone()), "{aud}");
        }
        assert_eq!(verify_claims(&claims_without("aud")), Err(expected));
    }

    #[test]
    fn requires_exp() {
        assert_eq!(verify_claims(&claims_without("exp")), Err(AssertionError::MissingClaim("exp")));
        for exp in [json!("1750000060"), json!(null), json!(true)] {
            let error = verify_claims(&claims_with("exp", exp)).unwrap_err();
            assert!(matches!(error, AssertionError::InvalidClaim { claim: "exp", .. }), "{error}");
        }
        assert!(verify_claims(&claims_with("exp", json!(NOW as f64 + 60.5))).is_ok(), "NumericDate may be fractional");
    }

    #[test]
    fn refuses_an_expired_assertion_after_the_leeway() {
        assert!(verify_claims(&claims_with("exp", json!(NOW - CLOCK_LEEWAY_SECS + 1))).is_ok());
        let exp = NOW - CLOCK_LEEWAY_SECS;
        assert_eq!(verify_claims(&claims_with("exp", json!(exp))), Err(AssertionError::Expired { exp, now: NOW }));
        let ancient = json!(i64::MIN);
        assert!(matches!(verify_claims(&claims_with("exp", ancient)), Err(AssertionError::Expired { .. })));
    }

    #[test]
    fn refuses_an_exp_more_than_ten_minutes_ahead() {
        let latest = NOW + MAX_LIFETIME_SECS + CLOCK_LEEWAY_SECS;
        assert!(verify_claims(&claims_with("exp", json!(latest))).is_ok());
        let error = verify_claims(&claims_with("exp", json!(latest + 1))).unwrap_err();
        assert_eq!(error, AssertionError::TooLongLived { ahead_secs: MAX_LIFETIME_SECS + CLOCK_LEEWAY_SECS + 1 });
        assert!(error.to_string().contains("jti"), "the message says why: {error}");
        for far in [json!(u64::MAX), json!(1e300)] {
            assert!(matches!(verify_claims(&claims_with("exp", far)), Err(AssertionError::TooLongLived { .. })));
        }
    }

    #[test]
    fn refuses_nbf_or_iat_in_the_future_beyond_the_leeway() {
        for claim in ["nbf", "iat"] {
            assert!(verify_claims(&claims_with(claim, json!(NOW + CLOCK_LEEWAY_SECS))).is_ok());
            let value = NOW + CLOCK_LEEWAY_SECS + 1;
            let expected = AssertionError::NotYetValid { claim, value, now: NOW };
            assert_eq!(verify_claims(&claims_with(claim, json!(value))), Err(expected));
            let error = verify_claims(&claims_with(claim, json!("soon"))).unwrap_err();
            assert!(matches!(error, AssertionError::InvalidClaim { .. }), "{error}");
        }
        assert!(verify_claims(&claims_without("iat")).is_ok(), "iat is optional");
    }

    #[test]
    fn requires_a_jti_of_1_to_256_printable_characters() {
        assert_eq!(verify_claims(&claims_without("jti")), Err(AssertionError::MissingClaim("jti")));
        let longest = "é".repeat(MAX_JTI_CHARS);
        assert_eq!(verify_claims(&claims_with("jti", json!(longest))).unwrap().jti, longest);
        for jti in [json!(""), json!("j".repeat(MAX_JTI_CHARS + 1)), json!("a\u{0}b"), json!(42), json!(["a"])] {
            let error = verify_claims(&claims_with("jti", jti.clone())).unwrap_err();
            assert!(matches!(error, AssertionError::InvalidClaim { claim: "jti", .. }), "{jti}: {error}");
        }
    }

    #[test]
    fn the_jti_is_kept_as_long_as_the_assertion_is_accepted() {
        let key = ClientKey::es256("k1");
        let (assertion, keys) = (key.sign(&claims()), jwks(&[&key]));
        let verified = verify_client_assertion(&assertion, &keys, &rules()).unwrap();
        let last_second = AssertionRules { now: verified.expires_at - 1, ..rules() };
        assert!(verify_client_assertion(&assertion, &keys, &last_second).is_ok());
        let once_forgotten = AssertionRules { now: verified.expires_at, ..rules() };
        let error = verify_client_assertion(&assertion, &keys, &once_forgotten).unwrap_err();
        assert!(matches!(error, AssertionError::Expired { .. }), "{error}");
    }

    // JWK Sets.

    fn parse_error(value: Value) -> String {
        match parse_jwks(&value) {
            Err(AssertionError::InvalidJwks(message)) => message,
            other => panic!("expected InvalidJwks for {value}, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_set_of_public_keys() {
        let (ec, ed) = (ClientKey::es256("k1"), ClientKey::ed25519("k2"));
        let keys = parse_jwks(&json!({ "keys": [ec.public, ed.public] })).unwrap();
        assert_eq!(keys.keys.len(), 2);
        assert_eq!(keys.find("k2").map(|jwk| jwk.common.key_algorithm), Some(Some(KeyAlgorithm::EdDSA)));
    }

    #[test]
    fn a_set_holds_one_to_ten_keys() {
        let key = ClientKey::es256("k1").public;
        assert!(parse_error(json!({ "keys": [] })).contains("1 to 10"));
        assert!(parse_error(json!({ "keys": vec![key.clone(); MAX_JWKS_KEYS + 1] })).contains("1 to 10"));
        assert!(parse_jwks(&json!({ "keys": vec![key.clone(); MAX_JWKS_KEYS] })).is_ok());
        for not_a_set in [json!([key.clone()]), json!({ "keys": key.clone() }), json!({}), json!("keys")] {
            assert!(parse_error(not_a_set).contains("keys array"));
        }
        assert!(parse_error(json!({ "keys": [key, "k2"] })).contains("key 1 is not a JSON object"));
    }

    #[test]
    fn refuses_a_set_with_private_key_members() {
        let public = ClientKey::es256("k1").public;
        for member in PRIVATE_MEMBERS {
            let mut leaked = public.clone();
            leaked[member] = json!("AAAA");
            let message = parse_error(json!({ "keys": [ClientKey::es256("k0").public, leaked] }));
            assert!(message.contains(&format!("key 1 contains the private member {member}")), "{message}");
        }
    }

    #[test]
    fn refuses_a_set_with_a_symmetric_key() {
        let oct = json!({ "kty": "oct", "kid": "s1", "alg": "HS256" });
        let message = parse_error(json!({ "keys": [ClientKey::es256("k1").public, oct] }));
        assert!(message.contains("symmetric"), "{message}");
    }

    #[test]
    fn skips_unsupported_key_types_but_needs_one_usable_key() {
        let x25519 = json!({ "kty": "OKP", "crv": "X25519", "kid": "x1", "x": URL_SAFE_NO_PAD.encode([9u8; 32]) });
        let secp = json!({ "kty": "EC", "crv": "secp256k1", "kid": "s1", "x": "AA", "y": "AA" });
        let future = json!({ "kty": "AKP", "kid": "pq1", "alg": "ML-DSA-44", "pub": "AAAA" });
        let encryption = ClientKey::es256("e1").with_public("use", json!("enc")).public;
        let unsupported = vec![x25519, secp, future, encryption];
        assert!(parse_error(json!({ "keys": unsupported.clone() })).contains("none of its keys"));
        let usable = ClientKey::es256("k1");
        let mut keys = unsupported;
        keys.push(usable.public.clone());
        let set = parse_jwks(&json!({ "keys": keys })).unwrap();
        assert!(verify_client_assertion(&usable.sign(&claims()), &set, &rules()).is_ok());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("pq1".to_owned());
        let error = verify_client_assertion(&usable.sign_with(header, &claims()), &set, &rules()).unwrap_err();
        assert!(matches!(&error, AssertionError::KeyUnusable { reason, .. } if reason.contains("AKP")), "{error}");
    }

    #[test]
    fn refuses_malformed_material_in_a_supported_key() {
        let ec = ClientKey::es256("k1").public;
        let mut short = ec.clone();
        short["x"] = json!(URL_SAFE_NO_PAD.encode([1u8; 31]));
        assert!(parse_error(json!({ "keys": [short] })).contains("32 bytes"));
        let mut padded = ec.clone();
        padded["y"] = json!(format!("{}=", ec["y"].as_str().unwrap()));
        assert!(parse_error(json!({ "keys": [padded] })).contains("base64url"));
        let mut weak_rsa = ClientKey::rsa("r1", Algorithm::RS256).public;
        weak_rsa["n"] = json!(URL_SAFE_NO_PAD.encode([0xc5u8; 128]));
        assert!(parse_error(json!({ "keys": [weak_rsa] })).contains("1024 bits"));
        let mut kid_number = ec;
        kid_number["kid"] = json!(7);
        assert!(parse_error(json!({ "keys": [kid_number] })).contains("not a valid JWK"));
    }

    #[test]
    fn counts_modulus_bits_without_leading_zeros() {
        assert_eq!(significant_bits(&[0, 0, 0x01, 0xff]), 9);
        assert_eq!(significant_bits(&[0x80; 256]), 2048);
        assert_eq!(significant_bits(&[0, 0]), 0);
        assert_eq!(significant_bits(&[]), 0);
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_refused_without_panicking(assertion in "\\PC{0,300}") {
            let keys = jwks(&[&ClientKey::es256("k1")]);
            prop_assert!(verify_client_assertion(&assertion, &keys, &rules()).is_err());
        }

        #[test]
        fn arbitrary_three_part_tokens_are_refused_without_panicking(
            header in "[A-Za-z0-9_-]{0,80}",
            payload in "[A-Za-z0-9_-]{0,80}",
            signature in "[A-Za-z0-9_-]{0,90}",
        ) {
            let keys = jwks(&[&ClientKey::es256("k1")]);
            let assertion = format!("{header}.{payload}.{signature}");
            prop_assert!(verify_client_assertion(&assertion, &keys, &rules()).is_err());
        }

        #[test]
        fn arbitrary_headers_over_a_valid_payload_are_refused_without_panicking(
            alg in prop_oneof![Just("ES256".to_owned()), Just("none".to_owned()), "[A-Za-z0-9]{0,8}"],
            kid in proptest::option::of("\\PC{0,20}"),
            signature in "[A-Za-z0-9_-]{0,90}",
        ) {
            let keys = jwks(&[&ClientKey::es256("k1")]);
            let header = json!({ "alg": alg, "kid": kid });
            let assertion = format!("{}.{}.{signature}", b64(&header), b64(&claims()));
            prop_assert!(verify_client_assertion(&assertion, &keys, &rules()).is_err());
        }
    }
}

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
/// The same algorithms by their JOSE names, for `*_auth_signing_alg_values_supported`.
pub const SIGNING_ALGORITHMS: [&str; 9] =
    ["ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"];
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
mod tests;

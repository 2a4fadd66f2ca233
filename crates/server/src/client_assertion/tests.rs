//! Tests for the client assertion verifier: every rule of R142 with real keys.
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
        let pem =
            format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", STANDARD.encode(pkcs8.as_ref()));
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

#[test]
fn the_advertised_algorithm_names_are_the_accepted_algorithms() {
    let names: Vec<String> = ASYMMETRIC.iter().map(|alg| format!("{alg:?}")).collect();
    assert_eq!(names, SIGNING_ALGORITHMS);
}

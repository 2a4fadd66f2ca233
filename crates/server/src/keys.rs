//! Token-signing keys: ES256 keys kept in the database so every node signs with the same key,
//! encrypted at rest under the key encryption key when one is configured (DESIGN §4).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use postern_core::secret::random_id;
use postern_store::{SigningKeyRecord, Store};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{0}")]
    Crypto(String),
    #[error("store: {0}")]
    Store(#[from] postern_store::StoreError),
    #[error("signing key {0} is encrypted but no key_encryption_key is configured (or it is the wrong one)")]
    CannotDecrypt(String),
    #[error("no signing key exists; run `postern migrate` or start the server once")]
    NoCurrentKey,
}

pub fn parse_key_encryption_key(raw: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(raw.trim())
        .map_err(|_| "must be standard base64 of 32 random bytes (e.g. `openssl rand -base64 32`)".to_owned())?;
    bytes.try_into().map_err(|_| "must decode to exactly 32 bytes".to_owned())
}

/// A public key as published in the JWKS, and what verifies tokens signed with it.
#[derive(Clone)]
pub struct VerificationKey {
    pub kid: String,
    pub jwk: serde_json::Value,
    pub decoding: DecodingKey,
    pub retired_at: Option<i64>,
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

struct Ring {
    current: SigningKey,
    verification: Vec<VerificationKey>,
}

/// The keys a node signs and verifies with. Cheap to clone; reloaded from the store when
/// another node (or `postern keys rotate`) changes them.
#[derive(Clone)]
pub struct KeyRing {
    inner: Arc<RwLock<Arc<Ring>>>,
    kek: Option<[u8; 32]>,
    /// When an unknown `kid` last triggered a reload (Unix seconds).
    last_on_demand_reload: Arc<AtomicI64>,
}

/// An unknown `kid` reloads keys at most this often: tokens with made-up kids arrive from the
/// network (even `/revoke` with a public client_id), and each reload is a query plus decryption.
pub const ON_DEMAND_RELOAD_INTERVAL_SECS: i64 = 5;

impl KeyRing {
    /// Loads the keys, creating the first ES256 key when there is none.
    pub async fn load_or_create(store: &Store, kek: Option<[u8; 32]>, now: i64) -> Result<Self, KeyError> {
        if store.list_signing_keys().await?.iter().all(|k| k.retired_at.is_some()) {
            store.add_current_signing_key(&generate_es256(kek.as_ref(), now)?).await?;
        }
        let ring = build_ring(&store.list_signing_keys().await?, kek.as_ref())?;
        Ok(Self {
            inner: Arc::new(RwLock::new(Arc::new(ring))),
            kek,
            last_on_demand_reload: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Re-reads keys from the store (after a rotation elsewhere).
    pub async fn reload(&self, store: &Store) -> Result<(), KeyError> {
        let ring = build_ring(&store.list_signing_keys().await?, self.kek.as_ref())?;
        if let Ok(mut guard) = self.inner.write() {
            *guard = Arc::new(ring);
        }
        Ok(())
    }

    /// Reloads because a token named a `kid` this node does not know (another node may have
    /// rotated), unless that already happened within [`ON_DEMAND_RELOAD_INTERVAL_SECS`].
    /// Returns whether a reload ran.
    pub async fn reload_for_unknown_kid(&self, store: &Store, now: i64) -> Result<bool, KeyError> {
        let last = self.last_on_demand_reload.load(Ordering::Relaxed);
        if now - last < ON_DEMAND_RELOAD_INTERVAL_SECS
            || self.last_on_demand_reload.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return Ok(false);
        }
        self.reload(store).await?;
        Ok(true)
    }

    fn ring(&self) -> Arc<Ring> {
        match self.inner.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn sign<T: serde::Serialize>(&self, claims: &T) -> Result<String, KeyError> {
        let ring = self.ring();
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        // RFC 9068 §2.1.
        header.typ = Some("at+jwt".to_owned());
        header.kid = Some(ring.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &ring.current.encoding).map_err(|e| KeyError::Crypto(e.to_string()))
    }

    /// The verification key for `kid`, if this node knows it.
    pub fn verification_key(&self, kid: &str) -> Option<VerificationKey> {
        self.ring().verification.iter().find(|k| k.kid == kid).cloned()
    }

    /// Keys to publish at the JWKS endpoint: the current key and retired keys whose tokens may
    /// still be live (see [`still_published`]).
    pub fn published(&self, now: i64, access_token_ttl: i64) -> Vec<serde_json::Value> {
        self.ring()
            .verification
            .iter()
            .filter(|k| still_published(k.retired_at, now, access_token_ttl))
            .map(|k| k.jwk.clone())
            .collect()
    }
}

/// Other nodes may sign with a retired key until their next reload (every minute), so a retired
/// key stays published for one token lifetime plus this margin.
pub const KEY_RELOAD_MARGIN_SECS: i64 = 120;

pub fn still_published(retired_at: Option<i64>, now: i64, access_token_ttl: i64) -> bool {
    retired_at.is_none_or(|at| at + access_token_ttl + KEY_RELOAD_MARGIN_SECS > now)
}

/// Creates a fresh ES256 key record (encrypted when `kek` is given).
pub fn generate_es256(kek: Option<&[u8; 32]>, now: i64) -> Result<SigningKeyRecord, KeyError> {
    let crypto = |e: aws_lc_rs::error::Unspecified| KeyError::Crypto(format!("key generation failed: {e}"));
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).map_err(crypto)?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
        .map_err(|e| KeyError::Crypto(format!("generated key is unreadable: {e}")))?;
    let point = pair.public_key().as_ref();
    // An uncompressed P-256 point: 0x04 || x (32 bytes) || y (32 bytes).
    if point.len() != 65 {
        return Err(KeyError::Crypto("unexpected P-256 public key encoding".to_owned()));
    }
    let kid = random_id("k_").map_err(|e| KeyError::Crypto(e.to_string()))?;
    let jwk = serde_json::json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
    });
    let private_key = match kek {
        Some(kek) => format!("aes256gcm:{}", STANDARD.encode(seal(kek, &kid, pkcs8.as_ref())?)),
        None => format!("plain:{}", STANDARD.encode(pkcs8.as_ref())),
    };
    Ok(SigningKeyRecord {
        kid,
        alg: "ES256".to_owned(),
        private_key,
        public_jwk: jwk.to_string(),
        created_at: now,
        retired_at: None,
    })
}

fn build_ring(records: &[SigningKeyRecord], kek: Option<&[u8; 32]>) -> Result<Ring, KeyError> {
    let current_record = records.iter().find(|r| r.retired_at.is_none()).ok_or(KeyError::NoCurrentKey)?;
    let pkcs8 = open_private_key(current_record, kek)?;
    let current = SigningKey { kid: current_record.kid.clone(), encoding: EncodingKey::from_ec_der(&pkcs8) };
    let verification = records
        .iter()
        .map(|r| {
            let jwk: serde_json::Value = serde_json::from_str(&r.public_jwk)
                .map_err(|e| KeyError::Crypto(format!("stored JWK {} is invalid: {e}", r.kid)))?;
            let x = jwk["x"].as_str().unwrap_or_default();
            let y = jwk["y"].as_str().unwrap_or_default();
            let decoding = DecodingKey::from_ec_components(x, y)
                .map_err(|e| KeyError::Crypto(format!("stored JWK {} is invalid: {e}", r.kid)))?;
            Ok(VerificationKey { kid: r.kid.clone(), jwk, decoding, retired_at: r.retired_at })
        })
        .collect::<Result<Vec<_>, KeyError>>()?;
    Ok(Ring { current, verification })
}

fn open_private_key(record: &SigningKeyRecord, kek: Option<&[u8; 32]>) -> Result<Vec<u8>, KeyError> {
    let corrupt = || KeyError::Crypto(format!("stored private key {} is malformed", record.kid));
    if let Some(b64) = record.private_key.strip_prefix("plain:") {
        return STANDARD.decode(b64).map_err(|_| corrupt());
    }
    let b64 = record.private_key.strip_prefix("aes256gcm:").ok_or_else(corrupt)?;
    let sealed = STANDARD.decode(b64).map_err(|_| corrupt())?;
    let kek = kek.ok_or_else(|| KeyError::CannotDecrypt(record.kid.clone()))?;
    open(kek, &record.kid, &sealed).ok_or_else(|| KeyError::CannotDecrypt(record.kid.clone()))
}

/// AES-256-GCM with a random nonce; the kid is the associated data so a ciphertext cannot be
/// moved to another key's row.
fn seal(kek: &[u8; 32], kid: &str, plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).map_err(|e| KeyError::Crypto(e.to_string()))?);
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|e| KeyError::Crypto(e.to_string()))?;
    let mut buffer = plaintext.to_vec();
    key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(kid.as_bytes()), &mut buffer)
        .map_err(|e| KeyError::Crypto(e.to_string()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buffer);
    Ok(out)
}

fn open(kek: &[u8; 32], kid: &str, sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN {
        return None;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek).ok()?);
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buffer = ciphertext.to_vec();
    let plaintext = key.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut buffer).ok()?;
    Some(plaintext.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypted_key_round_trips_and_needs_the_right_kek() {
        let kek = [7u8; 32];
        let record = generate_es256(Some(&kek), 0).unwrap();
        assert!(record.private_key.starts_with("aes256gcm:"));
        assert!(open_private_key(&record, Some(&kek)).is_ok());
        assert!(matches!(open_private_key(&record, None), Err(KeyError::CannotDecrypt(_))));
        assert!(matches!(open_private_key(&record, Some(&[8u8; 32])), Err(KeyError::CannotDecrypt(_))));
    }

    #[test]
    fn r155_signed_token_is_es256_at_jwt_and_verifies() {
        let record = generate_es256(None, 0).unwrap();
        let ring = build_ring(std::slice::from_ref(&record), None).unwrap();
        let ring = KeyRing {
            inner: Arc::new(RwLock::new(Arc::new(ring))),
            kek: None,
            last_on_demand_reload: Arc::new(AtomicI64::new(0)),
        };
        let token = ring.sign(&serde_json::json!({"sub": "u", "exp": 4_000_000_000i64})).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.alg, Algorithm::ES256);
        let key = ring.verification_key(header.kid.as_deref().unwrap()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation).unwrap();
    }

    #[tokio::test]
    async fn unknown_kids_reload_keys_at_most_once_per_interval() {
        let (store, _, _guard) =
            postern_store::test_support::isolated_store(postern_store::test_support::Backend::Sqlite).await.unwrap();
        let ring = KeyRing::load_or_create(&store, None, 1000).await.unwrap();
        assert!(ring.reload_for_unknown_kid(&store, 1000).await.unwrap());
        // A flood of made-up kids within the interval costs no database work.
        assert!(!ring.reload_for_unknown_kid(&store, 1000 + ON_DEMAND_RELOAD_INTERVAL_SECS - 1).await.unwrap());
        // A real rotation elsewhere is still picked up on the next allowed reload.
        let rotated = generate_es256(None, 1010).unwrap();
        store.add_current_signing_key(&rotated).await.unwrap();
        assert!(ring.verification_key(&rotated.kid).is_none());
        assert!(ring.reload_for_unknown_kid(&store, 1000 + ON_DEMAND_RELOAD_INTERVAL_SECS).await.unwrap());
        assert!(ring.verification_key(&rotated.kid).is_some());
    }

    #[test]
    fn retired_keys_stay_published_for_one_token_lifetime() {
        let mut old = generate_es256(None, 0).unwrap();
        old.retired_at = Some(1000);
        let new = generate_es256(None, 1000).unwrap();
        let ring = build_ring(&[new, old], None).unwrap();
        let ring = KeyRing {
            inner: Arc::new(RwLock::new(Arc::new(ring))),
            kek: None,
            last_on_demand_reload: Arc::new(AtomicI64::new(0)),
        };
        let unpublished_at = 1000 + 3600 + KEY_RELOAD_MARGIN_SECS;
        assert_eq!(ring.published(unpublished_at - 1, 3600).len(), 2);
        assert_eq!(ring.published(unpublished_at, 3600).len(), 1);
    }
}

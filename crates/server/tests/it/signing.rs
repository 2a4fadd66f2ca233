//! Client key pairs for `private_key_jwt` tests (R142): real ES256 keys and RFC 7523 assertions.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// An ES256 key pair: the private half signs assertions, the public JWK is published.
pub struct ClientKey {
    private: EncodingKey,
    pub public: serde_json::Value,
}

impl ClientKey {
    pub fn generate(kid: &str) -> Self {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new()).unwrap();
        let private = EncodingKey::from_ec_der(pkcs8.as_ref());
        let mut public = serde_json::to_value(Jwk::from_encoding_key(&private, Algorithm::ES256).unwrap()).unwrap();
        public["kid"] = json!(kid);
        public["use"] = json!("sig");
        Self { private, public }
    }

    pub fn assertion(&self, client_id: &str, audience: &str, jti: &str, now: i64) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = self.public["kid"].as_str().map(str::to_owned);
        let claims =
            json!({ "iss": client_id, "sub": client_id, "aud": audience, "jti": jti, "iat": now, "exp": now + 60 });
        jsonwebtoken::encode(&header, &claims, &self.private).unwrap()
    }
}

//! The client as validated from a metadata document, in the form Postern keeps: pinned to each
//! authorization code (the token endpoint never refetches, DESIGN §4) and stored in the
//! inventory for the refresh, revocation and introspection endpoints.

use postern_core::TokenHash;
use postern_core::client_metadata_document::{CimdAuthMethod, ClientKeys, ClientMetadata};
use postern_store::{ClientRecord, ClientSource, ClientStatus};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSnapshot {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
}

/// What a change of asks users for consent again (R091): where codes go, how the client
/// authenticates and with which keys.
#[derive(Serialize)]
struct SecurityRelevant<'a> {
    redirect_uris: &'a [String],
    token_endpoint_auth_method: &'a str,
    jwks: &'a Option<serde_json::Value>,
    jwks_uri: &'a Option<String>,
}

impl ClientSnapshot {
    pub fn from_metadata(metadata: &ClientMetadata) -> Self {
        let (jwks, jwks_uri) = match &metadata.keys {
            Some(ClientKeys::Inline(jwks)) => (Some(jwks.clone()), None),
            Some(ClientKeys::Uri(uri)) => (None, Some(uri.clone())),
            None => (None, None),
        };
        Self {
            client_id: metadata.client_id.as_str().to_owned(),
            client_name: metadata.client_name.clone(),
            redirect_uris: metadata.redirect_uris.iter().map(|u| u.as_str().to_owned()).collect(),
            grant_types: metadata.grant_types.clone(),
            token_endpoint_auth_method: match metadata.auth_method {
                CimdAuthMethod::None => "none",
                CimdAuthMethod::PrivateKeyJwt => "private_key_jwt",
            }
            .to_owned(),
            jwks,
            jwks_uri,
        }
    }

    /// SHA-256 of the security-relevant members in a canonical form (serde_json sorts object
    /// members, so a reordered JWK does not count as a change).
    pub fn fingerprint(&self) -> String {
        let relevant = SecurityRelevant {
            redirect_uris: &self.redirect_uris,
            token_endpoint_auth_method: &self.token_endpoint_auth_method,
            jwks: &self.jwks,
            jwks_uri: &self.jwks_uri,
        };
        TokenHash::of(&serde_json::to_string(&relevant).unwrap_or_default()).as_str().to_owned()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(raw: &str) -> Result<Self, String> {
        serde_json::from_str(raw).map_err(|e| format!("stored client snapshot is unreadable: {e}"))
    }

    /// The record the rest of the server works with. A metadata-document client has no secret
    /// and no scope ceiling beyond the resource's scopes.
    pub fn to_record(&self) -> ClientRecord {
        ClientRecord {
            client_id: self.client_id.clone(),
            client_name: self.client_name.clone(),
            redirect_uris: self.redirect_uris.clone(),
            grant_types: self.grant_types.clone(),
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            secret_hash: None,
            scope: None,
            jwks: self.jwks.as_ref().map(serde_json::Value::to_string),
            jwks_uri: self.jwks_uri.clone(),
            source: ClientSource::MetadataDocument,
            status: ClientStatus::Active,
            secret_expires_at: None,
            created_at: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postern_core::ClientIdUrl;
    use postern_core::client_metadata_document::parse_client_metadata_document;

    const URL: &str = "https://app.example.com/client.json";

    fn snapshot(document: serde_json::Value) -> ClientSnapshot {
        let url = ClientIdUrl::parse(URL, false).unwrap();
        ClientSnapshot::from_metadata(&parse_client_metadata_document(document.to_string().as_bytes(), &url).unwrap())
    }

    fn document(name: &str, redirect: &str) -> serde_json::Value {
        serde_json::json!({ "client_id": URL, "client_name": name, "redirect_uris": [redirect] })
    }

    #[test]
    fn r091_the_fingerprint_changes_with_redirect_uris_and_keys_but_not_with_the_name() {
        let base = snapshot(document("Agent", "https://app.example.com/cb"));
        assert_eq!(base.fingerprint(), snapshot(document("Renamed", "https://app.example.com/cb")).fingerprint());
        assert_ne!(base.fingerprint(), snapshot(document("Agent", "https://evil.example/cb")).fingerprint());
        let mut with_keys = document("Agent", "https://app.example.com/cb");
        with_keys["token_endpoint_auth_method"] = "private_key_jwt".into();
        with_keys["jwks_uri"] = "https://app.example.com/jwks.json".into();
        assert_ne!(base.fingerprint(), snapshot(with_keys).fingerprint());
    }

    #[test]
    fn a_snapshot_round_trips_through_json_into_a_public_client_record() {
        let original = snapshot(document("Agent", "http://127.0.0.1/callback"));
        let restored = ClientSnapshot::from_json(&original.to_json()).unwrap();
        assert_eq!(restored, original);
        let record = restored.to_record();
        assert_eq!((record.token_endpoint_auth_method.as_str(), record.secret_hash), ("none", None));
        assert_eq!(record.source, ClientSource::MetadataDocument);
    }
}

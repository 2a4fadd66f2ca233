//! Validating a fetched Client ID Metadata Document (SPEC §2.8, R075–R083).
//!
//! Strict where safety needs it: the `client_id` must match byte for byte, no shared secret
//! may appear, and redirect URIs follow the registration rules. Everywhere else it follows
//! DESIGN §4 and PEERS §4 items 7–8: unknown members are ignored, a missing auth method means
//! `none`, the plural `token_endpoint_auth_methods_supported` is honoured, and grant types we do
//! not support are dropped rather than failing the document.

use crate::client_id_url::ClientIdUrl;
use crate::error::{ParseError, has_forbidden_chars};
use crate::redirect_uri::RedirectUri;
use serde_json::{Map, Value};

const MAX_REDIRECT_URIS: usize = 20;
const MAX_NAME_CHARS: usize = 200;
const MAX_URI_LEN: usize = 2048;
const MAX_JWKS_KEYS: usize = 10;
const MAX_LIST_ITEMS: usize = 20;

/// How a CIMD client authenticates at the token endpoint (R078, R080).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CimdAuthMethod {
    None,
    PrivateKeyJwt,
}

/// Where a `private_key_jwt` client's public keys come from (never both, R080).
#[derive(Debug, Clone, PartialEq)]
pub enum ClientKeys {
    Inline(Value),
    Uri(String),
}

/// A validated client metadata document.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientMetadata {
    pub client_id: ClientIdUrl,
    pub client_name: String,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub redirect_uris: Vec<RedirectUri>,
    /// Only the grant types Postern supports; always contains `authorization_code`.
    pub grant_types: Vec<String>,
    pub auth_method: CimdAuthMethod,
    pub keys: Option<ClientKeys>,
}

impl ClientMetadata {
    pub fn issues_refresh_tokens(&self) -> bool {
        self.grant_types.iter().any(|g| g == "refresh_token")
    }

    /// R095: every redirect URI goes to this machine.
    pub fn all_redirects_loopback(&self) -> bool {
        self.redirect_uris.iter().all(RedirectUri::is_loopback)
    }
}

fn invalid(message: impl Into<String>) -> ParseError {
    ParseError::new(message)
}

/// Parses and validates `body`, fetched from `fetched_from`.
pub fn parse_client_metadata_document(body: &[u8], fetched_from: &ClientIdUrl) -> Result<ClientMetadata, ParseError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("the client metadata document is not valid JSON: {e} (R075)")))?;
    let Value::Object(doc) = value else {
        return Err(invalid("the client metadata document must be a JSON object (R075)"));
    };

    // R076: simple string comparison, no normalisation of any kind.
    match doc.get("client_id") {
        Some(Value::String(id)) if id == fetched_from.as_str() => {}
        Some(Value::String(id)) => {
            return Err(invalid(format!(
                "the document's client_id \"{}\" differs from the URL it was fetched from \"{}\"; they must be identical, byte for byte (R076)",
                clip(id),
                fetched_from
            )));
        }
        _ => return Err(invalid("the document has no client_id string (R077)")),
    }

    // R079: shared secrets never belong in a public document.
    for member in ["client_secret", "client_secret_expires_at"] {
        if doc.contains_key(member) {
            return Err(invalid(format!("the document must not contain \"{member}\" (R079)")));
        }
    }

    let client_name = match doc.get("client_name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_owned(),
        _ => return Err(invalid("the document needs a non-empty client_name string (R077)")),
    };
    if client_name.chars().count() > MAX_NAME_CHARS || client_name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "client_name must be at most {MAX_NAME_CHARS} characters without control characters"
        )));
    }

    let redirect_uris = redirect_uris(&doc)?;
    let grant_types = grant_types(&doc)?;
    if let Some(types) = doc.get("response_types") {
        let types = string_list(types, "response_types")?;
        if !types.iter().any(|t| t == "code") {
            return Err(invalid("response_types must include \"code\" (R083)"));
        }
    }
    let keys = client_keys(&doc)?;
    let auth_method = auth_method(&doc, keys.is_some())?;

    Ok(ClientMetadata {
        client_id: fetched_from.clone(),
        client_name,
        client_uri: optional_https_uri(&doc, "client_uri"),
        logo_uri: optional_https_uri(&doc, "logo_uri"),
        redirect_uris,
        grant_types,
        auth_method,
        keys: if auth_method == CimdAuthMethod::PrivateKeyJwt { keys } else { None },
    })
}

fn redirect_uris(doc: &Map<String, Value>) -> Result<Vec<RedirectUri>, ParseError> {
    let Some(Value::Array(items)) = doc.get("redirect_uris") else {
        return Err(invalid("the document needs a redirect_uris array (R077)"));
    };
    if items.is_empty() || items.len() > MAX_REDIRECT_URIS {
        return Err(invalid(format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} URIs")));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(uri) => {
                RedirectUri::parse(uri).map_err(|e| invalid(format!("redirect_uris: '{}': {e}", clip(uri))))
            }
            _ => Err(invalid("redirect_uris must contain only strings")),
        })
        .collect()
}

/// R083, lenient: values we do not support are dropped (Claude Desktop lists the JWT bearer
/// grant although it never uses it), but `authorization_code` must be there.
fn grant_types(doc: &Map<String, Value>) -> Result<Vec<String>, ParseError> {
    let Some(raw) = doc.get("grant_types") else { return Ok(vec!["authorization_code".to_owned()]) };
    let listed = string_list(raw, "grant_types")?;
    if !listed.iter().any(|g| g == "authorization_code") {
        return Err(invalid("grant_types must include \"authorization_code\" (R083)"));
    }
    let mut supported = vec!["authorization_code".to_owned()];
    if listed.iter().any(|g| g == "refresh_token") {
        supported.push("refresh_token".to_owned());
    }
    Ok(supported)
}

/// R078, R080, R081 and the plural field ChatGPT publishes (PEERS §4 item 7).
fn auth_method(doc: &Map<String, Value>, has_keys: bool) -> Result<CimdAuthMethod, ParseError> {
    let singular = match doc.get("token_endpoint_auth_method") {
        None => None,
        Some(Value::String(method)) => Some(method.clone()),
        Some(_) => return Err(invalid("token_endpoint_auth_method must be a string")),
    };
    let plural = match doc.get("token_endpoint_auth_methods_supported") {
        None => Vec::new(),
        Some(value) => string_list(value, "token_endpoint_auth_methods_supported")?,
    };
    let is_shared_secret = |m: &str| m.starts_with("client_secret");
    if let Some(method) = &singular
        && is_shared_secret(method)
    {
        return Err(invalid(format!(
            "token_endpoint_auth_method \"{method}\" uses a shared secret, which a public metadata document cannot carry; use \"none\" or \"private_key_jwt\" (R078)"
        )));
    }
    if singular.is_none() && plural.is_empty() {
        return Ok(CimdAuthMethod::None);
    }
    let offered = |m: &str| singular.as_deref() == Some(m) || plural.iter().any(|p| p == m);
    if offered("private_key_jwt") && has_keys {
        return Ok(CimdAuthMethod::PrivateKeyJwt);
    }
    if offered("none") {
        return Ok(CimdAuthMethod::None);
    }
    if offered("private_key_jwt") {
        return Err(invalid("private_key_jwt needs the client's public keys in jwks or jwks_uri (R080)"));
    }
    Err(invalid(format!(
        "no supported token_endpoint_auth_method; Postern accepts \"none\" and \"private_key_jwt\" for metadata documents (got {})",
        singular.unwrap_or_else(|| plural.join(", "))
    )))
}

/// R079, R080: public keys only, from exactly one of `jwks` and `jwks_uri`.
fn client_keys(doc: &Map<String, Value>) -> Result<Option<ClientKeys>, ParseError> {
    match (doc.get("jwks"), doc.get("jwks_uri")) {
        (Some(_), Some(_)) => Err(invalid("jwks and jwks_uri must not both be present (R080)")),
        (Some(jwks), None) => {
            let Some(Value::Array(keys)) = jwks.get("keys") else {
                return Err(invalid("jwks must be an object with a \"keys\" array"));
            };
            if keys.is_empty() || keys.len() > MAX_JWKS_KEYS {
                return Err(invalid(format!("jwks must hold 1 to {MAX_JWKS_KEYS} keys")));
            }
            for key in keys {
                let Value::Object(key) = key else { return Err(invalid("jwks keys must be objects")) };
                if let Some(private) =
                    ["d", "p", "q", "dp", "dq", "qi", "oth", "k"].iter().find(|m| key.contains_key(**m))
                {
                    return Err(invalid(format!(
                        "jwks contains private key material (member \"{private}\"); publish public keys only (R079)"
                    )));
                }
            }
            Ok(Some(ClientKeys::Inline(jwks.clone())))
        }
        (None, Some(Value::String(uri))) => match https_uri(uri) {
            Some(uri) => Ok(Some(ClientKeys::Uri(uri))),
            None => Err(invalid("jwks_uri must be an https URL (R080)")),
        },
        (None, Some(_)) => Err(invalid("jwks_uri must be a string")),
        (None, None) => Ok(None),
    }
}

fn string_list(value: &Value, member: &str) -> Result<Vec<String>, ParseError> {
    let Value::Array(items) = value else { return Err(invalid(format!("{member} must be an array of strings"))) };
    if items.len() > MAX_LIST_ITEMS {
        return Err(invalid(format!("{member} must have at most {MAX_LIST_ITEMS} entries")));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if s.len() <= 256 => Ok(s.clone()),
            _ => Err(invalid(format!("{member} must contain only strings of at most 256 characters"))),
        })
        .collect()
}

/// Display-only URIs: an unusable value is dropped, not fatal (nothing depends on it).
fn optional_https_uri(doc: &Map<String, Value>, member: &str) -> Option<String> {
    doc.get(member).and_then(Value::as_str).and_then(https_uri)
}

pub(crate) fn https_uri(raw: &str) -> Option<String> {
    let acceptable = raw.len() <= MAX_URI_LEN
        && !has_forbidden_chars(raw)
        && url::Url::parse(raw)
            .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some() && u.username().is_empty());
    acceptable.then(|| raw.to_owned())
}

pub(crate) fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const URL: &str = "https://client.example.org/mcp/cimd.json";

    fn url() -> ClientIdUrl {
        ClientIdUrl::parse(URL, false).unwrap()
    }

    /// SPEC §3.3 public client.
    fn document() -> Value {
        json!({
            "client_id": URL,
            "client_name": "Example Agent",
            "client_uri": "https://client.example.org",
            "logo_uri": "https://client.example.org/logo.png",
            "redirect_uris": ["http://127.0.0.1:8765/oauth/callback", "https://client.example.org/oauth/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none"
        })
    }

    fn parse(doc: &Value) -> Result<ClientMetadata, ParseError> {
        parse_client_metadata_document(doc.to_string().as_bytes(), &url())
    }

    fn with(mut doc: Value, member: &str, value: Value) -> Value {
        doc[member] = value;
        doc
    }

    fn without(mut doc: Value, member: &str) -> Value {
        doc.as_object_mut().unwrap().remove(member);
        doc
    }

    #[test]
    fn spec_example_public_client_is_accepted() {
        let metadata = parse(&document()).unwrap();
        assert_eq!(metadata.client_name, "Example Agent");
        assert_eq!(metadata.auth_method, CimdAuthMethod::None);
        assert_eq!(metadata.redirect_uris.len(), 2);
        assert!(metadata.issues_refresh_tokens());
        assert!(!metadata.all_redirects_loopback());
        assert_eq!(metadata.logo_uri.as_deref(), Some("https://client.example.org/logo.png"));
    }

    #[test]
    fn r076_client_id_must_match_byte_for_byte() {
        for other in [format!("{URL}/"), URL.to_uppercase(), URL.replace("https", "HTTPS"), format!("{URL}?")] {
            let err = parse(&with(document(), "client_id", json!(other))).unwrap_err();
            assert!(err.to_string().contains("R076"), "{other}: {err}");
        }
        assert!(parse(&without(document(), "client_id")).is_err());
    }

    #[test]
    fn r077_name_and_redirect_uris_are_required() {
        assert!(parse(&without(document(), "client_name")).is_err());
        assert!(parse(&with(document(), "client_name", json!("  "))).is_err());
        assert!(parse(&without(document(), "redirect_uris")).is_err());
        assert!(parse(&with(document(), "redirect_uris", json!([]))).is_err());
        assert!(parse(&with(document(), "redirect_uris", json!([42]))).is_err());
        assert!(parse(&with(document(), "redirect_uris", json!(["http://evil.example/cb"]))).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("https://a.example/{i}")).collect();
        assert!(parse(&with(document(), "redirect_uris", json!(many))).is_err());
    }

    #[test]
    fn r078_r079_shared_secrets_are_rejected() {
        for method in ["client_secret_basic", "client_secret_post", "client_secret_jwt"] {
            let err = parse(&with(document(), "token_endpoint_auth_method", json!(method))).unwrap_err();
            assert!(err.to_string().contains("R078"), "{err}");
        }
        assert!(parse(&with(document(), "client_secret", json!("s"))).unwrap_err().to_string().contains("R079"));
        assert!(parse(&with(document(), "client_secret_expires_at", json!(0))).is_err());
    }

    #[test]
    fn r079_private_jwk_members_are_rejected() {
        let doc = with(
            with(document(), "token_endpoint_auth_method", json!("private_key_jwt")),
            "jwks",
            json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "secret"}]}),
        );
        assert!(parse(&doc).unwrap_err().to_string().contains("\"d\""));
    }

    #[test]
    fn r080_private_key_jwt_needs_exactly_one_key_source() {
        let base = with(document(), "token_endpoint_auth_method", json!("private_key_jwt"));
        assert!(parse(&base).unwrap_err().to_string().contains("R080"));
        let jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]});
        let inline = parse(&with(base.clone(), "jwks", jwks.clone())).unwrap();
        assert_eq!(inline.auth_method, CimdAuthMethod::PrivateKeyJwt);
        assert_eq!(inline.keys, Some(ClientKeys::Inline(jwks.clone())));
        let by_uri = parse(&with(base.clone(), "jwks_uri", json!("https://client.example.org/jwks.json"))).unwrap();
        assert_eq!(by_uri.keys, Some(ClientKeys::Uri("https://client.example.org/jwks.json".into())));
        assert!(parse(&with(base.clone(), "jwks_uri", json!("http://client.example.org/jwks.json"))).is_err());
        let both = with(with(base, "jwks", jwks), "jwks_uri", json!("https://client.example.org/jwks.json"));
        assert!(parse(&both).is_err());
    }

    #[test]
    fn r081_missing_auth_method_means_none() {
        assert_eq!(
            parse(&without(document(), "token_endpoint_auth_method")).unwrap().auth_method,
            CimdAuthMethod::None
        );
    }

    #[test]
    fn chatgpt_style_plural_methods_are_honoured() {
        // Singular private_key_jwt, plural lists none too (PEERS §4 item 7).
        let doc = with(
            with(document(), "token_endpoint_auth_method", json!("private_key_jwt")),
            "token_endpoint_auth_methods_supported",
            json!(["none", "private_key_jwt"]),
        );
        assert_eq!(parse(&doc).unwrap().auth_method, CimdAuthMethod::None, "no keys: fall back to none");
        let with_keys = with(doc, "jwks_uri", json!("https://client.example.org/jwks.json"));
        assert_eq!(parse(&with_keys).unwrap().auth_method, CimdAuthMethod::PrivateKeyJwt);
        let unsupported = with(
            without(document(), "token_endpoint_auth_method"),
            "token_endpoint_auth_methods_supported",
            json!(["tls_client_auth"]),
        );
        assert!(parse(&unsupported).is_err());
    }

    #[test]
    fn r083_unsupported_grant_types_are_dropped_but_code_is_required() {
        let claude = with(
            document(),
            "grant_types",
            json!(["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer"]),
        );
        assert_eq!(parse(&claude).unwrap().grant_types, ["authorization_code", "refresh_token"]);
        assert!(parse(&with(document(), "grant_types", json!(["refresh_token"]))).is_err());
        assert_eq!(parse(&without(document(), "grant_types")).unwrap().grant_types, ["authorization_code"]);
        assert!(parse(&with(document(), "response_types", json!(["token"]))).is_err());
    }

    #[test]
    fn unknown_members_are_ignored_and_bad_display_uris_dropped() {
        let doc = with(
            with(document(), "code_challenge_methods_used", json!(["S256"])),
            "logo_uri",
            json!("javascript:alert(1)"),
        );
        let metadata = parse(&doc).unwrap();
        assert_eq!(metadata.logo_uri, None);
    }

    #[test]
    fn r075_non_objects_are_rejected() {
        for body in ["[]", "\"x\"", "{", "null"] {
            assert!(parse_client_metadata_document(body.as_bytes(), &url()).is_err(), "{body}");
        }
    }

    proptest! {
        #[test]
        fn parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_client_metadata_document(&body, &url());
        }
    }
}

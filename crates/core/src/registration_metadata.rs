//! Validating a Dynamic Client Registration request (RFC 7591 §2, §3.1; SPEC §2.11–2.12, R100–R109b).
//!
//! A pure function from the request body to the *effective* metadata that Postern stores and
//! echoes (R102, R104a). The same parser validates RFC 7592 `PUT` bodies, which carry the whole
//! metadata set and replace it (R109a); the caller enforces the rules that only apply to `PUT`
//! (`client_id` equal to the current one, a matching `client_secret` if sent, and no
//! `registration_access_token`, `registration_client_uri`, `client_secret_expires_at` or
//! `client_id_issued_at`). In a `POST` those members are simply ignored: a client never chooses its
//! own identifier or secret, and the server mints `client_id`s that are not URLs (R057).
//!
//! Strict where safety needs it (redirect URIs, auth method, keys, grant consistency, sizes);
//! lenient like the CIMD parser for display-only URIs, which are dropped when unusable.

use crate::client::TokenEndpointAuthMethod;
use crate::client_metadata_document::{clip, https_uri};
use crate::error::has_forbidden_chars;
use crate::redirect_uri::RedirectUri;
use crate::scope::{Scope, ScopeSet};
use serde_json::{Map, Value};

const MAX_REDIRECT_URIS: usize = 20;
const MAX_STRING_BYTES: usize = 2048;
const MAX_NAME_CHARS: usize = 200;
const MAX_LIST_ITEMS: usize = 20;
const MAX_CONTACTS: usize = 10;
const MAX_JWKS_KEYS: usize = 10;
const MAX_JWKS_BYTES: usize = 16 * 1024;
const SUPPORTED_GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];
/// Schemes that run code or read local data in the user agent: no allowlist can enable them
/// (R105, SPEC §4 Q22).
const DANGEROUS_SCHEMES: [&str; 6] = ["javascript", "data", "file", "vbscript", "about", "blob"];
/// JWK members that only private or symmetric keys carry (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// What the operator allows self-registered clients (the `dcr.*` settings).
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistrationRules<'a> {
    /// Private-use redirect schemes the operator allows (e.g. "cursor"); empty by default.
    /// javascript, data, file, vbscript, about, blob are never allowed even if listed.
    pub allowed_redirect_schemes: &'a [String],
    /// Scope ceiling for self-registered clients (None: no ceiling beyond the resources').
    pub max_scopes: Option<&'a ScopeSet>,
}

/// The RFC 7591 §3.2.2 error codes Postern answers with (R104). Software statements are not
/// supported at all, so `invalid_software_statement` is never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationErrorCode {
    InvalidRedirectUri,
    InvalidClientMetadata,
}

impl RegistrationErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }
}

/// A rejected registration. The description names the offending member and is safe to return
/// as `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct RegistrationError {
    pub code: RegistrationErrorCode,
    pub description: String,
}

impl RegistrationError {
    fn redirect(description: impl Into<String>) -> Self {
        Self { code: RegistrationErrorCode::InvalidRedirectUri, description: description.into() }
    }

    fn metadata(description: impl Into<String>) -> Self {
        Self { code: RegistrationErrorCode::InvalidClientMetadata, description: description.into() }
    }
}

/// OpenID Connect Dynamic Registration `application_type`, which MCP clients send. Recorded
/// only: desktop MCP clients that say `web` still use loopback redirects, so the type does not
/// change which redirect URIs are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplicationType {
    #[default]
    Web,
    Native,
}

impl ApplicationType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

/// The effective metadata of a dynamically registered client: defaults filled in (R103),
/// requested values replaced where Postern caps them (R104a), unknown members gone.
#[derive(Debug, Clone, PartialEq)]
pub struct RegistrationMetadata {
    /// Validated, in the order sent, exact duplicates removed.
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// Always contains `authorization_code`; in a fixed order, without repeats.
    pub grant_types: Vec<String>,
    /// Always `["code"]`.
    pub response_types: Vec<String>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub contacts: Vec<String>,
    /// The requested scope capped by `max_scopes`, or `max_scopes` when none was requested.
    pub scope: Option<ScopeSet>,
    pub application_type: ApplicationType,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// Public keys, only with `private_key_jwt`; never together with `jwks_uri`.
    pub jwks: Option<Value>,
    pub jwks_uri: Option<String>,
}

impl RegistrationMetadata {
    /// The effective metadata as the JSON members echoed in 201/200 responses (R102: all
    /// registered metadata including defaults; unknown members are not echoed).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut json = Map::new();
        json.insert("redirect_uris".into(), Value::from(self.redirect_uris.clone()));
        json.insert("token_endpoint_auth_method".into(), Value::from(self.token_endpoint_auth_method.as_str()));
        json.insert("grant_types".into(), Value::from(self.grant_types.clone()));
        json.insert("response_types".into(), Value::from(self.response_types.clone()));
        json.insert("application_type".into(), Value::from(self.application_type.as_str()));
        let optional = [
            ("client_name", &self.client_name),
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
            ("software_id", &self.software_id),
            ("software_version", &self.software_version),
            ("jwks_uri", &self.jwks_uri),
        ];
        for (member, value) in optional {
            if let Some(value) = value {
                json.insert(member.into(), Value::from(value.as_str()));
            }
        }
        if !self.contacts.is_empty() {
            json.insert("contacts".into(), Value::from(self.contacts.clone()));
        }
        if let Some(scope) = &self.scope {
            json.insert("scope".into(), Value::from(scope.to_string()));
        }
        if let Some(jwks) = &self.jwks {
            json.insert("jwks".into(), jwks.clone());
        }
        json
    }

    /// A canonical string of the metadata for de-duplicating identical public registrations:
    /// compact JSON of [`Self::to_json`] with object members sorted at every level, so member
    /// order and ignored members in the request make no difference.
    pub fn canonical(&self) -> String {
        sorted(Value::Object(self.to_json())).to_string()
    }
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut members: Vec<(String, Value)> = map.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            members.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(members.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Validates an RFC 7591 registration request (or RFC 7592 `PUT` body) against `rules`.
///
/// Unknown members are ignored, and so are the members a client may not choose (`client_id`,
/// `client_secret`, `registration_access_token`, `registration_client_uri`,
/// `client_secret_expires_at`, `client_id_issued_at`; see the module docs for `PUT`).
/// `client_uri`, `logo_uri`, `tos_uri` and `policy_uri` are display-only: a value that is not an
/// https URL is dropped rather than failing the registration, as for CIMD documents, because
/// nothing depends on it and the effective (echoed) metadata shows the client what was kept.
pub fn parse_registration_request(
    body: &Value,
    rules: &RegistrationRules,
) -> Result<RegistrationMetadata, RegistrationError> {
    let Value::Object(doc) = body else {
        return Err(RegistrationError::metadata(
            "the registration request must be a JSON object of client metadata (R101)",
        ));
    };
    if doc.contains_key("software_statement") {
        return Err(RegistrationError::metadata(
            "software statements are not supported; remove the software_statement member",
        ));
    }

    let token_endpoint_auth_method = match optional_string(doc, "token_endpoint_auth_method")? {
        None => TokenEndpointAuthMethod::ClientSecretBasic, // R103
        Some(raw) => TokenEndpointAuthMethod::parse(raw).map_err(|_| {
            RegistrationError::metadata(format!(
                "token_endpoint_auth_method '{}' is not supported; use one of: {}",
                clip(raw),
                TokenEndpointAuthMethod::SUPPORTED.join(", ")
            ))
        })?,
    };
    let grant_types = grant_types(doc)?;
    let response_types = response_types(doc)?;
    check_flow(&grant_types, &response_types)?;
    let (jwks, jwks_uri) = client_keys(doc, token_endpoint_auth_method)?;
    let application_type = match optional_string(doc, "application_type")? {
        None | Some("web") => ApplicationType::Web,
        Some("native") => ApplicationType::Native,
        Some(other) => {
            return Err(RegistrationError::metadata(format!(
                "application_type '{}' is not supported; use \"web\" or \"native\"",
                clip(other)
            )));
        }
    };
    let display_uri = |member: &str| doc.get(member).and_then(Value::as_str).and_then(https_uri);

    Ok(RegistrationMetadata {
        redirect_uris: redirect_uris(doc, rules)?,
        token_endpoint_auth_method,
        grant_types,
        response_types,
        client_name: short_text(doc, "client_name")?,
        client_uri: display_uri("client_uri"),
        logo_uri: display_uri("logo_uri"),
        tos_uri: display_uri("tos_uri"),
        policy_uri: display_uri("policy_uri"),
        contacts: string_array(doc, "contacts", MAX_CONTACTS)?
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect(),
        scope: effective_scope(doc, rules)?,
        application_type,
        software_id: short_text(doc, "software_id")?,
        software_version: short_text(doc, "software_version")?,
        jwks,
        jwks_uri,
    })
}

/// R103 default; only the grants Postern implements.
fn grant_types(doc: &Map<String, Value>) -> Result<Vec<String>, RegistrationError> {
    let Some(listed) = string_array(doc, "grant_types", MAX_LIST_ITEMS)? else {
        return Ok(vec!["authorization_code".to_owned()]);
    };
    if let Some(other) = listed.iter().find(|g| !SUPPORTED_GRANT_TYPES.contains(g)) {
        return Err(RegistrationError::metadata(format!(
            "grant_types: '{}' is not supported; supported: {}",
            clip(other),
            SUPPORTED_GRANT_TYPES.join(", ")
        )));
    }
    // A fixed order without repeats, so equal requests have equal effective metadata.
    Ok(SUPPORTED_GRANT_TYPES.iter().filter(|g| listed.contains(g)).map(|g| (*g).to_owned()).collect())
}

/// R103 default `["code"]`; OAuth 2.1 has no other response type.
fn response_types(doc: &Map<String, Value>) -> Result<Vec<String>, RegistrationError> {
    let Some(listed) = string_array(doc, "response_types", MAX_LIST_ITEMS)? else {
        return Ok(vec!["code".to_owned()]);
    };
    if let Some(other) = listed.iter().find(|t| **t != "code") {
        return Err(RegistrationError::metadata(format!(
            "response_types: '{}' is not supported; the only response type is \"code\"",
            clip(other)
        )));
    }
    Ok(if listed.is_empty() { Vec::new() } else { vec!["code".to_owned()] })
}

/// RFC 7591 §2.1: the authorization_code grant and the code response type go together (R104);
/// and a client without them could never obtain a token from Postern.
fn check_flow(grant_types: &[String], response_types: &[String]) -> Result<(), RegistrationError> {
    let code_grant = grant_types.iter().any(|g| g == "authorization_code");
    let code_response = response_types.iter().any(|t| t == "code");
    match (code_grant, code_response) {
        (true, true) => Ok(()),
        (true, false) => Err(RegistrationError::metadata(
            "response_types must include \"code\" when grant_types includes \"authorization_code\" (R104)",
        )),
        (false, true) => Err(RegistrationError::metadata(
            "grant_types must include \"authorization_code\" when response_types includes \"code\" (R104)",
        )),
        (false, false) => Err(RegistrationError::metadata(
            "grant_types must include \"authorization_code\": Postern issues tokens only through the authorization code flow",
        )),
    }
}

/// R105, SPEC §4 Q22. Every problem with `redirect_uris` is reported as `invalid_redirect_uri`.
fn redirect_uris(doc: &Map<String, Value>, rules: &RegistrationRules) -> Result<Vec<String>, RegistrationError> {
    let items = match doc.get("redirect_uris") {
        Some(Value::Array(items)) if !items.is_empty() => items,
        None | Some(Value::Null) | Some(Value::Array(_)) => {
            return Err(RegistrationError::redirect(format!(
                "redirect_uris is required for the authorization_code grant: list 1 to {MAX_REDIRECT_URIS} URIs"
            )));
        }
        Some(_) => return Err(RegistrationError::redirect("redirect_uris must be an array of strings")),
    };
    if items.len() > MAX_REDIRECT_URIS {
        return Err(RegistrationError::redirect(format!("redirect_uris must list at most {MAX_REDIRECT_URIS} URIs")));
    }
    let mut uris = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(raw) = item else {
            return Err(RegistrationError::redirect("redirect_uris must contain only strings"));
        };
        let uri = redirect_uri(raw, rules)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

fn redirect_uri(raw: &str, rules: &RegistrationRules) -> Result<String, RegistrationError> {
    let reject = |reason: &str| RegistrationError::redirect(format!("redirect_uris: '{}': {reason}", clip(raw)));
    // Redirect URIs match by string comparison (R112): a wildcard is a mistake or a probe.
    if raw.contains('*') {
        return Err(reject("wildcards ('*') are not allowed; register each redirect URI exactly"));
    }
    let not_https_or_loopback = match RedirectUri::parse(raw) {
        Ok(uri) => return Ok(uri.as_str().to_owned()),
        Err(e) => e.to_string(),
    };
    let Some(scheme) = scheme_of(raw) else { return Err(reject(&not_https_or_loopback)) };
    if scheme == "https" || scheme == "http" {
        return Err(reject(&not_https_or_loopback));
    }
    if DANGEROUS_SCHEMES.contains(&scheme.as_str()) {
        return Err(reject(&format!("the '{scheme}' scheme is never allowed for redirect URIs")));
    }
    if !rules.allowed_redirect_schemes.iter().any(|s| s.eq_ignore_ascii_case(&scheme)) {
        let allowed: Vec<&str> = rules
            .allowed_redirect_schemes
            .iter()
            .map(String::as_str)
            .filter(|s| !DANGEROUS_SCHEMES.iter().any(|d| d.eq_ignore_ascii_case(s)))
            .collect();
        let extra = if allowed.is_empty() {
            String::new()
        } else {
            format!(", or one of these schemes: {}", allowed.join(", "))
        };
        return Err(reject(&format!(
            "the '{scheme}' scheme is not allowed; use https or http on a loopback host (127.0.0.1, [::1], localhost){extra}"
        )));
    }
    // An operator-allowed private-use scheme (RFC 8252 §7.1): the same string rules as https.
    if raw.len() > MAX_STRING_BYTES || has_forbidden_chars(raw) {
        return Err(reject(&format!(
            "must be at most {MAX_STRING_BYTES} bytes without whitespace, control characters or backslashes"
        )));
    }
    if raw.contains('#') {
        return Err(reject("redirect_uri must not contain a fragment (OAuth 2.1 §2.3)"));
    }
    if raw.len() == scheme.len() + 1 || url::Url::parse(raw).is_err() {
        return Err(reject("is not a valid URI"));
    }
    Ok(raw.to_owned())
}

/// The scheme of an absolute URI (RFC 3986 §3.1), lowercased.
fn scheme_of(raw: &str) -> Option<String> {
    let (scheme, _) = raw.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// R103: `jwks` and `jwks_uri` never together, and only for `private_key_jwt`, which needs one.
fn client_keys(
    doc: &Map<String, Value>,
    method: TokenEndpointAuthMethod,
) -> Result<(Option<Value>, Option<String>), RegistrationError> {
    let jwks = doc.get("jwks").filter(|v| !v.is_null());
    let jwks_uri = doc.get("jwks_uri").filter(|v| !v.is_null());
    let key_based = method == TokenEndpointAuthMethod::PrivateKeyJwt;
    match (jwks, jwks_uri) {
        (Some(_), Some(_)) => Err(RegistrationError::metadata(
            "jwks and jwks_uri must not both be present; send the keys one way only (R103)",
        )),
        (None, None) if key_based => Err(RegistrationError::metadata(
            "token_endpoint_auth_method private_key_jwt needs the client's public keys in jwks or jwks_uri",
        )),
        (None, None) => Ok((None, None)),
        (Some(_), None) | (None, Some(_)) if !key_based => Err(RegistrationError::metadata(format!(
            "{} is only used with token_endpoint_auth_method private_key_jwt, not {method}",
            if jwks.is_some() { "jwks" } else { "jwks_uri" }
        ))),
        (Some(jwks), None) => Ok((Some(public_jwks(jwks)?), None)),
        (None, Some(uri)) => match uri.as_str().and_then(https_uri) {
            Some(uri) => Ok((None, Some(uri))),
            None => Err(RegistrationError::metadata("jwks_uri must be an https URL")),
        },
    }
}

fn public_jwks(jwks: &Value) -> Result<Value, RegistrationError> {
    let Some(Value::Array(keys)) = jwks.get("keys") else {
        return Err(RegistrationError::metadata("jwks must be an object with a \"keys\" array"));
    };
    if keys.is_empty() || keys.len() > MAX_JWKS_KEYS || jwks.to_string().len() > MAX_JWKS_BYTES {
        return Err(RegistrationError::metadata(format!(
            "jwks must hold 1 to {MAX_JWKS_KEYS} keys in at most {MAX_JWKS_BYTES} bytes"
        )));
    }
    for key in keys {
        let Value::Object(key) = key else { return Err(RegistrationError::metadata("jwks keys must be objects")) };
        if let Some(private) = PRIVATE_JWK_MEMBERS.iter().find(|m| key.contains_key(**m)) {
            return Err(RegistrationError::metadata(format!(
                "jwks contains private key material (member \"{private}\"); register public keys only"
            )));
        }
    }
    Ok(jwks.clone())
}

/// R104a: the requested scope capped by the operator's ceiling; the ceiling itself when none
/// was requested.
fn effective_scope(doc: &Map<String, Value>, rules: &RegistrationRules) -> Result<Option<ScopeSet>, RegistrationError> {
    let requested = match optional_string(doc, "scope")? {
        Some(raw) => ScopeSet::parse(raw).map_err(|e| RegistrationError::metadata(format!("scope: {e}")))?,
        None => ScopeSet::default(),
    };
    let Some(max) = rules.max_scopes else { return Ok((!requested.is_empty()).then_some(requested)) };
    if requested.is_empty() {
        return Ok((!max.is_empty()).then(|| max.clone()));
    }
    let outside: Vec<&Scope> = requested.not_in(max).collect();
    let kept = ScopeSet::from_scopes(requested.iter().filter(|s| !outside.contains(s)).cloned());
    if kept.is_empty() {
        let allowed = if max.is_empty() { "(none)".to_owned() } else { max.to_string() };
        return Err(RegistrationError::metadata(format!(
            "scope '{}' is not allowed for self-registered clients; allowed: {allowed}",
            clip(&requested.to_string())
        )));
    }
    Ok(Some(kept))
}

/// A string member, bounded and free of control characters; `null` counts as absent.
fn optional_string<'d>(doc: &'d Map<String, Value>, member: &str) -> Result<Option<&'d str>, RegistrationError> {
    match doc.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => bounded(s, member).map(Some),
        Some(_) => Err(RegistrationError::metadata(format!("{member} must be a string"))),
    }
}

/// A trimmed human-facing text such as `client_name`: at most 200 characters; empty is absent.
fn short_text(doc: &Map<String, Value>, member: &str) -> Result<Option<String>, RegistrationError> {
    let Some(text) = optional_string(doc, member)?.map(str::trim) else { return Ok(None) };
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(RegistrationError::metadata(format!(
            "{member} must be at most {MAX_NAME_CHARS} characters without control characters"
        )));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

fn string_array<'d>(
    doc: &'d Map<String, Value>,
    member: &str,
    max_items: usize,
) -> Result<Option<Vec<&'d str>>, RegistrationError> {
    let items = match doc.get(member) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(RegistrationError::metadata(format!("{member} must be an array of strings"))),
    };
    if items.len() > max_items {
        return Err(RegistrationError::metadata(format!("{member} must have at most {max_items} entries")));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => bounded(s, member),
            _ => Err(RegistrationError::metadata(format!("{member} must contain only strings"))),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn bounded<'s>(s: &'s str, member: &str) -> Result<&'s str, RegistrationError> {
    if s.len() > MAX_STRING_BYTES || s.chars().any(char::is_control) {
        return Err(RegistrationError::metadata(format!(
            "{member}: values must be at most {MAX_STRING_BYTES} bytes without control characters"
        )));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const CALLBACK: &str = "http://127.0.0.1:33418/callback";

    /// What the MCP TypeScript SDK sends.
    fn request() -> Value {
        json!({
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "MCP Inspector",
            "client_uri": "https://github.com/modelcontextprotocol/inspector"
        })
    }

    fn parse(body: &Value) -> Result<RegistrationMetadata, RegistrationError> {
        parse_registration_request(body, &RegistrationRules::default())
    }

    fn with(mut body: Value, member: &str, value: Value) -> Value {
        body[member] = value;
        body
    }

    fn without(mut body: Value, member: &str) -> Value {
        body.as_object_mut().unwrap().remove(member);
        body
    }

    fn metadata_error(body: &Value) -> String {
        let err = parse(body).unwrap_err();
        assert_eq!(err.code, RegistrationErrorCode::InvalidClientMetadata, "{err}");
        err.description
    }

    fn redirect_error(body: &Value, rules: &RegistrationRules) -> String {
        let err = parse_registration_request(body, rules).unwrap_err();
        assert_eq!(err.code, RegistrationErrorCode::InvalidRedirectUri, "{err}");
        err.description
    }

    fn redirects(uris: &[&str]) -> Value {
        with(request(), "redirect_uris", json!(uris))
    }

    fn jwks() -> Value {
        json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y"}]})
    }

    #[test]
    fn r101_body_must_be_a_json_object() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            assert!(metadata_error(&body).contains("JSON object"), "{body}");
        }
    }

    #[test]
    fn r102_echo_holds_every_effective_member_and_no_unknown_or_server_chosen_ones() {
        // R057, R109a: clients never choose their client_id or secret; in a POST they are ignored.
        let body = json!({
            "redirect_uris": [CALLBACK],
            "client_id": "https://evil.example/client.json",
            "client_secret": "chosen",
            "registration_access_token": "chosen",
            "client_id_issued_at": 1,
            "x_vendor_extension": {"a": 1}
        });
        let json = parse(&body).unwrap().to_json();
        let mut members: Vec<&str> = json.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(
            members,
            ["application_type", "grant_types", "redirect_uris", "response_types", "token_endpoint_auth_method"]
        );
        assert_eq!(json["token_endpoint_auth_method"], "client_secret_basic");
        assert_eq!(json["grant_types"], json!(["authorization_code"]));
        assert_eq!(json["response_types"], json!(["code"]));
        assert_eq!(json["application_type"], "web");
    }

    #[test]
    fn r102_echoed_metadata_parses_back_to_the_same_registration() {
        let body = json!({
            "redirect_uris": ["https://app.example.com/cb", CALLBACK],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(),
            "grant_types": ["refresh_token", "authorization_code"],
            "client_name": "  Example Agent ",
            "logo_uri": "https://app.example.com/logo.png",
            "tos_uri": "https://app.example.com/tos",
            "policy_uri": "https://app.example.com/privacy",
            "contacts": ["ops@example.com"],
            "scope": "mcp:read",
            "application_type": "native",
            "software_id": "4NRB1-0XZABZI9E6-5SM3R",
            "software_version": "2.1"
        });
        let metadata = parse(&body).unwrap();
        assert_eq!(metadata.client_name.as_deref(), Some("Example Agent"));
        assert_eq!(metadata.application_type, ApplicationType::Native);
        assert_eq!(metadata.to_json()["scope"], "mcp:read");
        assert_eq!(parse(&Value::Object(metadata.to_json())).unwrap(), metadata);
    }

    #[test]
    fn r102_canonical_is_equal_for_equal_effective_metadata_only() {
        let a = parse(&request()).unwrap();
        let reordered = json!({
            "x_unknown": true,
            "client_uri": "https://github.com/modelcontextprotocol/inspector",
            "client_name": "MCP Inspector",
            "grant_types": ["refresh_token", "authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
            "redirect_uris": [CALLBACK, CALLBACK]
        });
        assert_eq!(a.canonical(), parse(&reordered).unwrap().canonical());
        let renamed = parse(&with(request(), "client_name", json!("Other"))).unwrap();
        assert_ne!(a.canonical(), renamed.canonical());
    }

    #[test]
    fn r103_defaults_apply_when_members_are_omitted() {
        let metadata = parse(&json!({"redirect_uris": [CALLBACK]})).unwrap();
        assert_eq!(metadata.token_endpoint_auth_method, TokenEndpointAuthMethod::ClientSecretBasic);
        assert_eq!(metadata.grant_types, ["authorization_code"]);
        assert_eq!(metadata.response_types, ["code"]);
        assert_eq!(metadata.application_type, ApplicationType::Web);
        assert_eq!(metadata.scope, None);
    }

    #[test]
    fn r103_only_supported_auth_methods_are_accepted() {
        for (raw, method) in [
            ("none", TokenEndpointAuthMethod::None),
            ("client_secret_basic", TokenEndpointAuthMethod::ClientSecretBasic),
            ("client_secret_post", TokenEndpointAuthMethod::ClientSecretPost),
        ] {
            let metadata = parse(&with(request(), "token_endpoint_auth_method", json!(raw))).unwrap();
            assert_eq!(metadata.token_endpoint_auth_method, method);
        }
        for bad in [json!("client_secret_jwt"), json!("tls_client_auth"), json!("garbage"), json!(42)] {
            let description = metadata_error(&with(request(), "token_endpoint_auth_method", bad.clone()));
            assert!(description.contains("token_endpoint_auth_method"), "{bad}: {description}");
        }
    }

    #[test]
    fn r103_jwks_and_jwks_uri_are_never_both_present() {
        for method in ["private_key_jwt", "none"] {
            let body = with(
                with(with(request(), "token_endpoint_auth_method", json!(method)), "jwks", jwks()),
                "jwks_uri",
                json!("https://app.example.com/jwks.json"),
            );
            assert!(metadata_error(&body).contains("both"), "{method}");
        }
    }

    #[test]
    fn r103_private_key_jwt_needs_public_keys_from_one_source() {
        let base = with(request(), "token_endpoint_auth_method", json!("private_key_jwt"));
        assert!(metadata_error(&base).contains("private_key_jwt"));
        let inline = parse(&with(base.clone(), "jwks", jwks())).unwrap();
        assert_eq!((inline.jwks, inline.jwks_uri), (Some(jwks()), None));
        let by_uri = parse(&with(base.clone(), "jwks_uri", json!("https://app.example.com/jwks.json"))).unwrap();
        assert_eq!(by_uri.jwks_uri.as_deref(), Some("https://app.example.com/jwks.json"));
        assert!(
            metadata_error(&with(base.clone(), "jwks_uri", json!("http://app.example.com/jwks"))).contains("jwks_uri")
        );
        for private in ["d", "k", "oth"] {
            let mut key = jwks();
            key["keys"][0][private] = json!("secret");
            let description = metadata_error(&with(base.clone(), "jwks", key));
            assert!(description.contains(&format!("\"{private}\"")), "{description}");
        }
        assert!(metadata_error(&with(base, "jwks", json!({"keys": []}))).contains("jwks"));
    }

    #[test]
    fn r103_keys_are_only_accepted_with_private_key_jwt() {
        let public = with(request(), "jwks_uri", json!("https://app.example.com/jwks.json"));
        assert!(metadata_error(&public).contains("jwks_uri is only used with"));
        let basic = with(without(request(), "token_endpoint_auth_method"), "jwks", jwks());
        assert!(metadata_error(&basic).contains("jwks is only used with"));
    }

    #[test]
    fn r104_only_supported_grant_and_response_types() {
        for grant in ["client_credentials", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer"] {
            let description = metadata_error(&with(request(), "grant_types", json!(["authorization_code", grant])));
            assert!(description.contains("grant_types") && description.contains(grant), "{description}");
        }
        let description = metadata_error(&with(request(), "response_types", json!(["code", "token"])));
        assert!(description.contains("response_types") && description.contains("'token'"), "{description}");
        let repeated = with(request(), "grant_types", json!(["refresh_token", "authorization_code", "refresh_token"]));
        assert_eq!(parse(&repeated).unwrap().grant_types, ["authorization_code", "refresh_token"]);
    }

    #[test]
    fn r104_grant_and_response_types_must_be_consistent() {
        let no_code_grant = with(request(), "grant_types", json!(["refresh_token"]));
        assert!(metadata_error(&no_code_grant).contains("when response_types includes \"code\""));
        let no_code_response = with(request(), "response_types", json!([]));
        assert!(metadata_error(&no_code_response).contains("when grant_types includes \"authorization_code\""));
    }

    #[test]
    fn r104_a_client_without_the_code_flow_is_rejected() {
        let body = with(with(request(), "grant_types", json!(["refresh_token"])), "response_types", json!([]));
        assert!(metadata_error(&body).contains("only through the authorization code flow"));
    }

    #[test]
    fn r104_error_codes_and_descriptions() {
        assert_eq!(RegistrationErrorCode::InvalidRedirectUri.as_str(), "invalid_redirect_uri");
        assert_eq!(RegistrationErrorCode::InvalidClientMetadata.as_str(), "invalid_client_metadata");
        let err = parse(&with(request(), "application_type", json!("desktop"))).unwrap_err();
        assert_eq!(err.to_string(), err.description);
    }

    #[test]
    fn r104_software_statements_are_not_supported() {
        let body = with(request(), "software_statement", json!("eyJhbGciOiJSUzI1NiJ9.e30.sig"));
        assert!(metadata_error(&body).contains("software statements are not supported"));
    }

    #[test]
    fn r104_application_type_is_web_or_native() {
        let native = with(request(), "application_type", json!("native"));
        assert_eq!(parse(&native).unwrap().application_type, ApplicationType::Native);
        for bad in [json!("desktop"), json!("Native"), json!(1)] {
            assert!(metadata_error(&with(request(), "application_type", bad)).contains("application_type"));
        }
        // Loopback redirects stay allowed for "web": desktop MCP clients say web.
        let web = with(request(), "application_type", json!("web"));
        assert_eq!(parse(&web).unwrap().redirect_uris, [CALLBACK]);
    }

    #[test]
    fn r104a_scope_is_capped_by_max_scopes() {
        let max = ScopeSet::parse("mcp:read mcp:write").unwrap();
        let rules = RegistrationRules { max_scopes: Some(&max), ..RegistrationRules::default() };
        let capped = parse_registration_request(&with(request(), "scope", json!("mcp:read admin")), &rules);
        assert_eq!(capped.unwrap().scope.map(|s| s.to_string()).as_deref(), Some("mcp:read"));
        let err = parse_registration_request(&with(request(), "scope", json!("admin")), &rules).unwrap_err();
        assert_eq!(err.code, RegistrationErrorCode::InvalidClientMetadata);
        assert!(
            err.description
                .contains("scope 'admin' is not allowed for self-registered clients; allowed: mcp:read mcp:write")
        );
        assert_eq!(parse_registration_request(&request(), &rules).unwrap().scope, Some(max));
        let uncapped = parse(&with(request(), "scope", json!("admin mcp:read"))).unwrap();
        assert_eq!(uncapped.scope.map(|s| s.to_string()).as_deref(), Some("admin mcp:read"));
        assert!(metadata_error(&with(request(), "scope", json!("a\"b"))).starts_with("scope"));
    }

    #[test]
    fn r104a_unusable_display_uris_are_dropped() {
        let body = with(
            with(with(request(), "logo_uri", json!("javascript:alert(1)")), "tos_uri", json!("http://app.example.com")),
            "policy_uri",
            json!(42),
        );
        let metadata = parse(&body).unwrap();
        assert_eq!((metadata.logo_uri, metadata.tos_uri, metadata.policy_uri), (None, None, None));
        assert_eq!(metadata.client_uri.as_deref(), Some("https://github.com/modelcontextprotocol/inspector"));
    }

    #[test]
    fn r105_redirect_uris_are_https_or_loopback_http() {
        let accepted = ["https://app.example.com/cb", "http://localhost:3000/cb", "http://[::1]/cb", CALLBACK];
        assert_eq!(parse(&redirects(&accepted)).unwrap().redirect_uris, accepted);
        // Even an operator listing "http" cannot open non-loopback http.
        let http = [String::from("http")];
        let rules = RegistrationRules { allowed_redirect_schemes: &http, ..RegistrationRules::default() };
        let description = redirect_error(&redirects(&["http://app.example.com/cb"]), &rules);
        assert!(description.contains("'http://app.example.com/cb'") && description.contains("loopback"));
    }

    #[test]
    fn r105_redirect_uris_are_required() {
        let rules = RegistrationRules::default();
        for bad in [json!([]), json!([42]), json!("https://app.example.com/cb"), json!(null)] {
            assert!(redirect_error(&with(request(), "redirect_uris", bad), &rules).contains("redirect_uris"));
        }
        assert!(redirect_error(&without(request(), "redirect_uris"), &rules).contains("redirect_uris is required"));
    }

    #[test]
    fn r105_fragments_and_wildcards_are_rejected() {
        let cursor = [String::from("cursor")];
        let rules = RegistrationRules { allowed_redirect_schemes: &cursor, ..RegistrationRules::default() };
        assert!(redirect_error(&redirects(&["https://app.example.com/cb#x"]), &rules).contains("fragment"));
        assert!(redirect_error(&redirects(&["cursor://callback#x"]), &rules).contains("fragment"));
        for wildcard in ["https://*.example.com/cb", "https://app.example.com/*", "cursor://*"] {
            assert!(redirect_error(&redirects(&[wildcard]), &rules).contains("wildcard"), "{wildcard}");
        }
    }

    #[test]
    fn q22_private_use_schemes_only_from_the_operator_allowlist() {
        let body = redirects(&["cursor://anysphere.cursor-retrieval/oauth/callback"]);
        let description = redirect_error(&body, &RegistrationRules::default());
        assert!(description.contains("'cursor' scheme is not allowed"), "{description}");
        let cursor = [String::from("Cursor")];
        let rules = RegistrationRules { allowed_redirect_schemes: &cursor, ..RegistrationRules::default() };
        assert!(parse_registration_request(&body, &rules).is_ok());
        assert!(parse_registration_request(&redirects(&["CURSOR://callback"]), &rules).is_ok());
        assert!(redirect_error(&redirects(&["vscode://callback"]), &rules).contains("one of these schemes: Cursor"));
        assert!(redirect_error(&redirects(&["cursor:"]), &rules).contains("not a valid URI"));
    }

    #[test]
    fn r105_dangerous_schemes_are_never_allowed() {
        let listed: Vec<String> = DANGEROUS_SCHEMES.iter().map(|s| (*s).to_owned()).collect();
        let rules = RegistrationRules { allowed_redirect_schemes: &listed, ..RegistrationRules::default() };
        for uri in [
            "javascript:alert(1)",
            "JavaScript:alert(1)",
            "data:text/html,hi",
            "file:///etc/passwd",
            "vbscript:msgbox",
            "about:blank",
            "blob:https://app.example.com/1",
        ] {
            assert!(redirect_error(&redirects(&[uri]), &rules).contains("never allowed"), "{uri}");
        }
    }

    #[test]
    fn r101_strings_arrays_and_counts_are_bounded() {
        let many: Vec<String> = (0..21).map(|i| format!("https://app.example.com/{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(redirect_error(&redirects(&many), &RegistrationRules::default()).contains("at most 20"));
        let contacts: Vec<String> = (0..11).map(|i| format!("ops{i}@example.com")).collect();
        assert!(metadata_error(&with(request(), "contacts", json!(contacts))).contains("contacts"));
        assert!(metadata_error(&with(request(), "contacts", json!(["a".repeat(2049)]))).contains("contacts"));
        let grants = vec!["authorization_code"; 21];
        assert!(metadata_error(&with(request(), "grant_types", json!(grants))).contains("grant_types"));
        assert!(metadata_error(&with(request(), "client_name", json!("n".repeat(201)))).contains("client_name"));
        assert!(metadata_error(&with(request(), "client_name", json!("bell\u{7}"))).contains("client_name"));
        assert!(metadata_error(&with(request(), "software_id", json!("s".repeat(201)))).contains("software_id"));
        assert_eq!(parse(&with(request(), "client_name", json!("  "))).unwrap().client_name, None);
    }

    const MEMBERS: [&str; 16] = [
        "redirect_uris",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "client_name",
        "logo_uri",
        "contacts",
        "scope",
        "application_type",
        "software_id",
        "jwks",
        "jwks_uri",
        "software_statement",
        "client_id",
        "keys",
        "d",
    ];

    fn json_leaf() -> impl Strategy<Value = Value> {
        let samples = vec![
            "https://app.example.com/cb",
            CALLBACK,
            "cursor://callback",
            "cursor://cb#x",
            "javascript:alert(1)",
            "http://evil.example/cb",
            "https://app.example.com/jwks.json",
            "none",
            "private_key_jwt",
            "client_secret_post",
            "code",
            "authorization_code",
            "refresh_token",
            "native",
            "mcp:read admin",
            "*",
        ];
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop::sample::select(samples).prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let member = prop_oneof![prop::sample::select(MEMBERS.to_vec()).prop_map(str::to_owned), "[a-z_]{1,8}"];
        json_leaf().prop_recursive(3, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(member.clone(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parser_never_panics_and_echo_round_trips(
            members in prop::collection::btree_map(prop::sample::select(MEMBERS.to_vec()), json_value(), 0..5),
            from_valid_request in any::<bool>(),
            schemes in prop::collection::vec(prop::sample::select(vec!["cursor", "javascript", "Data"]), 0..3),
            capped in any::<bool>(),
        ) {
            // Starting from a valid request keeps the round trip exercised, not only the errors.
            let mut body = if from_valid_request { request() } else { json!({}) };
            for (member, value) in members {
                body[member] = value;
            }
            let schemes: Vec<String> = schemes.into_iter().map(str::to_owned).collect();
            let max = ScopeSet::parse("mcp:read mcp:write").unwrap();
            let rules = RegistrationRules { allowed_redirect_schemes: &schemes, max_scopes: capped.then_some(&max) };
            if let Ok(metadata) = parse_registration_request(&body, &rules) {
                let echoed = parse_registration_request(&Value::Object(metadata.to_json()), &rules);
                prop_assert_eq!(echoed.as_ref(), Ok(&metadata));
                prop_assert_eq!(echoed.map(|m| m.canonical()), Ok(metadata.canonical()));
            }
        }

        #[test]
        fn parser_never_panics_on_any_value(body in json_value()) {
            let _ = parse(&body);
        }
    }
}

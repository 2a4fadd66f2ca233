//! What the guard reads from the authorization server over plain GETs: its metadata (RFC 8414
//! §3, then OpenID Connect Discovery) to find an endpoint that was not configured, and bounded
//! JSON documents (metadata, key sets). Every response body goes through [`read_limited`].

use crate::well_known;
use postern_core::Issuer;

/// Metadata documents and key sets are small; anything larger is refused.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An endpoint of the authorization server the guard may have to discover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `jwks_uri`: the keys that verify JWT access tokens.
    Jwks,
    /// `introspection_endpoint` (RFC 7662 §2; RFC 8414 §2).
    Introspection,
}

impl Endpoint {
    /// The metadata member naming it.
    pub(crate) fn member(self) -> &'static str {
        match self {
            Self::Jwks => "jwks_uri",
            Self::Introspection => "introspection_endpoint",
        }
    }
}

/// Reads `endpoint` from the AS metadata, after checking that the document's `issuer` is ours
/// byte for byte (RFC 8414 §3.3). The error says what went wrong and where.
pub(crate) async fn discover(http: &reqwest::Client, issuer: &Issuer, endpoint: Endpoint) -> Result<String, String> {
    let member = endpoint.member();
    let mut failures = Vec::new();
    for url in well_known::authorization_server_metadata_urls(issuer) {
        let body = match fetch_document(http, &url).await {
            Ok(body) => body,
            Err(error) => {
                failures.push(error);
                continue;
            }
        };
        // A `Value`, not a struct: a member we do not use must not spoil the one we need.
        let metadata: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not authorization server metadata: {e}"))?;
        let named_issuer = metadata.get("issuer").and_then(serde_json::Value::as_str);
        if named_issuer != Some(issuer.as_str()) {
            return Err(format!(
                "{url} names issuer '{}', expected '{}'",
                named_issuer.unwrap_or_default(),
                issuer.as_str()
            ));
        }
        let uri =
            metadata.get(member).and_then(serde_json::Value::as_str).ok_or_else(|| format!("{url} has no {member}"))?;
        postern_core::ResourceUri::parse_configured(uri).map_err(|e| format!("{url}: unusable {member}: {e}"))?;
        return Ok(uri.to_owned());
    }
    Err(format!("no authorization server metadata found: {}", failures.join("; ")))
}

/// GETs a JSON document: `200` only, at most [`MAX_DOCUMENT_BYTES`].
pub(crate) async fn fetch_document(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let response = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    read_limited(response, MAX_DOCUMENT_BYTES).await.map_err(|e| format!("{url}: {e}"))
}

/// The body of `response`, refused as soon as it grows beyond `limit` bytes (whatever its
/// `Content-Length` claims).
pub(crate) async fn read_limited(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > limit {
            return Err(format!("larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

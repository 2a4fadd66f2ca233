//! The `tower` layer: every request is checked before the MCP server sees it (R032, R038).
//!
//! Order: CORS preflight (answered, no token needed) -> bearer token from the `Authorization`
//! header only (R030, R031) -> token verification (R033–R036) or introspection (R037) -> the
//! scopes the request needs, reading a bounded JSON-RPC body when the policy depends on it ->
//! 401/403 challenge or the inner service with the body re-assembled and [`AccessIdentity`]
//! as an extension.

use crate::challenge::Rejection;
use crate::config::CorsPolicy;
use crate::cors;
use crate::guard::Guard;
use crate::identity::AccessIdentity;
use crate::jsonrpc;
use crate::token::TokenError;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, ORIGIN};
use axum::http::request::Parts;
use axum::http::{Method, Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::{BoxError, Layer, Service};

/// Wraps a service (an axum `Router`, rmcp's `StreamableHttpService`, any tower HTTP service)
/// so that only requests with a valid access token and enough scope reach it.
#[derive(Clone, Debug)]
pub struct GuardLayer {
    guard: Guard,
}

impl GuardLayer {
    pub(crate) fn new(guard: Guard) -> Self {
        Self { guard }
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService { guard: self.guard.clone(), inner }
    }
}

/// The service built by [`GuardLayer`]. It hands the inner service a
/// `Request<axum::body::Body>` and answers with `Response<axum::body::Body>`.
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    guard: Guard,
    inner: S,
}

/// The future of [`GuardService`].
pub type ResponseFuture<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for GuardService<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual dance).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(handle(self.guard.clone(), inner, request))
    }
}

async fn handle<S, B, ResBody>(guard: Guard, mut inner: S, request: Request<B>) -> Result<Response<Body>, S::Error>
where
    S: Service<Request<Body>, Response = Response<ResBody>>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
    ResBody: HttpBody<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    let settings = &guard.inner().settings;
    let cors = &settings.cors;
    if *cors != CorsPolicy::Disabled && cors::is_preflight(request.method(), request.headers()) {
        return Ok(cors::preflight(cors, request.headers()));
    }
    let origin = request.headers().get(ORIGIN).cloned();
    let mut response = match admit(&guard, request).await {
        Ok(request) => inner.call(request).await?.map(Body::new),
        Err(rejection) => {
            tracing::debug!(?rejection, "request refused by postern-guard");
            rejection.into_response(&settings.metadata_url)
        }
    };
    cors::decorate(cors, origin.as_ref(), &mut response);
    Ok(response)
}

/// Checks a request; on success returns it ready for the inner service.
async fn admit<B>(guard: &Guard, request: Request<B>) -> Result<Request<Body>, Rejection>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = request.into_parts();
    let identity = match bearer_token(&parts)? {
        Some(token) => Some(guard.verify(token).await.map_err(|error| match error {
            TokenError::KeysUnavailable(_) => Rejection::KeysUnavailable,
            TokenError::IntrospectionUnavailable(_) => Rejection::IntrospectionUnavailable,
            error => Rejection::InvalidToken(error),
        })?),
        None => None,
    };
    let settings = &guard.inner().settings;
    let needed = needed_scopes(&settings.policy, settings.max_body_bytes, &parts, body).await;
    let Some(identity) = identity else {
        // Without a token the answer is always the challenge, whatever the body: it tells the
        // client which scopes to ask for (R022), with the base ones if the body is unreadable.
        let needed = needed.map_or_else(|_| settings.policy.base().clone(), |(needed, _)| needed);
        return Err(Rejection::NoToken { needed });
    };
    let (needed, body) = needed?;
    let missing: BTreeSet<String> = needed.difference(&identity.scopes).cloned().collect();
    if !missing.is_empty() {
        return Err(Rejection::InsufficientScope { needed, missing });
    }
    parts.extensions.insert::<AccessIdentity>(identity);
    Ok(Request::from_parts(parts, body))
}

/// The bearer token of the `Authorization` header (R030: scheme in any letter case). Tokens in
/// the query are never used (R031); one in the query *and* the header is `invalid_request`
/// (R026), as are two `Authorization` headers.
fn bearer_token(parts: &Parts) -> Result<Option<&str>, Rejection> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest("send exactly one Authorization header"));
    }
    let value = value.to_str().map_err(|_| Rejection::InvalidToken(TokenError::Malformed))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Credentials of another scheme are no bearer token: challenge as for none.
        return Ok(None);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() || !token.bytes().all(is_b64token_byte) {
        return Err(Rejection::InvalidToken(TokenError::Malformed));
    }
    let in_query = parts
        .uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair.split('=').next() == Some("access_token")));
    if in_query {
        return Err(Rejection::InvalidRequest("send the access token in the Authorization header only"));
    }
    Ok(Some(token))
}

/// RFC 6750 §2.1 `b64token`.
fn is_b64token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

fn is_json(parts: &Parts) -> bool {
    parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|value| {
        value.split(';').next().is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// Every scope the request needs, and its body for the inner service. Only a POST is read,
/// and only when the policy has method or tool rules.
async fn needed_scopes<B>(
    policy: &crate::ScopePolicy,
    max_body_bytes: usize,
    parts: &Parts,
    body: B,
) -> Result<(BTreeSet<String>, Body), Rejection>
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if !policy.inspects_body() || parts.method != Method::POST {
        return Ok((policy.required(&[]), Body::new(body)));
    }
    // MCP clients POST JSON; a body in another format could carry a JSON-RPC call that we
    // cannot see but a lenient server would still run.
    if !is_json(parts) {
        return Err(Rejection::UnsupportedMediaType);
    }
    let declared = parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max_body_bytes as u64) {
        return Err(Rejection::BodyTooLarge(max_body_bytes));
    }
    let bytes = match Limited::new(body, max_body_bytes).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Err(Rejection::BodyTooLarge(max_body_bytes)),
        Err(_) => return Err(Rejection::InvalidRequest("the request body could not be read")),
    };
    let calls = jsonrpc::parse(&bytes).map_err(|_| Rejection::JsonRpcParseError)?;
    Ok((policy.required(&calls), Body::from(bytes)))
}

#[cfg(test)]
mod tests;

//! Client ID Metadata Document clients at /authorize (SPEC §2.6-2.10, DESIGN §4).
//!
//! The order is the security argument. Before any network I/O: the URL rules (R060-R062), the
//! domain policy and the inventory's decision (R085). Before the user has signed in, only a
//! cached document is used; the fetch happens after authentication, so an anonymous request
//! can never make Postern fetch (SEP-991). A fetched document is validated (R075-R083), its
//! logo prefetched (R090), and it is cached by its HTTP headers within the operator's bounds;
//! concurrent requests for one URL share one fetch. Every fetch is an audit event.

mod inventory;
pub mod logo;
pub mod policy;
pub mod snapshot;

use crate::metrics::CimdFetch;
use crate::state::AppState;
use axum::http::StatusCode;
use inventory::{inventory, read_inventory};
use postern_core::client_metadata_document::parse_client_metadata_document;
use postern_core::domain_policy::{DomainDecision, DomainPolicy};
use postern_core::{ClientIdUrl, TokenHash};
use postern_fetch::{CacheOutcome, DocumentCache, FetchError, FetchReport, FetchRequest, Fetched, lifetime};
use postern_store::{AuditEvent, CimdClientRecord, CimdStatus, StoreError, ValidatedDocument};
use snapshot::ClientSnapshot;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a node reuses an inventory decision before reading it again: an administrator's
/// `postern clients approve|deny` takes effect within this time (as for client records).
const INVENTORY_TTL_SECS: i64 = 5;
const MAX_CACHED_DOCUMENTS: usize = 10_000;

/// A client validated from its metadata document.
pub struct MetadataClient {
    pub url: ClientIdUrl,
    pub snapshot: ClientSnapshot,
    pub snapshot_json: String,
    pub fingerprint: String,
    /// R095: every redirect URI goes to the user's own machine.
    pub all_redirects_loopback: bool,
    pub logo: Option<logo::Logo>,
}

/// Why a document could not be used; shown to the user and the client's developer (R086).
#[derive(Debug, thiserror::Error)]
pub enum DocumentFailure {
    #[error("{0}")]
    Fetch(FetchError),
    #[error("the client metadata document at {url} is not acceptable: {reason}")]
    Invalid { url: String, reason: String },
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// Where a URL-shaped `client_id` stands at /authorize.
pub enum CimdLookup {
    Ready {
        client: Arc<MetadataClient>,
        cache: CacheOutcome,
    },
    /// Nothing cached and nobody signed in: the user signs in before anything is fetched.
    SignInFirst {
        url: ClientIdUrl,
    },
}

/// A refusal, always a page (the redirect URIs are unknown or untrusted, R086).
pub struct CimdRefusal {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    /// The administrators' decision (policy, block, approval), not a fault of the client.
    pub by_policy: bool,
}

impl CimdRefusal {
    fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self { status, title, message: message.into(), by_policy: false }
    }

    fn policy(title: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::FORBIDDEN, title, message: message.into(), by_policy: true }
    }
}

impl CimdRefusal {
    fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "The server could not complete this request. Try again in a moment.",
        )
    }
}

impl From<StoreError> for CimdRefusal {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "store failure while resolving a metadata document client");
        Self::internal()
    }
}

/// Per-node state for metadata-document clients.
pub struct CimdClients {
    documents: DocumentCache<MetadataClient, DocumentFailure>,
    inventory: Mutex<HashMap<String, (i64, CimdClientRecord)>>,
    /// The domain policy in force (configuration merged with runtime rules).
    pub policy: policy::DomainPolicyCache,
    admissions: inventory::NewClientAdmissions,
}

impl Default for CimdClients {
    fn default() -> Self {
        Self {
            documents: DocumentCache::new(MAX_CACHED_DOCUMENTS),
            inventory: Mutex::new(HashMap::new()),
            policy: policy::DomainPolicyCache::default(),
            admissions: inventory::NewClientAdmissions::default(),
        }
    }
}

impl CimdClients {
    /// The cached client, without any I/O (for the logo endpoint).
    pub fn cached(&self, client_id: &str) -> Option<Arc<MetadataClient>> {
        self.documents.peek(client_id)
    }

    /// Drops this node's copy of a client's inventory entry, so an administrator's decision
    /// made through this node applies to the next request (other nodes reread within
    /// [`INVENTORY_TTL_SECS`]).
    pub fn forget_inventory(&self, client_id: &str) {
        self.lock_inventory().remove(client_id);
    }

    fn lock_inventory(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i64, CimdClientRecord)>> {
        self.inventory.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cached_inventory(&self, url: &ClientIdUrl, now: i64) -> Option<CimdClientRecord> {
        let entries = self.lock_inventory();
        let (read_at, record) = entries.get(url.as_str())?;
        (now - read_at < INVENTORY_TTL_SECS).then(|| record.clone())
    }

    fn remember_inventory(&self, url: &ClientIdUrl, now: i64, record: &CimdClientRecord) {
        let mut entries = self.lock_inventory();
        if entries.len() >= MAX_CACHED_DOCUMENTS {
            entries.clear();
        }
        entries.insert(url.as_str().to_owned(), (now, record.clone()));
    }
}

/// Resolves a URL-shaped `client_id` for /authorize. A `signed_in_user` allows writes and fetches.
pub async fn lookup(state: &AppState, raw: &str, signed_in_user: Option<&str>) -> Result<CimdLookup, CimdRefusal> {
    let signed_in = signed_in_user.is_some();
    let settings = &state.settings.cimd;
    let refused = |status, title, message: String| CimdRefusal::new(status, title, message);
    if !settings.enabled {
        return Err(refused(
            StatusCode::BAD_REQUEST,
            "This application is not registered",
            "This server does not accept Client ID Metadata Documents (client_id URLs); the application must be \
             pre-registered by the server's administrator."
                .to_owned(),
        ));
    }
    let url = ClientIdUrl::parse(raw, settings.allow_query)
        .map_err(|e| refused(StatusCode::BAD_REQUEST, "This application's client_id is not valid", format!("{e}.")))?;
    let decision = domain_policy(state).await?.decide(url.host());
    if decision == DomainDecision::Deny {
        return Err(CimdRefusal::policy(
            "This application is not allowed",
            format!("This server's policy does not accept applications from {}.", url.host()),
        ));
    }
    let record = inventory(state, &url, decision, signed_in_user).await?;
    match record.as_ref().map(|r| r.status) {
        Some(CimdStatus::Denied) => {
            return Err(CimdRefusal::policy(
                "This application is blocked",
                format!("An administrator of this server has blocked {url}."),
            ));
        }
        Some(CimdStatus::Approved) => {}
        _ if decision == DomainDecision::NeedsApproval => {
            let Some(record) = record else { return Ok(CimdLookup::SignInFirst { url }) };
            return Err(awaiting_approval(state, &record));
        }
        _ => {}
    }
    // A lookup before sign-in that finds nothing is not counted: nothing is loaded, and the
    // signed-in request that follows counts the miss.
    if !signed_in {
        return Ok(match state.cimd.documents.peek(url.as_str()) {
            Some(client) => {
                state.metrics.cimd_document_cache.inc(CacheOutcome::Hit);
                CimdLookup::Ready { client, cache: CacheOutcome::Hit }
            }
            None => CimdLookup::SignInFirst { url },
        });
    }
    let (result, cache) = state.cimd.documents.get_or_load(url.as_str(), || load(state, &url)).await;
    state.metrics.cimd_document_cache.inc(cache);
    match result {
        Ok(client) => Ok(CimdLookup::Ready { client, cache }),
        Err(failure) => match &*failure {
            DocumentFailure::Store(error) => {
                tracing::error!(%error, "store failure while loading a metadata document");
                Err(CimdRefusal::internal())
            }
            other => Err(refused(
                StatusCode::BAD_REQUEST,
                "This application could not be verified",
                format!("{other}. The application's developer must fix this before anyone can sign in with it."),
            )),
        },
    }
}

/// The domain policy in force on this node: `[cimd]` merged with the runtime rules (R085).
pub async fn domain_policy(state: &AppState) -> Result<Arc<DomainPolicy>, StoreError> {
    state.cimd.policy.current(&state.settings.cimd.domains, &state.store, state.now()).await
}

fn awaiting_approval(state: &AppState, record: &CimdClientRecord) -> CimdRefusal {
    CimdRefusal::policy(
        "Waiting for administrator approval",
        format!(
            "{} is new to this server, and an administrator must approve it before anyone can sign in with it. \
             Ask your administrator to approve it in the approvals queue of the admin console ({}) or to run: \
             postern clients approve {}",
            record.host,
            crate::routes::console::approvals_url(state),
            record.client_id
        ),
    )
}

/// One fetch of a document (and its logo), validated and recorded. Runs once per URL however
/// many requests wait for it.
async fn load(state: &AppState, url: &ClientIdUrl) -> Result<(MetadataClient, Option<Duration>), DocumentFailure> {
    let settings = &state.settings.cimd;
    let request = FetchRequest::client_metadata(url.as_str()).max_bytes(settings.max_document_bytes);
    let fetched = fetch_audited(state, url.as_str(), request).await?.map_err(|error| {
        state.metrics.cimd_document_fetches.inc(CimdFetch::Failed(error.kind()));
        DocumentFailure::Fetch(error)
    })?;
    let metadata = parse_client_metadata_document(&fetched.body, url).map_err(|error| {
        state.metrics.cimd_document_fetches.inc(CimdFetch::InvalidDocument);
        DocumentFailure::Invalid { url: url.as_str().to_owned(), reason: error.to_string() }
    })?;
    state.metrics.cimd_document_fetches.inc(CimdFetch::Ok);
    let snapshot = ClientSnapshot::from_metadata(&metadata);
    let client = MetadataClient {
        url: url.clone(),
        snapshot_json: snapshot.to_json(),
        fingerprint: snapshot.fingerprint(),
        all_redirects_loopback: metadata.all_redirects_loopback(),
        logo: match &metadata.logo_uri {
            Some(logo_uri) => logo::prefetch(state, url.as_str(), logo_uri).await,
            None => None,
        },
        snapshot,
    };
    record_document(state, &client, &fetched.body).await?;
    // The cached inventory entry predates this document's snapshot.
    state.cimd.lock_inventory().remove(url.as_str());
    Ok((client, lifetime(&fetched.cache_headers(), settings.cache_bounds)))
}

/// Stores the validated document in the inventory; a change is an audit event (R091).
async fn record_document(state: &AppState, client: &MetadataClient, body: &[u8]) -> Result<(), StoreError> {
    let now = state.now();
    let document_hash = TokenHash::of(&String::from_utf8_lossy(body)).as_str().to_owned();
    let change = state
        .store
        .record_cimd_document(
            client.url.as_str(),
            ValidatedDocument {
                client_name: &client.snapshot.client_name,
                document_hash: &document_hash,
                fingerprint: &client.fingerprint,
                snapshot: &client.snapshot_json,
            },
            now,
        )
        .await?;
    if change.changed && !change.first {
        let event = AuditEvent {
            client_id: Some(client.url.as_str().to_owned()),
            detail: serde_json::json!({
                "document_hash": document_hash,
                "security_relevant": change.security_relevant,
                "redirect_uris": client.snapshot.redirect_uris,
                "token_endpoint_auth_method": client.snapshot.token_endpoint_auth_method,
            }),
            ..AuditEvent::new("cimd_document_changed")
        };
        state.store.record_audit(&event, now).await?;
    }
    Ok(())
}

/// Fetches through the one outbound client and writes the fetch to the audit log, whatever
/// its outcome (R072). The outer error is the store's; the inner one the fetch's.
pub async fn fetch_audited(
    state: &AppState,
    client_id: &str,
    request: FetchRequest<'_>,
) -> Result<Result<Fetched, FetchError>, StoreError> {
    let (result, report) = state.fetcher.fetch(request).await;
    let event = AuditEvent {
        client_id: Some(client_id.to_owned()),
        detail: report_detail(&report),
        ..AuditEvent::new("outbound_fetch")
    };
    if let Err(error) = &result {
        tracing::info!(client_id, url = %report.url, outcome = %report.outcome, %error, "outbound fetch failed");
    }
    state.store.record_audit(&event, state.now()).await?;
    Ok(result)
}

fn report_detail(report: &FetchReport) -> serde_json::Value {
    serde_json::json!({
        "url": report.url,
        "what": report.what.to_string(),
        "resolved": report.resolved.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "peer": report.peer.map(|p| p.to_string()),
        "status": report.status,
        "bytes": report.bytes,
        "duration_ms": u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        "outcome": report.outcome.to_string(),
        "cache": "miss",
    })
}

/// A metadata-document client at the token, revocation and introspection endpoints: the
/// document last validated at /authorize (`pinned`: the one pinned to the code being
/// redeemed), as long as the domain policy and the inventory still allow the client. These
/// endpoints never fetch a document (DESIGN §4).
pub async fn known_client(
    state: &AppState,
    client_id: &str,
    pinned: Option<&str>,
) -> Result<Option<postern_store::ClientRecord>, StoreError> {
    let Ok(url) = ClientIdUrl::parse(client_id, state.settings.cimd.allow_query) else { return Ok(None) };
    if !state.settings.cimd.enabled {
        return Ok(None);
    }
    let decision = domain_policy(state).await?.decide(url.host());
    if decision == DomainDecision::Deny {
        return Ok(None);
    }
    let Some(record) = read_inventory(state, &url).await? else { return Ok(None) };
    let allowed = match record.status {
        CimdStatus::Approved => true,
        CimdStatus::Allowed => decision == DomainDecision::Allow,
        CimdStatus::Pending | CimdStatus::Denied => false,
    };
    let Some(snapshot) = pinned.or(record.snapshot.as_deref()).filter(|_| allowed) else { return Ok(None) };
    let snapshot = ClientSnapshot::from_json(snapshot).map_err(StoreError::Corrupt)?;
    Ok((snapshot.client_id == client_id).then(|| snapshot.to_record()))
}

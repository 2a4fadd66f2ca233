use crate::{Result, Store, StoreError, on_backend};

/// Where a CIMD client stands with this server's operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CimdStatus {
    /// Allowed by domain policy; no decision was needed.
    Allowed,
    /// Waiting for an administrator (`unknown_domains = "approval"`).
    Pending,
    Approved,
    Denied,
}

impl CimdStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    fn parse(raw: &str) -> Result<Self> {
        match raw {
            "allowed" => Ok(Self::Allowed),
            "pending" => Ok(Self::Pending),
            "approved" => Ok(Self::Approved),
            "denied" => Ok(Self::Denied),
            other => Err(StoreError::Corrupt(format!("unknown CIMD client status '{other}'"))),
        }
    }
}

/// One entry of the CIMD client inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimdClientRecord {
    pub client_id: String,
    pub host: String,
    pub status: CimdStatus,
    pub client_name: Option<String>,
    pub document_hash: Option<String>,
    pub first_seen: i64,
    pub last_seen: i64,
    pub last_changed: Option<i64>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    /// The client as validated from the last valid document (JSON written by the server).
    pub snapshot: Option<String>,
    /// Hash of the document's security-relevant members (redirect URIs, auth method, keys).
    pub fingerprint: Option<String>,
}

/// A freshly validated document, for [`Store::record_cimd_document`].
#[derive(Debug, Clone, Copy)]
pub struct ValidatedDocument<'a> {
    pub client_name: &'a str,
    pub document_hash: &'a str,
    pub fingerprint: &'a str,
    pub snapshot: &'a str,
}

/// How a validated document compares with the one recorded before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentChange {
    /// No document was recorded for this client before.
    pub first: bool,
    /// The bytes differ from the last recorded document (also true for the first).
    pub changed: bool,
    /// Redirect URIs, auth method or keys differ from the last recorded document (false for
    /// the first): an audit event, and users are asked for consent again.
    pub security_relevant: bool,
}

#[derive(sqlx::FromRow)]
struct CimdClientRow {
    client_id: String,
    host: String,
    status: String,
    client_name: Option<String>,
    document_hash: Option<String>,
    first_seen: i64,
    last_seen: i64,
    last_changed: Option<i64>,
    decided_by: Option<String>,
    decided_at: Option<i64>,
    snapshot: Option<String>,
    fingerprint: Option<String>,
}

impl TryFrom<CimdClientRow> for CimdClientRecord {
    type Error = StoreError;
    fn try_from(row: CimdClientRow) -> Result<Self> {
        Ok(Self {
            status: CimdStatus::parse(&row.status)?,
            client_id: row.client_id,
            host: row.host,
            client_name: row.client_name,
            document_hash: row.document_hash,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            last_changed: row.last_changed,
            decided_by: row.decided_by,
            decided_at: row.decided_at,
            snapshot: row.snapshot,
            fingerprint: row.fingerprint,
        })
    }
}

macro_rules! select_cimd_clients {
    ($tail:literal) => {
        concat!(
            "SELECT client_id, host, status, client_name, document_hash, first_seen, last_seen, last_changed, decided_by, decided_at, snapshot, fingerprint FROM cimd_clients ",
            $tail
        )
    };
}

impl Store {
    pub async fn find_cimd_client(&self, client_id: &str) -> Result<Option<CimdClientRecord>> {
        let row =
            on_backend!(self, |pool| sqlx::query_as::<_, CimdClientRow>(select_cimd_clients!("WHERE client_id = $1"))
                .bind(client_id)
                .fetch_optional(pool)
                .await)?;
        row.map(CimdClientRecord::try_from).transpose()
    }

    pub async fn list_cimd_clients(&self) -> Result<Vec<CimdClientRecord>> {
        let rows = on_backend!(self, |pool| sqlx::query_as::<_, CimdClientRow>(select_cimd_clients!(
            "ORDER BY first_seen, client_id"
        ))
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(CimdClientRecord::try_from).collect()
    }

    /// Records that a CIMD client was seen. A new client starts with `initial_status`; a known
    /// one keeps its status (an administrator's decision is never overwritten here).
    pub async fn record_cimd_client_seen(
        &self,
        client_id: &str,
        host: &str,
        initial_status: CimdStatus,
        now: i64,
    ) -> Result<CimdClientRecord> {
        on_backend!(self, |pool| sqlx::query(
            "INSERT INTO cimd_clients (client_id, host, status, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (client_id) DO UPDATE SET last_seen = excluded.last_seen"
        )
        .bind(client_id)
        .bind(host)
        .bind(initial_status.as_str())
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ()))?;
        self.find_cimd_client(client_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("CIMD client {client_id} vanished after upsert")))
    }

    /// Stores a freshly validated document (name, hashes and the snapshot the token endpoint
    /// uses), adds it to the client's document history when it is new, and says how it differs
    /// from the one recorded before. Two nodes recording the same
    /// change at once may both report it: the audit log then holds it twice, nothing worse.
    pub async fn record_cimd_document(
        &self,
        client_id: &str,
        document: ValidatedDocument<'_>,
        now: i64,
    ) -> Result<DocumentChange> {
        let previous: Option<(Option<String>, Option<String>)> = on_backend!(self, |pool| sqlx::query_as(
            "SELECT document_hash, fingerprint FROM cimd_clients WHERE client_id = $1"
        )
        .bind(client_id)
        .fetch_optional(pool)
        .await)?;
        let Some((previous_hash, previous_fingerprint)) = previous else {
            return Err(StoreError::Corrupt(format!("CIMD client {client_id} must be recorded as seen first")));
        };
        let change = DocumentChange {
            first: previous_hash.is_none(),
            changed: previous_hash.as_deref() != Some(document.document_hash),
            security_relevant: previous_fingerprint.as_deref().is_some_and(|f| f != document.fingerprint),
        };
        if change.changed || previous_fingerprint.as_deref() != Some(document.fingerprint) {
            on_backend!(self, |pool| {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "UPDATE cimd_clients SET client_name = $2, document_hash = $3, fingerprint = $4, snapshot = $5,
                     last_changed = $6 WHERE client_id = $1",
                )
                .bind(client_id)
                .bind(document.client_name)
                .bind(document.document_hash)
                .bind(document.fingerprint)
                .bind(document.snapshot)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                // The inventory's change history: every distinct document, the newest kept.
                sqlx::query(
                    "INSERT INTO cimd_document_history (client_id, fetched_at, document_hash, fingerprint, snapshot)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(client_id)
                .bind(now)
                .bind(document.document_hash)
                .bind(document.fingerprint)
                .bind(document.snapshot)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "DELETE FROM cimd_document_history WHERE client_id = $1 AND id < (SELECT MIN(id) FROM
                     (SELECT id FROM cimd_document_history WHERE client_id = $1 ORDER BY id DESC LIMIT $2) AS kept)",
                )
                .bind(client_id)
                .bind(crate::client_detail::DOCUMENT_HISTORY_KEPT)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(change)
    }

    /// An administrator's decision. Returns false when the client is unknown.
    pub async fn decide_cimd_client(&self, client_id: &str, status: CimdStatus, by: &str, now: i64) -> Result<bool> {
        let updated = on_backend!(self, |pool| sqlx::query(
            "UPDATE cimd_clients SET status = $2, decided_by = $3, decided_at = $4 WHERE client_id = $1"
        )
        .bind(client_id)
        .bind(status.as_str())
        .bind(by)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// R142: remembers a client assertion's `jti` until it expires. Returns false when the same
    /// client already used it (a replay).
    pub async fn remember_client_assertion(&self, client_id: &str, jti: &str, expires_at: i64) -> Result<bool> {
        let inserted = on_backend!(self, |pool| {
            sqlx::query(
            "INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(inserted == 1)
    }
}

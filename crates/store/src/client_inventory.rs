//! One inventory of every client Postern knows, whatever made it known: pre-registered
//! (`clients`, source `config` or `cli`), self-registered (`clients`, source `dcr`) and
//! metadata-document clients (`cimd_clients`). Filtered, sorted and paged in SQL (keyset
//! pagination), so a page costs the same however large the inventory grows.

use crate::{Result, Store, StoreError, from_json_list, on_backend};

/// How a client came to be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientKind {
    /// From the configuration file or `postern clients add`.
    Preregistered,
    /// Registered itself through `POST /register`.
    Dcr,
    /// Identified by the URL of its Client ID Metadata Document.
    MetadataDocument,
}

impl ClientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preregistered => "preregistered",
            Self::Dcr => "dcr",
            Self::MetadataDocument => "metadata_document",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Preregistered, Self::Dcr, Self::MetadataDocument].into_iter().find(|k| k.as_str() == raw)
    }
}

/// A client's standing, the same words for every kind: `blocked` is a registered client's
/// `denied` status or a metadata-document client's `denied` decision; `expired` is a
/// registered client whose secret has expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventoryStatus {
    Active,
    Pending,
    Blocked,
    Expired,
}

impl InventoryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Blocked => "blocked",
            Self::Expired => "expired",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Active, Self::Pending, Self::Blocked, Self::Expired].into_iter().find(|s| s.as_str() == raw)
    }
}

/// Clients of one owning domain: exactly `Host`, or every subdomain of a suffix (`*.suffix`,
/// which does not match the suffix itself, as in the domain policy). Both are lowercase host
/// names: the caller parses them as domain patterns, so they hold no LIKE wildcard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainFilter<'a> {
    Host(&'a str),
    Subdomains(&'a str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventorySort {
    ClientId,
    LastSeen,
    FirstSeen,
}

/// Where a page ended: the sort key of its last item (0 when sorting by client_id) and its
/// client_id, which breaks ties. The next page starts after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPosition {
    pub key: i64,
    pub client_id: String,
}

#[derive(Debug, Clone, Copy)]
pub struct InventoryQuery<'a> {
    pub kind: Option<ClientKind>,
    pub status: Option<InventoryStatus>,
    pub domain: Option<DomainFilter<'a>>,
    /// A case-insensitive (ASCII) substring of the client_id or the client name.
    pub text: Option<&'a str>,
    pub sort: InventorySort,
    pub descending: bool,
    pub after: Option<&'a InventoryPosition>,
    pub limit: i64,
    /// For `expired`: a secret expiring at or before `now` has expired.
    pub now: i64,
}

impl InventoryQuery<'_> {
    /// Every client, in client_id order: narrow it with struct update syntax.
    pub fn all(now: i64, limit: i64) -> Self {
        Self {
            kind: None,
            status: None,
            domain: None,
            text: None,
            sort: InventorySort::ClientId,
            descending: false,
            after: None,
            limit,
            now,
        }
    }
}

/// One client of the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryItem {
    pub client_id: String,
    pub kind: ClientKind,
    /// `config`, `cli`, `dcr` or `metadata_document`.
    pub source: String,
    /// The address a self-registered client registered from.
    pub registered_ip: Option<String>,
    /// A metadata-document client's host; for others the host of the first https redirect URI.
    pub owning_domain: Option<String>,
    /// `None` for a metadata-document client before its first valid document.
    pub client_name: Option<String>,
    /// A registered client's redirect URIs (a metadata-document client's are in `snapshot`).
    pub redirect_uris: Vec<String>,
    /// A registered client's method (a metadata-document client's is in `snapshot`).
    pub token_endpoint_auth_method: Option<String>,
    /// A metadata-document client as last validated (JSON written by the server).
    pub snapshot: Option<String>,
    pub status: InventoryStatus,
    /// The status as stored: `active|pending|denied` or `allowed|pending|approved|denied`.
    pub stored_status: String,
    /// A registered client's `created_at`; a metadata-document client's first sighting.
    pub first_seen: i64,
    /// A registered client's latest grant or refresh token (its creation when unused); a
    /// metadata-document client's latest authorization request.
    pub last_seen: i64,
    /// Grants not revoked.
    pub live_grants: i64,
}

#[derive(sqlx::FromRow)]
struct InventoryRow {
    client_id: String,
    kind: String,
    source: String,
    registered_ip: Option<String>,
    owning_domain: Option<String>,
    client_name: Option<String>,
    redirect_uris: Option<String>,
    token_endpoint_auth_method: Option<String>,
    snapshot: Option<String>,
    status: String,
    stored_status: String,
    first_seen: i64,
    last_seen: i64,
    live_grants: i64,
}

impl TryFrom<InventoryRow> for InventoryItem {
    type Error = StoreError;
    fn try_from(row: InventoryRow) -> Result<Self> {
        let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("inventory: unknown {what} '{value}'"));
        Ok(Self {
            kind: ClientKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?,
            status: InventoryStatus::parse(&row.status).ok_or_else(|| corrupt("status", &row.status))?,
            redirect_uris: row.redirect_uris.as_deref().map(from_json_list).transpose()?.unwrap_or_default(),
            client_id: row.client_id,
            source: row.source,
            registered_ip: row.registered_ip,
            owning_domain: row.owning_domain,
            client_name: row.client_name,
            token_endpoint_auth_method: row.token_endpoint_auth_method,
            snapshot: row.snapshot,
            stored_status: row.stored_status,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            live_grants: row.live_grants,
        })
    }
}

/// The host of a registered client's first https redirect URI, lowercased, with any port
/// removed (IPv6 literals keep their brackets), or NULL. JSON and string functions differ
/// between the backends, so this one expression is written for each; both are tested
/// against the same cases in the store suite.
const SQLITE_OWNING_DOMAIN: &str =
    "(SELECT lower(CASE WHEN substr(auth, 1, 1) = '[' THEN substr(auth, 1, instr(auth, ']'))
                   WHEN instr(auth, ':') > 0 THEN substr(auth, 1, instr(auth, ':') - 1)
                   ELSE auth END)
       FROM (SELECT substr(rest, 1, min(instr(rest || '/', '/'), instr(rest || '?', '?')) - 1) AS auth
             FROM (SELECT substr(j.value, 9) AS rest FROM json_each(c.redirect_uris) AS j
                   WHERE lower(substr(j.value, 1, 8)) = 'https://' ORDER BY j.key LIMIT 1)))";
const POSTGRES_OWNING_DOMAIN: &str = "(SELECT lower(substring(u.value from '^[^:]+://(\\[[^]]*\\]|[^:/?]*)'))
       FROM jsonb_array_elements_text(c.redirect_uris::jsonb) WITH ORDINALITY AS u(value, n)
       WHERE lower(left(u.value, 8)) = 'https://' ORDER BY u.n LIMIT 1)";

/// The inventory as one relation. `$1` is now (for expired secrets). A registered client's
/// last activity uses the indexes on grants(client_id) and refresh_tokens(client_id,
/// issued_at), so it is two index lookups per client.
fn inventory_cte(owning_domain: &str) -> String {
    format!(
        "WITH inventory AS (
    SELECT client_id, kind, source, registered_ip, owning_domain, client_name, redirect_uris,
           token_endpoint_auth_method, snapshot, status, stored_status, first_seen,
           CASE WHEN COALESCE(latest_grant, first_seen) >= COALESCE(latest_refresh, first_seen)
                     AND COALESCE(latest_grant, first_seen) >= first_seen THEN COALESCE(latest_grant, first_seen)
                WHEN COALESCE(latest_refresh, first_seen) >= first_seen THEN COALESCE(latest_refresh, first_seen)
                ELSE first_seen END AS last_seen
    FROM (SELECT c.client_id,
                 CASE WHEN c.source = 'dcr' THEN 'dcr' ELSE 'preregistered' END AS kind,
                 c.source, r.registered_ip, {owning_domain} AS owning_domain,
                 c.client_name, c.redirect_uris, c.token_endpoint_auth_method, CAST(NULL AS TEXT) AS snapshot,
                 CASE WHEN c.status = 'denied' THEN 'blocked'
                      WHEN c.status = 'pending' THEN 'pending'
                      WHEN c.secret_expires_at IS NOT NULL AND c.secret_expires_at <= $1 THEN 'expired'
                      ELSE 'active' END AS status,
                 c.status AS stored_status, c.created_at AS first_seen,
                 (SELECT MAX(g.created_at) FROM grants g WHERE g.client_id = c.client_id) AS latest_grant,
                 (SELECT MAX(t.issued_at) FROM refresh_tokens t WHERE t.client_id = c.client_id) AS latest_refresh
          FROM clients c LEFT JOIN dcr_registrations r ON r.client_id = c.client_id) AS registered
    UNION ALL
    SELECT m.client_id, 'metadata_document', 'metadata_document', CAST(NULL AS TEXT), m.host, m.client_name,
           CAST(NULL AS TEXT), CAST(NULL AS TEXT), m.snapshot,
           CASE m.status WHEN 'denied' THEN 'blocked' WHEN 'pending' THEN 'pending' ELSE 'active' END,
           m.status, m.first_seen, m.last_seen
    FROM cimd_clients m
)"
    )
}

/// `LIKE` pattern for a substring, with the pattern characters escaped (escape character `\`).
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    fn owning_domain_expression(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => SQLITE_OWNING_DOMAIN,
            Self::Postgres(_) => POSTGRES_OWNING_DOMAIN,
        }
    }

    /// One page of the inventory (at most `query.limit` items), in the requested order, after
    /// `query.after`.
    pub async fn list_inventory(&self, query: &InventoryQuery<'_>) -> Result<Vec<InventoryItem>> {
        self.inventory_page(query, None).await
    }

    /// One client of any kind, as the inventory shows it.
    pub async fn find_inventory_item(&self, client_id: &str, now: i64) -> Result<Option<InventoryItem>> {
        Ok(self.inventory_page(&InventoryQuery::all(now, 1), Some(client_id)).await?.into_iter().next())
    }

    async fn inventory_page(&self, query: &InventoryQuery<'_>, client_id: Option<&str>) -> Result<Vec<InventoryItem>> {
        // Only these fixed fragments are spliced into the SQL; every value is a bind parameter.
        let key = match query.sort {
            InventorySort::ClientId => "0",
            InventorySort::LastSeen => "last_seen",
            InventorySort::FirstSeen => "first_seen",
        };
        let (after, order) =
            if query.descending { ("<", "sort_key DESC, client_id DESC") } else { (">", "sort_key, client_id") };
        let sql = format!(
            "{cte}
SELECT page.*, (SELECT COUNT(*) FROM grants g WHERE g.client_id = page.client_id AND g.revoked_at IS NULL) AS live_grants
FROM (SELECT * FROM (SELECT inventory.*, {key} AS sort_key FROM inventory) AS keyed
      WHERE ($2 IS NULL OR client_id = $2)
        AND ($3 IS NULL OR kind = $3)
        AND ($4 IS NULL OR status = $4)
        AND ($5 IS NULL OR owning_domain = $5)
        AND ($6 IS NULL OR owning_domain LIKE $6)
        AND ($7 IS NULL OR lower(client_id) LIKE $7 ESCAPE '\\' OR lower(COALESCE(client_name, '')) LIKE $7 ESCAPE '\\')
        AND ($9 IS NULL OR sort_key {after} $8 OR (sort_key = $8 AND client_id {after} $9))
      ORDER BY {order} LIMIT $10) AS page
ORDER BY {order}",
            cte = inventory_cte(self.owning_domain_expression()),
        );
        let (host, subdomains) = match query.domain {
            Some(DomainFilter::Host(host)) => (Some(host.to_owned()), None),
            Some(DomainFilter::Subdomains(suffix)) => (None, Some(format!("%.{suffix}"))),
            None => (None, None),
        };
        // Audited: `sql` is built above from fixed fragments only (sort column, direction and
        // the backend's owning-domain expression); every caller-supplied value is bound.
        let rows = on_backend!(self, |pool| sqlx::query_as::<_, InventoryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(query.now)
            .bind(client_id)
            .bind(query.kind.map(ClientKind::as_str))
            .bind(query.status.map(InventoryStatus::as_str))
            .bind(&host)
            .bind(&subdomains)
            .bind(query.text.map(contains_pattern))
            .bind(query.after.map_or(0, |a| a.key))
            .bind(query.after.map(|a| a.client_id.as_str()))
            .bind(query.limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(InventoryItem::try_from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_patterns_escape_like_wildcards() {
        assert_eq!(contains_pattern("Agent"), "%agent%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    #[test]
    fn kinds_and_statuses_round_trip() {
        for kind in [ClientKind::Preregistered, ClientKind::Dcr, ClientKind::MetadataDocument] {
            assert_eq!(ClientKind::parse(kind.as_str()), Some(kind));
        }
        for status in
            [InventoryStatus::Active, InventoryStatus::Pending, InventoryStatus::Blocked, InventoryStatus::Expired]
        {
            assert_eq!(InventoryStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(ClientKind::parse("cimd"), None);
        assert_eq!(InventoryStatus::parse("denied"), None);
    }
}

//! The query string of `GET /admin/api/v1/clients`: filters, sort, page size and cursor, each
//! bounded and checked, every error naming the parameter at fault. Unknown and repeated
//! parameters are errors, so a mistyped filter never silently widens a listing. An empty value
//! counts as absent (as an HTML form sends an unused field).

use super::error::AdminError;
use crate::params::{Params, clip};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use postern_core::domain_policy::DomainPattern;
use postern_store::{ClientKind, DomainFilter, InventoryPosition, InventorySort, InventoryStatus};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;
/// Longest `q`: a substring of a client_id or name, not a document.
pub const MAX_TEXT_CHARS: usize = 200;
/// A cursor holds a client_id (at most 2,048 characters as a URL) plus a little; base64 grows it.
pub(crate) const MAX_CURSOR_CHARS: usize = 3000;
const CURSOR_PREFIX: &str = "inventory.v1.";
pub const PARAMETERS: &[&str] = &["kind", "status", "domain", "q", "sort", "order", "limit", "cursor"];

/// A validated listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryParams {
    pub kind: Option<ClientKind>,
    pub status: Option<InventoryStatus>,
    /// A host or `*.suffix` pattern, as in the domain policy.
    pub domain: Option<DomainPattern>,
    pub text: Option<String>,
    pub sort: InventorySort,
    pub descending: bool,
    pub limit: i64,
    pub after: Option<InventoryPosition>,
}

impl InventoryParams {
    pub fn domain_filter(&self) -> Option<DomainFilter<'_>> {
        self.domain.as_ref().map(|pattern| match pattern.wildcard_suffix() {
            Some(suffix) => DomainFilter::Subdomains(suffix),
            None => DomainFilter::Host(pattern.as_str()),
        })
    }

    /// The cursor that continues after `last` in this request's order.
    pub fn cursor_after(&self, key: i64, client_id: &str) -> String {
        let key = if self.sort == InventorySort::ClientId { 0 } else { key };
        URL_SAFE_NO_PAD.encode(format!(
            "{CURSOR_PREFIX}{}.{}.{key}.{client_id}",
            sort_name(self.sort),
            order_name(self.descending)
        ))
    }
}

pub fn sort_name(sort: InventorySort) -> &'static str {
    match sort {
        InventorySort::ClientId => "client_id",
        InventorySort::LastSeen => "last_seen",
        InventorySort::FirstSeen => "first_seen",
    }
}

fn order_name(descending: bool) -> &'static str {
    if descending { "desc" } else { "asc" }
}

/// Parses the raw query string of a listing request.
pub fn parse(raw: Option<&str>) -> Result<InventoryParams, AdminError> {
    let params = Params::parse(raw.unwrap_or_default().as_bytes()).map_err(AdminError::bad_request)?;
    if let Some(unknown) = params.names().find(|name| !PARAMETERS.contains(name)) {
        return Err(AdminError::bad_request(format!(
            "unknown parameter '{}'; this endpoint takes {}",
            clip(unknown, 40),
            PARAMETERS.join(", ")
        )));
    }
    for name in PARAMETERS {
        params.single(name).map_err(AdminError::bad_request)?;
    }
    let one_of =
        |name: &str, allowed: &[&str]| AdminError::bad_request(format!("{name} must be one of {}", allowed.join(", ")));
    let kind = params
        .get("kind")
        .map(|raw| ClientKind::parse(raw).ok_or_else(|| one_of("kind", &["preregistered", "dcr", "metadata_document"])))
        .transpose()?;
    let status = params
        .get("status")
        .map(|raw| {
            InventoryStatus::parse(raw).ok_or_else(|| one_of("status", &["active", "pending", "blocked", "expired"]))
        })
        .transpose()?;
    let domain = params
        .get("domain")
        .map(|raw| {
            DomainPattern::parse(raw).map_err(|e| {
                AdminError::bad_request(format!(
                    "domain must be a host name or *.suffix pattern: {}",
                    clip(&e.to_string(), 300)
                ))
            })
        })
        .transpose()?;
    let text = params
        .get("q")
        .map(|raw| {
            if raw.chars().count() > MAX_TEXT_CHARS || raw.chars().any(char::is_control) {
                Err(AdminError::bad_request(format!(
                    "q must be at most {MAX_TEXT_CHARS} characters without control characters"
                )))
            } else {
                Ok(raw.to_owned())
            }
        })
        .transpose()?;
    let sort = match params.get("sort") {
        None => InventorySort::LastSeen,
        Some("client_id") => InventorySort::ClientId,
        Some("last_seen") => InventorySort::LastSeen,
        Some("first_seen") => InventorySort::FirstSeen,
        Some(_) => return Err(one_of("sort", &["client_id", "last_seen", "first_seen"])),
    };
    let descending = match params.get("order") {
        // Newest activity first, but client_ids alphabetically.
        None => sort != InventorySort::ClientId,
        Some("asc") => false,
        Some("desc") => true,
        Some(_) => return Err(one_of("order", &["asc", "desc"])),
    };
    let limit =
        match params.get("limit") {
            None => DEFAULT_LIMIT,
            Some(raw) => raw.parse::<i64>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
                AdminError::bad_request(format!("limit must be a whole number from 1 to {MAX_LIMIT}"))
            })?,
        };
    let after = params.get("cursor").map(|raw| decode_cursor(raw, sort, descending)).transpose()?;
    Ok(InventoryParams { kind, status, domain, text, sort, descending, limit, after })
}

fn decode_cursor(raw: &str, sort: InventorySort, descending: bool) -> Result<InventoryPosition, AdminError> {
    let refused = || AdminError::bad_request("cursor is not a cursor this API returned; start again without it");
    if raw.chars().count() > MAX_CURSOR_CHARS {
        return Err(refused());
    }
    let text = URL_SAFE_NO_PAD.decode(raw).ok().and_then(|bytes| String::from_utf8(bytes).ok()).ok_or_else(refused)?;
    let mut parts = text.strip_prefix(CURSOR_PREFIX).ok_or_else(refused)?.splitn(4, '.');
    let (Some(cursor_sort), Some(cursor_order), Some(key), Some(client_id)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(refused());
    };
    let key = key.parse::<i64>().map_err(|_| refused())?;
    if client_id.is_empty() || client_id.contains('\0') {
        return Err(refused());
    }
    if cursor_sort != sort_name(sort) || cursor_order != order_name(descending) {
        return Err(AdminError::bad_request(format!(
            "cursor continues a listing with sort={cursor_sort}&order={cursor_order}; repeat those parameters \
             or start again without a cursor"
        )));
    }
    Ok(InventoryPosition { key, client_id: client_id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(query: &str) -> String {
        parse(Some(query)).expect_err(query).description
    }

    #[test]
    fn defaults_are_the_most_recently_active_first_fifty() {
        let params = parse(None).unwrap();
        assert_eq!((params.sort, params.descending, params.limit), (InventorySort::LastSeen, true, 50));
        let params = parse(Some("sort=client_id&kind=&q=")).unwrap();
        assert_eq!(
            (params.sort, params.descending, params.kind, params.text),
            (InventorySort::ClientId, false, None, None)
        );
    }

    #[test]
    fn cursors_round_trip_only_with_the_sort_they_were_made_for() {
        let params = parse(Some("sort=first_seen&order=asc")).unwrap();
        let cursor = params.cursor_after(1234, "https://app.example.com/c.json?v=1.2");
        let next = parse(Some(&format!("sort=first_seen&order=asc&cursor={cursor}"))).unwrap();
        assert_eq!(
            next.after,
            Some(InventoryPosition { key: 1234, client_id: "https://app.example.com/c.json?v=1.2".into() })
        );
        assert!(error_of(&format!("sort=first_seen&order=desc&cursor={cursor}")).contains("sort=first_seen&order=asc"));
    }

    #[test]
    fn each_hostile_parameter_is_named_in_its_error() {
        let long_cursor = "A".repeat(MAX_CURSOR_CHARS + 1);
        let forged = URL_SAFE_NO_PAD.encode("inventory.v1.last_seen.desc.notanumber.x");
        let long_q = format!("q={}", "a".repeat(MAX_TEXT_CHARS + 1));
        for (query, named) in [
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=99999999999999999999999", "limit"),
            ("limit=ten", "limit"),
            ("kind=cimd", "kind"),
            ("status=denied", "status"),
            ("domain=Not%20A%20Host", "domain"),
            ("domain=*.", "domain"),
            (long_q.as_str(), "q"),
            ("q=a%0Ab", "q"),
            ("sort=name", "sort"),
            ("order=up", "order"),
            ("cursor=!!!", "cursor"),
            (&format!("cursor={long_cursor}"), "cursor"),
            (&format!("cursor={forged}"), "cursor"),
            ("kind=dcr&kind=dcr", "kind"),
            ("page=2", "page"),
        ] {
            let error = error_of(query);
            assert!(error.starts_with(named) || error.contains(&format!("'{named}'")), "{query}: {error}");
        }
    }

    #[test]
    fn domain_filters_are_exact_hosts_or_subdomains() {
        let params = parse(Some("domain=*.example.com")).unwrap();
        assert_eq!(params.domain_filter(), Some(DomainFilter::Subdomains("example.com")));
        let params = parse(Some("domain=app.example.com")).unwrap();
        assert_eq!(params.domain_filter(), Some(DomainFilter::Host("app.example.com")));
    }
}

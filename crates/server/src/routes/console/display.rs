//! How the console writes values for people: times in UTC, statuses as words with a style
//! class, stored JSON indented, identifiers as URL path segments.

use postern_core::timestamp::rfc3339;
use postern_store::InventoryStatus;

/// A Unix time as the console shows it: `2026-11-21 09:30:00 UTC`.
pub fn time(unix: i64) -> String {
    rfc3339(unix).replacen('T', " ", 1).replacen('Z', " UTC", 1)
}

pub fn optional_time(unix: Option<i64>) -> String {
    unix.map_or_else(|| "never".to_owned(), time)
}

/// The CSS class of a status badge (the stylesheet colours these and nothing else).
pub fn status_class(status: InventoryStatus) -> &'static str {
    match status {
        InventoryStatus::Active => "badge ok",
        InventoryStatus::Pending => "badge wait",
        InventoryStatus::Blocked | InventoryStatus::Expired => "badge bad",
    }
}

/// What each kind of client is called on the pages.
pub fn kind_label(kind: postern_store::ClientKind) -> &'static str {
    match kind {
        postern_store::ClientKind::Preregistered => "pre-registered",
        postern_store::ClientKind::Dcr => "self-registered (DCR)",
        postern_store::ClientKind::MetadataDocument => "metadata document (CIMD)",
    }
}

/// JSON the server stored, indented for a `<pre>`; text that does not parse is shown as it is.
pub fn pretty_json(raw: &str) -> String {
    serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| raw.to_owned())
}

/// The first characters of a hash: enough to tell documents apart on a page.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// `n thing` / `n things`.
pub fn count(n: i64, one: &str, many: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// Percent-encodes an identifier as one URL path segment: everything but RFC 3986's unreserved
/// characters, so a client_id URL's `/`, `?` and `#` stay inside the segment.
pub fn path_segment(raw: &str) -> String {
    let mut encoded = String::with_capacity(raw.len() * 3);
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_become_one_path_segment() {
        assert_eq!(path_segment("public-client"), "public-client");
        assert_eq!(
            path_segment("https://app.example.com/c.json?v=1#x y"),
            "https%3A%2F%2Fapp.example.com%2Fc.json%3Fv%3D1%23x%20y"
        );
        assert_eq!(path_segment("é"), "%C3%A9");
    }

    #[test]
    fn times_are_utc_and_say_so() {
        assert_eq!(time(1_795_219_200 + 3_661), "2026-11-21 01:01:01 UTC");
        assert_eq!(optional_time(None), "never");
    }
}

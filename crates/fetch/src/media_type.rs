//! Which responses are acceptable by media type and content coding (SPEC R070, R072, R075).

use crate::{DocumentKind, FetchError};

/// What the caller will accept, sent as the `Accept` header and enforced on the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// `application/json` or any `application/<x>+json` (SPEC R075).
    Json,
    /// `image/png`, `image/jpeg`, `image/gif` or `image/webp`. Never SVG: it is a document that
    /// can carry script and external references, not a picture Postern could serve safely.
    Image,
}

const IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

impl Accept {
    pub(crate) fn header_value(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Image => "image/png, image/jpeg, image/gif, image/webp",
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Self::Json => "application/json or application/<type>+json",
            Self::Image => "image/png, image/jpeg, image/gif or image/webp",
        }
    }

    /// The response's media type without parameters, lowercased, if acceptable.
    pub(crate) fn check(self, content_type: Option<&str>, what: DocumentKind) -> Result<String, FetchError> {
        let found = content_type.unwrap_or_default();
        let essence = found.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let acceptable = match self {
            Self::Json => {
                essence == "application/json"
                    || essence
                        .strip_prefix("application/")
                        .and_then(|sub| sub.strip_suffix("+json"))
                        .is_some_and(is_token)
            }
            Self::Image => IMAGE_TYPES.contains(&essence.as_str()),
        };
        if acceptable {
            Ok(essence)
        } else {
            let found = if found.is_empty() { "(none)".to_owned() } else { clip(found, 100) };
            Err(FetchError::ContentType { what, found, expected: self.expected() })
        }
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.".contains(&b))
}

/// Nothing is decompressed (reqwest is built without gzip, brotli, deflate or zstd), so a coded
/// body is refused rather than passed on still compressed.
pub(crate) fn check_content_encoding(content_encoding: Option<&str>, what: DocumentKind) -> Result<(), FetchError> {
    match content_encoding.map(str::trim) {
        None => Ok(()),
        Some(coding) if coding.is_empty() || coding.eq_ignore_ascii_case("identity") => Ok(()),
        Some(coding) => Err(FetchError::ContentEncoding { what, encoding: clip(coding, 100) }),
    }
}

/// At most `max` characters of a value a remote server chose, for an error message.
pub(crate) fn clip(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHAT: DocumentKind = DocumentKind::ClientMetadata;

    #[test]
    fn r075_json_and_structured_json_types_are_accepted() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/oauth-client+json",
            "application/vnd.x+json",
        ] {
            assert!(Accept::Json.check(Some(ok), WHAT).is_ok(), "{ok}");
        }
        for bad in ["text/html", "text/json", "application/+json", "application/json5", "application/x json+json", ""] {
            assert!(Accept::Json.check(Some(bad), WHAT).is_err(), "{bad}");
        }
        assert_eq!(
            Accept::Json.check(None, WHAT).unwrap_err().to_string(),
            "client metadata document has content type \"(none)\"; expected application/json or application/<type>+json"
        );
    }

    #[test]
    fn images_are_raster_types_only() {
        for ok in ["image/png", "image/jpeg", "image/gif", "image/webp"] {
            assert_eq!(Accept::Image.check(Some(ok), DocumentKind::Logo).unwrap(), ok);
        }
        for bad in ["image/svg+xml", "image/x-icon", "application/json", "text/html"] {
            assert!(Accept::Image.check(Some(bad), DocumentKind::Logo).is_err(), "{bad}");
        }
    }

    #[test]
    fn r070_only_identity_content_coding() {
        assert!(check_content_encoding(None, WHAT).is_ok());
        assert!(check_content_encoding(Some("identity"), WHAT).is_ok());
        for coded in ["gzip", "br", "deflate", "zstd", "gzip, identity"] {
            assert!(check_content_encoding(Some(coded), WHAT).is_err(), "{coded}");
        }
    }

    #[test]
    fn clip_cuts_on_character_boundaries() {
        assert_eq!(clip("ééé", 2), "éé...");
        assert_eq!(clip("abc", 3), "abc");
    }
}

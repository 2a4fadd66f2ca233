//! Form and query parameters as OAuth reads them: a name sent twice is an error (R110, R135),
//! an empty value counts as absent (R110), and the number of parameters is bounded.

const MAX_PARAMS: usize = 64;
const MAX_VALUE_LEN: usize = 4096;

#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        let mut pairs = Vec::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if pairs.len() == MAX_PARAMS {
                return Err(format!("too many parameters (at most {MAX_PARAMS})"));
            }
            if value.len() > MAX_VALUE_LEN || name.len() > 128 {
                return Err(format!(
                    "parameter '{}' is too long (at most {MAX_VALUE_LEN} characters)",
                    clip(&name, 40)
                ));
            }
            // No OAuth parameter can contain NUL, and PostgreSQL rejects it in text columns:
            // refuse it here so it never reaches a query.
            if name.contains('\0') || value.contains('\0') {
                return Err(format!("parameter '{}' contains a NUL character", clip(&name.replace('\0', ""), 40)));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    /// Like [`Params::parse`], and any repeated name is an error.
    pub fn parse_unique(raw: &[u8]) -> Result<Self, String> {
        let params = Self::parse(raw)?;
        if let Some(name) = params.first_repeated_name() {
            return Err(format!("parameter '{}' was sent more than once", clip(name, 40)));
        }
        Ok(params)
    }

    /// The value of a parameter sent at most once; `Err` names a repeated parameter.
    pub fn single(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self.0.iter().filter(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(format!("parameter '{name}' was sent more than once"));
        }
        Ok(first)
    }

    /// For a parameter already known to be unique.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    /// Every parameter name, repeats included, in the order sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(name, _)| name.as_str())
    }

    fn first_repeated_name(&self) -> Option<&str> {
        self.0.iter().enumerate().find_map(|(i, (name, value))| {
            (!value.is_empty() && self.0[..i].iter().any(|(n, v)| n == name && !v.is_empty())).then_some(name.as_str())
        })
    }
}

/// Is the request body declared as `application/x-www-form-urlencoded` (parameters ignored)?
pub fn is_form_urlencoded(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// The first `max` characters of a client-supplied value, for error descriptions and audit
/// details that must stay bounded.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn r110_empty_value_is_absent_and_repeats_are_errors() {
        let p = Params::parse(b"a=1&b=&c=2&c=3").unwrap();
        assert_eq!(p.single("a").unwrap(), Some("1"));
        assert_eq!(p.single("b").unwrap(), None);
        assert!(p.single("c").unwrap_err().contains("'c'"));
        assert!(Params::parse_unique(b"a=1&a=2").is_err());
        assert!(Params::parse_unique(b"a=1&a=").is_ok());
    }

    #[test]
    fn r135_form_content_type_ignores_parameters_and_case() {
        let with = |value: &str| {
            let mut headers = axum::http::HeaderMap::new();
            headers.insert(axum::http::header::CONTENT_TYPE, value.parse().unwrap());
            is_form_urlencoded(&headers)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(!with("application/json"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(!is_form_urlencoded(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn nul_characters_are_refused() {
        assert!(Params::parse(b"client_id=a%00b").unwrap_err().contains("NUL"));
        assert!(Params::parse(b"a%00=b").is_err());
    }

    #[test]
    fn bounds_count_and_length() {
        let many = (0..65).map(|i| format!("p{i}=1")).collect::<Vec<_>>().join("&");
        assert!(Params::parse(many.as_bytes()).is_err());
        let long = format!("a={}", "x".repeat(4097));
        assert!(Params::parse(long.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Params::parse_unique(&raw);
        }
    }
}

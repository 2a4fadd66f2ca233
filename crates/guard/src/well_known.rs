//! Well-known URLs built from a resource or issuer identifier, byte for byte from the configured
//! string (no URL normalisation, so what clients compare is what was configured).

/// The suffix RFC 9728 §3 registers for Protected Resource Metadata.
pub const PROTECTED_RESOURCE_SUFFIX: &str = "/.well-known/oauth-protected-resource";

/// Splits an absolute URL into `scheme://authority` and the rest (path, query), or `None` when
/// there is no authority.
fn split_origin(url: &str) -> Option<(&str, &str)> {
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    (end > after_scheme).then(|| url.split_at(end))
}

/// The path-inserted PRM URL (R010, RFC 9728 §3.1): the well-known suffix goes between the
/// authority and the path and query of `resource`, after removing a `/` that terminates the
/// URL right after the host.
///
/// ```
/// # use postern_guard::well_known::protected_resource_metadata_url;
/// assert_eq!(
///     protected_resource_metadata_url("https://mcp.example.com/mcp").as_deref(),
///     Some("https://mcp.example.com/.well-known/oauth-protected-resource/mcp"),
/// );
/// ```
pub fn protected_resource_metadata_url(resource: &str) -> Option<String> {
    let (origin, rest) = split_origin(resource)?;
    let rest = match rest.strip_prefix('/') {
        // `https://h/` and `https://h/?q`: the slash right after the host goes.
        Some(after) if after.is_empty() || after.starts_with('?') => after,
        _ => rest,
    };
    Some(format!("{origin}{PROTECTED_RESOURCE_SUFFIX}{rest}"))
}

/// The path-inserted PRM route (without the query, which routing does not see).
pub(crate) fn protected_resource_metadata_path(resource: &str) -> Option<String> {
    let url = protected_resource_metadata_url(resource)?;
    let (_, rest) = split_origin(&url)?;
    Some(rest.split('?').next().unwrap_or(rest).to_owned())
}

/// RFC 8414 §3.1 for an issuer whose path was already trimmed of terminating slashes
/// ([`postern_core::Issuer::path`]): `https://a/t1` -> `https://a/.well-known/oauth-authorization-server/t1`.
pub(crate) fn authorization_server_metadata_urls(issuer: &postern_core::Issuer) -> Vec<String> {
    let Some((origin, _)) = split_origin(issuer.as_str()) else {
        return Vec::new();
    };
    vec![
        format!("{origin}{}", issuer.authorization_server_metadata_path()),
        // Not every authorization server publishes RFC 8414 metadata; OIDC Discovery's form is
        // the issuer with the suffix appended (SPEC §1 step 4).
        format!("{origin}{}", issuer.openid_configuration_path()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r010_prm_url_test_vectors_from_spec_2_21() {
        let cases = [
            ("https://mcp.example.com", "https://mcp.example.com/.well-known/oauth-protected-resource"),
            ("https://mcp.example.com/", "https://mcp.example.com/.well-known/oauth-protected-resource"),
            ("https://mcp.example.com/mcp", "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"),
            (
                "https://mcp.example.com:8443/public/mcp",
                "https://mcp.example.com:8443/.well-known/oauth-protected-resource/public/mcp",
            ),
            ("https://h/mcp?tenant=a", "https://h/.well-known/oauth-protected-resource/mcp?tenant=a"),
        ];
        for (resource, expected) in cases {
            assert_eq!(protected_resource_metadata_url(resource).as_deref(), Some(expected), "{resource}");
        }
    }

    #[test]
    fn r010_only_the_slash_after_the_host_is_removed() {
        // A trailing slash of a longer path is part of the resource (byte-exact, R006).
        assert_eq!(
            protected_resource_metadata_url("https://h/mcp/").as_deref(),
            Some("https://h/.well-known/oauth-protected-resource/mcp/")
        );
        assert_eq!(
            protected_resource_metadata_url("https://h/?x=1").as_deref(),
            Some("https://h/.well-known/oauth-protected-resource?x=1")
        );
    }

    #[test]
    fn prm_route_path_has_no_query() {
        assert_eq!(
            protected_resource_metadata_path("https://h/mcp?tenant=a").as_deref(),
            Some("/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            protected_resource_metadata_path("https://h").as_deref(),
            Some("/.well-known/oauth-protected-resource")
        );
    }

    #[test]
    fn urls_without_an_authority_have_no_well_known_form() {
        assert_eq!(protected_resource_metadata_url("urn:example:mcp"), None);
        assert_eq!(protected_resource_metadata_url("https:///mcp"), None);
    }

    #[test]
    fn r041_as_metadata_is_path_inserted_then_oidc_appended() {
        let issuer = postern_core::Issuer::parse("https://auth.example.com/tenant1").unwrap();
        assert_eq!(
            authorization_server_metadata_urls(&issuer),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        let issuer = postern_core::Issuer::parse("http://127.0.0.1:8414").unwrap();
        assert_eq!(
            authorization_server_metadata_urls(&issuer)[0],
            "http://127.0.0.1:8414/.well-known/oauth-authorization-server"
        );
    }
}

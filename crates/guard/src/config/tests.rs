use super::*;

fn config() -> GuardConfig {
    GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com")
}

#[test]
fn r006_resource_is_kept_byte_for_byte_and_both_prm_paths_are_served() {
    let settings =
        Settings::from_config(&GuardConfig::new("https://MCP.example.com/mcp/", "https://a.example")).unwrap();
    assert_eq!(settings.resource, "https://MCP.example.com/mcp/");
    assert_eq!(settings.metadata_url, "https://MCP.example.com/.well-known/oauth-protected-resource/mcp/");
    assert_eq!(
        settings.metadata_paths,
        ["/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource"]
    );
}

#[test]
fn an_origin_resource_has_one_prm_path() {
    let settings = Settings::from_config(&GuardConfig::new("https://mcp.example.com", "https://a.example")).unwrap();
    assert_eq!(settings.metadata_paths, ["/.well-known/oauth-protected-resource"]);
}

#[test]
fn defaults_pin_es256_and_a_small_leeway() {
    let settings = Settings::from_config(&config()).unwrap();
    assert_eq!(settings.algorithms, [SigningAlgorithm::ES256]);
    assert_eq!(settings.leeway, 30);
    assert_eq!(settings.max_body_bytes, 1024 * 1024);
    assert_eq!(settings.cors, CorsPolicy::AnyOrigin);
    assert_eq!((settings.verified_cache_max_age, settings.verified_cache_entries), (300, 10_000));
}

#[test]
fn rejects_unusable_configurations() {
    let bad = [
        GuardConfig::new("http://mcp.example.com/mcp", "https://auth.example.com"),
        GuardConfig::new("https://mcp.example.com/mcp#f", "https://auth.example.com"),
        GuardConfig::new("urn:mcp", "https://auth.example.com"),
        GuardConfig::new("https://mcp.example.com/m\"cp", "https://auth.example.com"),
        GuardConfig::new("https://mcp.example.com/mcp", "http://auth.example.com"),
        GuardConfig::new("https://mcp.example.com/mcp", "https://auth.example.com/?x"),
        config().with_jwks_uri("http://auth.example.com/jwks"),
        config().with_scopes_supported(["has space"]),
        config().with_policy(ScopePolicy::new().tool("t", ["quote\"d"])),
        config().with_algorithms([]),
        config().with_leeway(Duration::from_secs(301)),
        config().with_key_refetch_cooldown(Duration::ZERO),
        config().with_cors(CorsPolicy::Origins(vec!["https://app.example.com/".into()])),
    ];
    for config in bad {
        assert!(Settings::from_config(&config).is_err(), "{config:?} must be rejected");
    }
}

#[test]
fn loopback_http_is_allowed_for_development() {
    let config = GuardConfig::new("http://127.0.0.1:3000/mcp", "http://127.0.0.1:8414")
        .with_jwks_uri("http://127.0.0.1:8414/jwks.json");
    assert!(Settings::from_config(&config).is_ok());
}

#[test]
fn introspection_mode_is_checked_and_has_short_cache_defaults() {
    let settings = Settings::from_config(&config().with_introspection("mcp-server", "pcs_secret")).unwrap();
    let introspection = settings.introspection.unwrap();
    assert_eq!(introspection.endpoint, None, "read from the AS metadata");
    assert_eq!((introspection.max_age, introspection.negative_max_age), (10, 5));
    assert_eq!(introspection.max_entries, 10_000);
    // A cache age below the negative one caps it.
    let short = config().with_introspection("rs", "s").with_introspection_cache(Duration::from_secs(2), 5);
    assert_eq!(Settings::from_config(&short).unwrap().introspection.unwrap().negative_max_age, 2);
    assert!(Settings::from_config(&config()).unwrap().introspection.is_none());
}

#[test]
fn rejects_unusable_introspection_configurations() {
    let introspecting = || config().with_introspection("mcp-server", "pcs_secret");
    let bad = [
        config().with_introspection_endpoint("https://auth.example.com/introspect"),
        introspecting().with_introspection_endpoint("http://auth.example.com/introspect"),
        introspecting().with_jwks_uri("https://auth.example.com/jwks"),
        introspecting().with_static_jwks("{\"keys\":[]}"),
        introspecting().with_introspection_timeout(Duration::ZERO),
        config().with_introspection("", "pcs_secret"),
        config().with_introspection("mcp-server", ""),
    ];
    for config in bad {
        assert!(Settings::from_config(&config).is_err(), "{config:?} must be rejected");
    }
    let loopback = introspecting().with_introspection_endpoint("http://127.0.0.1:8414/introspect");
    assert!(Settings::from_config(&loopback).is_ok());
}

#[test]
fn r039_the_introspection_secret_is_never_in_debug_output() {
    let config = config().with_introspection("mcp-server", "pcs_do-not-print");
    let guard = crate::Guard::new(config.clone()).unwrap();
    for shown in [format!("{config:?}"), format!("{guard:?}"), format!("{:?}", guard.layer())] {
        assert!(!shown.contains("do-not-print"), "{shown}");
        assert!(shown.contains("mcp-server"), "{shown}");
    }
}

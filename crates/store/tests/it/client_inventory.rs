//! The client inventory: every kind of client in one listing, with provenance, owning domain,
//! normalised status and activity; filters; keyset pagination in every sort order.

use crate::support::{NOW, client, issue_grant, on_both_backends, refresh_token};
use postern_core::RedirectUri;
use postern_store::{
    AuditEvent, CimdStatus, ClientKind, ClientRecord, ClientSource, ClientStatus, DcrRegistration, DomainFilter,
    InventoryItem, InventoryPosition, InventoryQuery, InventorySort, InventoryStatus, Store,
};

on_both_backends!(
    every_kind_of_client_is_listed_once_with_its_provenance,
    the_owning_domain_is_the_host_of_the_first_https_redirect_uri_as_the_url_parser_reads_it,
    statuses_are_normalised_across_kinds,
    filters_narrow_by_kind_status_domain_and_text,
    last_seen_is_the_latest_grant_or_refresh_and_live_grants_are_counted,
    pages_cover_every_client_once_in_each_sort_order,
    one_client_is_found_by_its_id,
);

const CIMD: &str = "https://agent.example.org/client.json";

fn registered(client_id: &str, source: ClientSource, redirect_uris: &[&str]) -> ClientRecord {
    ClientRecord { redirect_uris: redirect_uris.iter().map(|u| (*u).to_owned()).collect(), ..client(client_id, source) }
}

async fn register_dcr(store: &Store, record: &ClientRecord, ip: Option<&str>) {
    let registration = DcrRegistration {
        client_id: record.client_id.clone(),
        registration_token_hash: format!("rat-{}", record.client_id),
        metadata: "{}".into(),
        dedupe_key: None,
        registered_ip: ip.map(str::to_owned),
        created_at: record.created_at,
    };
    store.insert_dcr_client(record, &registration, &AuditEvent::new("client_registered")).await.unwrap();
}

async fn list(store: &Store, query: InventoryQuery<'_>) -> Vec<InventoryItem> {
    store.list_inventory(&query).await.unwrap()
}

fn ids(items: &[InventoryItem]) -> Vec<&str> {
    items.iter().map(|i| i.client_id.as_str()).collect()
}

async fn every_kind_of_client_is_listed_once_with_its_provenance(store: Store) {
    let from_file = registered("app-config", ClientSource::Config, &["https://config.example.com/cb"]);
    store.sync_config_clients(&[from_file]).await.unwrap();
    store.insert_client(&registered("app-cli", ClientSource::Cli, &["http://127.0.0.1/cb"])).await.unwrap();
    register_dcr(&store, &registered("dcr_1", ClientSource::Dcr, &["https://dcr.example.net/cb"]), Some("203.0.113.7"))
        .await;
    store.record_cimd_client_seen(CIMD, "agent.example.org", CimdStatus::Allowed, NOW + 5).await.unwrap();

    let items = list(&store, InventoryQuery::all(NOW, 50)).await;
    assert_eq!(ids(&items), ["app-cli", "app-config", "dcr_1", CIMD]);
    let view = |i: &InventoryItem| {
        (i.kind, i.source.clone(), i.owning_domain.clone(), i.registered_ip.clone(), i.status, i.first_seen)
    };
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(view(&items[0]), (ClientKind::Preregistered, "cli".into(), None, None, InventoryStatus::Active, NOW));
    assert_eq!(
        view(&items[1]),
        (ClientKind::Preregistered, "config".into(), s("config.example.com"), None, InventoryStatus::Active, NOW)
    );
    assert_eq!(
        view(&items[2]),
        (ClientKind::Dcr, "dcr".into(), s("dcr.example.net"), s("203.0.113.7"), InventoryStatus::Active, NOW)
    );
    assert_eq!(
        view(&items[3]),
        (
            ClientKind::MetadataDocument,
            "metadata_document".into(),
            s("agent.example.org"),
            None,
            InventoryStatus::Active,
            NOW + 5
        )
    );
    assert_eq!(items[1].redirect_uris, ["https://config.example.com/cb"]);
    assert_eq!(items[1].token_endpoint_auth_method.as_deref(), Some("none"));
    // A metadata-document client's name, redirect URIs and method come from its document.
    assert_eq!((items[3].client_name.as_deref(), items[3].redirect_uris.len()), (None, 0));
}

async fn the_owning_domain_is_the_host_of_the_first_https_redirect_uri_as_the_url_parser_reads_it(store: Store) {
    let cases: &[&[&str]] = &[
        &["http://127.0.0.1:3000/cb", "https://App.Example.com:8443/cb?x=1", "https://second.example/cb"],
        &["https://[2001:db8::1]:8443/cb"],
        &["https://query.example?x=1"],
        &["https://bare.example"],
        &["HTTPS://UPPER.example/cb"],
        &["http://localhost/cb", "http://[::1]/cb"],
    ];
    for (i, uris) in cases.iter().enumerate() {
        store.insert_client(&registered(&format!("c{i}"), ClientSource::Cli, uris)).await.unwrap();
    }
    let items = list(&store, InventoryQuery::all(NOW, 50)).await;
    for (item, uris) in items.iter().zip(cases.iter()) {
        // The SQL of each backend must agree with the URL parser the server uses.
        let expected = uris.iter().map(|u| RedirectUri::parse(u).unwrap()).find(|u| !u.is_loopback()).map(|u| u.host());
        assert_eq!(item.owning_domain, expected, "{uris:?}");
    }
    assert_eq!(items[0].owning_domain.as_deref(), Some("app.example.com"));
    assert_eq!(items[5].owning_domain, None, "no https redirect URI, no owning domain");
}

async fn statuses_are_normalised_across_kinds(store: Store) {
    let with = |id: &str, status, secret_expires_at| ClientRecord {
        status,
        secret_expires_at,
        ..client(id, ClientSource::Cli)
    };
    store.insert_client(&with("a-active", ClientStatus::Active, Some(NOW + 1))).await.unwrap();
    store.insert_client(&with("b-blocked", ClientStatus::Denied, Some(NOW - 1))).await.unwrap();
    store.insert_client(&with("c-expired", ClientStatus::Active, Some(NOW))).await.unwrap();
    store.insert_client(&with("d-pending", ClientStatus::Pending, None)).await.unwrap();
    for (path, status) in [
        ("e-allowed", CimdStatus::Allowed),
        ("f-approved", CimdStatus::Approved),
        ("g-denied", CimdStatus::Denied),
        ("h-pending", CimdStatus::Pending),
    ] {
        let id = format!("https://z.example/{path}.json");
        store.record_cimd_client_seen(&id, "z.example", status, NOW).await.unwrap();
    }
    let items = list(&store, InventoryQuery::all(NOW, 50)).await;
    let statuses: Vec<(&str, &str)> = items.iter().map(|i| (i.status.as_str(), i.stored_status.as_str())).collect();
    assert_eq!(
        statuses,
        [
            ("active", "active"),
            ("blocked", "denied"),
            ("expired", "active"),
            ("pending", "pending"),
            ("active", "allowed"),
            ("active", "approved"),
            ("blocked", "denied"),
            ("pending", "pending"),
        ]
    );
}

async fn filters_narrow_by_kind_status_domain_and_text(store: Store) {
    store.insert_client(&registered("files-app", ClientSource::Cli, &["https://example.com/cb"])).await.unwrap();
    let mut named = registered("tool", ClientSource::Cli, &["https://app.example.com/cb"]);
    named.client_name = "Research 50%_Agent".into();
    store.insert_client(&named).await.unwrap();
    register_dcr(&store, &registered("dcr_x", ClientSource::Dcr, &["https://deep.app.example.com/cb"]), None).await;
    store.record_cimd_client_seen(CIMD, "agent.example.org", CimdStatus::Pending, NOW).await.unwrap();

    let all = InventoryQuery::all(NOW, 50);
    let kind = |kind| InventoryQuery { kind: Some(kind), ..all };
    assert_eq!(ids(&list(&store, kind(ClientKind::Dcr)).await), ["dcr_x"]);
    assert_eq!(ids(&list(&store, kind(ClientKind::Preregistered)).await), ["files-app", "tool"]);
    assert_eq!(ids(&list(&store, kind(ClientKind::MetadataDocument)).await), [CIMD]);
    let pending = InventoryQuery { status: Some(InventoryStatus::Pending), ..all };
    assert_eq!(ids(&list(&store, pending).await), [CIMD]);

    let domain = |filter| InventoryQuery { domain: Some(filter), ..all };
    assert_eq!(ids(&list(&store, domain(DomainFilter::Host("example.com"))).await), ["files-app"]);
    // `*.example.com` is every subdomain at any depth, never example.com itself.
    assert_eq!(ids(&list(&store, domain(DomainFilter::Subdomains("example.com"))).await), ["dcr_x", "tool"]);
    assert_eq!(ids(&list(&store, domain(DomainFilter::Host("agent.example.org"))).await), [CIMD]);

    let text = |q| InventoryQuery { text: Some(q), ..all };
    assert_eq!(ids(&list(&store, text("RESEARCH")).await), ["tool"], "names match case-insensitively");
    assert_eq!(ids(&list(&store, text("AGENT.example")).await), [CIMD], "so do client_ids");
    assert_eq!(ids(&list(&store, text("50%_a")).await), ["tool"]);
    assert!(list(&store, text("5%a")).await.is_empty(), "% is a character, not a wildcard");
    assert!(list(&store, text("rch_5")).await.is_empty(), "_ is a character, not a wildcard");
    assert_eq!(ids(&list(&store, text("rch 5")).await), ["tool"]);
}

async fn last_seen_is_the_latest_grant_or_refresh_and_live_grants_are_counted(store: Store) {
    store.insert_client(&client("client-1", ClientSource::Cli)).await.unwrap();
    store.insert_client(&client("idle", ClientSource::Cli)).await.unwrap();
    issue_grant(&store, "client-1", "g-1", "rt-0").await;
    issue_grant(&store, "client-1", "g-2", "rt-x").await;
    let later = refresh_token("rt-1", "g-1", "client-1", NOW + 300);
    assert!(store.rotate_refresh_token("rt-0", &later, &AuditEvent::new("refresh_rotated")).await.unwrap());
    store.revoke_grant("g-2", NOW + 400, &AuditEvent::new("grant_revoked")).await.unwrap();

    let items = list(&store, InventoryQuery::all(NOW, 50)).await;
    let activity: Vec<(&str, i64, i64, i64)> =
        items.iter().map(|i| (i.client_id.as_str(), i.first_seen, i.last_seen, i.live_grants)).collect();
    assert_eq!(activity, [("client-1", NOW, NOW + 300, 1), ("idle", NOW, NOW, 0)]);
}

async fn pages_cover_every_client_once_in_each_sort_order(store: Store) {
    // Ties on the sort key are broken by client_id; ids differ only in their last letter so
    // that every collation orders them alike.
    let seen = [("a", 30), ("b", 10), ("c", 30), ("d", 20), ("e", 30), ("f", 10), ("g", 40)];
    for (suffix, at) in seen {
        let id = format!("https://page.example/client-{suffix}.json");
        store.record_cimd_client_seen(&id, "page.example", CimdStatus::Allowed, NOW + at).await.unwrap();
        store.record_cimd_client_seen(&id, "page.example", CimdStatus::Allowed, NOW + 2 * at).await.unwrap();
    }
    for sort in [InventorySort::ClientId, InventorySort::LastSeen, InventorySort::FirstSeen] {
        for descending in [false, true] {
            let key = |item: &InventoryItem| match sort {
                InventorySort::ClientId => 0,
                InventorySort::LastSeen => item.last_seen,
                InventorySort::FirstSeen => item.first_seen,
            };
            let mut expected = list(&store, InventoryQuery::all(NOW, 50)).await;
            expected.sort_by(|a, b| (key(a), &a.client_id).cmp(&(key(b), &b.client_id)));
            if descending {
                expected.reverse();
            }
            let mut walked = Vec::new();
            let mut after: Option<InventoryPosition> = None;
            for _ in 0..10 {
                let query =
                    InventoryQuery { sort, descending, after: after.as_ref(), limit: 3, ..InventoryQuery::all(NOW, 3) };
                let page = list(&store, query).await;
                after = page.last().map(|last| InventoryPosition { key: key(last), client_id: last.client_id.clone() });
                let done = page.len() < 3;
                walked.extend(page);
                if done {
                    break;
                }
            }
            assert_eq!(ids(&walked), ids(&expected), "{sort:?} descending={descending}");
        }
    }
}

async fn one_client_is_found_by_its_id(store: Store) {
    store.insert_client(&client("client-1", ClientSource::Cli)).await.unwrap();
    store.record_cimd_client_seen(CIMD, "agent.example.org", CimdStatus::Allowed, NOW).await.unwrap();
    let item = store.find_inventory_item(CIMD, NOW).await.unwrap().unwrap();
    assert_eq!((item.client_id.as_str(), item.kind), (CIMD, ClientKind::MetadataDocument));
    assert_eq!(store.find_inventory_item("client-1", NOW).await.unwrap().unwrap().kind, ClientKind::Preregistered);
    assert!(store.find_inventory_item("client-2", NOW).await.unwrap().is_none());
    assert!(store.find_inventory_item("%", NOW).await.unwrap().is_none(), "an id is matched exactly");
}

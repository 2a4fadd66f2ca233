//! Pre-registered clients: from the configuration file (re-synced at every start) or added with
//! `postern clients add`.

use crate::support::{NOW, client, issue_grant, on_both_backends};
use postern_store::{ClientRecord, ClientSource, Store, StoreError};

/// A confidential client whose every optional field is set, with several list entries.
fn confidential(client_id: &str, source: ClientSource) -> ClientRecord {
    ClientRecord {
        redirect_uris: vec![
            "https://app.example.com/callback".to_owned(),
            "http://127.0.0.1/cb?x=\"quoted\"".to_owned(),
        ],
        grant_types: vec!["authorization_code".to_owned()],
        token_endpoint_auth_method: "client_secret_post".to_owned(),
        secret_hash: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".to_owned()),
        scope: Some("mcp:read".to_owned()),
        jwks_uri: Some("https://app.example.com/jwks.json".to_owned()),
        ..client(client_id, source)
    }
}

async fn client_ids(store: &Store) -> Vec<(String, ClientSource)> {
    store.list_clients().await.unwrap().into_iter().map(|c| (c.client_id, c.source)).collect()
}

on_both_backends!(
    stores_clients_with_their_lists_and_optional_fields,
    rejects_a_duplicate_client_id_as_a_conflict,
    config_sync_replaces_only_config_clients,
    config_sync_stores_every_client_as_a_config_client,
    config_sync_refuses_to_shadow_a_cli_client_and_keeps_the_previous_state,
    deleting_a_cli_client_removes_it_and_revokes_its_grants_and_refresh_tokens,
    deleting_a_config_client_is_refused_and_revokes_nothing,
    deleting_an_unregistered_client_is_refused_and_revokes_nothing,
);

async fn stores_clients_with_their_lists_and_optional_fields(store: Store) {
    let public = client("public-app", ClientSource::Cli);
    let secret = confidential("confidential-app", ClientSource::Config);
    let no_lists =
        ClientRecord { redirect_uris: vec![], grant_types: vec![], ..client("empty-lists", ClientSource::Cli) };
    for c in [&public, &secret, &no_lists] {
        store.insert_client(c).await.unwrap();
    }

    assert_eq!(store.find_client("public-app").await.unwrap().as_ref(), Some(&public));
    assert_eq!(store.find_client("confidential-app").await.unwrap().as_ref(), Some(&secret));
    assert_eq!(store.find_client("empty-lists").await.unwrap().as_ref(), Some(&no_lists));
    assert_eq!(store.find_client("unknown").await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), [secret, no_lists, public], "listed by client_id");
}

async fn rejects_a_duplicate_client_id_as_a_conflict(store: Store) {
    let original = client("app", ClientSource::Cli);
    store.insert_client(&original).await.unwrap();

    let again = store.insert_client(&confidential("app", ClientSource::Config)).await;

    assert!(matches!(again, Err(StoreError::Conflict(_))), "expected Conflict, got {again:?}");
    assert_eq!(store.find_client("app").await.unwrap(), Some(original));
}

async fn config_sync_replaces_only_config_clients(store: Store) {
    store.insert_client(&client("cli-app", ClientSource::Cli)).await.unwrap();
    store
        .sync_config_clients(&[client("kept", ClientSource::Config), client("removed", ClientSource::Config)])
        .await
        .unwrap();

    let edited = confidential("kept", ClientSource::Config);
    store.sync_config_clients(&[edited.clone(), client("added", ClientSource::Config)]).await.unwrap();

    assert_eq!(
        client_ids(&store).await,
        [
            ("added".to_owned(), ClientSource::Config),
            ("cli-app".to_owned(), ClientSource::Cli),
            ("kept".to_owned(), ClientSource::Config),
        ]
    );
    assert_eq!(store.find_client("kept").await.unwrap(), Some(edited), "a synced client takes the file's values");
    assert_eq!(store.find_client("cli-app").await.unwrap(), Some(client("cli-app", ClientSource::Cli)));

    store.sync_config_clients(&[]).await.unwrap();
    assert_eq!(client_ids(&store).await, [("cli-app".to_owned(), ClientSource::Cli)]);
}

async fn config_sync_stores_every_client_as_a_config_client(store: Store) {
    // The file is the source of these rows whatever the record says; otherwise the next
    // sync could not remove them.
    store.sync_config_clients(&[client("from-file", ClientSource::Cli)]).await.unwrap();
    assert_eq!(client_ids(&store).await, [("from-file".to_owned(), ClientSource::Config)]);

    store.sync_config_clients(&[]).await.unwrap();
    assert!(store.list_clients().await.unwrap().is_empty());
}

async fn config_sync_refuses_to_shadow_a_cli_client_and_keeps_the_previous_state(store: Store) {
    let cli = client("shared-id", ClientSource::Cli);
    store.insert_client(&cli).await.unwrap();
    let before = client("before", ClientSource::Config);
    store.sync_config_clients(std::slice::from_ref(&before)).await.unwrap();

    let outcome = store
        .sync_config_clients(&[client("new-one", ClientSource::Config), client("shared-id", ClientSource::Config)])
        .await;

    assert!(matches!(outcome, Err(StoreError::Conflict(_))), "expected Conflict, got {outcome:?}");
    // The transaction rolled back: neither the delete of "before" nor the insert of
    // "new-one" is visible, and the CLI client is untouched.
    assert_eq!(store.list_clients().await.unwrap(), [before, cli]);
}

async fn deleting_a_cli_client_removes_it_and_revokes_its_grants_and_refresh_tokens(store: Store) {
    store.insert_client(&client("doomed", ClientSource::Cli)).await.unwrap();
    store.insert_client(&client("bystander", ClientSource::Cli)).await.unwrap();
    issue_grant(&store, "doomed", "g-doomed-1", "rt-doomed-1").await;
    issue_grant(&store, "doomed", "g-doomed-2", "rt-doomed-2").await;
    issue_grant(&store, "bystander", "g-bystander", "rt-bystander").await;

    assert!(store.delete_cli_client("doomed", NOW + 5).await.unwrap());

    assert_eq!(store.find_client("doomed").await.unwrap(), None);
    for (grant_id, token) in [("g-doomed-1", "rt-doomed-1"), ("g-doomed-2", "rt-doomed-2")] {
        assert_eq!(store.find_grant(grant_id).await.unwrap().unwrap().revoked_at, Some(NOW + 5));
        assert_eq!(store.find_refresh_token(token).await.unwrap().unwrap().revoked_at, Some(NOW + 5));
        assert!(!store.access_token_is_live("jti-any", grant_id).await.unwrap());
    }
    assert_eq!(store.find_grant("g-bystander").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("rt-bystander").await.unwrap().unwrap().revoked_at, None);
    assert!(store.find_client("bystander").await.unwrap().is_some());

    assert!(!store.delete_cli_client("doomed", NOW + 6).await.unwrap(), "already deleted");
}

async fn deleting_a_config_client_is_refused_and_revokes_nothing(store: Store) {
    let from_file = client("from-file", ClientSource::Config);
    store.sync_config_clients(std::slice::from_ref(&from_file)).await.unwrap();
    issue_grant(&store, "from-file", "g-config", "rt-config").await;

    assert!(
        !store.delete_cli_client("from-file", NOW + 5).await.unwrap(),
        "config clients are removed by editing the file"
    );

    assert_eq!(store.find_client("from-file").await.unwrap(), Some(from_file));
    // "false" tells the operator nothing happened, so nothing may have been revoked.
    assert_eq!(store.find_grant("g-config").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("rt-config").await.unwrap().unwrap().revoked_at, None);
}

async fn deleting_an_unregistered_client_is_refused_and_revokes_nothing(store: Store) {
    // A client that is not pre-registered (a CIMD client, say) still holds grants.
    let cimd = "https://client.example/metadata.json";
    issue_grant(&store, cimd, "g-cimd", "rt-cimd").await;

    assert!(!store.delete_cli_client(cimd, NOW + 5).await.unwrap());
    assert!(!store.delete_cli_client("never-registered", NOW + 5).await.unwrap());

    assert_eq!(store.find_grant("g-cimd").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("rt-cimd").await.unwrap().unwrap().revoked_at, None);
}

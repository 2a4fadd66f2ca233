//! `cimd.new_clients_per_user_per_hour`: signing in is all it takes to make Postern record and
//! fetch a client_id URL, so one account may bring only so many never-seen clients per hour.

use crate::admin_support::{BOB, BOB_PASSWORD};
use crate::support::*;
use postern_store::test_support::Backend;

backend_tests!(
    ;
    own_server:
    a_user_brings_at_most_the_hourly_allowance_of_never_seen_clients,
);

const LOOPBACK_REDIRECT: &str = "http://127.0.0.1/callback";

fn cimd_params(app: &TestApp, client_id: &str) -> Vec<(String, String)> {
    let params = with_param(&app.authorize_params(), "client_id", client_id);
    with_param(&params, "redirect_uri", LOOPBACK_REDIRECT)
}

async fn a_user_brings_at_most_the_hourly_allowance_of_never_seen_clients(backend: Backend) {
    let documents = DocumentServer::start().await;
    let client_ids: Vec<String> = (0..4)
        .map(|i| documents.serve_client(&format!("/agent{i}/client.json"), &format!("Agent {i}"), &[LOOPBACK_REDIRECT]))
        .collect();
    let app = TestApp::spawn_with_documents(backend, &documents, |config| {
        config.cimd.new_clients_per_user_per_hour = 2;
    })
    .await;
    app.add_bob(false).await;

    // Alice signs in for a first new client and brings a second: within the allowance.
    let first = cimd_params(&app, &client_ids[0]);
    let login_page = app.authorize(&first, None).await;
    let anonymous = login_page.session_cookie().unwrap();
    let (consent_page, alice) = app.login(&login_page, &anonymous, &first, PASSWORD).await;
    assert_eq!(consent_page.status, 200, "{}", consent_page.body);
    let second = app.authorize(&cimd_params(&app, &client_ids[1]), Some(&alice)).await;
    assert_eq!(second.status, 200, "{}", second.body);

    // A third is refused with a page, before anything is recorded or fetched.
    let third_params = cimd_params(&app, &client_ids[2]);
    let third = app.authorize(&third_params, Some(&alice)).await;
    assert_eq!(third.status, 429, "{}", third.body);
    assert!(third.body.contains("Too many new applications"), "{}", third.body);
    assert!(third.body.contains("already brought 2 applications"), "{}", third.body);
    assert!(third.body.contains("decision of this server&#39;s administrators"), "{}", third.body);
    assert!(third.header("location").is_none());
    assert_eq!(documents.hits("/agent2/client.json"), 0);
    assert!(app.store.find_cimd_client(&client_ids[2]).await.unwrap().is_none());
    // Asking again is refused too, and the exhaustion is audited once, not per attempt.
    assert_eq!(app.authorize(&third_params, Some(&alice)).await.status, 429);
    assert_eq!(app.audit_count("cimd_new_client_limit_reached").await, 1);

    // Clients the server has seen do not count, however often they come back.
    app.clock.advance(6);
    for _ in 0..3 {
        let known = app.authorize(&first, Some(&alice)).await;
        assert_eq!(known.status, 200, "{}", known.body);
    }

    // Bob has his own allowance: he brings the client Alice could not.
    let login_page = app.authorize(&third_params, None).await;
    let anonymous = login_page.session_cookie().unwrap();
    let (bobs_consent, _) = app.login_as(&login_page, &anonymous, &third_params, BOB, BOB_PASSWORD).await;
    assert_eq!(bobs_consent.status, 200, "{}", bobs_consent.body);
    assert_eq!(documents.hits("/agent2/client.json"), 1);

    // The allowance refills evenly over the hour: one more after half of it.
    app.clock.advance(1800);
    let fourth = app.authorize(&cimd_params(&app, &client_ids[3]), Some(&alice)).await;
    assert_eq!(fourth.status, 200, "{}", fourth.body);
}

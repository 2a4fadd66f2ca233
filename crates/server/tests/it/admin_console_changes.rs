//! Changes made through the admin console (issue 6): destructive ones need their confirmation
//! step (a post without `confirm=yes` only shows the question), and each change writes the
//! audit event the admin API writes for it, naming the administrator as the actor.

use crate::admin_client_support::*;
use crate::admin_support::*;
use crate::support::*;
use postern_store::CimdStatus;
use serde_json::Value;

backend_tests!(
    blocking_a_client_needs_the_confirmation_step_and_revokes_its_grants,
    a_pending_client_is_approved_from_the_queue_with_the_apis_audit_event,
    users_domain_rules_and_grants_change_with_the_apis_audit_events,
);

async fn blocking_a_client_needs_the_confirmation_step_and_revokes_its_grants(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;
    let (access, refresh) = app.tokens().await;
    let path = format!("/admin/clients/{PUBLIC_CLIENT}/block");

    // The link on the client's page leads to the confirmation page; so does a post without
    // `confirm=yes`. Neither changes anything.
    let detail = app.console_page(Some(&cookie), &format!("/admin/clients/{PUBLIC_CLIENT}")).await;
    assert!(detail.body.contains(&format!("href=\"/admin/clients/{PUBLIC_CLIENT}/block\"")), "{}", detail.body);
    for reply in
        [app.console_page(Some(&cookie), &path).await, app.console_post(&cookie, &path, &[("csrf_token", &csrf)]).await]
    {
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(reply.body.contains("Block client Public Test Client? This revokes 1 grant."), "{}", reply.body);
        assert!(reply.body.contains("name=\"confirm\" value=\"yes\""));
        assert!(reply.body.contains(&format!("href=\"/admin/clients/{PUBLIC_CLIENT}\">Cancel</a>")));
    }
    assert_eq!(inventory_status(&app, PUBLIC_CLIENT).await, "active");
    assert_eq!(active(&app, &access).await, true);

    let done = app.console_post(&cookie, &path, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), format!("/admin/clients/{PUBLIC_CLIENT}?done=blocked&n=1"));
    assert_eq!(inventory_status(&app, PUBLIC_CLIENT).await, "blocked");
    assert_eq!(active(&app, &access).await, false, "introspection sees the block at once");
    assert_eq!(app.refresh(&refresh).await.status, 401, "the client is refused, its refresh token with it");
    let (client_id, user_id, detail) = last_event(&app, "admin_client_blocked").await;
    assert_eq!(client_id.as_deref(), Some(PUBLIC_CLIENT));
    assert_eq!(user_id.as_deref(), Some(ADMIN_USER_ID));
    assert_eq!(detail["actor"], format!("user:{ADMIN_USER_ID}"));
    assert_eq!((detail["previous_status"].as_str(), detail["status"].as_str()), (Some("active"), Some("denied")));
    let after = app.console_page(Some(&cookie), &done.location()).await;
    assert!(after.body.contains("Client blocked. 1 grant was revoked."), "{}", after.body);
    assert!(after.body.contains(">Unblock</button>"));

    // Blocking again is refused with the API's words, and unblocking needs no confirmation.
    let again = app.console_post(&cookie, &path, &[("csrf_token", &csrf), ("confirm", "yes")]).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("its status is blocked"), "{}", again.body);
    let unblocked =
        app.console_post(&cookie, &format!("/admin/clients/{PUBLIC_CLIENT}/unblock"), &[("csrf_token", &csrf)]).await;
    assert_eq!(unblocked.status, 303);
    assert_eq!(inventory_status(&app, PUBLIC_CLIENT).await, "active");
    assert_eq!(app.audit_count("admin_client_unblocked").await, 1);
}

async fn a_pending_client_is_approved_from_the_queue_with_the_apis_audit_event(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;
    pending_dcr_client(&app, "dcr_pending", "https://dcr.example.net/cb").await;
    pending_dcr_client(&app, "dcr_other", "https://other.example.net/cb").await;
    let queue = app.console_page(Some(&cookie), "/admin/approvals").await;
    assert!(queue.body.contains("dcr_pending agent") && queue.body.contains("dcr_other agent"), "{}", queue.body);

    let approved = app
        .console_post(&cookie, "/admin/clients/dcr_pending/approve", &[("csrf_token", &csrf), ("return", "approvals")])
        .await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    assert_eq!(approved.location(), "/admin/approvals?done=approved&n=0");
    assert_eq!(inventory_status(&app, "dcr_pending").await, "active");
    let (client_id, _, detail) = last_event(&app, "admin_client_approved").await;
    assert_eq!(client_id.as_deref(), Some("dcr_pending"));
    assert_eq!(detail["actor"], format!("user:{ADMIN_USER_ID}"));
    assert_eq!(detail["client_kind"], "dcr");
    let queue = app.console_page(Some(&cookie), &approved.location()).await;
    assert!(queue.body.contains("Client approved"));
    assert!(!queue.body.contains("dcr_pending agent") && queue.body.contains("dcr_other agent"));

    // Denying from the queue is confirmed first, then returns to the queue.
    let deny = "/admin/clients/dcr_other/deny";
    let asked = app.console_post(&cookie, deny, &[("csrf_token", &csrf), ("return", "approvals")]).await;
    assert!(
        asked.body.contains("Deny client dcr_other agent?")
            && asked.body.contains("name=\"return\" value=\"approvals\"")
    );
    assert_eq!(inventory_status(&app, "dcr_other").await, "pending");
    let denied =
        app.console_post(&cookie, deny, &[("csrf_token", &csrf), ("return", "approvals"), ("confirm", "yes")]).await;
    assert_eq!(denied.location(), "/admin/approvals?done=denied&n=0");
    assert_eq!(inventory_status(&app, "dcr_other").await, "blocked");
    assert_eq!(app.audit_count("admin_client_denied").await, 1);
}

async fn users_domain_rules_and_grants_change_with_the_apis_audit_events(app: TestApp) {
    let (cookie, csrf) = app.admin_session().await;
    let csrf = csrf.as_str();

    // Users: create, then disable (confirmed), enable, reset the password.
    let created = app
        .console_post(
            &cookie,
            "/admin/users",
            &[("csrf_token", csrf), ("username", BOB), ("password", BOB_PASSWORD), ("is_admin", "yes")],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let bob = app.store.find_user_by_username(BOB).await.unwrap().unwrap();
    assert!(bob.is_admin);
    let (_, user_id, detail) = last_event(&app, "admin_user_created").await;
    assert_eq!((user_id.as_deref(), detail["actor"].as_str()), (Some(bob.id.as_str()), Some("user:u_root")));
    let taken = app
        .console_post(&cookie, "/admin/users", &[("csrf_token", csrf), ("username", BOB), ("password", BOB_PASSWORD)])
        .await;
    assert_eq!(taken.status, 409);
    assert!(taken.body.contains("username &#39;bob&#39; is already taken"), "{}", taken.body);

    let disable = format!("/admin/users/{}/disable", bob.id);
    let asked = app.console_post(&cookie, &disable, &[("csrf_token", csrf)]).await;
    assert!(asked.body.contains("Disable bob? This revokes 0 grants."), "{}", asked.body);
    assert!(app.store.find_user(&bob.id).await.unwrap().unwrap().disabled_at.is_none());
    let disabled = app.console_post(&cookie, &disable, &[("csrf_token", csrf), ("confirm", "yes")]).await;
    assert_eq!(disabled.location(), "/admin/users?done=user-disabled&n=0");
    assert!(app.store.find_user(&bob.id).await.unwrap().unwrap().disabled_at.is_some());
    assert_eq!(app.audit_count("admin_user_disabled").await, 1);
    let own = app
        .console_post(
            &cookie,
            &format!("/admin/users/{ADMIN_USER_ID}/disable"),
            &[("csrf_token", csrf), ("confirm", "yes")],
        )
        .await;
    assert_eq!(own.status, 409, "the API's rule: not one's own account");
    let enabled = app.console_post(&cookie, &format!("/admin/users/{}/enable", bob.id), &[("csrf_token", csrf)]).await;
    assert_eq!(enabled.status, 303);
    assert_eq!(app.audit_count("admin_user_enabled").await, 1);
    let short = app
        .console_post(
            &cookie,
            &format!("/admin/users/{}/password", bob.id),
            &[("csrf_token", csrf), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(short.body.contains("password must be 12 to 1024 characters"));
    let reset = app
        .console_post(
            &cookie,
            &format!("/admin/users/{}/password", bob.id),
            &[("csrf_token", csrf), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(reset.status, 303);
    assert_eq!(app.audit_count("admin_user_password_reset").await, 1);

    // Domain rules: an allow rule at once; a deny rule and a removal after confirmation.
    let allow = app
        .console_post(
            &cookie,
            "/admin/domains/rules",
            &[("csrf_token", csrf), ("pattern", "good.example"), ("list", "allow")],
        )
        .await;
    assert_eq!(allow.location(), "/admin/domains?done=rule-added&n=0");
    let (_, _, detail) = last_event(&app, "admin_domain_rule_added").await;
    assert_eq!((detail["pattern"].as_str(), detail["list"].as_str()), (Some("good.example"), Some("allow")));
    let cimd = "https://agent.bad.example/c.json";
    seen_cimd_client(&app, cimd, "agent.bad.example", CimdStatus::Allowed, "Bad agent").await;
    let deny = [("csrf_token", csrf), ("pattern", "*.bad.example"), ("list", "deny")];
    let asked = app.console_post(&cookie, "/admin/domains/rules", &deny).await;
    assert!(asked.body.contains("Deny every client of *.bad.example?"), "{}", asked.body);
    assert!(
        asked.body.contains(
            "This refuses 1 client accepted now and revokes 0 grants at once: https://agent.bad.example/c.json"
        )
    );
    assert_eq!(app.audit_count("admin_domain_rule_added").await, 1, "not yet");
    let confirmed: Vec<(&str, &str)> = deny.iter().copied().chain([("confirm", "yes")]).collect();
    assert_eq!(app.console_post(&cookie, "/admin/domains/rules", &confirmed).await.status, 303);
    assert_eq!(app.audit_count("admin_domain_rule_added").await, 2);
    let remove = [("csrf_token", csrf), ("pattern", "*.bad.example")];
    let asked = app.console_post(&cookie, "/admin/domains/rules/remove", &remove).await;
    assert!(asked.body.contains("Remove the deny rule for *.bad.example?"), "{}", asked.body);
    let confirmed: Vec<(&str, &str)> = remove.iter().copied().chain([("confirm", "yes")]).collect();
    let removed = app.console_post(&cookie, "/admin/domains/rules/remove", &confirmed).await;
    assert_eq!(removed.location(), "/admin/domains?done=rule-removed&n=0");
    assert_eq!(app.audit_count("admin_domain_rule_removed").await, 1);
    let unknown =
        app.console_post(&cookie, "/admin/domains/unknown", &[("csrf_token", csrf), ("value", "approval")]).await;
    assert!(unknown.body.contains("Set unknown_domains to approval?"), "narrowing is confirmed first");
    let unknown = app
        .console_post(
            &cookie,
            "/admin/domains/unknown",
            &[("csrf_token", csrf), ("value", "approval"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(unknown.location(), "/admin/domains?done=unknown-domains-set&n=0");
    assert_eq!(app.audit_count("admin_unknown_domains_set").await, 1);
    let policy = app.console_page(Some(&cookie), "/admin/domains").await;
    assert!(policy.body.contains("<code>unknown_domains</code> is <strong>approval</strong>"), "{}", policy.body);
    assert!(policy.body.contains("source: runtime, set by root, "));

    // One grant, revoked after confirmation.
    let (access, _) = app.tokens().await;
    let grant = app.store.client_live_grants(PUBLIC_CLIENT, 1).await.unwrap().remove(0).grant_id;
    let path = format!("/admin/grants/{grant}/revoke");
    let asked = app.console_post(&cookie, &path, &[("csrf_token", csrf)]).await;
    assert!(asked.body.contains("Revoke the grant of alice to public-client?"), "{}", asked.body);
    assert_eq!(active(&app, &access).await, true);
    let revoked = app.console_post(&cookie, &path, &[("csrf_token", csrf), ("confirm", "yes")]).await;
    assert_eq!(revoked.location(), format!("/admin/clients/{PUBLIC_CLIENT}?done=grant-revoked&n=1"));
    assert_eq!(active(&app, &access).await, false);
    let (client_id, user_id, detail) = last_event(&app, "admin_grant_revoked").await;
    assert_eq!((client_id.as_deref(), user_id.as_deref()), (Some(PUBLIC_CLIENT), Some("u_alice")));
    assert_eq!(detail["grant_id"], Value::String(grant));
}

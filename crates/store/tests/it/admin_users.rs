//! Account administration: the user list with live grant counts, and disabling, enabling and
//! resetting passwords, each with its audit event in the same transaction.

use crate::support::{CLIENT, NOW, USER, code, grant, on_both_backends, refresh_token, user};
use postern_store::{
    AuditEvent, AuthorizationCodeRecord, CodeLookup, DisableOutcome, EnableOutcome, SessionRecord, Store,
};

const OTHER: &str = "user-2";

on_both_backends!(
    lists_users_by_name_with_their_live_grant_counts,
    disabling_ends_sessions_drops_codes_and_revokes_grants_of_that_user_only,
    disabling_twice_or_an_unknown_user_changes_and_audits_nothing,
    enabling_lets_the_account_back_in_but_revoked_grants_stay_revoked,
    resetting_a_password_replaces_the_hash_and_ends_every_session,
);

/// A live grant of `user_id` for `CLIENT`, redeemed from a code, with one refresh token.
pub async fn grant_of(store: &Store, user_id: &str, grant_id: &str) {
    let code_hash = format!("code-for-{grant_id}");
    let code = AuthorizationCodeRecord { user_id: user_id.to_owned(), ..code(&code_hash, grant_id) };
    store.insert_authorization_code(&code, &AuditEvent::new("code_issued")).await.unwrap();
    let grant = postern_store::GrantRecord { user_id: user_id.to_owned(), ..grant(grant_id, CLIENT) };
    let refresh = refresh_token(&format!("refresh-{grant_id}"), grant_id, CLIENT, NOW);
    let outcome = store
        .redeem_authorization_code(&code_hash, NOW, &grant, Some(&refresh), &AuditEvent::new("code_redeemed"))
        .await
        .unwrap();
    assert_eq!(outcome, CodeLookup::Redeemed);
}

async fn session_of(store: &Store, user_id: &str, id_hash: &str) {
    let session = SessionRecord {
        id_hash: id_hash.to_owned(),
        user_id: user_id.to_owned(),
        auth_time: NOW,
        expires_at: NOW + 3600,
    };
    store.create_session(&session).await.unwrap();
}

async fn two_users(store: &Store) {
    store.create_user(&user(USER, "zoe")).await.unwrap();
    store.create_user(&user(OTHER, "bob")).await.unwrap();
}

async fn audit_kinds(store: &Store) -> Vec<String> {
    store.recent_audit_events(100).await.unwrap().into_iter().map(|e| e.kind).collect()
}

async fn lists_users_by_name_with_their_live_grant_counts(store: Store) {
    two_users(&store).await;
    grant_of(&store, USER, "g-1").await;
    grant_of(&store, USER, "g-2").await;
    grant_of(&store, OTHER, "g-3").await;
    store.revoke_grant("g-2", NOW + 1, &AuditEvent::new("refresh_token_revoked")).await.unwrap();

    let users = store.list_user_summaries().await.unwrap();

    let listed: Vec<(&str, i64)> = users.iter().map(|u| (u.username.as_str(), u.live_grants)).collect();
    assert_eq!(listed, [("bob", 1), ("zoe", 1)], "by username; the revoked grant is not counted");
    let zoe = store.find_user_summary(USER).await.unwrap().unwrap();
    assert_eq!((zoe.id.as_str(), zoe.is_admin, zoe.created_at, zoe.disabled_at), (USER, false, NOW, None));
    assert!(store.find_user_summary("nobody").await.unwrap().is_none());
}

async fn disabling_ends_sessions_drops_codes_and_revokes_grants_of_that_user_only(store: Store) {
    two_users(&store).await;
    grant_of(&store, USER, "g-1").await;
    grant_of(&store, OTHER, "g-2").await;
    session_of(&store, USER, "s-1").await;
    session_of(&store, USER, "s-2").await;
    session_of(&store, OTHER, "s-3").await;
    // A code issued but not yet redeemed must not become a grant after the account is disabled.
    let pending = AuthorizationCodeRecord { code_hash: "pending".into(), grant_id: "g-9".into(), ..code("x", "g-9") };
    store.insert_authorization_code(&pending, &AuditEvent::new("code_issued")).await.unwrap();
    let audit = AuditEvent { user_id: Some(USER.into()), ..AuditEvent::new("user_disabled") };

    let outcome = store.disable_user(USER, NOW + 10, &audit).await.unwrap();

    assert_eq!(outcome, DisableOutcome::Disabled { sessions_ended: 2, grants_revoked: 1 });
    assert_eq!(store.find_user(USER).await.unwrap().unwrap().disabled_at, Some(NOW + 10));
    assert!(store.find_live_session("s-1", NOW).await.unwrap().is_none());
    assert!(store.find_live_session("s-2", NOW).await.unwrap().is_none());
    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 10));
    assert_eq!(store.find_refresh_token("refresh-g-1").await.unwrap().unwrap().revoked_at, Some(NOW + 10));
    assert!(store.find_authorization_code("pending").await.unwrap().is_none());
    assert!(!store.access_token_is_live("jti", "g-1").await.unwrap());
    // The other account is untouched.
    assert!(store.find_live_session("s-3", NOW).await.unwrap().is_some());
    assert_eq!(store.find_grant("g-2").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_refresh_token("refresh-g-2").await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.find_user(OTHER).await.unwrap().unwrap().disabled_at, None);
    assert_eq!(audit_kinds(&store).await.iter().filter(|k| *k == "user_disabled").count(), 1);
}

async fn disabling_twice_or_an_unknown_user_changes_and_audits_nothing(store: Store) {
    two_users(&store).await;
    let audit = AuditEvent::new("user_disabled");
    assert!(matches!(store.disable_user(USER, NOW, &audit).await.unwrap(), DisableOutcome::Disabled { .. }));

    assert_eq!(store.disable_user(USER, NOW + 5, &audit).await.unwrap(), DisableOutcome::AlreadyDisabled);
    assert_eq!(store.disable_user("nobody", NOW, &audit).await.unwrap(), DisableOutcome::NoSuchUser);

    assert_eq!(store.find_user(USER).await.unwrap().unwrap().disabled_at, Some(NOW), "the first time is kept");
    assert_eq!(audit_kinds(&store).await, ["user_disabled"]);
}

async fn enabling_lets_the_account_back_in_but_revoked_grants_stay_revoked(store: Store) {
    two_users(&store).await;
    grant_of(&store, USER, "g-1").await;
    store.disable_user(USER, NOW, &AuditEvent::new("user_disabled")).await.unwrap();

    let enable = AuditEvent::new("user_enabled");
    assert_eq!(store.enable_user(USER, NOW + 1, &enable).await.unwrap(), EnableOutcome::Enabled);
    assert_eq!(store.enable_user(USER, NOW + 2, &enable).await.unwrap(), EnableOutcome::AlreadyEnabled);
    assert_eq!(store.enable_user("nobody", NOW, &enable).await.unwrap(), EnableOutcome::NoSuchUser);

    assert_eq!(store.find_user(USER).await.unwrap().unwrap().disabled_at, None);
    assert!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(audit_kinds(&store).await[..2], ["user_enabled", "user_disabled"], "the enable is audited once");
}

async fn resetting_a_password_replaces_the_hash_and_ends_every_session(store: Store) {
    two_users(&store).await;
    grant_of(&store, USER, "g-1").await;
    session_of(&store, USER, "s-1").await;
    session_of(&store, OTHER, "s-2").await;
    let audit = AuditEvent::new("user_password_reset");

    assert_eq!(store.reset_user_password(USER, "$argon2id$new", NOW, &audit).await.unwrap(), Some(1));
    assert_eq!(store.reset_user_password("nobody", "$argon2id$new", NOW, &audit).await.unwrap(), None);

    assert_eq!(store.find_user(USER).await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert!(store.find_live_session("s-1", NOW).await.unwrap().is_none());
    assert!(store.find_live_session("s-2", NOW).await.unwrap().is_some());
    assert_eq!(store.find_grant("g-1").await.unwrap().unwrap().revoked_at, None, "applications stay connected");
    assert_eq!(audit_kinds(&store).await.iter().filter(|k| *k == "user_password_reset").count(), 1);
}

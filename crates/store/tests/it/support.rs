//! Shared fixtures: the two-backend test macro, the runner behind it, and records with sensible
//! defaults so that each scenario states only what it is about.

use postern_store::test_support::{Backend, POSTGRES_ENV, isolated_store};
use postern_store::{
    AuditEvent, AuthorizationCodeRecord, ClientRecord, ClientSource, ClientStatus, CodeLookup, GrantRecord,
    NewRefreshToken, Store, UserRecord,
};
use std::future::Future;

/// Runs each listed scenario, an `async fn name(store: Store)` of the calling module, as the
/// tests `sqlite::name` and `postgres::name`, each on its own fresh store. A scenario left out
/// of the list is dead code, which clippy (`-D warnings`) refuses.
macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        $crate::support::on_both_backends!(@backend sqlite, Sqlite, $($scenario),*);
        $crate::support::on_both_backends!(@backend postgres, Postgres, $($scenario),*);
    };
    // Multi-threaded so that the concurrency scenarios race for real.
    (@backend $module:ident, $backend:ident, $($scenario:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $scenario() {
                    let backend = postern_store::test_support::Backend::$backend;
                    $crate::support::run(backend, super::$scenario).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Runs `scenario` on a fresh store. A PostgreSQL server that cannot be reached fails the test:
/// a suite that silently skips one backend proves nothing about it.
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let (store, _url, guard) = isolated_store(backend).await.unwrap_or_else(|e| {
        panic!(
            "cannot open an isolated {backend:?} store ({POSTGRES_ENV} names the PostgreSQL server, \
             default postgres://postgres@127.0.0.1:5432/test): {e}"
        )
    });
    scenario(store.clone()).await;
    store.close().await;
    // PostgreSQL schemas outlive the guard; `scripts/test` drops them before each run.
    drop(guard);
}

/// Runs a statement on the store's pool, bypassing the store's methods: for checking what the
/// schema itself enforces.
pub async fn execute_raw(store: &Store, sql: &'static str) -> Result<u64, sqlx::Error> {
    match store {
        Store::Sqlite(pool) => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected()),
        Store::Postgres(pool) => sqlx::query(sql).execute(pool).await.map(|r| r.rows_affected()),
    }
}

/// A fixed "now" in Unix seconds; every other time is an offset from it.
pub const NOW: i64 = 1_700_000_000;
pub const CLIENT: &str = "client-1";
pub const USER: &str = "user-1";
pub const SCOPE: &str = "mcp:read mcp:write";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";

pub fn user(id: &str, username: &str) -> UserRecord {
    UserRecord {
        id: id.to_owned(),
        username: username.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${username}"),
        is_admin: false,
        created_at: NOW,
        disabled_at: None,
    }
}

pub fn client(client_id: &str, source: ClientSource) -> ClientRecord {
    ClientRecord {
        client_id: client_id.to_owned(),
        client_name: format!("{client_id} name"),
        redirect_uris: vec!["http://127.0.0.1:3000/callback".to_owned()],
        grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
        token_endpoint_auth_method: "none".to_owned(),
        secret_hash: None,
        scope: None,
        jwks: None,
        jwks_uri: None,
        source,
        status: ClientStatus::Active,
        secret_expires_at: None,
        created_at: NOW,
    }
}

/// A code for `CLIENT` and `USER`, issued at `NOW` and valid for ten minutes (R140).
pub fn code(code_hash: &str, grant_id: &str) -> AuthorizationCodeRecord {
    AuthorizationCodeRecord {
        code_hash: code_hash.to_owned(),
        grant_id: grant_id.to_owned(),
        client_id: CLIENT.to_owned(),
        user_id: USER.to_owned(),
        redirect_uri: "http://127.0.0.1:3000/callback".to_owned(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
        scope: SCOPE.to_owned(),
        resource: RESOURCE.to_owned(),
        auth_time: NOW - 30,
        issued_at: NOW,
        expires_at: NOW + 600,
        consumed_at: None,
        client_snapshot: None,
    }
}

pub fn grant(grant_id: &str, client_id: &str) -> GrantRecord {
    GrantRecord {
        grant_id: grant_id.to_owned(),
        client_id: client_id.to_owned(),
        user_id: USER.to_owned(),
        scope: SCOPE.to_owned(),
        resource: RESOURCE.to_owned(),
        created_at: NOW,
        revoked_at: None,
    }
}

pub fn refresh_token(token_hash: &str, grant_id: &str, client_id: &str, issued_at: i64) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: token_hash.to_owned(),
        grant_id: grant_id.to_owned(),
        client_id: client_id.to_owned(),
        scope: SCOPE.to_owned(),
        issued_at,
        expires_at: issued_at + 30 * 24 * 3600,
    }
}

/// Creates a live grant for `client_id` the only way the store allows, by redeeming a code, with
/// one refresh token `refresh_hash` in its family.
pub async fn issue_grant(store: &Store, client_id: &str, grant_id: &str, refresh_hash: &str) {
    let code_hash = format!("code-for-{grant_id}");
    let code = AuthorizationCodeRecord { client_id: client_id.to_owned(), ..code(&code_hash, grant_id) };
    store.insert_authorization_code(&code, &AuditEvent::new("code_issued")).await.unwrap();
    let outcome = store
        .redeem_authorization_code(
            &code_hash,
            NOW,
            &grant(grant_id, client_id),
            Some(&refresh_token(refresh_hash, grant_id, client_id, NOW)),
            &AuditEvent::new("code_redeemed"),
        )
        .await
        .unwrap();
    assert_eq!(outcome, CodeLookup::Redeemed, "fixture grant {grant_id} was not issued");
}

//! Helpers for tests that run one suite against both backends.

use crate::{Result, Store};

/// Environment variable naming the PostgreSQL server the tests use.
pub const POSTGRES_ENV: &str = "POSTERN_TEST_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty store of the given backend, isolated from every other test: a temporary
/// SQLite file, or a fresh PostgreSQL schema. Keep the returned guard alive for the test.
pub async fn isolated_store(backend: Backend) -> Result<(Store, String, IsolationGuard)> {
    let suffix = {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| crate::StoreError::Config(e.to_string()))?;
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (url, guard) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("postern-test-{suffix}"));
            let url = format!("sqlite://{}/postern.db", dir.display());
            (url, IsolationGuard::Dir(dir))
        }
        Backend::Postgres => {
            let base = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned());
            let schema = format!("postern_t_{suffix}");
            let admin = Store::connect(&base).await?;
            if let Store::Postgres(pool) = &admin {
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(pool).await?;
            }
            admin.close().await;
            let separator = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
            (url, IsolationGuard::Schema)
        }
    };
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    Ok((store, url, guard))
}

/// Removes a test's SQLite directory when dropped. PostgreSQL schemas are named
/// `postern_t_*` and dropped by `scripts/test` before each run.
pub enum IsolationGuard {
    Dir(std::path::PathBuf),
    Schema,
}

impl Drop for IsolationGuard {
    fn drop(&mut self) {
        if let Self::Dir(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

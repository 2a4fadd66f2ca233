use crate::{Result, Store, StoreError, on_backend};

/// A token-signing key. The private half is stored encrypted when a key encryption key is
/// configured (`aes256gcm:` prefix) and as `plain:` otherwise.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

impl Store {
    /// Adds `key` and retires every other current key, in one transaction.
    pub async fn add_current_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        on_backend!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(key.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.alg)
            .bind(&key.private_key)
            .bind(&key.public_jwk)
            .bind(key.created_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// The current key first, then retired keys, most recently retired first. (Ordering by
    /// creation time alone is ambiguous when two keys are made within one second.)
    pub async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        Ok(on_backend!(self, |pool| {
            sqlx::query_as::<_, SigningKeyRecord>(
                "SELECT kid, alg, private_key, public_jwk, created_at, retired_at FROM signing_keys
             ORDER BY COALESCE(retired_at, 9223372036854775807) DESC, created_at DESC, kid",
            )
            .fetch_all(pool)
            .await
        })?)
    }
}

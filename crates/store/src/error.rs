use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique key already exists (e.g. a username or client_id).
    #[error("{0} already exists")]
    Conflict(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Maps a unique-violation into [`StoreError::Conflict`] naming what collided.
    pub(crate) fn conflict_or(err: sqlx::Error, what: &str) -> Self {
        match &err {
            sqlx::Error::Database(db) if db.is_unique_violation() => Self::Conflict(what.to_owned()),
            _ => Self::Database(err),
        }
    }
}

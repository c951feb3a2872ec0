//! The one error of the storage layer, with its retry policy.

use std::path::PathBuf;

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or lost a request (connection, constraint, I/O).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema migrations could not be applied.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A `DATABASE_URL` that names neither PostgreSQL nor SQLite.
    #[error("unsupported database url (expected postgres://, postgresql:// or sqlite:): {0}")]
    UnsupportedUrl(String),
    /// A backend whose driver this build leaves out (weft-storage's features `sqlite` and
    /// `postgres`).
    #[error("this build has no {0:?} driver")]
    BackendNotBuilt(crate::Backend),
    /// A `u64` above `i64::MAX`, which the databases' signed 64-bit integers cannot hold.
    #[error("{what} {value} does not fit a signed 64-bit database integer")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// A stored row that does not decode: the database was changed outside its store.
    #[error("corrupt {table} row {key}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The row's key, as far as it could be read.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// Whether the request may succeed if repeated unchanged: the database was unreachable,
    /// busy or chose this transaction as a conflict victim, not the request wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => true,
            Self::Database(sqlx::Error::Database(e)) => e
                .code()
                .is_some_and(|code| TRANSIENT_CODES.contains(&code.as_ref())),
            _ => false,
        }
    }
}

/// SQLite `BUSY` and `LOCKED` with their extended codes; PostgreSQL serialization failure and
/// deadlock.
const TRANSIENT_CODES: &[&str] = &["5", "261", "517", "773", "6", "262", "40001", "40P01"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_are_transient_and_corrupt_rows_are_not() {
        assert!(StoreError::Database(sqlx::Error::PoolTimedOut).is_transient());
        assert!(!StoreError::Database(sqlx::Error::RowNotFound).is_transient());
        let corrupt = StoreError::Corrupt {
            table: "t",
            key: String::from("k"),
            reason: String::from("r"),
        };
        assert!(!corrupt.is_transient());
    }
}

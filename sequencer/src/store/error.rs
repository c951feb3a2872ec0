//! Errors of the storage layer.

use std::path::PathBuf;

use weft_protocol::primitives::B256;

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
    /// A block that is not the successor of the stored head; nothing was written.
    #[error(
        "block {number} with parent {parent_hash} does not extend head: expected block \
         {expected_number} with parent {expected_parent}"
    )]
    DoesNotExtendHead {
        /// The refused block's number.
        number: u64,
        /// The refused block's parent hash.
        parent_hash: B256,
        /// Head + 1 (1 on an empty store).
        expected_number: u64,
        /// The head's hash (zero on an empty store).
        expected_parent: B256,
    },
    /// A block whose parts disagree (hash, transaction count, positions); nothing was written.
    #[error("inconsistent block {number}: {reason}")]
    InconsistentBlock {
        /// The block's number.
        number: u64,
        /// What disagrees.
        reason: String,
    },
    /// A `u64` above `i64::MAX`, which the databases' signed 64-bit integers cannot hold.
    #[error("{what} {value} does not fit a signed 64-bit database integer")]
    OutOfRange {
        /// Which value.
        what: &'static str,
        /// The value.
        value: u64,
    },
    /// A stored row that does not decode: the database was changed outside this store.
    /// A queue index taken before with a different entry (an L1 reorg deeper than the
    /// confirmation depth).
    #[error("queue entry {queue_index} differs from the one taken before")]
    QueueConflict {
        /// The index.
        queue_index: u64,
    },
    /// A batch whose index does not follow the latest stored batch.
    #[error("batch {index} does not follow the stored batches (expected {expected})")]
    BatchOutOfOrder {
        /// The batch's index.
        index: u64,
        /// The next index.
        expected: u64,
    },
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

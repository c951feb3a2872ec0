//! Errors of the sequencer's store: the shared storage errors, and the writes the store
//! refuses because they would break the chain's order.

use weft_protocol::primitives::B256;
use weft_storage::StoreError;

/// A storage operation of the sequencer that failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database failed, or a stored row does not decode.
    #[error(transparent)]
    Storage(#[from] StoreError),
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
    /// A queue index taken before with a different entry (an L1 reorg deeper than the
    /// confirmation depth).
    #[error("queue entry {queue_index} differs from the one taken before")]
    QueueConflict {
        /// The index.
        queue_index: u64,
    },
    /// A leased node's write after it lost the lease: another node leads; nothing was
    /// written.
    #[error("fenced: {holder} no longer holds the leader lease of epoch {epoch}")]
    Fenced {
        /// This node.
        holder: String,
        /// The epoch it held.
        epoch: u64,
    },
    /// What this database cannot do.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A batch whose index does not follow the latest stored batch.
    #[error("batch {index} does not follow the stored batches (expected {expected})")]
    BatchOutOfOrder {
        /// The batch's index.
        index: u64,
        /// The next index.
        expected: u64,
    },
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Self::Storage(e.into())
    }
}

impl Error {
    /// Whether the request may succeed if repeated unchanged
    /// ([`StoreError::is_transient`]); a refused write never does.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Storage(e) if e.is_transient())
    }
}

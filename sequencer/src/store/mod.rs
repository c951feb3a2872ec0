//! Durable storage through sqlx: SQLite in the data directory by default, PostgreSQL when
//! `DATABASE_URL` names one. Schema and invariants: `migrations/sequencer/README.md`.
//!
//! Every method is one round trip or one database transaction; a sealed block (header,
//! transactions, receipts) is written in a single transaction before anything reports it
//! as executed.

use weft_protocol::{
    block::BlockHeader, execution::Receipt, primitives::B256, signature::Signature,
    transaction::Transaction,
};

/// A transaction as stored: what was signed, its signature (none for system kinds), where it
/// sits and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTransaction {
    /// Canonical hash.
    pub hash: B256,
    /// The block it is in.
    pub block_number: u64,
    /// Position in the block.
    pub index: u32,
    /// The transaction.
    pub transaction: Transaction,
    /// The sender's signature; `None` for system kinds.
    pub signature: Option<Signature>,
    /// Its receipt.
    pub receipt: Receipt,
}

/// A block ready to be written: header, hash and transactions in block order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBlock {
    /// The header.
    pub header: BlockHeader,
    /// `header.hash()`.
    pub hash: B256,
    /// Transactions with receipts, in block order.
    pub transactions: Vec<StoredTransaction>,
}

/// A state snapshot as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSnapshot {
    /// The block after which the state was taken.
    pub block_number: u64,
    /// That block's state root.
    pub state_root: B256,
    /// `State::encode_snapshot` bytes.
    pub data: Vec<u8>,
}

// ---- temporary interface stub: replaced by the real implementation (branch `store`) ----
#[allow(missing_docs, clippy::unused_async, dead_code, unreachable_pub)]
mod stub {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Backend {
        Sqlite,
        Postgres,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("store stub")]
    pub struct StoreError;

    #[derive(Debug, Clone)]
    pub struct Store;

    impl Store {
        pub async fn connect(_: Option<&str>, _: &std::path::Path) -> Result<Self, StoreError> {
            unimplemented!()
        }
        pub fn backend(&self) -> Backend {
            unimplemented!()
        }
        pub async fn insert_block(&self, _: &SealedBlock) -> Result<(), StoreError> {
            unimplemented!()
        }
        pub async fn head(&self) -> Result<Option<(BlockHeader, B256)>, StoreError> {
            unimplemented!()
        }
        pub async fn header_by_number(
            &self,
            _: u64,
        ) -> Result<Option<(BlockHeader, B256)>, StoreError> {
            unimplemented!()
        }
        pub async fn header_by_hash(
            &self,
            _: &B256,
        ) -> Result<Option<(BlockHeader, B256)>, StoreError> {
            unimplemented!()
        }
        pub async fn block_transactions(
            &self,
            _: u64,
        ) -> Result<Vec<StoredTransaction>, StoreError> {
            unimplemented!()
        }
        pub async fn block_transaction_hashes(&self, _: u64) -> Result<Vec<B256>, StoreError> {
            unimplemented!()
        }
        pub async fn transaction(&self, _: &B256) -> Result<Option<StoredTransaction>, StoreError> {
            unimplemented!()
        }
        pub async fn save_snapshot(&self, _: &StoredSnapshot) -> Result<(), StoreError> {
            unimplemented!()
        }
        pub async fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, StoreError> {
            unimplemented!()
        }
    }
}
pub use stub::{Backend, Store, StoreError};

//! Durable storage through sqlx: SQLite in the data directory by default, PostgreSQL when
//! `DATABASE_URL` names one. Schema and invariants: `migrations/sequencer/README.md`.
//!
//! Every method is one round trip or one database transaction; a sealed block (header,
//! transactions, receipts) is written in a single transaction before anything reports it
//! as executed.
//!
//! The pool, the migrator, the column helpers and the multi-row statements are
//! `weft_storage`'s, shared with the other services: both backends run the same SQL through
//! sqlx's `Any` driver. This module owns the sequencer's tables and their accessors, its
//! migration list and the writes it refuses ([`Error`]).
//!
//! One accessor group per table group, each adding methods to [`Store`]:
//!
//! | file              | tables                                         |
//! |-------------------|------------------------------------------------|
//! | `blocks.rs`       | `blocks`, and the write of a block as a whole  |
//! | `transactions.rs` | `transactions`, with their receipts            |
//! | `snapshots.rs`    | `snapshots`                                    |
//!
//! `chain.rs` (`chain_params`) and `l1.rs` (`l1_queue`, `batches`, `l1_transactions`) add
//! the L1 side's tables.

mod blocks;
mod chain;
mod error;
mod l1;
mod lease;
mod logs;
mod snapshots;
mod transactions;

#[cfg(test)]
mod evm_tests;
#[cfg(test)]
mod tests;

use std::{path::Path, sync::Arc};

use sqlx::{Any, AnyPool, Transaction as DbTransaction};
use weft_protocol::{
    block::BlockHeader, execution::Receipt, primitives::B256, signature::Signature,
    transaction::Transaction,
};
use weft_storage::{Backend, EmbeddedMigration, open_pool};

pub use chain::DISPUTE_WINDOW as DISPUTE_WINDOW_PARAM;
pub use error::Error;
pub use l1::{BatchStatus, QueueEntry, StoredBatch, StoredL1Transaction};
pub use lease::{Fence, LeaseRow};
pub use logs::{LogFilter, StoredLog};
pub use snapshots::KEEP_SNAPSHOTS;
pub use transactions::AddressTransaction;

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
    /// Accounts in the state after the block (`None` where unknown: blocks rebuilt from L1).
    pub account_count: Option<u32>,
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

/// File name of the default SQLite database inside the data directory.
pub const DEFAULT_SQLITE_FILE: &str = "sequencer.db";

/// The sequencer's database: a connection pool, cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The lease every block and batch write checks (a leased node's), or none.
    fence: Option<Arc<Fence>>,
}

impl Store {
    /// Opens the database and applies the migrations it lacks.
    ///
    /// `database_url` `None` opens (creating it and `data_dir` if needed) the SQLite file
    /// `<data_dir>/sequencer.db`; `Some(url)` opens a `postgres://` (or `postgresql://`) or
    /// `sqlite:` URL, with `weft_storage`'s connection settings: on SQLite, WAL mode with
    /// `synchronous = FULL` (a committed block survives power loss).
    pub async fn connect(database_url: Option<&str>, data_dir: &Path) -> Result<Self, Error> {
        let (pool, backend) = open_pool(
            database_url,
            data_dir,
            DEFAULT_SQLITE_FILE,
            MIGRATIONS,
            SQLITE_CACHE_KIB,
        )
        .await?;
        Ok(Self {
            pool,
            backend,
            fence: None,
        })
    }

    /// This store, its block and batch writes checking `fence` in their transactions
    /// ([`Error::Fenced`] once another node holds the lease).
    pub fn fenced(mut self, fence: Fence) -> Self {
        self.fence = Some(Arc::new(fence));
        self
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Opens a write transaction; dropping it uncommitted rolls it back.
    async fn begin_write(&self) -> Result<DbTransaction<'static, Any>, Error> {
        Ok(self.pool.begin_with(self.backend.begin_write()).await?)
    }

    /// A write transaction of the chain (a block, a batch): on a leased node it first checks
    /// the lease, holding its row until the commit.
    async fn begin_chain_write(&self) -> Result<DbTransaction<'static, Any>, Error> {
        let mut tx = self.begin_write().await?;
        if let Some(fence) = &self.fence {
            lease::check_fence(&mut tx, fence).await?;
        }
        Ok(tx)
    }
}

/// The sequencer's page cache per SQLite connection (the default is 2 MiB): the indexes
/// that every block's write walks stay cached.
pub const SQLITE_CACHE_KIB: u32 = 16 * 1024;

/// The migrations, embedded (see [`EmbeddedMigration`]). Both directories hold the same file
/// names (a test checks this list against them). Append only; a landed migration is never
/// edited.
const MIGRATIONS: &[EmbeddedMigration] = &[
    (
        "0001_init.sql",
        include_str!("../../../migrations/sequencer/sqlite/0001_init.sql"),
        include_str!("../../../migrations/sequencer/postgres/0001_init.sql"),
    ),
    (
        "0002_l1.sql",
        include_str!("../../../migrations/sequencer/sqlite/0002_l1.sql"),
        include_str!("../../../migrations/sequencer/postgres/0002_l1.sql"),
    ),
    (
        "0003_chain_params.sql",
        include_str!("../../../migrations/sequencer/sqlite/0003_chain_params.sql"),
        include_str!("../../../migrations/sequencer/postgres/0003_chain_params.sql"),
    ),
    (
        "0004_evm.sql",
        include_str!("../../../migrations/sequencer/sqlite/0004_evm.sql"),
        include_str!("../../../migrations/sequencer/postgres/0004_evm.sql"),
    ),
    (
        "0005_addresses.sql",
        include_str!("../../../migrations/sequencer/sqlite/0005_addresses.sql"),
        include_str!("../../../migrations/sequencer/postgres/0005_addresses.sql"),
    ),
    (
        "0006_lease.sql",
        include_str!("../../../migrations/sequencer/sqlite/0006_lease.sql"),
        include_str!("../../../migrations/sequencer/postgres/0006_lease.sql"),
    ),
    (
        "0007_logs_by_position.sql",
        include_str!("../../../migrations/sequencer/sqlite/0007_logs_by_position.sql"),
        include_str!("../../../migrations/sequencer/postgres/0007_logs_by_position.sql"),
    ),
    (
        "0008_logs_bloom.sql",
        include_str!("../../../migrations/sequencer/sqlite/0008_logs_bloom.sql"),
        include_str!("../../../migrations/sequencer/postgres/0008_logs_bloom.sql"),
    ),
];

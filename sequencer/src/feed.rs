//! The live feed's source: every stored block and every batch status change becomes one
//! event, its message serialized once, broadcast to every subscriber: the REST feed
//! (`/v1/ws`, `api/feed.rs`) and JSON-RPC's `newHeads` (`rpc/ws.rs`, which formats a block's
//! Ethereum header once per block for all its subscribers). A subscriber that falls more
//! than [`CHANNEL`] events behind is told it lagged and catches up from the store.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::{OnceCell, broadcast};
use weft_protocol::primitives::{Address, B256};

use crate::store::{SealedBlock, StoredBatch};

/// Events buffered for each subscriber before it lags.
pub const CHANNEL: usize = 1024;

/// The broadcast of feed events.
#[derive(Debug)]
pub struct Feed {
    tx: broadcast::Sender<Arc<Event>>,
}

/// One event.
#[derive(Debug)]
pub enum Event {
    /// A block was stored.
    Block(BlockEvent),
    /// A batch was sealed or moved on L1.
    Batch(BatchEvent),
}

/// A stored block.
#[derive(Debug)]
pub struct BlockEvent {
    /// Its number.
    pub number: u64,
    /// The feed's `block` message.
    pub message: String,
    /// Each transaction: hash, the addresses it touches (sender, receiver), whether it
    /// succeeded; for subscribers following hashes or addresses.
    pub txs: Vec<TxTouch>,
    /// The JSON-RPC `newHeads` header, formatted by the first subscriber that needs it.
    pub eth_head: OnceCell<Arc<serde_json::Value>>,
}

/// A transaction of a block, as the feed's filters see it.
#[derive(Debug, Clone)]
pub struct TxTouch {
    /// Its hash.
    pub hash: B256,
    /// Sender (signed kinds) and receiver (transfers, deposits, EVM calls).
    pub addresses: [Option<Address>; 2],
    /// Whether it succeeded.
    pub ok: bool,
}

/// A batch status change.
#[derive(Debug)]
pub struct BatchEvent {
    /// Its index.
    pub index: u64,
    /// `sealed`, `committed`, `proven`, `finalized`.
    pub status: &'static str,
    /// Its first block.
    pub from_block: u64,
    /// Its last block.
    pub to_block: u64,
    /// The feed's `batch` message.
    pub message: String,
}

impl Default for Feed {
    fn default() -> Self {
        Self {
            tx: broadcast::Sender::new(CHANNEL),
        }
    }
}

impl Feed {
    /// A new subscription.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Publishes a stored block (nothing is built while nobody listens).
    pub fn block(&self, block: &SealedBlock) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let txs = block
            .transactions
            .iter()
            .map(|t| TxTouch {
                hash: t.hash,
                addresses: [t.transaction.sender(), t.transaction.recipient()],
                ok: t.receipt.is_success(),
            })
            .collect();
        let _ = self.tx.send(Arc::new(Event::Block(BlockEvent {
            number: block.header.number,
            message: block_message(&block.header, &block.hash),
            txs,
            eth_head: OnceCell::new(),
        })));
    }

    /// Publishes a batch's status (after it is stored).
    pub fn batch(&self, batch: &StoredBatch) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let c = &batch.commitment;
        let status = batch.status.as_str();
        let message = json!({
            "type": "batch", "index": c.index, "status": status,
            "fromBlock": c.from_block, "toBlock": c.to_block,
            "newStateRoot": c.new_state_root, "daBytes": batch.da_payload.len(),
            "commitL1Tx": batch.commit_l1_tx, "proveL1Tx": batch.prove_l1_tx,
            "finalizeL1Tx": batch.finalize_l1_tx,
        })
        .to_string();
        let _ = self.tx.send(Arc::new(Event::Batch(BatchEvent {
            index: c.index,
            status,
            from_block: c.from_block,
            to_block: c.to_block,
            message,
        })));
    }
}

/// The feed's `block` message of a header.
pub fn block_message(header: &weft_protocol::block::BlockHeader, hash: &B256) -> String {
    json!({
        "type": "block", "number": header.number, "hash": hash,
        "parentHash": header.parent_hash, "timestamp": header.timestamp,
        "txCount": header.tx_count, "stateRoot": header.state_root,
    })
    .to_string()
}

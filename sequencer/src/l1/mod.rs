//! The node's L1 side, through alloy.
//!
//! Two tasks run beside the block builder and the batcher when the node has an L1
//! (`--l1-rpc`):
//!
//! - the [`watcher`] takes the rollup's queue entries (deposits, forced withdrawals) once
//!   they are `confirmations` blocks deep, exactly once each by queue index, checks each one
//!   against the L2 hash of its system transaction and the queue hash chain, and hands them
//!   to the builder; it also follows the batch events (committed, proven, finalized) into
//!   the batches' statuses;
//! - the [`poster`] commits the batcher's batches with `commitBatch` (DA payload as
//!   calldata) or `commitBatchBlobs` (in blobs), by the DA mode: it stores every signed
//!   transaction before sending it, re-signs at the same nonce with higher fees when one is
//!   stuck, resumes after a restart from what L1 says was committed, and halts with an
//!   alert when a commit would revert.
//!
//! [`rebuild`] reconstructs a node's data directory from L1 alone. All three talk to L1
//! through the [`L1Client`] trait of `weft-l1` (shared with the prover); [`AlloyL1`] is its
//! JSON-RPC implementation, [`L1Error`] its error and policy (revert, transient).
//!
//! | file         | what                                                      |
//! |--------------|-----------------------------------------------------------|
//! | `watcher.rs` | queue entries and batch events after confirmations        |
//! | `poster.rs`  | `commitBatch`: persist, send, bump, resume, halt          |
//! | `poster/carrier.rs` | calldata or blobs (`--l1-da`), blob sidecars       |
//! | `rebuild.rs` | `weft-sequencer rebuild`                                  |
//!
//! What the node reports about its L1 side (`/health`, metrics) is kept in [`L1Status`].

pub mod poster;
pub mod rebuild;
pub mod watcher;

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::{sync::watch, task::JoinHandle};
use tracing::warn;

/// A snapshot of [`L1Status`], as `/health` shows it under `l1`.
pub use weft_api::L1Health;
pub use weft_l1::{AlloyL1, L1Client, L1Error};

impl crate::config::L1Config {
    /// The JSON-RPC client of this L1 section for the rollup at `rollup`, reading blobs from
    /// its beacon API.
    pub fn client(&self, rollup: alloy::primitives::Address) -> Result<AlloyL1, L1Error> {
        let beacon = weft_l1::beacon::Beacon::new(
            self.beacon_url.as_deref().unwrap_or(&self.rpc_url),
            self.beacon_block_id,
            self.rpc_timeout,
        )?;
        Ok(AlloyL1::new(&self.rpc_url, rollup, self.rpc_timeout)?.with_beacon(beacon))
    }
}

use crate::{node::Node, store::BatchStatus};

/// The stored status a batch event of L1 moves a batch to.
fn stored_status(status: weft_l1::BatchStatus) -> BatchStatus {
    match status {
        weft_l1::BatchStatus::None => BatchStatus::Sealed,
        weft_l1::BatchStatus::Committed => BatchStatus::Committed,
        weft_l1::BatchStatus::Proven => BatchStatus::Proven,
        weft_l1::BatchStatus::Finalized => BatchStatus::Finalized,
    }
}

/// Starts the watcher and, if the configuration has a sequencer key, the poster.
pub fn spawn<C: L1Client>(
    node: Arc<Node>,
    l1: Arc<C>,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<anyhow::Result<()>>> {
    let Some(config) = node.config.l1.clone() else {
        return Vec::new();
    };
    node.l1.update(|s| s.enabled = true);
    let mut tasks = vec![tokio::spawn(watcher::run(
        node.clone(),
        l1.clone(),
        stop.clone(),
    ))];
    match config.sequencer_key {
        Some(key) => tasks.push(tokio::spawn(poster::run(node, l1, key, stop.clone()))),
        None => warn!(
            "no sequencer key (WEFT_SEQUENCER_KEY or --sequencer-key-file): watching L1 without posting"
        ),
    }
    tasks
}

/// What the node reports about its L1 side: shared by the watcher, the poster and `/health`.
#[derive(Debug, Default)]
pub struct L1Status {
    inner: Mutex<L1Health>,
}

impl L1Status {
    /// A copy of the current status.
    pub fn snapshot(&self) -> L1Health {
        self.inner.lock().clone()
    }

    /// Changes the status.
    pub fn update(&self, f: impl FnOnce(&mut L1Health)) {
        f(&mut self.inner.lock());
    }

    /// Raises (or replaces) the alert of `source`.
    pub fn alert(&self, source: &str, message: impl Into<String>) {
        self.inner
            .lock()
            .alerts
            .insert(source.to_owned(), message.into());
    }

    /// Clears the alert of `source`.
    pub fn clear(&self, source: &str) {
        self.inner.lock().alerts.remove(source);
    }

    /// Whether the poster has halted.
    pub fn halted(&self) -> bool {
        self.inner.lock().poster_halted.is_some()
    }
}

//! The snapshot task: keeps the restart point recent without stalling the builder.
//!
//! The builder takes each block's changes from the state while it holds it for the block
//! (the accounts, channels and secrets the block's commit touched: a copy in proportion to
//! the block, not to the state) and the writer hands them here once the block is stored.
//! This task applies them to its own copy of the state's data (no trees), and when the
//! policy says so writes a snapshot point of the latest stored block:
//!
//! - a point after [`Config::snapshot_every_txs`] transactions, [`Config::snapshot_interval`]
//!   or [`Config::snapshot_every`] blocks since the last one, whichever comes first, and at
//!   shutdown;
//! - a delta (the accounts and channels changed since the last point, with their values)
//!   while the deltas since the last full snapshot stay smaller than it
//!   ([`DELTA_BYTES_PER_FULL`]); a full snapshot otherwise, which prunes the chains before
//!   the previous full one (`Store::save_snapshot`).
//!
//! Encoding runs on a blocking thread; each point is one database write, so a crash leaves
//! it whole or absent and a restart rebuilds from the last whole point. A failed write is
//! logged and its changes stay pending for the next point.
//!
//! [`Config::snapshot_every_txs`]: crate::config::Config::snapshot_every_txs
//! [`Config::snapshot_interval`]: crate::config::Config::snapshot_interval
//! [`Config::snapshot_every`]: crate::config::Config::snapshot_every

use std::{sync::Arc, time::Instant};

use anyhow::Context;
use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};
use weft_protocol::{
    primitives::{AccountIndex, B256},
    snapshot::{EvmDelta, StateData, StateDelta},
};

use crate::{node::Node, store::StoredSnapshot};

/// A full snapshot replaces the deltas once they add up to this many times its size: a
/// restart then reads at most about twice a full snapshot, and the bytes written stay in
/// proportion to the work done (plus one full snapshot per this much delta).
pub const DELTA_BYTES_PER_FULL: u64 = 1;

/// A stored block's changes, in block order.
#[derive(Debug)]
pub(super) struct BlockChanges {
    pub(super) number: u64,
    pub(super) txs: u64,
    pub(super) state_root: B256,
    pub(super) changes: StateDelta,
}

/// The task's view of the chain of points and what changed since the last one.
struct Snapshotter {
    node: Arc<Node>,
    /// The state's data after `head`.
    shadow: StateData,
    /// Accounts and channels changed or created since the last point (repeats allowed).
    accounts: Vec<AccountIndex>,
    channels: Vec<u32>,
    /// Secrets revealed before the last point.
    secrets_from: u32,
    /// Contracts, code and slots changed since the last stored point.
    evm: EvmDelta,
    /// The block of the last stored point.
    point: Option<u64>,
    full_bytes: u64,
    delta_bytes: u64,
    txs: u64,
    blocks: u64,
    since: Instant,
    head: Option<(u64, B256)>,
}

/// Runs until `changes` closes, then writes a last point if blocks came after the last one.
/// `initial` holds what changed between the stored point and the state at start (the
/// blocks replayed by the restart).
pub(super) async fn run(
    node: Arc<Node>,
    initial: StateDelta,
    mut changes: UnboundedReceiver<BlockChanges>,
) -> anyhow::Result<()> {
    let recovery = node.recovery;
    let (shadow, head) = {
        let state = node.state.read();
        (StateData::from_state(&state), node.head())
    };
    let mut s = Snapshotter {
        secrets_from: initial.secrets_from,
        accounts: initial.accounts.iter().map(|(i, _)| *i).collect(),
        channels: initial.channels.iter().map(|(p, _)| *p).collect(),
        evm: initial.evm.clone(),
        shadow,
        point: recovery.snapshot_block,
        full_bytes: recovery.snapshot_full_bytes,
        delta_bytes: recovery.snapshot_delta_bytes,
        txs: recovery.txs_replayed,
        blocks: recovery.blocks_replayed,
        since: Instant::now(),
        head: (head.number > 0).then(|| (head.number, node.state.read().state_root())),
        node,
    };
    while let Some(block) = changes.recv().await {
        s.shadow
            .apply(&block.changes)
            .context("apply a block's changes to the snapshot copy")?;
        s.accounts
            .extend(block.changes.accounts.iter().map(|(i, _)| *i));
        s.channels
            .extend(block.changes.channels.iter().map(|(p, _)| *p));
        s.evm.extend(&block.changes.evm);
        s.txs += block.txs;
        s.blocks += 1;
        s.head = Some((block.number, block.state_root));
        if s.due() {
            s.write_point().await?;
        }
    }
    if s.blocks > 0 {
        s.write_point().await?;
    }
    Ok(())
}

impl Snapshotter {
    fn due(&self) -> bool {
        let c = &self.node.config;
        let txs = c.snapshot_every_txs > 0 && self.txs >= c.snapshot_every_txs;
        let blocks = self.blocks >= c.snapshot_every;
        txs || blocks || self.since.elapsed() >= c.snapshot_interval
    }

    /// Writes a point of the latest stored block; on failure keeps the changes pending.
    async fn write_point(&mut self) -> anyhow::Result<()> {
        let Some((number, state_root)) = self.head else {
            return Ok(());
        };
        let started = Instant::now();
        // Roughly 60 bytes per single-token account.
        let estimate = 60 * self.accounts.len() as u64;
        let full = match self.point {
            None => true,
            Some(p) if p == number => return Ok(()),
            Some(_) => self.delta_bytes + estimate >= DELTA_BYTES_PER_FULL * self.full_bytes,
        };
        let (base, secrets_from) = (self.point.unwrap_or(0), self.secrets_from);
        let shadow = std::mem::take(&mut self.shadow);
        let mut accounts = std::mem::take(&mut self.accounts);
        let mut channels = std::mem::take(&mut self.channels);
        let mut evm = std::mem::take(&mut self.evm);
        let (shadow, accounts, channels, evm, data) = tokio::task::spawn_blocking(move || {
            let data = if full {
                shadow.encode()
            } else {
                accounts.sort_unstable();
                accounts.dedup();
                channels.sort_unstable();
                channels.dedup();
                evm.normalize();
                shadow
                    .delta(&accounts, &channels, secrets_from, &evm)
                    .encode(base)
            };
            (shadow, accounts, channels, evm, data)
        })
        .await
        .context("snapshot encoder")?;
        self.shadow = shadow;
        let encoded = started.elapsed();
        let bytes = data.len() as u64;
        let snapshot = StoredSnapshot {
            block_number: number,
            state_root,
            data,
        };
        let written = if full {
            self.node.store.save_snapshot(&snapshot).await
        } else {
            self.node.store.save_snapshot_delta(&snapshot).await
        };
        if let Err(e) = written {
            warn!(block = number, error = %e, "saving a snapshot point failed; its changes stay pending");
            self.accounts = accounts;
            self.channels = channels;
            self.evm = evm;
            return Ok(());
        }
        if full {
            (self.full_bytes, self.delta_bytes) = (bytes, 0);
        } else {
            self.delta_bytes += bytes;
        }
        info!(
            block = number,
            kind = if full { "full" } else { "delta" },
            bytes,
            txs_since = self.txs,
            blocks_since = self.blocks,
            encode_ms = encoded.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "snapshot point saved"
        );
        self.point = Some(number);
        self.secrets_from = self.shadow.secrets.len() as u32;
        (self.txs, self.blocks, self.since) = (0, 0, Instant::now());
        Ok(())
    }
}

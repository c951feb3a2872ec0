//! The watcher: takes L1 queue entries and batch events once they are confirmed.
//!
//! Each tick scans the blocks from its cursor up to `latest - confirmations` (the *safe*
//! block), in ranges of at most [`MAX_LOG_RANGE`] blocks, and advances the cursor past what
//! it has taken. It starts at the deployment block (`--l1-from-block`) whenever the node
//! starts: everything it does is idempotent, so a restart rescans rather than trusting a
//! stored position.
//!
//! **Queue entries** are taken exactly once each, by queue index: an index below the next
//! one is already taken and skipped, the next one is taken, a gap is an error (the scan is
//! retried). Each entry is checked before it is stored: its system transaction (a deposit
//! or forced withdrawal rebuilt from the event) must hash to the event's entry hash under
//! the node's domain, the chain `keccak256(previous ‖ entry)` must give the event's queue
//! hash, and after a range the contract's own `queueHashes` at the range's last block must
//! equal the chain's head. Then they are stored (`l1_queue`), `node.queue_len` is raised
//! and the builder woken: the entries enter the next block first, in queue order.
//!
//! **L1 reorgs.** Nothing is taken from the newest `confirmations` blocks, so a reorg up to
//! that depth never touches what was taken: an entry in an orphaned block is simply never
//! seen, and its replacement (if any) is taken under the same index. A deeper reorg that
//! drops or changes a taken entry cannot be undone on L2 (its block is sealed): the store
//! refuses a different entry under a taken index (the watcher alerts), and the next commit
//! reverts on the queue hash, so the poster halts with an alert.
//!
//! **Batch events** (`BatchCommitted`, `BatchProven`, `BatchFinalized`) move the stored
//! batch's status forward with the L1 transaction that did it, which is what the API shows
//! for the batch and its transactions. A committed batch whose commitment differs from the
//! stored one means this node and L1 disagree: the poster halts. `BatchesReverted` (the
//! sequencer took unproven commits back) makes those batches `sealed` again, without their
//! commit transactions, until the poster commits them again.

use std::sync::{Arc, atomic::Ordering};

use anyhow::{Context, bail, ensure};
use tokio::sync::watch;
use tracing::{debug, info, warn};
use weft_protocol::{
    batch::{BatchCommitment, Carrier, next_queue_hash},
    eip712::Domain,
    primitives::B256,
    transaction::{Deposit, ForcedWithdraw, Transaction},
};

use weft_l1::QueueLog;

use super::{L1Client, poster::halt, stored_status};
use crate::{
    config::L1Config,
    node::Node,
    store::{BatchStatus, QueueEntry, StoredBatch},
};

/// Most blocks per `eth_getLogs` request (hosted nodes cap ranges near 10,000).
pub const MAX_LOG_RANGE: u64 = 5_000;

/// Runs the watcher until `stop` turns true. Errors are logged and raised as the
/// `watcher` alert; the next tick retries.
pub async fn run<C: L1Client>(
    node: Arc<Node>,
    l1: Arc<C>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let config = node
        .config
        .l1
        .clone()
        .context("the watcher needs an L1 section")?;
    let poll = config.poll_interval;
    let mut watcher = Watcher {
        cursor: config.from_block,
        node: node.clone(),
        l1,
        config,
    };
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        // A tick cut short by the stop is safe: entries are stored before `queue_len` moves,
        // and a start reads `queue_len` from the store.
        let ticked = tokio::select! {
            t = watcher.tick() => t,
            _ = stop.changed() => return Ok(()),
        };
        match ticked {
            Ok(()) => node.l1.clear("watcher"),
            Err(e) => {
                warn!(error = format!("{e:#}"), "L1 watcher");
                node.l1.alert("watcher", format!("{e:#}"));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}

/// The watcher's position.
#[derive(Debug)]
pub struct Watcher<C> {
    node: Arc<Node>,
    l1: Arc<C>,
    config: L1Config,
    /// The next L1 block to scan.
    cursor: u64,
}

impl<C: L1Client> Watcher<C> {
    /// One scan from the cursor to the safe block.
    pub async fn tick(&mut self) -> anyhow::Result<()> {
        let head = self.l1.block_number().await?;
        self.node.metrics.l1_head_block.set(head as i64);
        self.node.l1.update(|s| s.head_block = Some(head));
        let Some(safe) = head.checked_sub(self.config.confirmations) else {
            return Ok(());
        };
        while self.cursor <= safe {
            let to = safe.min(self.cursor + MAX_LOG_RANGE - 1);
            self.take_queue_entries(self.cursor, to).await?;
            self.follow_batches(self.cursor, to).await?;
            self.cursor = to + 1;
        }
        self.node.metrics.l1_safe_block.set(safe as i64);
        self.node.l1.update(|s| s.safe_block = Some(safe));
        Ok(())
    }

    async fn take_queue_entries(&self, from: u64, to: u64) -> anyhow::Result<()> {
        let logs = self.l1.queue_logs(from, to).await?;
        if logs.is_empty() {
            return Ok(());
        }
        let next = self.node.queue_len.load(Ordering::Acquire);
        let chain = self
            .node
            .store
            .queue_hash_at(next)
            .await?
            .with_context(|| format!("queue entry {} is not stored", next.saturating_sub(1)))?;
        let entries = queue_entries(&self.node.domain, next, chain, &logs)?;
        let Some(last) = entries.last() else {
            return Ok(());
        };
        let len = last.queue_index + 1;
        let on_chain = self.l1.queue_hash(len, to).await?;
        ensure!(
            on_chain == last.queue_hash,
            "the rollup's queue hash {len} at block {to} is {on_chain}, the logs chain to {}",
            last.queue_hash
        );
        self.node.store.insert_queue_entries(&entries).await?;
        self.node.queue_len.store(len, Ordering::Release);
        self.node.metrics.l1_queue_entries.set(len as i64);
        self.node.ready.notify_one();
        info!(
            first = next,
            last = last.queue_index,
            l1_block = last.l1_block_number,
            "took L1 queue entries"
        );
        Ok(())
    }

    async fn follow_batches(&self, from: u64, to: u64) -> anyhow::Result<()> {
        let store = &self.node.store;
        for log in self.l1.batch_logs(from, to).await? {
            if let Some(last) = log.reverted_to {
                self.follow_revert(log.index, last, log.tx_hash).await?;
                continue;
            }
            let Some(stored) = store.batch(log.index).await? else {
                warn!(
                    index = log.index,
                    "L1 has a batch event for a batch this node has not sealed"
                );
                continue;
            };
            if let Some(hash) = log.commitment_hash
                && hash != stored.commitment.hash()
            {
                // Posted with the other carrier (a commit dropped by a reorg and posted
                // again the other way, then the first one mined after all; or a commit made
                // by hand): the same batch, with that carrier's DA hash.
                // Recomputing a blob DA hash takes KZG work: off the async threads.
                let candidate = stored.clone();
                let carried =
                    tokio::task::spawn_blocking(move || carried_otherwise(&candidate, hash))
                        .await?;
                if let Some(carried) = carried {
                    store.set_batch_da_hash(&carried).await?;
                } else {
                    halt(
                        &self.node,
                        format!(
                            "L1 batch {} has commitment {hash} (transaction {}), this node's is {}",
                            log.index,
                            log.tx_hash,
                            stored.commitment.hash()
                        ),
                    );
                    continue;
                }
            }
            let status = stored_status(log.status);
            store
                .set_batch_status(log.index, status, Some(log.tx_hash))
                .await?;
            if let Some(batch) = store.batch(log.index).await? {
                self.node.feed.batch(&batch);
            }
            let m = &self.node.metrics;
            let gauge = match status {
                BatchStatus::Sealed => continue,
                BatchStatus::Committed => &m.batches_committed,
                BatchStatus::Proven => &m.batches_proven,
                BatchStatus::Finalized => &m.batches_finalized,
            };
            gauge.set(gauge.get().max(log.index as i64));
            debug!(
                index = log.index,
                status = status.as_str(),
                tx = %log.tx_hash,
                "batch status from L1"
            );
        }
        Ok(())
    }
}

impl<C: L1Client> Watcher<C> {
    /// L1 took the commits of batches `first..=last` back: they are `sealed` again here
    /// (what the API and the feed show) until the poster commits them again.
    async fn follow_revert(&self, first: u64, last: u64, tx: B256) -> anyhow::Result<()> {
        let store = &self.node.store;
        store.revert_batches(first, last).await?;
        for index in first..=last {
            if let Some(batch) = store.batch(index).await? {
                self.node.feed.batch(&batch);
            }
        }
        let committed = &self.node.metrics.batches_committed;
        committed.set(committed.get().min(first as i64 - 1));
        warn!(first, last, %tx, "L1 reverted batch commits; they will be committed again");
        Ok(())
    }
}

/// Turns queue logs into the queue entries from index `next` on, checking each against
/// the L2 hash of its system transaction and the queue hash chain (`chain`: the hash after
/// entry `next - 1`). Logs of entries below `next` are skipped; a gap is an error.
pub fn queue_entries(
    domain: &Domain,
    mut next: u64,
    mut chain: B256,
    logs: &[QueueLog],
) -> anyhow::Result<Vec<QueueEntry>> {
    let mut entries = Vec::new();
    for log in logs {
        if log.queue_index < next {
            continue;
        }
        if log.queue_index > next {
            bail!(
                "queue entry {next} is missing before entry {} (L1 block {})",
                log.queue_index,
                log.block_number
            );
        }
        let transaction = system_transaction(log)?;
        let entry_hash = transaction.hash(domain);
        ensure!(
            entry_hash == log.entry_hash,
            "queue entry {next}: L1's entry hash {} is not the L2 hash {entry_hash} of {transaction:?} \
             (check --rollup-address and --chain-id)",
            log.entry_hash
        );
        chain = next_queue_hash(&chain, &entry_hash);
        ensure!(
            chain == log.queue_hash,
            "queue entry {next}: L1's queue hash {} differs from the chain's {chain}",
            log.queue_hash
        );
        entries.push(QueueEntry {
            queue_index: next,
            transaction,
            entry_hash,
            queue_hash: chain,
            l1_block_number: log.block_number,
            l1_block_hash: log.block_hash,
        });
        next += 1;
    }
    Ok(entries)
}

/// The system transaction a queue event stands for.
fn system_transaction(log: &QueueLog) -> anyhow::Result<Transaction> {
    Ok(match log.kind {
        0 => Transaction::Deposit(Deposit {
            queue_index: log.queue_index,
            to: log.account,
            token: log.token,
            amount: log.amount,
        }),
        1 => Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: log.queue_index,
            account: log.account,
            token: log.token,
        }),
        kind => bail!("queue entry {}: unknown kind {kind}", log.queue_index),
    })
}

/// `stored`'s commitment with the DA hash of the carrier whose commitment hashes to
/// `hash`, if one does.
fn carried_otherwise(stored: &StoredBatch, hash: B256) -> Option<BatchCommitment> {
    [Carrier::Calldata, Carrier::Blobs]
        .into_iter()
        .map(|carrier| BatchCommitment {
            da_hash: carrier.da_hash(&stored.da_payload),
            ..stored.commitment
        })
        .find(|c| c.hash() == hash)
}

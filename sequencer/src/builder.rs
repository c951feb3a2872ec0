//! The block builder: seals ready transactions into blocks, executes them with the
//! parallel engine, stores each block in one database transaction, then publishes it.
//!
//! Seal rules are small pieces ([`SealRule`]); a block is never empty.

mod gas;
mod snapshotter;

use std::{
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, anyhow};
use tokio::sync::watch;
use tracing::warn;
use weft_protocol::{
    block::BlockHeader,
    execution::{BlockEnv, BlockExecutor},
    primitives::B256,
    transaction::VerifiedTransaction,
};

use crate::{
    mempool::PendingTx,
    metrics::Reason,
    node::{Head, Node},
    store::{QueueEntry, SealedBlock, StoredTransaction},
};

pub use gas::{GasBudget, MAX_OVERPACK};
use snapshotter::BlockChanges;
pub use snapshotter::DELTA_BYTES_PER_FULL;

/// Why a block was sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealReason {
    /// The transaction limit is reached.
    MaxTxs,
    /// The byte limit is reached.
    MaxBytes,
    /// The ready EVM transactions are expected to use the block's gas (their gas limits
    /// times the share of limits that recent blocks used: [`GasBudget`]).
    BlockGas,
    /// The block time elapsed.
    BlockTime,
    /// The node is shutting down and drains the mempool.
    Shutdown,
}

impl SealReason {
    /// Metric label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MaxTxs => "max_txs",
            Self::MaxBytes => "max_bytes",
            Self::BlockGas => "block_gas",
            Self::BlockTime => "block_time",
            Self::Shutdown => "shutdown",
        }
    }
}

/// What a seal rule looks at.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// Ready transactions (L1 queue entries waiting included).
    pub txs: usize,
    /// Their encoded bytes.
    pub bytes: usize,
    /// The gas they are expected to use: their gas limits (EVM transactions; native kinds
    /// use no block gas) times the share of limits that recent blocks used
    /// ([`GasBudget::expected_use`]).
    pub gas: u64,
    /// Time since the last seal.
    pub since_last_seal: Duration,
}

/// One reason to seal now.
pub trait SealRule: Send + Sync + std::fmt::Debug {
    /// `Some` if the block should be sealed now.
    fn check(&self, pending: &Pending) -> Option<SealReason>;
}

/// Seal once the block is full by count.
#[derive(Debug)]
pub struct MaxTxs(pub usize);
/// Seal once the block is full by bytes.
#[derive(Debug)]
pub struct MaxBytes(pub usize);
/// Seal once the ready transactions are expected to use the block gas limit.
#[derive(Debug)]
pub struct BlockGas(pub u64);
/// Seal once the block time has passed since the last seal.
#[derive(Debug)]
pub struct BlockTime(pub Duration);

impl SealRule for MaxTxs {
    fn check(&self, p: &Pending) -> Option<SealReason> {
        (p.txs >= self.0).then_some(SealReason::MaxTxs)
    }
}

impl SealRule for MaxBytes {
    fn check(&self, p: &Pending) -> Option<SealReason> {
        (p.bytes >= self.0).then_some(SealReason::MaxBytes)
    }
}

impl SealRule for BlockGas {
    fn check(&self, p: &Pending) -> Option<SealReason> {
        (p.gas >= self.0).then_some(SealReason::BlockGas)
    }
}

impl SealRule for BlockTime {
    fn check(&self, p: &Pending) -> Option<SealReason> {
        (p.since_last_seal >= self.0).then_some(SealReason::BlockTime)
    }
}

/// The first rule that fires; never for an empty pending set.
///
/// ```
/// use std::time::Duration;
/// use weft_sequencer::builder::{BlockTime, MaxTxs, Pending, SealReason, SealRule, should_seal};
///
/// let rules: Vec<Box<dyn SealRule>> =
///     vec![Box::new(MaxTxs(100)), Box::new(BlockTime(Duration::from_millis(100)))];
/// let waited = |ms| Pending { txs: 5, bytes: 500, gas: 0, since_last_seal: Duration::from_millis(ms) };
/// assert_eq!(should_seal(&rules, &waited(20)), None);
/// assert_eq!(should_seal(&rules, &waited(100)), Some(SealReason::BlockTime));
/// let empty = Pending { txs: 0, bytes: 0, gas: 0, since_last_seal: Duration::from_secs(60) };
/// assert_eq!(should_seal(&rules, &empty), None);
/// ```
pub fn should_seal(rules: &[Box<dyn SealRule>], pending: &Pending) -> Option<SealReason> {
    if pending.txs == 0 {
        return None;
    }
    rules.iter().find_map(|r| r.check(pending))
}

/// What the builder hands the writer, in order.
enum Write {
    /// A block to store, then publish.
    Block(Box<Sealed>),
}

/// An executed block on its way to the database.
struct Sealed {
    block: SealedBlock,
    txs: Vec<Arc<PendingTx>>,
    reason: SealReason,
    /// What it changed in the state, for the snapshot task.
    changes: weft_protocol::snapshot::StateDelta,
}

/// Blocks executed ahead of the database: the builder executes block N+1 while the writer
/// stores block N, so a block's execution and its write overlap.
const WRITE_PIPELINE_DEPTH: usize = 2;

/// Runs the builder until `shutdown` turns true, then drains the ready transactions; the
/// snapshot task ([`snapshotter`]) then writes a last snapshot point.
///
/// Blocks are executed here and stored by a writer task, in order; nothing reports a block
/// (head, statuses, mempool removal) before the writer has committed it.
pub async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let cfg = node.config.block;
    let rules: Vec<Box<dyn SealRule>> = vec![
        Box::new(MaxTxs(cfg.max_txs)),
        Box::new(MaxBytes(cfg.max_bytes)),
        Box::new(BlockGas(weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT)),
        Box::new(BlockTime(cfg.block_time)),
    ];
    // What changed between the stored snapshot point and now (the blocks the start replayed).
    let initial = node.state.write().take_changes();
    let (to_snapshotter, changes) = tokio::sync::mpsc::unbounded_channel();
    let snapshots = tokio::spawn(snapshotter::run(node.clone(), initial, changes));
    let (to_writer, writes) = tokio::sync::mpsc::channel(WRITE_PIPELINE_DEPTH);
    let writer = tokio::spawn(write_loop(node.clone(), writes, to_snapshotter));
    let mut tip = node.head();
    let mut last_seal = Instant::now();
    let mut budget = GasBudget::new(weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT);
    let result: anyhow::Result<()> = async {
        loop {
            let pending = {
                let queued = node.pending_queue_entries();
                let pool = node.mempool.lock();
                Pending {
                    txs: pool.ready_len() + queued as usize,
                    bytes: pool.ready_bytes(),
                    gas: budget.expected_use(pool.ready_gas()),
                    since_last_seal: last_seal.elapsed(),
                }
            };
            if !node.may_seal() {
                // A leased node whose lease is not (yet, or any more) renewed: wait.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return Ok(());
                }
                continue;
            }
            if *shutdown.borrow() {
                while node.mempool.lock().ready_len() > 0 || node.pending_queue_entries() > 0 {
                    seal(
                        &node,
                        SealReason::Shutdown,
                        &mut tip,
                        &mut budget,
                        &to_writer,
                    )
                    .await?;
                }
                return Ok(());
            }
            if let Some(reason) = should_seal(&rules, &pending) {
                // Block times count from the start of a seal, so execution time does not
                // stretch the interval between blocks.
                last_seal = Instant::now();
                seal(&node, reason, &mut tip, &mut budget, &to_writer).await?;
                continue;
            }
            let wait = if pending.txs == 0 {
                Duration::from_secs(3600)
            } else {
                cfg.block_time.saturating_sub(pending.since_last_seal)
            };
            tokio::select! {
                _ = node.ready.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    .await;
    drop(to_writer);
    let written = writer.await.context("writer task")?;
    // The writer has closed the snapshot task's channel: it writes its last point and ends.
    let snapshotted = snapshots.await.context("snapshot task")?;
    result.and(written).and(snapshotted)
}

async fn send(to_writer: &tokio::sync::mpsc::Sender<Write>, w: Write) -> anyhow::Result<()> {
    to_writer
        .send(w)
        .await
        .map_err(|_| anyhow!("the block writer stopped"))
}

/// Seals and executes one block from the ready transactions and hands it to the writer.
async fn seal(
    node: &Arc<Node>,
    reason: SealReason,
    tip: &mut Head,
    budget: &mut GasBudget,
    to_writer: &tokio::sync::mpsc::Sender<Write>,
) -> anyhow::Result<()> {
    let cfg = node.config.block;
    // L1 queue entries first, in queue order, then the mempool's ready transactions.
    let queue_position = node.state.read().queue_position();
    let system = if node.pending_queue_entries() > 0 {
        node.store
            .queue_entries(queue_position, cfg.max_txs as u64)
            .await?
    } else {
        Vec::new()
    };
    let txs =
        node.mempool
            .lock()
            .take_ready(cfg.max_txs - system.len(), cfg.max_bytes, budget.to_take());
    if txs.is_empty() && system.is_empty() {
        return Ok(());
    }
    let parent = *tip;
    let env = BlockEnv {
        number: parent.number + 1,
        timestamp: unix_now().max(parent.timestamp),
        fee_recipient: node.config.fee_recipient,
        domain: node.domain,
        dispute_window: node.config.dispute_window,
        gas_limit: weft_protocol::evm::DEFAULT_BLOCK_GAS_LIMIT,
        base_fee: weft_protocol::evm::DEFAULT_MIN_BASE_FEE,
    };
    let started = Instant::now();
    let Executed {
        block,
        included: txs,
        left_out,
        gas_used,
        changes,
    } = {
        let node = node.clone();
        tokio::task::spawn_blocking(move || execute(&node, parent, env, &system, txs))
            .await
            .context("executor task")??
    };
    node.metrics
        .executor_seconds
        .observe(started.elapsed().as_secs_f64());
    // Handed back before the next block is taken, which then starts with them.
    if !left_out.is_empty() {
        node.mempool.lock().release(&left_out);
        node.metrics.left_out.inc_by(left_out.len() as u64);
    }
    budget.observe(txs.iter().map(|t| t.gas).sum(), gas_used);
    *tip = Head {
        number: env.number,
        hash: block.hash,
        timestamp: env.timestamp,
    };
    send(
        to_writer,
        Write::Block(Box::new(Sealed {
            block,
            txs,
            reason,
            changes,
        })),
    )
    .await?;
    Ok(())
}

/// Stores blocks in order; after each block is committed, removes its transactions from
/// the mempool, publishes the new head and hands the block's changes to the snapshot task.
async fn write_loop(
    node: Arc<Node>,
    mut writes: tokio::sync::mpsc::Receiver<Write>,
    to_snapshotter: tokio::sync::mpsc::UnboundedSender<BlockChanges>,
) -> anyhow::Result<()> {
    while let Some(write) = writes.recv().await {
        match write {
            Write::Block(sealed) => {
                let Sealed {
                    block,
                    txs,
                    reason,
                    changes,
                } = *sealed;
                let write_started = Instant::now();
                store_with_retry(&node, &block).await?;
                node.metrics
                    .store_seconds
                    .observe(write_started.elapsed().as_secs_f64());
                // For the batcher, before the new head wakes it.
                let block = Arc::new(block);
                node.recent_blocks.insert(block.clone());
                {
                    let mut pool = node.mempool.lock();
                    pool.remove_included(&txs);
                    node.metrics.mempool_txs.set(pool.len() as i64);
                    node.metrics.mempool_bytes.set(pool.bytes() as i64);
                }
                let (number, n) = (block.header.number, block.transactions.len());
                node.metrics.block_txs.observe(n as f64);
                node.metrics.executed.inc_by(n as u64);
                node.metrics.block_height.set(number as i64);
                node.metrics
                    .seals
                    .get_or_create(&Reason {
                        reason: reason.as_str().into(),
                    })
                    .inc();
                node.head.send_replace(Head {
                    number,
                    hash: block.hash,
                    timestamp: block.header.timestamp,
                });
                node.feed.block(&block);
                node.ingress_acks
                    .committed(block.transactions.iter().map(|t| t.hash));
                tracing::debug!(number, txs = n, reason = reason.as_str(), "stored block");
                // Only stored blocks reach the snapshot task, so a point is never ahead
                // of the blocks. It stops only on a fatal error, reported by `run`.
                let _ = to_snapshotter.send(BlockChanges {
                    number,
                    txs: n as u64,
                    state_root: block.header.state_root,
                    changes,
                });
            }
        }
    }
    Ok(())
}

/// A block executed: what the store writes, and what it left out for a later block.
struct Executed {
    block: SealedBlock,
    /// The mempool transactions in it.
    included: Vec<Arc<PendingTx>>,
    /// Those taken but left out ([`weft_protocol::execution::left_out`]), in block order.
    left_out: Vec<Arc<PendingTx>>,
    /// The gas its EVM transactions used.
    gas_used: u64,
    changes: weft_protocol::snapshot::StateDelta,
}

/// Executes the block against the shared state and builds what the store writes.
fn execute(
    node: &Node,
    parent: Head,
    env: BlockEnv,
    system: &[QueueEntry],
    mut txs: Vec<Arc<PendingTx>>,
) -> anyhow::Result<Executed> {
    let mut verified: Vec<_> = system
        .iter()
        .map(|e| VerifiedTransaction {
            hash: e.entry_hash,
            transaction: e.transaction.clone(),
        })
        .chain(txs.iter().map(|t| t.verified()))
        .collect();
    let mut left_out = Vec::new();
    let (output, header, changes, account_count) = {
        let mut state = node.state.write();
        let accounts_before = state.account_count();
        let mut output = node
            .executor
            .lock()
            .execute_block(&mut state, &env, &verified)
            .map_err(|e| anyhow!("block {} is invalid: {e}", env.number))?;
        let left = weft_protocol::execution::left_out(
            &state,
            accounts_before,
            &verified,
            &output.receipts,
        );
        if !left.is_empty() {
            // System entries have no sender and are never left out.
            let pending = |i: usize| i - system.len();
            left_out = left.iter().map(|&i| txs[pending(i)].clone()).collect();
            let keep = |i: usize| left.binary_search(&i).is_err();
            verified = retain_at(verified, keep);
            output.receipts = retain_at(output.receipts, keep);
            txs = retain_at(txs, |i| keep(i + system.len()));
        }
        // The transactions root commits to leaves that need no signature (an EVM
        // transaction's is not its Ethereum hash), so a block re-executed from L1 hashes
        // alike.
        let leaves: Vec<B256> = verified.iter().map(VerifiedTransaction::leaf).collect();
        let header = BlockHeader::seal(
            env.number,
            env.timestamp,
            env.fee_recipient,
            parent.hash,
            &leaves,
            &output,
        );
        // BLOCKHASH of the blocks after it reads it; recorded before the changes are
        // taken, so that a snapshot point of this block carries it.
        state.push_block_hash(env.number, header.hash());
        // A copy of what the block touched, in proportion to the block.
        (output, header, state.take_changes(), state.account_count())
    };
    let gas_used = output.gas_used;
    let signatures = system
        .iter()
        .map(|_| None)
        // An EVM transaction's envelope carries its signature.
        .chain(txs.iter().map(|t| {
            (!matches!(
                t.transaction,
                weft_protocol::transaction::Transaction::Evm(_)
            ))
            .then_some(t.signature)
        }));
    let transactions = verified
        .into_iter()
        .zip(signatures)
        .zip(output.receipts)
        .enumerate()
        .map(|(i, ((t, signature), receipt))| StoredTransaction {
            hash: t.hash,
            block_number: env.number,
            index: i as u32,
            transaction: t.transaction,
            signature,
            receipt,
        })
        .collect();
    Ok(Executed {
        block: SealedBlock {
            hash: header.hash(),
            header,
            transactions,
            account_count: Some(account_count),
        },
        included: txs,
        left_out,
        gas_used,
        changes,
    })
}

/// The items of `items` whose position `keep` accepts, in order.
fn retain_at<T>(items: Vec<T>, keep: impl Fn(usize) -> bool) -> Vec<T> {
    items
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| keep(i).then_some(t))
        .collect()
}

/// The state already includes the block, so the write must succeed: retry a few times,
/// then stop the node (a restart rebuilds the state from what was stored).
async fn store_with_retry(node: &Node, block: &SealedBlock) -> anyhow::Result<()> {
    let mut delay = Duration::from_millis(50);
    for attempt in 1..=5 {
        match node.store.insert_block(block).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 => {
                warn!(number = block.header.number, attempt, error = %e, "storing block failed, retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                return Err(anyhow!(e)).context(format!("store block {}", block.header.number));
            }
        }
    }
    unreachable!("the last attempt returns")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<Box<dyn SealRule>> {
        vec![
            Box::new(MaxTxs(10)),
            Box::new(MaxBytes(1_000)),
            Box::new(BlockTime(Duration::from_millis(100))),
        ]
    }

    fn pending(txs: usize, bytes: usize, ms: u64) -> Pending {
        Pending {
            txs,
            bytes,
            gas: 0,
            since_last_seal: Duration::from_millis(ms),
        }
    }

    #[test]
    fn never_seals_an_empty_block() {
        assert_eq!(should_seal(&rules(), &pending(0, 0, 10_000)), None);
    }

    #[test]
    fn each_rule_fires_on_its_own_limit() {
        assert_eq!(
            should_seal(&rules(), &pending(10, 10, 0)),
            Some(SealReason::MaxTxs)
        );
        assert_eq!(
            should_seal(&rules(), &pending(1, 1_000, 0)),
            Some(SealReason::MaxBytes)
        );
        assert_eq!(
            should_seal(&rules(), &pending(1, 10, 100)),
            Some(SealReason::BlockTime)
        );
        assert_eq!(should_seal(&rules(), &pending(9, 999, 99)), None);
    }
}

//! `weft-sequencer rebuild`: reconstructs a node's data directory from L1 alone.
//!
//! What L1 holds is enough to rebuild the whole L2 state (DESIGN.md, "Blocks, batches, data
//! availability"): every committed batch's DA payload is the calldata of its `commitBatch`
//! transaction, and the queue entries are the rollup's `QueueEntry` events. The rebuild,
//! pinned at the L1 block that was latest when it started:
//!
//! 1. checks the deployment against the configuration (L2 chain id, genesis root: the same
//!    genesis flags and file as the node, and a fresh data directory);
//! 2. reads every queue event and checks it as the watcher does (entry hash, hash chain);
//! 3. reads every `BatchCommitted` event and keeps, per index up to L1's `lastCommitted`, the
//!    last one: the sequencer may take unproven batches back (`revertBatches`), so an index
//!    committed again replaces its earlier commit, and commits above `lastCommitted` were
//!    reverted and not replaced (events are read in L1 order, and a reverted index can only
//!    be live again by a later commit). It fetches each kept commit's transaction, decodes
//!    the commitment and the payload from the calldata (so a batch committed through another
//!    contract is not found: the sequencer calls the rollup directly), and checks the
//!    commitment's hash against the event's and its queue hash against the queue read in
//!    step 2;
//! 4. re-executes each batch from the genesis state with
//!    [`weft_protocol::batch::apply_batch_with`] (previous root, new root, withdrawals root,
//!    queue position and DA hash checked), checks every system transaction of the payload
//!    against the L1 queue entry of its index, and writes the blocks (headers recomputed:
//!    the same hashes as the sequencer's), their transactions and receipts, the batches with
//!    their L1 statuses and transactions, and the consumed queue entries;
//! 5. checks that the final state root is L1's latest committed root and saves a snapshot.
//!
//! Signatures are not on L1 (the DA payload leaves them out: the prover checks them), so
//! rebuilt transactions have none: the API shows them without `signature`, and a rebuilt
//! node's `/v1/batches/{index}/witness` cannot serve the batches it rebuilt to a prover.
//! Blocks the sequencer sealed but had not committed when it was lost are gone.

use std::collections::BTreeMap;

use anyhow::{Context, ensure};
use tracing::info;
use weft_protocol::{
    batch::apply_batch_with,
    block::BlockHeader,
    da::DaBlock,
    execution::{BlockOutput, ChainParams, ParallelExecutor},
    primitives::B256,
};

use weft_l1::BatchLog;

use super::{L1Client, stored_status, watcher::MAX_LOG_RANGE, watcher::queue_entries};
use crate::{
    config::Config,
    node::genesis_state,
    store::{
        BatchStatus, QueueEntry, SealedBlock, Store, StoredBatch, StoredSnapshot, StoredTransaction,
    },
};

/// What a rebuild did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildReport {
    /// The L1 block it read up to.
    pub l1_block: u64,
    /// Batches re-executed.
    pub batches: u64,
    /// Blocks written (the head's number).
    pub blocks: u64,
    /// Transactions written.
    pub transactions: u64,
    /// Queue entries written (those the batches consumed).
    pub queue_entries: u64,
    /// The final state root, equal to L1's latest committed root.
    pub state_root: B256,
}

/// Rebuilds `config`'s (fresh) data directory from L1.
pub async fn rebuild<C: L1Client>(config: &Config, l1: &C) -> anyhow::Result<RebuildReport> {
    let l1_config = config.l1.as_ref().context("rebuild needs --l1-rpc")?;
    let store = Store::connect(config.database_url.as_deref(), &config.data_dir)
        .await
        .context("open storage")?;
    ensure!(
        store.head().await?.is_none()
            && store.latest_batch().await?.is_none()
            && store.queue_len().await? == 0,
        "{} already holds a node's data: rebuild into a fresh data directory",
        config.data_dir.display()
    );
    crate::node::check_chain_params(&store, config).await?;
    let domain = config.domain();
    let mut state = genesis_state(config)?;
    let at = l1.block_number().await?;
    let deployment = l1.deployment().await?;
    ensure!(
        deployment.l2_chain_id == config.chain_id,
        "the rollup's L2 chain id is {}, the configuration's {}",
        deployment.l2_chain_id,
        config.chain_id
    );
    ensure!(
        deployment.genesis_state_root == state.state_root(),
        "the rollup's genesis root is {}, this configuration's {}: use the node's genesis \
         flags and file",
        deployment.genesis_state_root,
        state.state_root()
    );
    let view = l1.rollup_view(Some(at)).await?;

    // Every queue entry and batch event up to `at`.
    let mut queue: Vec<QueueEntry> = Vec::new();
    let mut commits: BTreeMap<u64, BatchLog> = BTreeMap::new();
    let mut later: Vec<BatchLog> = Vec::new();
    let mut from = l1_config.from_block;
    while from <= at {
        let to = at.min(from + MAX_LOG_RANGE - 1);
        let chain = queue.last().map_or(B256::ZERO, |e| e.queue_hash);
        let logs = l1.queue_logs(from, to).await?;
        queue.extend(queue_entries(&domain, queue.len() as u64, chain, &logs)?);
        for log in l1.batch_logs(from, to).await? {
            match log.status {
                // A later commit of an index replaces the earlier, reverted one.
                weft_l1::BatchStatus::Committed => {
                    commits.insert(log.index, log.clone());
                }
                _ => later.push(log),
            }
        }
        from = to + 1;
    }
    // Commits above `lastCommitted` were reverted and not committed again.
    commits.retain(|index, _| *index <= view.last_committed);
    ensure!(
        commits.len() as u64 == view.last_committed
            && commits.keys().copied().eq(1..=view.last_committed),
        "L1 says {} batches are committed, its events show {:?}",
        view.last_committed,
        commits.keys().collect::<Vec<_>>()
    );

    let mut executor = ParallelExecutor::new(config.executor_threads);
    let mut parent = B256::ZERO;
    let mut report = RebuildReport {
        l1_block: at,
        batches: 0,
        blocks: 0,
        transactions: 0,
        queue_entries: 0,
        state_root: state.state_root(),
    };
    for (index, log) in &commits {
        let data = l1
            .commit_data(log.tx_hash)
            .await
            .with_context(|| {
                format!(
                    "L1 transaction {} of batch {index} is not a direct commitBatch or \
                     commitBatchBlobs call, or its blobs cannot be read",
                    log.tx_hash
                )
            })?
            .with_context(|| {
                format!("L1 transaction {} of batch {index} not found", log.tx_hash)
            })?;
        let commitment = data.commitment;
        ensure!(
            commitment.index == *index && Some(commitment.hash()) == log.commitment_hash,
            "the calldata of batch {index} does not hash to its event's commitment"
        );
        let queue_hash = match commitment.queue_position {
            0 => Some(B256::ZERO),
            p => queue.get(p as usize - 1).map(|e| e.queue_hash),
        };
        ensure!(
            queue_hash == Some(commitment.queue_hash),
            "batch {index} commits queue hash {} at position {}, the L1 queue has {queue_hash:?}",
            commitment.queue_hash,
            commitment.queue_position
        );
        let payload = data.payload.to_vec();
        let mut executed: Vec<(DaBlock, BlockOutput)> = Vec::new();
        apply_batch_with(
            &mut state,
            &ChainParams {
                domain,
                dispute_window: config.dispute_window,
            },
            &commitment,
            &payload,
            data.carrier,
            &mut executor,
            |block, out| executed.push((block.clone(), out.clone())),
        )
        .with_context(|| format!("batch {index} does not re-execute to its commitment"))?;
        for (block, out) in executed {
            let sealed = sealed_block(&domain, &queue, parent, block, out)?;
            report.transactions += sealed.transactions.len() as u64;
            report.blocks = sealed.header.number;
            parent = sealed.hash;
            store.insert_block(&sealed).await?;
        }
        store
            .insert_batch(&StoredBatch {
                commitment,
                accounts_after: state.account_count(),
                da_payload: payload,
                status: BatchStatus::Sealed,
                commit_l1_tx: None,
                prove_l1_tx: None,
                finalize_l1_tx: None,
            })
            .await?;
        store
            .set_batch_status(*index, BatchStatus::Committed, Some(log.tx_hash))
            .await?;
        report.batches += 1;
        info!(
            index,
            to_block = commitment.to_block,
            state_root = %commitment.new_state_root,
            "batch rebuilt"
        );
    }
    for log in later.iter().filter(|l| l.index <= view.last_committed) {
        store
            .set_batch_status(log.index, stored_status(log.status), Some(log.tx_hash))
            .await?;
    }
    let consumed = state.queue_position() as usize;
    ensure!(
        consumed <= queue.len(),
        "the batches consume more queue entries than L1 has"
    );
    store.insert_queue_entries(&queue[..consumed]).await?;
    report.queue_entries = consumed as u64;

    let committed_root = match commits.values().last() {
        Some(log) => log
            .new_state_root
            .context("a BatchCommitted event without its root")?,
        None => deployment.genesis_state_root,
    };
    report.state_root = state.state_root();
    ensure!(
        report.state_root == committed_root,
        "the rebuilt state root {} is not L1's latest committed root {committed_root}",
        report.state_root
    );
    if report.blocks > 0 {
        store
            .save_snapshot(&StoredSnapshot {
                block_number: report.blocks,
                state_root: report.state_root,
                data: state.encode_snapshot(),
            })
            .await?;
    }
    store.close().await;
    Ok(report)
}

/// A re-executed block as the sequencer stored it: the header is recomputed exactly as the
/// builder computes it, so its hash is the sequencer's. Transactions carry no signature.
fn sealed_block(
    domain: &weft_protocol::eip712::Domain,
    queue: &[QueueEntry],
    parent_hash: B256,
    block: DaBlock,
    out: BlockOutput,
) -> anyhow::Result<SealedBlock> {
    for tx in &block.transactions {
        if let Some(i) = tx.queue_index() {
            ensure!(
                queue.get(i as usize).map(|e| &e.transaction) == Some(tx),
                "block {} holds queue entry {i} unlike the L1 queue's",
                block.number
            );
        }
    }
    // An EVM transaction from the payload has no signature, so no Ethereum hash: it is
    // stored under its transactions-root leaf, which the header commits to as the
    // builder's does.
    let hashes: Vec<B256> = block.transactions.iter().map(|t| t.hash(domain)).collect();
    let leaves: Vec<B256> = block.transactions.iter().map(|t| t.leaf(domain)).collect();
    let header = BlockHeader::seal(
        block.number,
        block.timestamp,
        block.fee_recipient,
        parent_hash,
        &leaves,
        &out,
    );
    let transactions = block
        .transactions
        .into_iter()
        .zip(hashes)
        .zip(out.receipts)
        .enumerate()
        .map(|(i, ((transaction, hash), receipt))| StoredTransaction {
            hash,
            block_number: block.number,
            index: i as u32,
            transaction,
            signature: None,
            receipt,
        })
        .collect();
    Ok(SealedBlock {
        hash: header.hash(),
        header,
        transactions,
        account_count: None,
    })
}

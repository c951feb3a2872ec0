//! The batcher: groups stored blocks into batches, builds each batch's compressed DA payload
//! and its L1 commitment, and stores it (`sealed`) for the poster.
//!
//! Seal rules: at most `max_blocks` blocks and `max_txs` transactions per batch, and no
//! block waits longer than `max_age` to be batched. Batches are built only from stored
//! blocks, so a batch never holds anything that could be lost. Blocks come from the write
//! loop's hand-over in memory ([`crate::recent`]) and from the store when they are not there.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{Context, ensure};
use tokio::sync::watch;
use tracing::info;
use weft_protocol::{
    batch::BatchCommitment,
    da::{DaBlock, da_hash, encode_batch},
    execution::Withdrawal,
    merkle,
    primitives::B256,
};

use crate::{
    node::Node,
    store::{BatchStatus, SealedBlock, StoredBatch},
};

/// Runs until `shutdown` turns true.
pub async fn run(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut heads = node.head.subscribe();
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let wait = match next_seal(&node).await? {
            Seal::Now(from, to) => {
                seal(&node, from, to).await?;
                continue;
            }
            Seal::After(d) => d,
            Seal::Nothing => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = heads.changed() => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => {}
        }
    }
}

enum Seal {
    /// Seal blocks `from..=to` now.
    Now(u64, u64),
    /// Check again after this long.
    After(Duration),
    /// No unbatched block.
    Nothing,
}

/// Applies the seal rules to the unbatched blocks.
async fn next_seal(node: &Node) -> anyhow::Result<Seal> {
    let cfg = node.config.batch;
    let from = node
        .store
        .latest_batch()
        .await?
        .map_or(1, |b| b.commitment.to_block + 1);
    let head = node.head().number;
    if head < from {
        return Ok(Seal::Nothing);
    }
    let mut txs = 0;
    let mut to = from;
    let mut oldest = None;
    for n in from..=head.min(from + cfg.max_blocks - 1) {
        let header = match node.recent_blocks.get(n) {
            Some(block) => block.header,
            None => {
                node.store
                    .header_by_number(n)
                    .await?
                    .context("unbatched block missing")?
                    .0
            }
        };
        oldest.get_or_insert(header.timestamp);
        if n > from && txs + header.tx_count > cfg.max_txs {
            return Ok(Seal::Now(from, to));
        }
        txs += header.tx_count;
        to = n;
    }
    if to - from + 1 >= cfg.max_blocks || txs >= cfg.max_txs {
        return Ok(Seal::Now(from, to));
    }
    let age = Duration::from_secs(unix_now().saturating_sub(oldest.unwrap_or(0)));
    if age >= cfg.max_age {
        return Ok(Seal::Now(from, to));
    }
    Ok(Seal::After(cfg.max_age - age))
}

/// Builds and stores the batch of blocks `from..=to`.
pub async fn seal(node: &Node, from: u64, to: u64) -> anyhow::Result<StoredBatch> {
    let previous = node.store.latest_batch().await?;
    let index = previous.as_ref().map_or(1, |b| b.commitment.index + 1);
    ensure!(
        previous.as_ref().map_or(1, |b| b.commitment.to_block + 1) == from,
        "batch {index} would skip blocks"
    );
    let (prev_state_root, accounts_before, queue_before) = match &previous {
        Some(b) => (
            b.commitment.new_state_root,
            b.accounts_after,
            b.commitment.queue_position,
        ),
        None => (node.genesis_root, node.genesis_accounts, 0),
    };
    let mut blocks = Vec::with_capacity((to - from + 1) as usize);
    let mut withdrawal_leaves = Vec::new();
    let mut last = None;
    for n in from..=to {
        let block = match node.recent_blocks.get(n) {
            Some(block) => block,
            None => {
                node.metrics.batcher_block_reads.inc();
                Arc::new(stored_block(node, n).await?)
            }
        };
        withdrawal_leaves
            .extend(withdrawal_leaves_of(&block.transactions).map(|(leaf, _, _)| leaf));
        blocks.push(DaBlock {
            number: n,
            timestamp: block.header.timestamp,
            fee_recipient: block.header.fee_recipient,
            transactions: block
                .transactions
                .iter()
                .map(|t| t.transaction.clone())
                .collect(),
        });
        last = Some(block);
    }
    let last = last.context("empty batch")?;
    // Look up the batch's addresses under one short read lock, then encode without it.
    let indexes: HashMap<_, _> = {
        let state = node.state.read();
        blocks
            .iter()
            .flat_map(|b| {
                std::iter::once(b.fee_recipient).chain(b.transactions.iter().flat_map(addresses_of))
            })
            .filter_map(|a| state.index_of(&a).map(|i| (a, i)))
            .collect()
    };
    // Encoding compresses (zstd level 19: milliseconds to tens of milliseconds per batch),
    // off the async workers that serve the API.
    let (da_payload, encoded_accounts_after) = tokio::task::spawn_blocking(move || {
        encode_batch(&blocks, accounts_before, queue_before, |a| {
            indexes.get(a).copied()
        })
    })
    .await
    .context("DA encoding task")?;
    // The accounts the EVM created (contracts, ETH sent to new addresses) are not in the
    // transactions' fields the encoding numbers: the state's count after the last block is.
    let accounts_after = last.account_count.unwrap_or(encoded_accounts_after);
    let last = last.header;
    let queue_hash = node
        .store
        .queue_hash_at(last.queue_position)
        .await?
        .with_context(|| format!("queue entry {} not stored", last.queue_position))?;
    let commitment = BatchCommitment {
        index,
        from_block: from,
        to_block: to,
        prev_state_root,
        new_state_root: last.state_root,
        withdrawals_root: merkle::root_of(&withdrawal_leaves),
        queue_position: last.queue_position,
        queue_hash,
        da_hash: da_hash(&da_payload),
    };
    let batch = StoredBatch {
        commitment,
        accounts_after,
        da_payload,
        status: BatchStatus::Sealed,
        commit_l1_tx: None,
        prove_l1_tx: None,
        finalize_l1_tx: None,
    };
    node.store.insert_batch(&batch).await?;
    node.recent_blocks.forget_through(to);
    node.feed.batch(&batch);
    node.metrics.batches_sealed.set(index as i64);
    info!(
        index,
        from,
        to,
        bytes = batch.da_payload.len(),
        commitment = %batch.commitment.hash(),
        "sealed batch"
    );
    Ok(batch)
}

/// Every address a transaction names (for the index lookup).
fn addresses_of(
    tx: &weft_protocol::transaction::Transaction,
) -> Vec<weft_protocol::primitives::Address> {
    use weft_protocol::transaction::Transaction as T;
    match tx {
        T::Transfer(t) => vec![t.from, t.to],
        T::Deposit(d) => vec![d.to],
        T::ForcedWithdraw(f) => vec![f.account],
        T::ChannelOpen(o) => vec![o.from, o.hub],
        other => other.sender().into_iter().collect(),
    }
}

/// Block `number` as the store holds it, with the account count recorded after it.
pub async fn stored_block(node: &Node, number: u64) -> anyhow::Result<SealedBlock> {
    let (header, hash) = node
        .store
        .header_by_number(number)
        .await?
        .with_context(|| format!("block {number} missing"))?;
    Ok(SealedBlock {
        header,
        hash,
        transactions: node.store.block_transactions(number).await?,
        account_count: node.store.block_account_count(number).await?,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The withdrawal leaves of a block's stored transactions in block order, each with its
/// identifier and withdrawal: a native withdrawal's, then an EVM transaction's withdrawal
/// predeploy events ([`weft_protocol::execution::Receipt::withdrawals`]), exactly the
/// leaves the executor puts in the block's withdrawals tree, so the batch root matches
/// re-execution. The withdrawal route builds its proofs from the same leaves.
pub(crate) fn withdrawal_leaves_of(
    txs: &[crate::store::StoredTransaction],
) -> impl Iterator<Item = (B256, B256, Withdrawal)> + '_ {
    txs.iter().flat_map(|t| {
        t.receipt
            .withdrawals(&t.transaction.leaf_with(t.hash))
            .into_iter()
            .map(|(id, w)| (w.leaf(&id), id, w))
    })
}

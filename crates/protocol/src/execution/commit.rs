//! Committing an executed block: deferred credits, partition trees, secret registry, roots.

use rayon::prelude::*;

use crate::{
    channel::ChannelRecord,
    execution::{BlockOutput, Receipt, prepare::Prepared},
    merkle,
    primitives::{AccountIndex, Amount, B256, TokenId},
    snapshot::secret_leaf,
    state::{PARTITIONS, State, commit_partition, position_of},
    transaction::VerifiedTransaction,
};

/// A deferred credit to a commutative account.
pub(crate) type Delta = (AccountIndex, TokenId, Amount);

/// A new-channel slot of the block: empty, or the channel opened by transaction `.0`.
pub(crate) type NewChannel = Option<(u32, ChannelRecord)>;

/// Everything execution produced besides the direct writes.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) receipts: Vec<Receipt>,
    /// Per worker, per partition: credits to commutative accounts.
    pub(crate) deltas: Vec<Vec<Vec<Delta>>>,
    /// `(tx index, hashlock)` of successful reveals, in any order.
    pub(crate) reveals: Vec<(u32, B256)>,
    /// The block's new-channel slots.
    pub(crate) opened: Vec<NewChannel>,
}

/// Applies `effects` to `state`, rehashes the `touched` positions of each partition (unsorted,
/// repeats allowed) and the channels the block referred to, appends the channels it opened
/// (in block order) and computes the block's roots. Partitions are committed in parallel on
/// `pool` when given.
pub(crate) fn commit(
    state: &mut State,
    block_number: u64,
    txs: &[VerifiedTransaction],
    prepared: Prepared,
    mut touched: Vec<Vec<usize>>,
    mut effects: Effects,
    pool: Option<&rayon::ThreadPool>,
) -> BlockOutput {
    let queue_position = prepared.queue_position;
    let deltas = &effects.deltas;
    let commit_one =
        |(p, (part, positions)): (usize, (&mut crate::state::Partition, &mut Vec<usize>))| {
            for worker in deltas {
                for &(idx, token, amount) in &worker[p] {
                    part.accounts[position_of(idx)].credit(token, amount);
                }
            }
            positions.sort_unstable();
            positions.dedup();
            commit_partition(part, positions);
        };
    match pool {
        Some(pool) => pool.install(|| {
            state
                .partitions
                .par_iter_mut()
                .zip(touched.par_iter_mut())
                .enumerate()
                .for_each(commit_one)
        }),
        None => state
            .partitions
            .iter_mut()
            .zip(touched.iter_mut())
            .enumerate()
            .for_each(commit_one),
    }
    debug_assert_eq!(state.partitions.len(), PARTITIONS);

    // Reveals enter the registry in block order, whatever order the workers ran them in.
    effects.reveals.sort_unstable_by_key(|&(tx, _)| tx);
    let first = state.secrets.tree.len();
    let mut leaves = Vec::with_capacity(effects.reveals.len());
    for (i, &(_, hashlock)) in effects.reveals.iter().enumerate() {
        state.secrets.reveal(hashlock, block_number);
        leaves.push((first + i, secret_leaf(&hashlock, block_number)));
    }
    state.secrets.tree.update(&leaves);

    // Channels enter the table in the order they were opened, whatever order the workers
    // ran them in.
    let mut opened: Vec<(u32, ChannelRecord)> = effects.opened.into_iter().flatten().collect();
    opened.sort_unstable_by_key(|&(tx, _)| tx);
    state.channels.commit(
        prepared.touched_channels,
        opened.into_iter().map(|(_, record)| record).collect(),
    );
    state.queue_position = queue_position;

    let withdrawal_leaves: Vec<B256> = effects
        .receipts
        .iter()
        .zip(txs)
        .flat_map(|(r, tx)| {
            r.withdrawals(&tx.leaf())
                .into_iter()
                .map(|(id, w)| w.leaf(&id))
        })
        .collect();
    BlockOutput {
        withdrawals_root: merkle::root_of(&withdrawal_leaves),
        withdrawal_leaves,
        receipts: effects.receipts,
        state_root: state.state_root(),
        queue_position,
        gas_used: 0,
    }
}

//! Batches as L1 sees them: the commitment posted with `commitBatch`, the L1 queue's hash
//! chain, and the digest a prover attests.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crate::da::blob::Carrier;
use crate::primitives::{Address, B256, keccak256, word_address, word_u64};

/// What `commitBatch` records for a run of consecutive blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BatchCommitment {
    /// Batch number, from 1, consecutive.
    pub index: u64,
    /// First block.
    pub from_block: u64,
    /// Last block.
    pub to_block: u64,
    /// State root before `from_block` (the previous batch's new root).
    #[schemars(with = "crate::schema::Hash")]
    pub prev_state_root: B256,
    /// State root after `to_block`.
    #[schemars(with = "crate::schema::Hash")]
    pub new_state_root: B256,
    /// [`crate::merkle::root_of`] every withdrawal leaf of the batch, in block order.
    #[schemars(with = "crate::schema::Hash")]
    pub withdrawals_root: B256,
    /// L1 queue entries consumed after `to_block`.
    pub queue_position: u64,
    /// The queue hash chain at `queue_position`.
    #[schemars(with = "crate::schema::Hash")]
    pub queue_hash: B256,
    /// keccak256 of the DA payload.
    #[schemars(with = "crate::schema::Hash")]
    pub da_hash: B256,
}

impl BatchCommitment {
    /// `keccak256(abi.encode(commitment))`, as the Rollup contract computes it.
    pub fn hash(&self) -> B256 {
        let mut buf = [0u8; 9 * 32];
        buf[..32].copy_from_slice(&word_u64(self.index));
        buf[32..64].copy_from_slice(&word_u64(self.from_block));
        buf[64..96].copy_from_slice(&word_u64(self.to_block));
        buf[96..128].copy_from_slice(self.prev_state_root.as_slice());
        buf[128..160].copy_from_slice(self.new_state_root.as_slice());
        buf[160..192].copy_from_slice(self.withdrawals_root.as_slice());
        buf[192..224].copy_from_slice(&word_u64(self.queue_position));
        buf[224..256].copy_from_slice(self.queue_hash.as_slice());
        buf[256..].copy_from_slice(self.da_hash.as_slice());
        keccak256(buf)
    }
}

/// The queue hash after appending an entry: `keccak256(abi.encode(previous, entryHash))`.
/// An entry's hash is the L2 transaction hash of its system kind; the chain starts at zero.
pub fn next_queue_hash(previous: &B256, entry_hash: &B256) -> B256 {
    let mut buf = [0u8; 64];
    buf[..32].copy_from_slice(previous.as_slice());
    buf[32..].copy_from_slice(entry_hash.as_slice());
    keccak256(buf)
}

/// What the prover signs for a batch: `keccak256(abi.encode(rollup, l1ChainId,
/// commitmentHash))`, binding the attestation to one deployment on one L1.
pub fn attestation_digest(rollup: &Address, l1_chain_id: u64, commitment_hash: &B256) -> B256 {
    let mut buf = [0u8; 96];
    buf[..32].copy_from_slice(&word_address(rollup));
    buf[32..64].copy_from_slice(&word_u64(l1_chain_id));
    buf[64..].copy_from_slice(commitment_hash.as_slice());
    keccak256(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commitment_field_changes_the_hash() {
        let c = BatchCommitment {
            index: 1,
            from_block: 1,
            to_block: 5,
            prev_state_root: B256::repeat_byte(1),
            new_state_root: B256::repeat_byte(2),
            withdrawals_root: B256::repeat_byte(3),
            queue_position: 4,
            queue_hash: B256::repeat_byte(5),
            da_hash: B256::repeat_byte(6),
        };
        let variants = [
            BatchCommitment { index: 2, ..c },
            BatchCommitment { from_block: 2, ..c },
            BatchCommitment { to_block: 6, ..c },
            BatchCommitment {
                prev_state_root: B256::ZERO,
                ..c
            },
            BatchCommitment {
                new_state_root: B256::ZERO,
                ..c
            },
            BatchCommitment {
                withdrawals_root: B256::ZERO,
                ..c
            },
            BatchCommitment {
                queue_position: 5,
                ..c
            },
            BatchCommitment {
                queue_hash: B256::ZERO,
                ..c
            },
            BatchCommitment {
                da_hash: B256::ZERO,
                ..c
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), c.hash());
        }
    }

    #[test]
    fn the_queue_chain_depends_on_order() {
        let (a, b) = (B256::repeat_byte(1), B256::repeat_byte(2));
        let ab = next_queue_hash(&next_queue_hash(&B256::ZERO, &a), &b);
        let ba = next_queue_hash(&next_queue_hash(&B256::ZERO, &b), &a);
        assert_ne!(ab, ba);
    }
}

/// A batch that does not re-execute to its commitment.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The DA payload does not decode.
    #[error("DA payload: {0}")]
    Da(#[from] crate::da::DaError),
    /// A block of the payload is invalid.
    #[error("block {number}: {source}")]
    Block {
        /// The block.
        number: u64,
        /// Why.
        source: crate::error::BlockError,
    },
    /// The payload's blocks are not the committed range.
    #[error("payload holds blocks {got:?}, the commitment says {from}..={to}")]
    Range {
        /// Committed first block.
        from: u64,
        /// Committed last block.
        to: u64,
        /// First and last block of the payload.
        got: Option<(u64, u64)>,
    },
    /// The state does not know the hash of the block before the batch, which `BLOCKHASH`
    /// in the batch may read (a state must be replayed from genesis or from a snapshot that
    /// carries the recent block hashes).
    #[error("the state has no hash of block {0}, the parent of the batch's first block")]
    MissingParentHash(u64),
    /// The payload starts from a different state than the one replayed so far.
    #[error("payload starts at {what} {got}, the state is at {expected}")]
    Start {
        /// Which counter.
        what: &'static str,
        /// The state's.
        expected: u64,
        /// The payload's.
        got: u64,
    },
    /// A root or position differs from the commitment.
    #[error("re-execution gives {what} {got}, committed {committed}")]
    Mismatch {
        /// Which field.
        what: &'static str,
        /// Re-executed value.
        got: String,
        /// Committed value.
        committed: String,
    },
}

/// Re-executes a batch from its DA payload on `state` (the state after the previous batch)
/// and checks the result against `commitment`: previous and new state roots, withdrawals
/// root, queue position, block range, DA hash (as `carrier` brought the payload to L1:
/// [`Carrier::da_hash`]). On success `state` is the state after the
/// batch; the decoded blocks are returned. Signatures are not in the payload: whoever needs
/// them checks them separately. The queue hash is L1's to check. `chain` is the chain's
/// domain and dispute window ([`crate::execution::BlockEnv::dispute_window`]).
pub fn apply_batch(
    state: &mut crate::state::State,
    chain: &crate::execution::ChainParams,
    commitment: &BatchCommitment,
    payload: &[u8],
    carrier: Carrier,
    executor: &mut dyn crate::execution::BlockExecutor,
) -> Result<Vec<crate::da::DaBlock>, BatchError> {
    apply_batch_with(
        state,
        chain,
        commitment,
        payload,
        carrier,
        executor,
        |_, _| {},
    )
}

/// [`apply_batch`], calling `on_block` with each block and its execution output (receipts,
/// roots) as it is executed: what a node rebuilding its blocks from L1 stores. The batch as
/// a whole is checked after the last block, so a caller keeps nothing before `Ok`.
///
/// Each block's header is sealed as the builder seals it and its hash recorded in the state
/// ([`crate::state::State::push_block_hash`]) before the next block runs, so `BLOCKHASH`
/// re-executes as it executed; block 1's parent is the genesis, hash zero.
pub fn apply_batch_with(
    state: &mut crate::state::State,
    chain: &crate::execution::ChainParams,
    commitment: &BatchCommitment,
    payload: &[u8],
    carrier: Carrier,
    executor: &mut dyn crate::execution::BlockExecutor,
    mut on_block: impl FnMut(&crate::da::DaBlock, &crate::execution::BlockOutput),
) -> Result<Vec<crate::da::DaBlock>, BatchError> {
    let (domain, dispute_window) = (&chain.domain, chain.dispute_window);
    let mismatch = |what, got: String, committed: String| BatchError::Mismatch {
        what,
        got,
        committed,
    };
    let da_hash = carrier.da_hash(payload);
    if da_hash != commitment.da_hash {
        return Err(mismatch(
            "da hash",
            da_hash.to_string(),
            commitment.da_hash.to_string(),
        ));
    }
    if state.state_root() != commitment.prev_state_root {
        return Err(mismatch(
            "previous state root",
            state.state_root().to_string(),
            commitment.prev_state_root.to_string(),
        ));
    }
    let batch = crate::da::decode_batch(payload, |i| state.account(i).map(|a| a.address))?;
    if batch.accounts_before != state.account_count() {
        return Err(BatchError::Start {
            what: "account count",
            expected: state.account_count().into(),
            got: batch.accounts_before.into(),
        });
    }
    if batch.queue_before != state.queue_position() {
        return Err(BatchError::Start {
            what: "queue position",
            expected: state.queue_position(),
            got: batch.queue_before,
        });
    }
    let range = batch
        .blocks
        .first()
        .zip(batch.blocks.last())
        .map(|(a, b)| (a.number, b.number));
    if range != Some((commitment.from_block, commitment.to_block)) {
        return Err(BatchError::Range {
            from: commitment.from_block,
            to: commitment.to_block,
            got: range,
        });
    }
    let mut parent = match commitment.from_block {
        0 | 1 => B256::ZERO,
        from => state
            .block_hash(from - 1)
            .ok_or(BatchError::MissingParentHash(from - 1))?,
    };
    let mut leaves = Vec::new();
    for block in &batch.blocks {
        let txs: Vec<_> = block
            .transactions
            .iter()
            .map(|t| t.clone().assume_verified(domain))
            .collect();
        let env = crate::execution::BlockEnv {
            number: block.number,
            timestamp: block.timestamp,
            fee_recipient: block.fee_recipient,
            domain: *domain,
            dispute_window,
            gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
        };
        let out = executor
            .execute_block(state, &env, &txs)
            .map_err(|source| BatchError::Block {
                number: block.number,
                source,
            })?;
        let tx_leaves: Vec<B256> = txs.iter().map(|t| t.leaf()).collect();
        let header = crate::block::BlockHeader::seal(
            block.number,
            block.timestamp,
            block.fee_recipient,
            parent,
            &tx_leaves,
            &out,
        );
        parent = header.hash();
        state.push_block_hash(block.number, parent);
        on_block(block, &out);
        leaves.extend(out.withdrawal_leaves);
    }
    let root = state.state_root();
    if root != commitment.new_state_root {
        return Err(mismatch(
            "state root",
            root.to_string(),
            commitment.new_state_root.to_string(),
        ));
    }
    let withdrawals = crate::merkle::root_of(&leaves);
    if withdrawals != commitment.withdrawals_root {
        return Err(mismatch(
            "withdrawals root",
            withdrawals.to_string(),
            commitment.withdrawals_root.to_string(),
        ));
    }
    if state.queue_position() != commitment.queue_position {
        return Err(mismatch(
            "queue position",
            state.queue_position().to_string(),
            commitment.queue_position.to_string(),
        ));
    }
    Ok(batch.blocks)
}

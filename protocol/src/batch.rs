//! Batches as L1 sees them: the commitment posted with `commitBatch`, the L1 queue's hash
//! chain, and the digest a prover attests.

use serde::{Deserialize, Serialize};

use crate::primitives::{Address, B256, keccak256, word_address, word_u64};

/// What `commitBatch` records for a run of consecutive blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchCommitment {
    /// Batch number, from 1, consecutive.
    pub index: u64,
    /// First block.
    pub from_block: u64,
    /// Last block.
    pub to_block: u64,
    /// State root before `from_block` (the previous batch's new root).
    pub prev_state_root: B256,
    /// State root after `to_block`.
    pub new_state_root: B256,
    /// [`crate::merkle::root_of`] every withdrawal leaf of the batch, in block order.
    pub withdrawals_root: B256,
    /// L1 queue entries consumed after `to_block`.
    pub queue_position: u64,
    /// The queue hash chain at `queue_position`.
    pub queue_hash: B256,
    /// keccak256 of the DA payload.
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

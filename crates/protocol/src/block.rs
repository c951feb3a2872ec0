//! L2 block headers and their hashes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    eip712::Domain,
    execution::{BlockEnv, BlockOutput},
    merkle,
    primitives::{Address, B256, keccak256, word_address, word_u64},
};

/// An L2 block header. The block hash is `keccak256(abi.encode(header fields in order))`.
///
/// Beyond DESIGN.md's list it commits to the fee recipient: re-executing a block (the
/// prover, a rebuild from L1) needs it, so it must be part of what the hash binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockHeader {
    /// Height; the first block after genesis is 1.
    pub number: u64,
    /// Hash of the previous header (zero for block 1's parent, the genesis).
    #[schemars(with = "crate::schema::Hash")]
    pub parent_hash: B256,
    /// Seconds since the Unix epoch.
    pub timestamp: u64,
    /// Receives the block's fees.
    #[schemars(with = "crate::schema::Address")]
    pub fee_recipient: Address,
    /// Number of transactions.
    pub tx_count: u64,
    /// [`merkle::root_of`] the transactions' leaves in block order
    /// ([`crate::transaction::Transaction::leaf`]: the canonical hash, or for an EVM
    /// transaction `keccak256(sender ‖ signingHash)`, which needs no signature).
    #[schemars(with = "crate::schema::Hash")]
    pub transactions_root: B256,
    /// State root after the block.
    #[schemars(with = "crate::schema::Hash")]
    pub state_root: B256,
    /// [`merkle::root_of`] the block's withdrawal leaves.
    #[schemars(with = "crate::schema::Hash")]
    pub withdrawals_root: B256,
    /// Next unconsumed L1 queue index after the block.
    pub queue_position: u64,
}

impl BlockHeader {
    /// The header of block `number` (at `timestamp`, fees to `fee_recipient`) on top of
    /// `parent_hash`, holding transactions of transactions-root `leaves` in block order
    /// ([`crate::transaction::Transaction::leaf`]), from what executing them gave: the one
    /// assembly the builder, the prover and a rebuild from L1 share, so a rebuilt block
    /// hashes as the sequencer's.
    pub fn seal(
        number: u64,
        timestamp: u64,
        fee_recipient: Address,
        parent_hash: B256,
        leaves: &[B256],
        output: &BlockOutput,
    ) -> Self {
        Self {
            number,
            parent_hash,
            timestamp,
            fee_recipient,
            tx_count: leaves.len() as u64,
            transactions_root: transactions_root(leaves),
            state_root: output.state_root,
            withdrawals_root: output.withdrawals_root,
            queue_position: output.queue_position,
        }
    }

    /// `keccak256(abi.encode(number, parentHash, timestamp, feeRecipient, txCount,
    /// transactionsRoot, stateRoot, withdrawalsRoot, queuePosition))`.
    pub fn hash(&self) -> B256 {
        let mut buf = [0u8; 9 * 32];
        buf[..32].copy_from_slice(&word_u64(self.number));
        buf[32..64].copy_from_slice(self.parent_hash.as_slice());
        buf[64..96].copy_from_slice(&word_u64(self.timestamp));
        buf[96..128].copy_from_slice(&word_address(&self.fee_recipient));
        buf[128..160].copy_from_slice(&word_u64(self.tx_count));
        buf[160..192].copy_from_slice(self.transactions_root.as_slice());
        buf[192..224].copy_from_slice(self.state_root.as_slice());
        buf[224..256].copy_from_slice(self.withdrawals_root.as_slice());
        buf[256..].copy_from_slice(&word_u64(self.queue_position));
        keccak256(buf)
    }

    /// The environment the block was executed in, on the deployment of `domain` whose
    /// disputes last `dispute_window` blocks.
    pub fn env(&self, domain: Domain, dispute_window: u64) -> BlockEnv {
        BlockEnv {
            number: self.number,
            timestamp: self.timestamp,
            fee_recipient: self.fee_recipient,
            domain,
            dispute_window,
            gas_limit: crate::evm::DEFAULT_BLOCK_GAS_LIMIT,
            base_fee: crate::evm::DEFAULT_MIN_BASE_FEE,
        }
    }
}

/// [`merkle::root_of`] a block's transaction leaves
/// ([`crate::transaction::Transaction::leaf`]).
pub fn transactions_root(leaves: &[B256]) -> B256 {
    merkle::root_of(leaves)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_field_changes_the_hash() {
        let h = BlockHeader {
            number: 1,
            parent_hash: B256::repeat_byte(1),
            timestamp: 2,
            fee_recipient: Address::repeat_byte(3),
            tx_count: 4,
            transactions_root: B256::repeat_byte(5),
            state_root: B256::repeat_byte(6),
            withdrawals_root: B256::repeat_byte(7),
            queue_position: 8,
        };
        let base = h.hash();
        let variants = [
            BlockHeader { number: 9, ..h },
            BlockHeader {
                parent_hash: B256::ZERO,
                ..h
            },
            BlockHeader { timestamp: 9, ..h },
            BlockHeader {
                fee_recipient: Address::ZERO,
                ..h
            },
            BlockHeader { tx_count: 9, ..h },
            BlockHeader {
                transactions_root: B256::ZERO,
                ..h
            },
            BlockHeader {
                state_root: B256::ZERO,
                ..h
            },
            BlockHeader {
                withdrawals_root: B256::ZERO,
                ..h
            },
            BlockHeader {
                queue_position: 9,
                ..h
            },
        ];
        for v in variants {
            assert_ne!(v.hash(), base, "{v:?}");
        }
    }
}

//! Batch commitments and their attestations, hashed as the contract hashes them.

use alloy::{
    primitives::{Address, B256, Bytes, U256, keccak256},
    sol_types::SolValue,
};
use weft_protocol::signature::SigningKey;

use crate::Rollup::BatchCommitment;

/// `keccak256(abi.encode(c))`: the commitment is a static struct, so its encoding is its
/// nine fields as words.
pub fn commitment_hash(c: &BatchCommitment) -> B256 {
    keccak256(c.abi_encode())
}

/// What a batch proof attests: `keccak256(abi.encode(rollup, l1ChainId, commitmentHash))`.
/// Binding the Rollup address and the L1 chain id means an attestation for one deployment
/// (or a fork of its chain) proves nothing on another.
pub fn attestation_digest(rollup: Address, l1_chain_id: u64, commitment_hash: B256) -> B256 {
    keccak256((rollup, U256::from(l1_chain_id), commitment_hash).abi_encode())
}

impl From<&weft_protocol::batch::BatchCommitment> for BatchCommitment {
    fn from(c: &weft_protocol::batch::BatchCommitment) -> Self {
        Self {
            index: c.index,
            fromBlock: c.from_block,
            toBlock: c.to_block,
            prevStateRoot: c.prev_state_root,
            newStateRoot: c.new_state_root,
            withdrawalsRoot: c.withdrawals_root,
            queuePosition: c.queue_position,
            queueHash: c.queue_hash,
            daHash: c.da_hash,
        }
    }
}

impl From<&BatchCommitment> for weft_protocol::batch::BatchCommitment {
    fn from(c: &BatchCommitment) -> Self {
        Self {
            index: c.index,
            from_block: c.fromBlock,
            to_block: c.toBlock,
            prev_state_root: c.prevStateRoot,
            new_state_root: c.newStateRoot,
            withdrawals_root: c.withdrawalsRoot,
            queue_position: c.queuePosition,
            queue_hash: c.queueHash,
            da_hash: c.daHash,
        }
    }
}

/// The attestation `EcdsaAttestationVerifier` accepts: the prover's 65-byte signature
/// `r ‖ s ‖ v` over the raw digest (low s, `v` in {27, 28}).
pub fn attest(prover: &SigningKey, digest: &B256) -> Bytes {
    Bytes::copy_from_slice(&prover.sign_digest(digest).to_bytes())
}

/// The contract's commitment struct from the protocol's.
pub fn to_sol(c: &weft_protocol::batch::BatchCommitment) -> BatchCommitment {
    BatchCommitment {
        index: c.index,
        fromBlock: c.from_block,
        toBlock: c.to_block,
        prevStateRoot: c.prev_state_root,
        newStateRoot: c.new_state_root,
        withdrawalsRoot: c.withdrawals_root,
        queuePosition: c.queue_position,
        queueHash: c.queue_hash,
        daHash: c.da_hash,
    }
}

/// The protocol's commitment from the contract's struct.
pub fn from_sol(c: &BatchCommitment) -> weft_protocol::batch::BatchCommitment {
    weft_protocol::batch::BatchCommitment {
        index: c.index,
        from_block: c.fromBlock,
        to_block: c.toBlock,
        prev_state_root: c.prevStateRoot,
        new_state_root: c.newStateRoot,
        withdrawals_root: c.withdrawalsRoot,
        queue_position: c.queuePosition,
        queue_hash: c.queueHash,
        da_hash: c.daHash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_and_contract_commitments_hash_alike() {
        let p = weft_protocol::batch::BatchCommitment {
            index: 3,
            from_block: 4,
            to_block: 9,
            prev_state_root: B256::repeat_byte(1),
            new_state_root: B256::repeat_byte(2),
            withdrawals_root: B256::repeat_byte(3),
            queue_position: 5,
            queue_hash: B256::repeat_byte(4),
            da_hash: B256::repeat_byte(5),
        };
        assert_eq!(commitment_hash(&to_sol(&p)), p.hash());
        assert_eq!(from_sol(&to_sol(&p)), p);
        assert_eq!(
            attestation_digest(Address::repeat_byte(9), 31337, p.hash()),
            weft_protocol::batch::attestation_digest(&Address::repeat_byte(9), 31337, &p.hash())
        );
    }

    #[test]
    fn commitment_hash_is_the_hash_of_nine_words() {
        let c = BatchCommitment {
            index: 1,
            fromBlock: 2,
            toBlock: 3,
            prevStateRoot: B256::repeat_byte(4),
            newStateRoot: B256::repeat_byte(5),
            withdrawalsRoot: B256::repeat_byte(6),
            queuePosition: 7,
            queueHash: B256::repeat_byte(8),
            daHash: B256::repeat_byte(9),
        };
        let word = |v: u64| B256::from(U256::from(v));
        let words = [
            word(1),
            word(2),
            word(3),
            c.prevStateRoot,
            c.newStateRoot,
            c.withdrawalsRoot,
            word(7),
            c.queueHash,
            c.daHash,
        ];
        assert_eq!(commitment_hash(&c), keccak256(words.concat()));
        // The protocol's commitment hashes the same way and converts both ways.
        let protocol = weft_protocol::batch::BatchCommitment::from(&c);
        assert_eq!(protocol.hash(), commitment_hash(&c));
        assert_eq!(BatchCommitment::from(&protocol), c);
    }

    #[test]
    fn attestation_recovers_to_the_prover() {
        let prover = SigningKey::from_seed(b"prover");
        let digest = attestation_digest(Address::repeat_byte(1), 31337, B256::repeat_byte(2));
        let sig = attest(&prover, &digest);
        assert_eq!(sig.len(), 65);
        let parsed = weft_protocol::signature::Signature::from_bytes(&sig).unwrap();
        assert_eq!(parsed.recover(&digest).unwrap(), prover.address());
    }
}

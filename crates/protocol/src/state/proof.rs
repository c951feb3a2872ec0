//! Account and storage proofs under a state root, and the state root's preimage.

use super::*;

/// An account with a proof of its leaf under a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProof {
    /// The account's index.
    pub index: AccountIndex,
    /// The account.
    pub account: Account,
    /// The code hash of a contract (absent for other accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_hash: Option<B256>,
    /// `ACCOUNT_PROOF_LEN` siblings: partition path, the path over partition roots, the
    /// storage root.
    pub siblings: Vec<B256>,
    /// The rest of the state root's preimage.
    pub channels_root: B256,
    /// See [`State::state_root`].
    pub secrets_root: B256,
    /// See [`State::state_root`].
    pub tokens_hash: B256,
    /// See [`State::state_root`].
    pub queue_position: u64,
}

impl AccountProof {
    /// Checks the proof against `state_root`.
    pub fn verify(&self, state_root: &B256) -> bool {
        self.accounts_root().is_some_and(|accounts_root| {
            state_root_of(
                &accounts_root,
                &self.channels_root,
                &self.secrets_root,
                &self.tokens_hash,
                self.queue_position,
            ) == *state_root
        })
    }

    /// The `accountsRoot` the proof leads to (`None` if it has the wrong length), with the
    /// generic rule of [`merkle::verify`].
    pub fn accounts_root(&self) -> Option<B256> {
        if self.siblings.len() != ACCOUNT_PROOF_LEN {
            return None;
        }
        let path = proof_path(self.index);
        let mut h = self.account.leaf_hash_with_code(self.code_hash.as_ref());
        for (k, s) in self.siblings.iter().enumerate() {
            h = if (path >> k) & 1 == 0 {
                hash_pair(&h, s)
            } else {
                hash_pair(s, &h)
            };
        }
        Some(h)
    }
}

/// `keccak256(accountsRoot ‖ channelsRoot ‖ secretsRoot ‖ tokensHash ‖ uint256(queuePosition))`.
pub fn state_root_of(
    accounts_root: &B256,
    channels_root: &B256,
    secrets_root: &B256,
    tokens_hash: &B256,
    queue_position: u64,
) -> B256 {
    let mut buf = [0u8; 160];
    buf[..32].copy_from_slice(accounts_root.as_slice());
    buf[32..64].copy_from_slice(channels_root.as_slice());
    buf[64..96].copy_from_slice(secrets_root.as_slice());
    buf[96..128].copy_from_slice(tokens_hash.as_slice());
    buf[128..].copy_from_slice(&word_u64(queue_position));
    keccak256(buf)
}

/// A storage slot with a proof of its leaf under a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageProof {
    /// The contract.
    pub address: Address,
    /// The slot.
    pub slot: crate::primitives::U256,
    /// Its value.
    pub value: crate::primitives::U256,
    /// Its position in its shard.
    pub position: u64,
    /// `STORAGE_PROOF_LEN` siblings: the shard path, the path over shard roots, the
    /// partitions root.
    pub siblings: Vec<B256>,
}

impl StorageProof {
    /// The index the proof verifies at: `position | (shard << SHARD_DEPTH) | (1 << 32)`.
    pub fn path(&self) -> u64 {
        let key = slot_key(&self.address, &self.slot);
        self.position
            | ((shard_of(&key) as u64) << SHARD_DEPTH)
            | (1 << (SHARD_DEPTH + PARTITION_BITS))
    }

    /// Checks the proof against the `accountsRoot` of a state root's preimage (an
    /// [`AccountProof`] of any account gives the rest: see [`AccountProof::accounts_root`]).
    pub fn verify(&self, accounts_root: &B256) -> bool {
        self.siblings.len() == STORAGE_PROOF_LEN
            && self.position < (1 << SHARD_DEPTH)
            && merkle::verify(
                &slot_leaf(&slot_key(&self.address, &self.slot), &self.value),
                self.path(),
                &self.siblings,
                accounts_root,
            )
    }
}

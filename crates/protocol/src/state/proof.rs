//! Account and storage proofs under a state root, and the state root's preimage.

use super::*;

/// An account with a proof of its leaf under a state root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountProof {
    /// The account's index.
    pub index: AccountIndex,
    /// The account.
    pub account: Account,
    /// The code hash of a contract (absent for other accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema::Hash>")]
    pub code_hash: Option<B256>,
    /// `ACCOUNT_PROOF_LEN` siblings: partition path, the path over partition roots, the
    /// storage root.
    #[schemars(with = "Vec<crate::schema::Hash>")]
    pub siblings: Vec<B256>,
    /// The rest of the state root's preimage.
    #[schemars(with = "crate::schema::Hash")]
    pub channels_root: B256,
    /// See [`State::state_root`].
    #[schemars(with = "crate::schema::Hash")]
    pub secrets_root: B256,
    /// See [`State::state_root`].
    #[schemars(with = "crate::schema::Hash")]
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

/// A channel record with a proof of its leaf under the channels root (what an exit of a
/// frozen rollup proves on L1: `Rollup.exodusChannelStart`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelProof {
    /// The record.
    pub record: ChannelRecord,
    /// Its position in the channels tree (open order).
    pub position: u32,
    /// [`REGISTRY_DEPTH`] siblings.
    #[schemars(with = "Vec<crate::schema::Hash>")]
    pub siblings: Vec<B256>,
}

impl ChannelProof {
    /// Checks the proof against `channels_root`.
    pub fn verify(&self, channels_root: &B256) -> bool {
        self.siblings.len() == REGISTRY_DEPTH
            && merkle::verify(
                &self.record.leaf_hash(),
                self.position.into(),
                &self.siblings,
                channels_root,
            )
    }
}

/// A revealed secret's leaf `keccak256(hashlock ‖ uint64 block)` with its proof under the
/// secrets root (`Rollup.exodusProveSecret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretProof {
    /// `keccak256(secret)`.
    #[schemars(with = "crate::schema::Hash")]
    pub hashlock: B256,
    /// The block the secret was revealed in.
    pub block: u64,
    /// Its position in the secrets tree (reveal order).
    pub position: u32,
    /// [`REGISTRY_DEPTH`] siblings.
    #[schemars(with = "Vec<crate::schema::Hash>")]
    pub siblings: Vec<B256>,
}

impl SecretProof {
    /// The leaf: `keccak256(hashlock ‖ uint64 block)`.
    pub fn leaf(&self) -> B256 {
        crate::snapshot::secret_leaf(&self.hashlock, self.block)
    }

    /// Checks the proof against `secrets_root`.
    pub fn verify(&self, secrets_root: &B256) -> bool {
        self.siblings.len() == REGISTRY_DEPTH
            && merkle::verify(
                &self.leaf(),
                self.position.into(),
                &self.siblings,
                secrets_root,
            )
    }
}

impl State {
    /// A proof of channel `id`'s record under [`State::channels_root`].
    pub fn channel_proof(&self, id: &B256) -> Option<ChannelProof> {
        let position = self.channels.position(id)?;
        Some(ChannelProof {
            record: self.channels.records[position as usize].clone(),
            position,
            siblings: self.channels.tree.proof(position as usize),
        })
    }

    /// A proof that `hashlock`'s secret was revealed, under [`State::secrets_root`]. The
    /// position is found by a scan of the tree (an exit is rare; nothing else needs it).
    pub fn secret_proof(&self, hashlock: &B256) -> Option<SecretProof> {
        let block = *self.secrets.revealed.get(hashlock)?;
        let leaf = crate::snapshot::secret_leaf(hashlock, block);
        let tree = &self.secrets.tree;
        let position = (0..tree.len()).find(|&pos| tree.leaf(pos) == leaf)?;
        Some(SecretProof {
            hashlock: *hashlock,
            block,
            position: u32::try_from(position).ok()?,
            siblings: tree.proof(position),
        })
    }
}

//! The rollup state and its commitment.
//!
//! ```text
//! stateRoot    = keccak256(accountsRoot ‖ channelsRoot ‖ secretsRoot ‖ tokensHash ‖ uint256(queuePosition))
//! accountsRoot = keccak256(partitionsRoot ‖ storageRoot)
//! partitionsRoot = Merkle root over the PARTITIONS partition roots (depth 4)
//! partition p  = fixed-depth tree (PARTITION_DEPTH) over accounts i with i % PARTITIONS == p,
//!                account i at position i / PARTITIONS
//! account leaf = keccak256(address ‖ uint64 nonce ‖ (uint32 token ‖ uint128 balance)*)
//!                balances sorted by token, zero balances omitted (abi.encodePacked);
//!                a contract's leaf has its code hash after the nonce:
//!                keccak256(address ‖ uint64 nonce ‖ codeHash ‖ (uint32 token ‖ uint128 balance)*)
//! storageRoot  = Merkle root over the storage shard roots (module `storage`)
//!
//! channelsRoot = fixed-depth tree (REGISTRY_DEPTH) over channel records in open order,
//!                leaf = keccak256 of the packed record (module `channel`)
//! secretsRoot  = fixed-depth tree (REGISTRY_DEPTH) over revealed secrets in reveal order,
//!                leaf = keccak256(hashlock ‖ uint64 block)
//! ```
//!
//! Accounts get dense indexes on first appearance; partitions are the unit of parallel
//! commitment. An account proof is the partition path, the path over partition roots and
//! the storage root, verified with the single rule of [`crate::merkle::verify`] at the
//! combined index `(i / PARTITIONS) | ((i % PARTITIONS) << PARTITION_DEPTH)` (bit 32 clear:
//! the accounts half of `accountsRoot`). A storage proof is the shard path, the path over
//! shard roots and the partitions root, at `position | (shard << SHARD_DEPTH) | (1 << 32)`.
//!
//! Account leaves are 28 + 20·n bytes (60 + 20·n for contracts) and storage leaves 65,
//! never 64: see `deploy/contracts/Merkle.sol` on why no leaf may be 64 bytes.

mod proof;
mod storage;

pub use proof::{AccountProof, ChannelProof, SecretProof, StorageProof, state_root_of};
pub(crate) use storage::Storage;
pub use storage::{SHARD_DEPTH, STORAGE_SHARDS, shard_of, slot_key, slot_leaf};

use alloy_primitives::map::{AddressMap, B256Map, HashMap};
use revm::bytecode::Bytecode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    channel::ChannelRecord,
    error::GenesisError,
    merkle::{self, MerkleTree},
    primitives::{
        AccountIndex, Address, Amount, B256, ETH, Nonce, TokenId, hash_pair, keccak256, word_u64,
    },
};

/// Number of partitions (a power of two).
pub const PARTITIONS: usize = 16;
/// log2(PARTITIONS): the depth of the tree over partition roots.
pub const PARTITION_BITS: usize = 4;
/// Depth of each partition's tree: 2^28 accounts per partition, 2^32 in all.
pub const PARTITION_DEPTH: usize = 28;
/// Length of an account proof: the partition path, the path over partitions, the storage
/// root.
pub const ACCOUNT_PROOF_LEN: usize = PARTITION_DEPTH + PARTITION_BITS + 1;
/// Length of a storage proof: the shard path, the path over shards, the partitions root.
pub const STORAGE_PROOF_LEN: usize = SHARD_DEPTH + PARTITION_BITS + 1;
/// keccak256 of empty code: the code hash of an account without code.
pub const EMPTY_CODE_HASH: B256 = revm::primitives::KECCAK_EMPTY;
/// Depth of the channel and secret trees.
pub const REGISTRY_DEPTH: usize = 32;

/// Partition of account `index`.
#[inline]
pub fn partition_of(index: AccountIndex) -> usize {
    index as usize % PARTITIONS
}

/// Position of account `index` inside its partition.
#[inline]
pub fn position_of(index: AccountIndex) -> usize {
    index as usize / PARTITIONS
}

/// The index at which an account proof is verified.
#[inline]
pub fn proof_path(index: AccountIndex) -> u64 {
    position_of(index) as u64 | ((partition_of(index) as u64) << PARTITION_DEPTH)
}

/// One token balance of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Balance {
    /// The token.
    pub token: TokenId,
    /// The amount held.
    #[serde(with = "crate::primitives::serde_dec")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: Amount,
}

/// An account: its address, nonce and non-zero balances sorted by token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// The account's address.
    #[schemars(with = "crate::schema::Address")]
    pub address: Address,
    /// Number of transactions it has sent.
    pub nonce: Nonce,
    /// Non-zero balances, sorted by token. Most accounts hold one token, so the first lives
    /// inline (see the memory figure in the executor benchmark).
    #[schemars(with = "Vec<Balance>")]
    balances: Balances,
}

/// Non-zero balances sorted by token: the first inline, the rest (rare) behind one thin
/// pointer. The amount is stored as two `u64` halves so the account needs no 16-byte
/// alignment: 64 bytes per account instead of 80 (see the executor benchmark's memory row).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(from = "Vec<Balance>", into = "Vec<Balance>")]
struct Balances {
    first_token: TokenId,
    /// `[low, high]` halves; zero means no balance at all.
    first_amount: [u64; 2],
    #[allow(clippy::box_collection)] // a thin pointer keeps `Account` at 64 bytes
    rest: Option<Box<Vec<Balance>>>,
}

impl Balances {
    fn first(&self) -> Option<Balance> {
        let amount = (u128::from(self.first_amount[1]) << 64) | u128::from(self.first_amount[0]);
        (amount != 0).then_some(Balance {
            token: self.first_token,
            amount,
        })
    }

    fn set_first(&mut self, b: Option<Balance>) {
        let (token, amount) = b.map_or((0, 0), |b| (b.token, b.amount));
        self.first_token = token;
        self.first_amount = [amount as u64, (amount >> 64) as u64];
    }
}

impl From<Vec<Balance>> for Balances {
    fn from(mut all: Vec<Balance>) -> Self {
        all.retain(|b| b.amount != 0);
        all.sort_by_key(|b| b.token);
        all.dedup_by_key(|b| b.token);
        let mut out = Self::default();
        let mut it = all.into_iter();
        out.set_first(it.next());
        let rest: Vec<Balance> = it.collect();
        out.rest = (!rest.is_empty()).then(|| Box::new(rest));
        out
    }
}

impl From<Balances> for Vec<Balance> {
    fn from(b: Balances) -> Self {
        b.first()
            .into_iter()
            .chain(b.rest.into_iter().flat_map(|r| r.into_iter()))
            .collect()
    }
}

impl Account {
    /// A fresh account with nonce 0 and nothing in it.
    pub fn new(address: Address) -> Self {
        Self {
            address,
            nonce: 0,
            balances: Balances::default(),
        }
    }

    /// The balance of `token`.
    pub fn balance(&self, token: TokenId) -> Amount {
        self.balances()
            .find(|b| b.token == token)
            .map_or(0, |b| b.amount)
    }

    /// Non-zero balances sorted by token.
    pub fn balances(&self) -> impl Iterator<Item = Balance> + '_ {
        self.balances
            .first()
            .into_iter()
            .chain(self.balances.rest.iter().flat_map(|r| r.iter().copied()))
    }

    /// Sets the balance of `token` (zero removes it).
    pub fn set_balance(&mut self, token: TokenId, amount: Amount) {
        if self.balances.rest.is_none()
            && (self.balances.first().is_none() || self.balances.first_token == token)
        {
            // The common single-token account never allocates.
            self.balances
                .set_first((amount != 0).then_some(Balance { token, amount }));
            return;
        }
        let mut all: Vec<Balance> = self.balances().filter(|b| b.token != token).collect();
        all.push(Balance { token, amount });
        self.balances = Balances::from(all);
    }

    /// Adds to a balance. Credits cannot overflow: the supply of a token, which bounds every
    /// balance, never exceeds `u128::MAX` (deposits that would are refused).
    #[inline]
    pub fn credit(&mut self, token: TokenId, amount: Amount) {
        let current = self.balance(token);
        self.set_balance(
            token,
            current
                .checked_add(amount)
                .expect("supply bounds every balance"),
        );
    }

    /// Subtracts from a balance the caller has checked is large enough.
    #[inline]
    pub fn debit(&mut self, token: TokenId, amount: Amount) {
        let current = self.balance(token);
        self.set_balance(
            token,
            current
                .checked_sub(amount)
                .expect("debit checked by caller"),
        );
    }

    /// The packed preimage of the account leaf (of an account without code; see
    /// [`Self::leaf_preimage_with_code`]).
    pub fn leaf_preimage(&self) -> Vec<u8> {
        self.leaf_preimage_with_code(None)
    }

    /// The packed preimage of the account leaf, with the code hash of a contract.
    pub fn leaf_preimage_with_code(&self, code_hash: Option<&B256>) -> Vec<u8> {
        let mut buf = Vec::with_capacity(28 + 32 + 20);
        buf.extend_from_slice(self.address.as_slice());
        buf.extend_from_slice(&self.nonce.to_be_bytes());
        if let Some(code_hash) = code_hash {
            buf.extend_from_slice(code_hash.as_slice());
        }
        for b in self.balances() {
            buf.extend_from_slice(&b.token.to_be_bytes());
            buf.extend_from_slice(&b.amount.to_be_bytes());
        }
        buf
    }

    /// The leaf of a contract account (`code_hash` given) or of any other.
    pub fn leaf_hash_with_code(&self, code_hash: Option<&B256>) -> B256 {
        match code_hash {
            Some(_) => keccak256(self.leaf_preimage_with_code(code_hash)),
            None => self.leaf_hash(),
        }
    }

    /// The account's leaf in its partition tree (an account without code).
    pub fn leaf_hash(&self) -> B256 {
        if self.balances.rest.is_none() {
            // No allocation on the hot path: at most 48 bytes.
            let mut buf = [0u8; 48];
            buf[..20].copy_from_slice(self.address.as_slice());
            buf[20..28].copy_from_slice(&self.nonce.to_be_bytes());
            let len = match self.balances.first() {
                Some(b) => {
                    buf[28..32].copy_from_slice(&b.token.to_be_bytes());
                    buf[32..48].copy_from_slice(&b.amount.to_be_bytes());
                    48
                }
                None => 28,
            };
            return keccak256(&buf[..len]);
        }
        keccak256(self.leaf_preimage())
    }
}

/// One partition: its accounts (by position) and their tree.
#[derive(Debug, Clone)]
pub(crate) struct Partition {
    pub(crate) accounts: Vec<Account>,
    /// Code hashes of the partition's contracts, by position.
    pub(crate) contracts: HashMap<u32, B256>,
    pub(crate) tree: MerkleTree,
    /// Positions committed since the last [`State::take_changes`], when tracked.
    pub(crate) changed: Option<Vec<usize>>,
}

/// Recomputes the leaves at `positions` (sorted, deduplicated) of one partition.
pub(crate) fn commit_partition(part: &mut Partition, positions: &[usize]) {
    let changes: Vec<(usize, B256)> = positions
        .iter()
        .map(|&pos| {
            let code = part.contracts.get(&(pos as u32));
            (pos, part.accounts[pos].leaf_hash_with_code(code))
        })
        .collect();
    part.tree.update(&changes);
    if let Some(changed) = &mut part.changed {
        changed.extend_from_slice(positions);
    }
}

/// Secrets revealed on the rollup: hashlock → the block it was revealed in.
#[derive(Debug, Clone)]
pub(crate) struct SecretRegistry {
    pub(crate) revealed: alloy_primitives::map::B256Map<u64>,
    /// Leaves `keccak256(hashlock ‖ uint64 block)` in reveal order.
    pub(crate) tree: MerkleTree,
    /// Reveals since the last [`State::take_changes`], in order, when tracked.
    pub(crate) journal: Option<Vec<(B256, u64)>>,
}

impl SecretRegistry {
    /// Records a reveal (the caller appends its leaf to the tree in the same order).
    pub(crate) fn reveal(&mut self, hashlock: B256, block: u64) {
        self.revealed.insert(hashlock, block);
        if let Some(journal) = &mut self.journal {
            journal.push((hashlock, block));
        }
    }
}

/// Channel records: a dense, append-only table in open order, looked up by channel id.
#[derive(Debug, Clone)]
pub(crate) struct ChannelTable {
    pub(crate) records: Vec<ChannelRecord>,
    /// Channel id → position in `records`.
    pub(crate) index: alloy_primitives::map::B256Map<u32>,
    /// Leaves [`ChannelRecord::leaf_hash`] by position.
    pub(crate) tree: MerkleTree,
    /// Existing positions rehashed since the last [`State::take_changes`], when tracked.
    pub(crate) changed: Option<Vec<usize>>,
}

impl ChannelTable {
    fn new() -> Self {
        Self {
            records: Vec::new(),
            index: Default::default(),
            tree: MerkleTree::new(REGISTRY_DEPTH),
            changed: None,
        }
    }

    /// Position of the channel `id`.
    pub(crate) fn position(&self, id: &B256) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Appends records (in open order) and rehashes their leaves and those at `changed`
    /// (existing positions whose records changed; any order, repeats allowed).
    pub(crate) fn commit(&mut self, mut changed: Vec<usize>, opened: Vec<ChannelRecord>) {
        changed.sort_unstable();
        changed.dedup();
        if let Some(journal) = &mut self.changed {
            journal.extend_from_slice(&changed);
        }
        let mut leaves: Vec<(usize, B256)> = changed
            .into_iter()
            .map(|pos| (pos, self.records[pos].leaf_hash()))
            .collect();
        for record in opened {
            let pos = self.records.len();
            debug_assert!(!self.index.contains_key(&record.id), "channel id reused");
            self.index.insert(record.id, pos as u32);
            leaves.push((pos, record.leaf_hash()));
            self.records.push(record);
        }
        self.tree.update(&leaves);
    }
}

/// The whole L2 state.
#[derive(Debug, Clone)]
pub struct State {
    pub(crate) partitions: Vec<Partition>,
    pub(crate) index: AddressMap<AccountIndex>,
    pub(crate) len: AccountIndex,
    /// Cumulative deposits per token id; its length is the number of known tokens.
    pub(crate) supply: Vec<Amount>,
    pub(crate) secrets: SecretRegistry,
    pub(crate) channels: ChannelTable,
    pub(crate) queue_position: u64,
    /// Contract storage.
    pub(crate) storage: Storage,
    /// Contract code by hash, analysed for the EVM.
    pub(crate) code: B256Map<Bytecode>,
    /// Hashes of the most recent blocks (at most [`BLOCK_HASH_HISTORY`]), oldest first,
    /// for `BLOCKHASH`: history, not state (not committed by the state root).
    pub(crate) block_hashes: std::collections::VecDeque<(u64, B256)>,
    /// Contracts `(index, code hash)` and code hashes created since the changes were last
    /// taken, when tracked.
    pub(crate) evm_journal: Option<EvmJournal>,
    /// Accounts, secrets and channels when changes were last taken, when tracked
    /// ([`State::track_changes`]).
    pub(crate) tracked_from: Option<(AccountIndex, u32, u32)>,
}

/// Contracts `(index, code hash)` and code hashes created since changes were last taken.
pub(crate) type EvmJournal = (Vec<(AccountIndex, B256)>, Vec<B256>);

/// How many recent block hashes `BLOCKHASH` can read (as on Ethereum).
pub const BLOCK_HASH_HISTORY: usize = 256;

/// A genesis allocation: balances credited to an address before block 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenesisAccount {
    /// The address.
    pub address: Address,
    /// Its balances.
    pub balances: Vec<Balance>,
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

impl State {
    /// The empty state: no accounts, ETH the only token.
    pub fn new() -> Self {
        Self {
            partitions: (0..PARTITIONS)
                .map(|_| Partition {
                    accounts: Vec::new(),
                    contracts: HashMap::default(),
                    tree: MerkleTree::new(PARTITION_DEPTH),
                    changed: None,
                })
                .collect(),
            index: AddressMap::default(),
            len: 0,
            supply: vec![0],
            secrets: SecretRegistry {
                revealed: Default::default(),
                tree: MerkleTree::new(REGISTRY_DEPTH),
                journal: None,
            },
            channels: ChannelTable::new(),
            queue_position: 0,
            storage: Storage::default(),
            code: B256Map::default(),
            block_hashes: Default::default(),
            evm_journal: None,
            tracked_from: None,
        }
    }

    /// A state holding `allocations` (indexes in the given order) with `tokens` known
    /// tokens (ETH included, so at least 1).
    pub fn genesis(allocations: &[GenesisAccount], tokens: u32) -> Result<Self, GenesisError> {
        let mut state = Self::new();
        state.supply = vec![0; tokens.max(1) as usize];
        let mut touched = vec![Vec::new(); PARTITIONS];
        for alloc in allocations {
            if state.index.contains_key(&alloc.address) {
                return Err(GenesisError::DuplicateAccount(alloc.address));
            }
            let idx = state.push_account(alloc.address);
            for b in &alloc.balances {
                let known = state.supply.len();
                if b.token as usize >= known {
                    state.supply.resize(b.token as usize + 1, 0);
                }
                let s = &mut state.supply[b.token as usize];
                *s = s
                    .checked_add(b.amount)
                    .ok_or(GenesisError::SupplyOverflow(b.token))?;
                let acc = state.account_mut(idx);
                let total = acc.balance(b.token) + b.amount;
                acc.set_balance(b.token, total);
            }
            touched[partition_of(idx)].push(position_of(idx));
        }
        for (part, positions) in state.partitions.iter_mut().zip(&touched) {
            commit_partition(part, positions);
        }
        Ok(state)
    }

    /// Appends a fresh account and returns its index.
    pub(crate) fn push_account(&mut self, address: Address) -> AccountIndex {
        let idx = self.len;
        self.len = self
            .len
            .checked_add(1)
            .expect("account index space exhausted");
        self.partitions[partition_of(idx)]
            .accounts
            .push(Account::new(address));
        self.index.insert(address, idx);
        idx
    }

    /// Number of accounts.
    pub fn account_count(&self) -> AccountIndex {
        self.len
    }

    /// The index of `address`, if it has appeared.
    pub fn index_of(&self, address: &Address) -> Option<AccountIndex> {
        self.index.get(address).copied()
    }

    /// The account at `index`.
    pub fn account(&self, index: AccountIndex) -> Option<&Account> {
        (index < self.len)
            .then(|| &self.partitions[partition_of(index)].accounts[position_of(index)])
    }

    /// The account of `address`.
    pub fn account_by_address(&self, address: &Address) -> Option<&Account> {
        self.index_of(address).and_then(|i| self.account(i))
    }

    pub(crate) fn account_mut(&mut self, index: AccountIndex) -> &mut Account {
        &mut self.partitions[partition_of(index)].accounts[position_of(index)]
    }

    /// Number of known tokens (ids `0..n`).
    pub fn token_count(&self) -> u32 {
        self.supply.len() as u32
    }

    /// Cumulative deposits (plus genesis) of `token`.
    pub fn supply(&self, token: TokenId) -> Option<Amount> {
        self.supply.get(token as usize).copied()
    }

    /// The next unconsumed L1 queue index.
    pub fn queue_position(&self) -> u64 {
        self.queue_position
    }

    /// The block a secret with `hashlock` was revealed in.
    pub fn secret_revealed_at(&self, hashlock: &B256) -> Option<u64> {
        self.secrets.revealed.get(hashlock).copied()
    }

    /// The root over the partition roots.
    pub fn partitions_root(&self) -> B256 {
        let roots: Vec<B256> = self.partitions.iter().map(|p| p.tree.root()).collect();
        merkle::root_of(&roots)
    }

    /// Root over the storage shard roots.
    pub fn storage_root(&self) -> B256 {
        self.storage.root()
    }

    /// `keccak256(partitionsRoot ‖ storageRoot)`.
    pub fn accounts_root(&self) -> B256 {
        hash_pair(&self.partitions_root(), &self.storage_root())
    }

    /// The code hash of the account at `index`, if it is a contract.
    pub fn code_hash(&self, index: AccountIndex) -> Option<B256> {
        (index < self.len).then(|| {
            self.partitions[partition_of(index)]
                .contracts
                .get(&(position_of(index) as u32))
                .copied()
        })?
    }

    /// Code by its hash.
    pub fn code_by_hash(&self, hash: &B256) -> Option<&Bytecode> {
        self.code.get(hash)
    }

    /// The value of a storage slot (zero if never written).
    pub fn storage_at(
        &self,
        address: &Address,
        slot: &crate::primitives::U256,
    ) -> crate::primitives::U256 {
        self.storage.get(&slot_key(address, slot))
    }

    /// Number of storage slots ever written.
    pub fn storage_slots(&self) -> usize {
        self.storage.len()
    }

    /// Heap bytes held by contract storage (slots, indexes, shard trees).
    pub fn storage_heap_bytes(&self) -> usize {
        self.storage.heap_bytes()
    }

    /// A proof of a written storage slot under [`Self::state_root`] (`None` for a slot
    /// never written: it reads zero, and the dense shard trees prove presence only).
    pub fn storage_proof(
        &self,
        address: &Address,
        slot: &crate::primitives::U256,
    ) -> Option<StorageProof> {
        let key = slot_key(address, slot);
        let (position, mut siblings) = self.storage.proof(&key)?;
        siblings.push(self.partitions_root());
        Some(StorageProof {
            address: *address,
            slot: *slot,
            value: self.storage.get(&key),
            position: position as u64,
            siblings,
        })
    }

    /// Records the hash of a sealed block for `BLOCKHASH` (the block producer calls it after
    /// each block, in order; older than [`BLOCK_HASH_HISTORY`] blocks are forgotten).
    pub fn push_block_hash(&mut self, number: u64, hash: B256) {
        self.block_hashes.push_back((number, hash));
        while self.block_hashes.len() > BLOCK_HASH_HISTORY {
            self.block_hashes.pop_front();
        }
    }

    /// The hash of block `number` if it is among the recent ones recorded.
    pub fn block_hash(&self, number: u64) -> Option<B256> {
        let (first, _) = self.block_hashes.front()?;
        let offset = number.checked_sub(*first)?;
        self.block_hashes
            .get(offset as usize)
            .filter(|(n, _)| *n == number)
            .map(|(_, h)| *h)
    }

    /// Root of the channel tree.
    pub fn channels_root(&self) -> B256 {
        self.channels.tree.root()
    }

    /// The record of channel `id`.
    pub fn channel(&self, id: &B256) -> Option<&ChannelRecord> {
        let pos = self.channels.position(id)?;
        Some(&self.channels.records[pos as usize])
    }

    /// Every channel record, in open order (the leaf order of the channels tree).
    pub fn channels(&self) -> &[ChannelRecord] {
        &self.channels.records
    }

    /// Root of the revealed-secret tree.
    pub fn secrets_root(&self) -> B256 {
        self.secrets.tree.root()
    }

    /// keccak256 of the packed supplies, one `uint128` per known token.
    pub fn tokens_hash(&self) -> B256 {
        let mut buf = Vec::with_capacity(16 * self.supply.len());
        for s in &self.supply {
            buf.extend_from_slice(&s.to_be_bytes());
        }
        keccak256(buf)
    }

    /// The state root (see the module docs).
    pub fn state_root(&self) -> B256 {
        state_root_of(
            &self.accounts_root(),
            &self.channels_root(),
            &self.secrets_root(),
            &self.tokens_hash(),
            self.queue_position,
        )
    }

    /// A proof of the account at `index` under [`Self::state_root`].
    pub fn account_proof(&self, index: AccountIndex) -> Option<AccountProof> {
        let account = self.account(index)?.clone();
        let part = partition_of(index);
        let mut siblings = self.partitions[part].tree.proof(position_of(index));
        let roots: Vec<B256> = self.partitions.iter().map(|p| p.tree.root()).collect();
        siblings.extend(merkle::proof_of(&roots, part).expect("partition in range"));
        siblings.push(self.storage_root());
        Some(AccountProof {
            index,
            code_hash: self.code_hash(index),
            account,
            siblings,
            channels_root: self.channels_root(),
            secrets_root: self.secrets_root(),
            tokens_hash: self.tokens_hash(),
            queue_position: self.queue_position,
        })
    }

    /// Approximate heap bytes held by the state (accounts, index, trees).
    pub fn heap_bytes(&self) -> usize {
        let accounts: usize = self
            .partitions
            .iter()
            .map(|p| {
                p.accounts.capacity() * size_of::<Account>()
                    + p.accounts
                        .iter()
                        .filter_map(|a| a.balances.rest.as_ref())
                        .map(|r| size_of::<Vec<Balance>>() + r.capacity() * size_of::<Balance>())
                        .sum::<usize>()
                    + p.tree.heap_bytes()
            })
            .sum();
        // hashbrown: one control byte plus one slot per bucket.
        let index = self.index.capacity() * 8 / 7 * (size_of::<(Address, AccountIndex)>() + 1);
        let channels = self.channels.records.capacity() * size_of::<ChannelRecord>()
            + self.channels.index.capacity() * 8 / 7 * (size_of::<(B256, u32)>() + 1)
            + self.channels.tree.heap_bytes();
        let code: usize = self
            .code
            .values()
            .map(|c| c.original_byte_slice().len())
            .sum();
        accounts
            + index
            + self.secrets.tree.heap_bytes()
            + channels
            + self.storage.heap_bytes()
            + code
    }
}

impl Account {
    /// The balance of ETH.
    pub fn eth(&self) -> Amount {
        self.balance(ETH)
    }
}

#[cfg(test)]
mod tests;

//! The EVM's view of Weft's state: the state as it was before the block, under the
//! block's writes so far.
//!
//! Two databases serve revm. [`BlockDb`] runs transactions in block order: it owns the
//! block's [`Overlay`] (the authoritative writes so far). [`SpecDb`] runs speculative
//! transactions on the optimistic engine's workers: it reads the writes committed so far
//! through the [`Published`] copy the committer keeps, and records every read, for the
//! committer to validate.

use std::convert::Infallible;

use alloy_primitives::map::{AddressMap, B256Map, HashMap};
use parking_lot::RwLock;
use revm::{Database, bytecode::Bytecode, state::AccountInfo};

use crate::{
    channel::ChannelRecord,
    evm::predeploy::{PREDEPLOY_CODE, WITHDRAWALS, predeploy_code_hash},
    primitives::{AccountIndex, Address, Amount, B256, Bytes, ETH, U256},
    state::{Account, EMPTY_CODE_HASH, State, slot_key},
};

/// A storage slot: the contract and the slot.
pub(crate) type SlotRef = (Address, U256);

/// What the block has written so far, over the state before it.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    /// Accounts written, whole (native kinds change any token).
    pub(crate) accounts: HashMap<AccountIndex, Account>,
    /// Code hashes set (`Some`) or removed by a self-destruct (`None`).
    pub(crate) code_hashes: HashMap<AccountIndex, Option<B256>>,
    /// Accounts that EVM transactions of the block brought into existence, with the index
    /// each gets (after the state's accounts, in order of first write).
    pub(crate) fresh: AddressMap<AccountIndex>,
    pub(crate) fresh_order: Vec<Address>,
    /// Storage written. Keyed by slot, not by its committed key: the keccak of the key is
    /// computed once per slot when the block is committed.
    pub(crate) storage: HashMap<SlotRef, U256>,
    /// Code deployed.
    pub(crate) code: B256Map<Bytecode>,
    /// Token supplies, once a deposit changed one.
    pub(crate) supply: Option<Vec<Amount>>,
    /// Channel records of the state's table, once written.
    pub(crate) channels: HashMap<u32, ChannelRecord>,
}

/// An account as the EVM sees it: `None` if it does not exist for the EVM (empty: no
/// nonce, no ETH, no code), else `(nonce, ETH, code hash)`.
pub(crate) type AccountSeen = Option<(u64, Amount, Option<B256>)>;

/// One read of a speculative run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Account(Address, AccountSeen),
    Storage(SlotRef, U256),
}

/// The state before the block with `overlay` on top.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) state: &'a State,
    pub(crate) overlay: &'a Overlay,
}

/// How the withdrawal predeploy shows to the EVM: no nonce, no ETH (what it receives is
/// burnt), its one-byte code.
fn predeploy_seen() -> AccountSeen {
    Some((0, 0, Some(predeploy_code_hash())))
}

static PREDEPLOY_BYTECODE: std::sync::LazyLock<Bytecode> =
    std::sync::LazyLock::new(|| Bytecode::new_raw(Bytes::copy_from_slice(&PREDEPLOY_CODE)));

/// How the state before the block shows an account to the EVM.
fn base_seen(state: &State, address: &Address) -> AccountSeen {
    if *address == WITHDRAWALS {
        return predeploy_seen();
    }
    let idx = state.index_of(address)?;
    seen_of(state.account(idx)?, state.code_hash(idx))
}

fn seen_of(account: &Account, code_hash: Option<B256>) -> AccountSeen {
    let eth = account.eth();
    (account.nonce != 0 || eth != 0 || code_hash.is_some()).then_some((
        account.nonce,
        eth,
        code_hash,
    ))
}

fn base_storage(state: &State, (address, slot): &SlotRef) -> U256 {
    state.storage.get(&slot_key(address, slot))
}

impl View<'_> {
    pub(crate) fn index_of(&self, address: &Address) -> Option<AccountIndex> {
        self.state
            .index_of(address)
            .or_else(|| self.overlay.fresh.get(address).copied())
    }

    pub(crate) fn account(&self, idx: AccountIndex) -> Option<&Account> {
        self.overlay
            .accounts
            .get(&idx)
            .or_else(|| self.state.account(idx))
    }

    pub(crate) fn code_hash(&self, idx: AccountIndex) -> Option<B256> {
        match self.overlay.code_hashes.get(&idx) {
            Some(hash) => *hash,
            None => self.state.code_hash(idx),
        }
    }

    pub(crate) fn seen(&self, address: &Address) -> AccountSeen {
        if *address == WITHDRAWALS {
            return predeploy_seen();
        }
        let idx = self.index_of(address)?;
        seen_of(self.account(idx)?, self.code_hash(idx))
    }

    pub(crate) fn seen_at(&self, idx: AccountIndex) -> AccountSeen {
        seen_of(self.account(idx)?, self.code_hash(idx))
    }

    pub(crate) fn code(&self, hash: &B256) -> Option<&Bytecode> {
        self.overlay
            .code
            .get(hash)
            .or_else(|| self.state.code_by_hash(hash))
            .or_else(|| (*hash == predeploy_code_hash()).then(|| &*PREDEPLOY_BYTECODE))
    }

    /// Whether a speculative run's `read` still holds. Only what the block has written can
    /// differ: a speculative run reads the writes published so far, and everything
    /// published is in the overlay (the committer writes the overlay first, and nothing
    /// leaves it during a block), so a value read of something the overlay does not hold
    /// was read from the state before the block, which has not changed. That spares the
    /// committer a lookup (and a keccak for a slot) per read.
    pub(crate) fn still_holds(&self, read: &Read) -> bool {
        match read {
            Read::Storage(slot, value) => self.overlay.storage.get(slot).is_none_or(|v| v == value),
            Read::Account(address, seen) => {
                let idx = self.index_of(address);
                let written = idx.is_some_and(|i| {
                    self.overlay.accounts.contains_key(&i)
                        || self.overlay.code_hashes.contains_key(&i)
                });
                !written || self.seen(address) == *seen
            }
        }
    }
}

/// `AccountInfo` of a seen account, with its code.
fn info(seen: AccountSeen, code: impl FnOnce(&B256) -> Option<Bytecode>) -> Option<AccountInfo> {
    seen.map(|(nonce, eth, code_hash)| AccountInfo {
        balance: U256::from(eth),
        nonce,
        code_hash: code_hash.unwrap_or(EMPTY_CODE_HASH),
        code: Some(code_hash.and_then(|h| code(&h)).unwrap_or_default()),
        ..Default::default()
    })
}

/// The database of in-order execution: the state before the block under the block's
/// overlay, which it owns.
#[derive(Debug)]
pub(crate) struct BlockDb<'a> {
    pub(crate) state: &'a State,
    pub(crate) overlay: Overlay,
    /// Slots read from the state before the block, which cannot change during it: a slot
    /// read again (a pair's token addresses, a hot total supply) costs no keccak of its key.
    base_reads: HashMap<SlotRef, U256>,
}

impl<'a> BlockDb<'a> {
    pub(crate) fn new(state: &'a State) -> Self {
        Self::for_block(state, 0)
    }

    /// A database for a block of `txs` transactions: its maps sized for about two slots
    /// and two accounts a transaction, so that a block does not spend its time rehashing
    /// them as they grow.
    pub(crate) fn for_block(state: &'a State, txs: usize) -> Self {
        Self {
            state,
            overlay: Overlay {
                accounts: HashMap::with_capacity_and_hasher(2 * txs, Default::default()),
                storage: HashMap::with_capacity_and_hasher(2 * txs, Default::default()),
                ..Overlay::default()
            },
            base_reads: HashMap::with_capacity_and_hasher(2 * txs, Default::default()),
        }
    }

    pub(crate) fn view(&self) -> View<'_> {
        View {
            state: self.state,
            overlay: &self.overlay,
        }
    }
}

impl Database for BlockDb<'_> {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        let view = self.view();
        Ok(info(view.seen(&address), |h| view.code(h).cloned()))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.view().code(&code_hash).cloned().unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        let slot = (address, index);
        if let Some(v) = self.overlay.storage.get(&slot) {
            return Ok(*v);
        }
        let state = self.state;
        Ok(*self
            .base_reads
            .entry(slot)
            .or_insert_with(|| base_storage(state, &slot)))
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        Ok(self.state.block_hash(number).unwrap_or_default())
    }
}

/// Shards of the published writes (a power of two).
const SHARDS: usize = 64;

/// The writes committed so far, as speculative runs read them: accounts as the EVM sees
/// them, storage, code, each value with the position of the transaction that wrote it
/// last. Written by the committer after each transaction, read by the workers; sharded so
/// that readers and the writer rarely meet on one lock.
#[derive(Debug)]
pub(crate) struct Published {
    accounts: Vec<RwLock<AddressMap<(AccountSeen, u32)>>>,
    storage: Vec<RwLock<HashMap<SlotRef, (U256, u32)>>>,
    code: RwLock<B256Map<Bytecode>>,
}

impl Published {
    /// Sized for a block of `txs` transactions, as [`BlockDb::for_block`].
    pub(crate) fn for_block(txs: usize) -> Self {
        let per_shard = 2 * txs / SHARDS;
        Self {
            accounts: (0..SHARDS)
                .map(|_| {
                    RwLock::new(AddressMap::with_capacity_and_hasher(
                        per_shard,
                        Default::default(),
                    ))
                })
                .collect(),
            storage: (0..SHARDS)
                .map(|_| {
                    RwLock::new(HashMap::with_capacity_and_hasher(
                        per_shard,
                        Default::default(),
                    ))
                })
                .collect(),
            code: RwLock::default(),
        }
    }
}

#[inline]
fn account_shard(address: &Address) -> usize {
    usize::from(address[19]) % SHARDS
}

#[inline]
fn slot_shard((address, slot): &SlotRef) -> usize {
    (usize::from(address[19]) ^ usize::from(slot.byte(0))) % SHARDS
}

impl Published {
    /// Publishes an account as transaction `writer` left it.
    pub(crate) fn account(&self, address: Address, seen: AccountSeen, writer: u32) {
        self.accounts[account_shard(&address)]
            .write()
            .insert(address, (seen, writer));
    }

    /// Publishes a slot as transaction `writer` left it.
    pub(crate) fn slot(&self, slot: SlotRef, value: U256, writer: u32) {
        self.storage[slot_shard(&slot)]
            .write()
            .insert(slot, (value, writer));
    }

    pub(crate) fn code(&self, hash: B256, code: &Bytecode) {
        self.code
            .write()
            .entry(hash)
            .or_insert_with(|| Bytecode::new_raw(code.original_bytes()));
    }
}

/// The database of a speculative run: the state before the block under the writes
/// published so far, recording every read. Code is copied into the worker's own cache
/// (its own reference counts: the workers do not share a cache line per contract).
#[derive(Debug)]
pub(crate) struct SpecDb<'a> {
    pub(crate) state: &'a State,
    pub(crate) published: &'a Published,
    pub(crate) reads: Vec<Read>,
    /// The position of the transaction being run.
    pub(crate) position: u32,
    /// Whether the run read a value that the transaction just before it wrote: it could
    /// only run after that one's commit (a chain of dependent transactions).
    pub(crate) follows_previous: bool,
    code: B256Map<Bytecode>,
}

impl<'a> SpecDb<'a> {
    pub(crate) fn new(state: &'a State, published: &'a Published) -> Self {
        Self {
            state,
            published,
            reads: Vec::new(),
            position: 0,
            follows_previous: false,
            code: B256Map::default(),
        }
    }

    /// Notes a value read from what transaction `writer` published.
    fn read_from(&mut self, writer: u32) {
        self.follows_previous |= writer + 1 == self.position;
    }

    fn code(&mut self, hash: &B256) -> Option<Bytecode> {
        if let Some(code) = self.code.get(hash) {
            return Some(code.clone());
        }
        let original = match self.state.code_by_hash(hash) {
            Some(code) => code.original_bytes(),
            None if *hash == predeploy_code_hash() => PREDEPLOY_BYTECODE.original_bytes(),
            None => self.published.code.read().get(hash)?.original_bytes(),
        };
        let copy = Bytecode::new_raw(original);
        self.code.insert(*hash, copy.clone());
        Some(copy)
    }
}

impl Database for SpecDb<'_> {
    type Error = Infallible;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, Infallible> {
        let published = self.published.accounts[account_shard(&address)]
            .read()
            .get(&address)
            .copied();
        let seen = match published {
            Some((seen, writer)) => {
                self.read_from(writer);
                seen
            }
            None => base_seen(self.state, &address),
        };
        self.reads.push(Read::Account(address, seen));
        Ok(info(seen, |h| self.code(h)))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        Ok(self.code(&code_hash).unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        let slot = (address, index);
        let published = self.published.storage[slot_shard(&slot)]
            .read()
            .get(&slot)
            .copied();
        let value = match published {
            Some((value, writer)) => {
                self.read_from(writer);
                value
            }
            None => base_storage(self.state, &slot),
        };
        self.reads.push(Read::Storage(slot, value));
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        Ok(self.state.block_hash(number).unwrap_or_default())
    }
}

/// The ETH of an account as a `u128`: balances are bounded by the supply, below 2^128.
pub(crate) fn eth_of(balance: U256) -> Amount {
    u128::try_from(balance).expect("the ETH supply bounds every balance below 2^128")
}

/// Sets the ETH balance of an overlay account.
pub(crate) fn set_eth(account: &mut Account, eth: Amount) {
    account.set_balance(ETH, eth);
}

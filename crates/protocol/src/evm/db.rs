//! The EVM's view of Weft's state: the state as it was before the block, under the
//! block's writes so far, with the reads of a speculative run recorded for validation.

use std::convert::Infallible;

use alloy_primitives::map::{AddressMap, B256Map, HashMap};
use revm::{Database, bytecode::Bytecode, state::AccountInfo};

use crate::{
    channel::ChannelRecord,
    primitives::{AccountIndex, Address, Amount, B256, ETH, U256},
    state::{Account, State, slot_key},
};

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
    /// Storage written, by slot key.
    pub(crate) storage: B256Map<U256>,
    /// Code deployed.
    pub(crate) code: B256Map<Bytecode>,
    /// Token supplies, once a deposit changed one.
    pub(crate) supply: Option<Vec<Amount>>,
    /// Channel records of the state's table, once written.
    pub(crate) channels: HashMap<u32, ChannelRecord>,
}

/// An account as the EVM saw it: `None` if it does not exist for the EVM (empty: no
/// nonce, no ETH, no code), else `(nonce, ETH, code hash)`.
pub(crate) type AccountSeen = Option<(u64, Amount, Option<B256>)>;

/// One read of a speculative run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Read {
    Account(Address, AccountSeen),
    Storage(B256, U256),
}

/// The state before the block with `overlay` on top.
#[derive(Debug, Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) state: &'a State,
    pub(crate) overlay: &'a Overlay,
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
        let idx = self.index_of(address)?;
        let account = self.account(idx)?;
        let code_hash = self.code_hash(idx);
        let eth = account.eth();
        (account.nonce != 0 || eth != 0 || code_hash.is_some()).then_some((
            account.nonce,
            eth,
            code_hash,
        ))
    }

    pub(crate) fn storage(&self, key: &B256) -> U256 {
        match self.overlay.storage.get(key) {
            Some(v) => *v,
            None => self.state.storage.get(key),
        }
    }

    pub(crate) fn code(&self, hash: &B256) -> Option<&Bytecode> {
        self.overlay
            .code
            .get(hash)
            .or_else(|| self.state.code_by_hash(hash))
    }

    /// Whether `read` still holds.
    pub(crate) fn holds(&self, read: &Read) -> bool {
        match read {
            Read::Account(address, seen) => self.seen(address) == *seen,
            Read::Storage(key, value) => self.storage(key) == *value,
        }
    }
}

/// The database revm runs on: the state before the block under an overlay the database
/// owns (the block's writes when running in order; empty when speculating), recording
/// every read when asked to.
#[derive(Debug)]
pub(crate) struct BlockDb<'a> {
    pub(crate) state: &'a State,
    pub(crate) overlay: Overlay,
    pub(crate) reads: Option<Vec<Read>>,
}

impl<'a> BlockDb<'a> {
    pub(crate) fn new(state: &'a State, record: bool) -> Self {
        Self {
            state,
            overlay: Overlay::default(),
            reads: record.then(Vec::new),
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
        let seen = view.seen(&address);
        let info = seen.map(|(nonce, eth, code_hash)| {
            let code = code_hash.and_then(|h| view.code(&h).cloned());
            AccountInfo {
                balance: U256::from(eth),
                nonce,
                code_hash: code_hash.unwrap_or(crate::state::EMPTY_CODE_HASH),
                code: Some(code.unwrap_or_default()),
                ..Default::default()
            }
        });
        if let Some(reads) = &mut self.reads {
            reads.push(Read::Account(address, seen));
        }
        Ok(info)
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, Infallible> {
        // Code never changes under a hash: nothing to validate.
        Ok(self.view().code(&code_hash).cloned().unwrap_or_default())
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, Infallible> {
        let key = slot_key(&address, &index);
        let value = self.view().storage(&key);
        if let Some(reads) = &mut self.reads {
            reads.push(Read::Storage(key, value));
        }
        Ok(value)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, Infallible> {
        // Fixed for the block: nothing to validate.
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

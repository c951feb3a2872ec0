//! State snapshots: the whole state as bytes, so a node restarts from a recent block
//! instead of replaying from genesis; and deltas, the accounts, channels and secrets that
//! changed since an earlier snapshot point, so the node can keep its restart point recent
//! while writing bytes in proportion to the work done rather than to the state's size.
//!
//! Only the data is stored ([`StateData`]: accounts in index order, token supplies, queue
//! position, revealed secrets in reveal order, channel records in open order); every Merkle
//! tree is rebuilt on load ([`State::from_data`]), partitions in parallel, and the caller
//! checks the rebuilt root against the block header it trusts. A restart decodes the newest
//! full snapshot, applies the deltas after it in order ([`StateData::apply`]) and builds
//! the trees once.
//!
//! Full snapshot: `"WEFTSNAP" ‖ u32 version ‖ u32 accounts ‖ account* ‖ u32 tokens ‖ u128
//! supply* ‖ u64 queuePosition ‖ u32 secrets ‖ (hashlock ‖ u64 block)* ‖ evm ‖ u32 channels
//! ‖ channel*`, an account being `address ‖ u64 nonce ‖ u32 n ‖ (u32 token ‖ u128
//! amount)^n` and `evm` the contract section of module `evm` (code hashes, code, storage,
//! recent block hashes).
//!
//! Delta: `"WEFTDLTA" ‖ u32 version ‖ u64 base ‖ u32 accountCount ‖ u32 n ‖ (u32 index ‖
//! account)^n ‖ u32 tokens ‖ u128 supply* ‖ u64 queuePosition ‖ u32 secretsFrom ‖ u32 m ‖
//! (hashlock ‖ u64 block)^m ‖ u32 channelCount ‖ u32 k ‖ (u32 position ‖ channel)^k`, where
//! `base` is the block of the snapshot point it applies on top of, the accounts and channels
//! are the changed and new ones with their values after the delta (ascending), and the
//! secrets are those revealed from position `secretsFrom` on; the contract section of
//! module `evm` follows.
//!
//! A channel record is `id ‖ u32 wallet ‖ u32 hub ‖ u32 token ‖ u128 total ‖ u128
//! walletSide ‖ u128 hubSide ‖ u8 status`, followed for a disputed channel by `u64
//! deadline` and the registered state in the codec's encoding ([`crate::codec`]).

use rayon::prelude::*;

use crate::{
    channel::{ChannelRecord, ChannelState, ChannelStatus},
    codec::{Encode, Reader, Writer},
    error::DecodeError,
    primitives::{AccountIndex, Amount, B256, keccak256},
    state::{Account, Balance, PARTITIONS, State, commit_partition},
};

/// The first bytes of a full snapshot (a store tells full snapshots from deltas by them).
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"WEFTSNAP";
/// The first bytes of a delta.
pub const DELTA_MAGIC: &[u8; 8] = b"WEFTDLTA";
const MAGIC: &[u8; 8] = SNAPSHOT_MAGIC;
/// 2: channel records follow the secrets. 3: the contract section before the channels.
const VERSION: u32 = 3;
/// 2: the contract section at the end.
const DELTA_VERSION: u32 = 2;

/// Bytes of a channel record before its status-dependent tail.
const CHANNEL_FIXED_LEN: usize = 32 + 3 * 4 + 3 * 16 + 1;
/// Fewest bytes of an encoded account (no balance).
const ACCOUNT_MIN_LEN: usize = 20 + 8 + 4;

/// The state without its trees: what a full snapshot holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateData {
    /// Accounts by index.
    pub accounts: Vec<Account>,
    /// Cumulative deposits per token id.
    pub supply: Vec<Amount>,
    /// The next unconsumed L1 queue index.
    pub queue_position: u64,
    /// Revealed secrets in reveal order: hashlock and the block it was revealed in.
    pub secrets: Vec<(B256, u64)>,
    /// Channel records in open order.
    pub channels: Vec<ChannelRecord>,
    /// Contracts, code, storage, recent block hashes.
    pub evm: EvmData,
}

mod delta;
mod evm;
#[cfg(test)]
mod tests;

pub use delta::StateDelta;
pub use evm::{EvmData, EvmDelta};

impl State {
    /// Serialises the state as a full snapshot (see the module docs).
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let accounts = (0..self.account_count()).map(|i| self.account(i).expect("below count"));
        encode_full(
            self.account_count(),
            accounts,
            &self.supply,
            self.queue_position,
            &self.secrets_in_order(),
            &EvmData::from_state(self),
            &self.channels.records,
        )
    }

    /// Rebuilds a state from [`Self::encode_snapshot`] bytes, recomputing every tree.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Self, DecodeError> {
        Self::from_data(StateData::decode(bytes)?)
    }

    /// Builds the state holding `data`, computing every tree (partitions in parallel).
    /// Refuses duplicate accounts or channels and channels of unknown accounts or tokens.
    pub fn from_data(data: StateData) -> Result<Self, DecodeError> {
        let mut state = State::new();
        if data.supply.is_empty() {
            return Err(DecodeError::Invalid("snapshot token count"));
        }
        state.supply = data.supply;
        state.queue_position = data.queue_position;
        state.index.reserve(data.accounts.len());
        for account in data.accounts {
            if state.index.contains_key(&account.address) {
                return Err(DecodeError::Invalid("duplicate account in snapshot"));
            }
            let idx = state.push_account(account.address);
            *state.account_mut(idx) = account;
        }
        data.evm.install(&mut state)?;
        let mut leaves = Vec::with_capacity(data.secrets.len());
        for (i, (hashlock, block)) in data.secrets.iter().enumerate() {
            if state.secrets.revealed.insert(*hashlock, *block).is_some() {
                return Err(DecodeError::Invalid("duplicate secret in snapshot"));
            }
            leaves.push((i, secret_leaf(hashlock, *block)));
        }
        for c in &data.channels {
            check_channel(c, &state)?;
        }
        let mut ids = alloy_primitives::map::B256Set::default();
        if !data.channels.iter().all(|c| ids.insert(c.id)) {
            return Err(DecodeError::Invalid("duplicate channel in snapshot"));
        }
        state.secrets.tree.update(&leaves);
        state.channels.commit(Vec::new(), data.channels);
        state.partitions.par_iter_mut().for_each(|part| {
            let positions: Vec<usize> = (0..part.accounts.len()).collect();
            commit_partition(part, &positions);
        });
        debug_assert_eq!(state.partitions.len(), PARTITIONS);
        Ok(state)
    }

    /// Starts recording what changes, for [`Self::take_changes`]; the first delta taken
    /// covers what changes from now on. Executors record in the partition commit, so this
    /// costs one list of positions per block.
    pub fn track_changes(&mut self) {
        for part in &mut self.partitions {
            part.changed.get_or_insert_with(Vec::new).clear();
        }
        self.channels.changed.get_or_insert_with(Vec::new).clear();
        self.secrets.journal.get_or_insert_with(Vec::new).clear();
        self.storage.track_changes();
        self.evm_journal = Some(Default::default());
        self.tracked_from = Some(self.counts());
    }

    /// What changed since [`Self::track_changes`] or the previous call (which it starts
    /// again from); an empty delta of the current counts if changes are not tracked.
    pub fn take_changes(&mut self) -> StateDelta {
        let now = self.counts();
        let (accounts_from, secrets_from, channels_from) = self.tracked_from.unwrap_or(now);
        let mut indexes: Vec<AccountIndex> = Vec::new();
        for (p, part) in self.partitions.iter_mut().enumerate() {
            if let Some(changed) = &mut part.changed {
                indexes.extend(
                    changed
                        .drain(..)
                        .map(|pos| (pos * PARTITIONS + p) as AccountIndex)
                        .filter(|&i| i < accounts_from),
                );
            }
        }
        indexes.extend(accounts_from..now.0);
        indexes.sort_unstable();
        indexes.dedup();
        let mut channels: Vec<u32> = self
            .channels
            .changed
            .as_mut()
            .map(|c| c.drain(..).map(|p| p as u32).collect())
            .unwrap_or_default();
        channels.retain(|&p| p < channels_from);
        channels.extend(channels_from..now.2);
        channels.sort_unstable();
        channels.dedup();
        let secrets = self
            .secrets
            .journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        if self.tracked_from.is_some() {
            self.tracked_from = Some(now);
        }
        let (contracts, code) = self
            .evm_journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        let evm = EvmDelta {
            contracts,
            code: code
                .iter()
                .filter_map(|h| self.code.get(h).map(|c| c.original_bytes()))
                .collect(),
            storage: self.storage.take_changes(),
            block_hashes: self.block_hashes.iter().copied().collect(),
        };
        StateDelta {
            accounts: indexes
                .into_iter()
                .map(|i| (i, self.account(i).expect("below count").clone()))
                .collect(),
            account_count: now.0,
            supply: self.supply.clone(),
            queue_position: self.queue_position,
            secrets_from,
            secrets,
            channels: channels
                .into_iter()
                .map(|p| (p, self.channels.records[p as usize].clone()))
                .collect(),
            channel_count: now.2,
            evm,
        }
    }

    /// Accounts, revealed secrets, channels.
    fn counts(&self) -> (AccountIndex, u32, u32) {
        (
            self.account_count(),
            self.secrets.tree.len() as u32,
            self.channels.records.len() as u32,
        )
    }

    /// Revealed secrets in the order they entered the registry tree.
    fn secrets_in_order(&self) -> Vec<(B256, u64)> {
        let mut all: Vec<(B256, u64)> = self
            .secrets
            .revealed
            .iter()
            .map(|(h, b)| (*h, *b))
            .collect();
        // The tree's leaf order is the reveal order; recover it from the leaves.
        let position: alloy_primitives::map::B256Map<usize> = (0..self.secrets.tree.len())
            .map(|i| (self.secrets.tree.leaf(i), i))
            .collect();
        all.sort_by_key(|(h, b)| {
            position
                .get(&secret_leaf(h, *b))
                .copied()
                .unwrap_or(usize::MAX)
        });
        all
    }
}

impl StateData {
    /// A copy of `state`'s data.
    pub fn from_state(state: &State) -> Self {
        Self {
            accounts: (0..state.account_count())
                .map(|i| state.account(i).expect("below count").clone())
                .collect(),
            supply: state.supply.clone(),
            queue_position: state.queue_position,
            secrets: state.secrets_in_order(),
            channels: state.channels.records.clone(),
            evm: EvmData::from_state(state),
        }
    }

    /// The full snapshot of this data; equal to [`State::encode_snapshot`] of its state.
    pub fn encode(&self) -> Vec<u8> {
        encode_full(
            self.accounts.len() as AccountIndex,
            self.accounts.iter(),
            &self.supply,
            self.queue_position,
            &self.secrets,
            &self.evm,
            &self.channels,
        )
    }

    /// Reads a full snapshot without building any tree (see [`State::from_data`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut buf = bytes;
        let mut r = Reader(&mut buf);
        if r.take(MAGIC.len())? != MAGIC {
            return Err(DecodeError::Invalid("snapshot magic"));
        }
        if r.u32()? != VERSION {
            return Err(DecodeError::Invalid("snapshot version"));
        }
        let count = r.u32()? as usize;
        if count > r.0.len() / ACCOUNT_MIN_LEN {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut accounts = Vec::with_capacity(count);
        for _ in 0..count {
            accounts.push(decode_account(&mut r)?);
        }
        let supply = decode_supply(&mut r)?;
        let queue_position = r.u64()?;
        let secrets = decode_secrets(&mut r)?;
        let evm = EvmData::decode(&mut r)?;
        let channels = r.u32()? as usize;
        if channels > r.0.len() / CHANNEL_FIXED_LEN {
            return Err(DecodeError::UnexpectedEnd);
        }
        let mut records = Vec::with_capacity(channels);
        for _ in 0..channels {
            records.push(decode_channel(&mut r)?);
        }
        if !buf.is_empty() {
            return Err(DecodeError::TrailingBytes(buf.len()));
        }
        Ok(Self {
            accounts,
            supply,
            queue_position,
            secrets,
            channels: records,
            evm,
        })
    }

    /// Applies a delta taken on top of this data: overwrites the changed accounts and
    /// channels, appends the new ones and the new secrets, sets the rest. Refuses a delta
    /// that does not continue this data (an account or channel past the end, secrets from
    /// a later position).
    pub fn apply(&mut self, delta: &StateDelta) -> Result<(), DecodeError> {
        for (i, account) in &delta.accounts {
            let i = *i as usize;
            match i.cmp(&self.accounts.len()) {
                std::cmp::Ordering::Less => self.accounts[i] = account.clone(),
                std::cmp::Ordering::Equal => self.accounts.push(account.clone()),
                std::cmp::Ordering::Greater => {
                    return Err(DecodeError::Invalid("delta account past the end"));
                }
            }
        }
        if self.accounts.len() != delta.account_count as usize {
            return Err(DecodeError::Invalid("delta account count"));
        }
        for (p, record) in &delta.channels {
            let p = *p as usize;
            match p.cmp(&self.channels.len()) {
                std::cmp::Ordering::Less => self.channels[p] = record.clone(),
                std::cmp::Ordering::Equal => self.channels.push(record.clone()),
                std::cmp::Ordering::Greater => {
                    return Err(DecodeError::Invalid("delta channel past the end"));
                }
            }
        }
        if self.channels.len() != delta.channel_count as usize {
            return Err(DecodeError::Invalid("delta channel count"));
        }
        let from = delta.secrets_from as usize;
        if from > self.secrets.len() {
            return Err(DecodeError::Invalid("delta secrets past the end"));
        }
        self.secrets.truncate(from);
        self.secrets.extend_from_slice(&delta.secrets);
        if delta.supply.is_empty() {
            return Err(DecodeError::Invalid("snapshot token count"));
        }
        self.supply.clone_from(&delta.supply);
        self.queue_position = delta.queue_position;
        self.evm.apply(&delta.evm)
    }

    /// The delta from an earlier point of this data to now: the accounts and channels at
    /// `accounts` and `channels` (changed or created since; sorted, deduplicated) with
    /// their values now, the secrets from position `secrets_from` on, and the contract
    /// data `evm` lists (the blocks' [`StateDelta::evm`] since, folded and normalized).
    pub fn delta(
        &self,
        accounts: &[AccountIndex],
        channels: &[u32],
        secrets_from: u32,
        evm: &EvmDelta,
    ) -> StateDelta {
        StateDelta {
            accounts: accounts
                .iter()
                .map(|&i| (i, self.accounts[i as usize].clone()))
                .collect(),
            account_count: self.accounts.len() as AccountIndex,
            supply: self.supply.clone(),
            queue_position: self.queue_position,
            secrets_from,
            secrets: self.secrets[(secrets_from as usize).min(self.secrets.len())..].to_vec(),
            channels: channels
                .iter()
                .map(|&p| (p, self.channels[p as usize].clone()))
                .collect(),
            channel_count: self.channels.len() as u32,
            evm: self.evm.delta(evm),
        }
    }
}

fn encode_full<'a>(
    count: AccountIndex,
    accounts: impl Iterator<Item = &'a Account>,
    supply: &[Amount],
    queue_position: u64,
    secrets: &[(B256, u64)],
    evm: &EvmData,
    channels: &[ChannelRecord],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * count as usize + 64);
    out.extend_from_slice(MAGIC);
    let mut w = Writer(&mut out);
    w.u32(&VERSION);
    w.u32(&count);
    for a in accounts {
        write_account(&mut w, a);
    }
    w.u32(&(supply.len() as u32));
    for s in supply {
        w.u128(s);
    }
    w.u64(&queue_position);
    write_secrets(&mut w, secrets);
    evm.encode(&mut w);
    w.u32(&(channels.len() as u32));
    for c in channels {
        write_channel(&mut w, c);
    }
    out
}

fn write_account(w: &mut Writer<'_>, a: &Account) {
    w.address(&a.address);
    w.u64(&a.nonce);
    let balances: Vec<Balance> = a.balances().collect();
    w.u32(&(balances.len() as u32));
    for b in balances {
        w.u32(&b.token);
        w.u128(&b.amount);
    }
}

fn write_secrets(w: &mut Writer<'_>, secrets: &[(B256, u64)]) {
    w.u32(&(secrets.len() as u32));
    for (hashlock, block) in secrets {
        w.b256(hashlock);
        w.u64(block);
    }
}

fn write_channel(w: &mut Writer<'_>, c: &ChannelRecord) {
    w.b256(&c.id);
    w.u32(&c.wallet);
    w.u32(&c.hub);
    w.u32(&c.token);
    w.u128(&c.total);
    w.u128(&c.wallet_side);
    w.u128(&c.hub_side);
    w.u8(c.status.as_u8());
    if let ChannelStatus::Disputed { state, deadline } = &c.status {
        w.u64(deadline);
        state.encode(w.0);
    }
}

fn decode_account(r: &mut Reader<'_, '_>) -> Result<Account, DecodeError> {
    let mut account = Account::new(r.address()?);
    account.nonce = r.u64()?;
    let count = r.u32()? as usize;
    if count > r.0.len() / 20 {
        return Err(DecodeError::UnexpectedEnd);
    }
    let mut balances = Vec::with_capacity(count);
    for _ in 0..count {
        balances.push(Balance {
            token: r.u32()?,
            amount: r.u128()?,
        });
    }
    for b in balances {
        account.set_balance(b.token, b.amount);
    }
    Ok(account)
}

fn decode_supply(r: &mut Reader<'_, '_>) -> Result<Vec<Amount>, DecodeError> {
    let tokens = r.u32()? as usize;
    if tokens == 0 || tokens > r.0.len() / 16 {
        return Err(DecodeError::Invalid("snapshot token count"));
    }
    (0..tokens).map(|_| r.u128()).collect()
}

fn decode_secrets(r: &mut Reader<'_, '_>) -> Result<Vec<(B256, u64)>, DecodeError> {
    let secrets = r.u32()? as usize;
    if secrets > r.0.len() / 40 {
        return Err(DecodeError::UnexpectedEnd);
    }
    (0..secrets).map(|_| Ok((r.b256()?, r.u64()?))).collect()
}

/// One channel record (see the module docs).
fn decode_channel(r: &mut Reader<'_, '_>) -> Result<ChannelRecord, DecodeError> {
    let id = r.b256()?;
    let (wallet, hub, token) = (r.u32()?, r.u32()?, r.u32()?);
    let (total, wallet_side, hub_side) = (r.u128()?, r.u128()?, r.u128()?);
    let status = match r.u8()? {
        0 => ChannelStatus::Open,
        1 => {
            let deadline = r.u64()?;
            let state: ChannelState = r.value()?;
            ChannelStatus::Disputed { state, deadline }
        }
        2 => ChannelStatus::Closed,
        _ => return Err(DecodeError::Invalid("channel status")),
    };
    Ok(ChannelRecord {
        id,
        wallet,
        hub,
        token,
        total,
        wallet_side,
        hub_side,
        status,
    })
}

/// A channel's accounts and token must exist.
fn check_channel(c: &ChannelRecord, state: &State) -> Result<(), DecodeError> {
    if c.wallet >= state.account_count() || c.hub >= state.account_count() || c.wallet == c.hub {
        return Err(DecodeError::Invalid("channel participants"));
    }
    if c.token >= state.token_count() {
        return Err(DecodeError::Invalid("channel token"));
    }
    Ok(())
}

/// A secret registry leaf: `keccak256(hashlock ‖ uint64 block)`.
pub(crate) fn secret_leaf(hashlock: &B256, block: u64) -> B256 {
    let mut buf = [0u8; 40];
    buf[..32].copy_from_slice(hashlock.as_slice());
    buf[32..].copy_from_slice(&block.to_be_bytes());
    keccak256(buf)
}

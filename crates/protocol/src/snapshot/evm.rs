//! The contract part of snapshots and deltas: code hashes of contract accounts, code by
//! hash, storage by shard in position order, and the recent block hashes `BLOCKHASH` reads.
//!
//! Full snapshot section: `u32 n ‖ (u32 index ‖ codeHash)^n ‖ u32 m ‖ (u32 len ‖ code)^m ‖
//! (u32 k ‖ (key ‖ value)^k)^16 ‖ u32 h ‖ (u64 number ‖ hash)^h` (contracts ascending by
//! index, code ascending by hash, each shard's slots in position order, block hashes
//! oldest first).
//!
//! Delta section: `u32 n ‖ (u32 index ‖ codeHash)^n ‖ u32 m ‖ (u32 len ‖ code)^m ‖ u32 k ‖
//! (u8 shard ‖ u32 position ‖ key ‖ value)^k ‖ u32 h ‖ (u64 number ‖ hash)^h`: the contracts
//! and code created since the base point, the slots written since (values after), and the
//! block hashes whole.

use std::collections::BTreeMap;

use super::*;
use crate::{
    evm::MAX_TX_SIZE,
    primitives::{Bytes, U256},
    state::{BLOCK_HASH_HISTORY, STORAGE_SHARDS, Storage},
};

/// Longest code a snapshot may carry (what one creation can deploy is far less: EIP-170
/// caps it at 24 KiB; the bound only keeps decoding from trusting a length).
const MAX_CODE_LEN: usize = MAX_TX_SIZE;

/// The contract data of a state, without its trees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvmData {
    /// Code hash of each contract account, by index.
    pub contracts: BTreeMap<AccountIndex, B256>,
    /// Code by its hash.
    pub code: BTreeMap<B256, Bytes>,
    /// Each shard's slots `(key, value)` in position order (empty: no storage at all).
    pub storage: Vec<Vec<(B256, U256)>>,
    /// The recent block hashes, oldest first.
    pub block_hashes: Vec<(u64, B256)>,
}

/// What contract data changed between two snapshot points.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvmDelta {
    /// Contracts created, ascending by index.
    pub contracts: Vec<(AccountIndex, B256)>,
    /// Code deployed (new hashes only).
    pub code: Vec<Bytes>,
    /// Slots written: `(shard, position, key, value)`, ascending, values after.
    pub storage: Vec<(u8, u32, B256, U256)>,
    /// The recent block hashes after it, whole.
    pub block_hashes: Vec<(u64, B256)>,
}

impl EvmData {
    /// A copy of `state`'s contract data.
    pub fn from_state(state: &State) -> Self {
        let mut contracts = BTreeMap::new();
        for (p, part) in state.partitions.iter().enumerate() {
            for (&pos, hash) in &part.contracts {
                contracts.insert((pos as usize * PARTITIONS + p) as AccountIndex, *hash);
            }
        }
        Self {
            contracts,
            code: state
                .code
                .iter()
                .map(|(h, c)| (*h, c.original_bytes()))
                .collect(),
            storage: state
                .storage
                .shards
                .iter()
                .map(|s| s.slots.clone())
                .collect(),
            block_hashes: state.block_hashes.iter().copied().collect(),
        }
    }

    /// Installs the data into `state` (whose accounts are in place), building the storage
    /// trees. Refuses contracts of unknown accounts, code whose hash is not its key,
    /// contracts whose code is missing, misplaced or repeated slot keys.
    pub(crate) fn install(self, state: &mut State) -> Result<(), DecodeError> {
        for (hash, code) in &self.code {
            if keccak256(code) != *hash {
                return Err(DecodeError::Invalid("code hash in snapshot"));
            }
        }
        for (&idx, hash) in &self.contracts {
            if idx >= state.account_count() || !self.code.contains_key(hash) {
                return Err(DecodeError::Invalid("contract in snapshot"));
            }
            state.partitions[crate::state::partition_of(idx)]
                .contracts
                .insert(crate::state::position_of(idx) as u32, *hash);
        }
        state.code = self
            .code
            .into_iter()
            .map(|(h, c)| (h, revm::bytecode::Bytecode::new_raw(c)))
            .collect();
        let shards = if self.storage.is_empty() {
            vec![Vec::new(); STORAGE_SHARDS]
        } else {
            self.storage
        };
        state.storage = Storage::from_shards(&shards)
            .ok_or(DecodeError::Invalid("storage slots in snapshot"))?;
        if self.block_hashes.len() > BLOCK_HASH_HISTORY {
            return Err(DecodeError::Invalid("block hashes in snapshot"));
        }
        state.block_hashes = self.block_hashes.into_iter().collect();
        Ok(())
    }

    pub(super) fn encode(&self, w: &mut Writer<'_>) {
        w.u32(&(self.contracts.len() as u32));
        for (idx, hash) in &self.contracts {
            w.u32(idx);
            w.b256(hash);
        }
        write_code(w, self.code.values());
        for s in 0..STORAGE_SHARDS {
            let slots = self.storage.get(s).map_or(&[][..], Vec::as_slice);
            w.u32(&(slots.len() as u32));
            for (key, value) in slots {
                w.b256(key);
                w.b256(&B256::from(*value));
            }
        }
        write_block_hashes(w, &self.block_hashes);
    }

    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let n = bounded(r, 36)?;
        let mut contracts = BTreeMap::new();
        for _ in 0..n {
            let idx = r.u32()?;
            if contracts.insert(idx, r.b256()?).is_some() {
                return Err(DecodeError::Invalid("contract twice in snapshot"));
            }
        }
        let code = read_code(r)?
            .into_iter()
            .map(|c| (keccak256(&c), c))
            .collect();
        let mut storage = Vec::with_capacity(STORAGE_SHARDS);
        for _ in 0..STORAGE_SHARDS {
            let k = bounded(r, 64)?;
            let mut slots = Vec::with_capacity(k);
            for _ in 0..k {
                slots.push((r.b256()?, U256::from_be_bytes(r.b256()?.0)));
            }
            storage.push(slots);
        }
        Ok(Self {
            contracts,
            code,
            storage,
            block_hashes: read_block_hashes(r)?,
        })
    }

    /// Applies a delta taken on top of this data.
    pub(super) fn apply(&mut self, delta: &EvmDelta) -> Result<(), DecodeError> {
        for (idx, hash) in &delta.contracts {
            self.contracts.insert(*idx, *hash);
        }
        for code in &delta.code {
            self.code.insert(keccak256(code), code.clone());
        }
        if self.storage.is_empty() {
            self.storage = vec![Vec::new(); STORAGE_SHARDS];
        }
        for &(shard, pos, key, value) in &delta.storage {
            let slots = self
                .storage
                .get_mut(usize::from(shard))
                .ok_or(DecodeError::Invalid("delta storage shard"))?;
            match (pos as usize).cmp(&slots.len()) {
                std::cmp::Ordering::Less => slots[pos as usize] = (key, value),
                std::cmp::Ordering::Equal => slots.push((key, value)),
                std::cmp::Ordering::Greater => {
                    return Err(DecodeError::Invalid("delta slot past the end"));
                }
            }
        }
        self.block_hashes.clone_from(&delta.block_hashes);
        Ok(())
    }

    /// The delta from an earlier point: the contracts and code created since (`changes`
    /// lists them and the slots written since, as [`State::take_changes`] reported them).
    pub(super) fn delta(&self, changes: &EvmDelta) -> EvmDelta {
        let storage = changes
            .storage
            .iter()
            .map(|&(shard, pos, _, _)| {
                let (key, value) = self.storage[usize::from(shard)][pos as usize];
                (shard, pos, key, value)
            })
            .collect();
        EvmDelta {
            contracts: changes.contracts.clone(),
            code: changes.code.clone(),
            storage,
            block_hashes: self.block_hashes.clone(),
        }
    }
}

impl EvmDelta {
    pub(super) fn encode(&self, w: &mut Writer<'_>) {
        w.u32(&(self.contracts.len() as u32));
        for (idx, hash) in &self.contracts {
            w.u32(idx);
            w.b256(hash);
        }
        write_code(w, self.code.iter());
        w.u32(&(self.storage.len() as u32));
        for (shard, pos, key, value) in &self.storage {
            w.u8(*shard);
            w.u32(pos);
            w.b256(key);
            w.b256(&B256::from(*value));
        }
        write_block_hashes(w, &self.block_hashes);
    }

    pub(super) fn decode(r: &mut Reader<'_, '_>) -> Result<Self, DecodeError> {
        let n = bounded(r, 36)?;
        let contracts = (0..n)
            .map(|_| Ok((r.u32()?, r.b256()?)))
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let code = read_code(r)?;
        let k = bounded(r, 69)?;
        let mut storage = Vec::with_capacity(k);
        for _ in 0..k {
            storage.push((
                r.u8()?,
                r.u32()?,
                r.b256()?,
                U256::from_be_bytes(r.b256()?.0),
            ));
        }
        Ok(Self {
            contracts,
            code,
            storage,
            block_hashes: read_block_hashes(r)?,
        })
    }

    /// Folds a later delta into this one (the snapshotter accumulates blocks' changes).
    pub fn extend(&mut self, later: &EvmDelta) {
        self.contracts.extend_from_slice(&later.contracts);
        self.code.extend_from_slice(&later.code);
        self.storage.extend_from_slice(&later.storage);
        self.block_hashes.clone_from(&later.block_hashes);
    }

    /// Sorts and deduplicates the accumulated changes (the last write of a slot wins).
    pub fn normalize(&mut self) {
        self.contracts.sort_by_key(|&(i, _)| i);
        self.contracts.dedup_by_key(|&mut (i, _)| i);
        self.code.sort();
        self.code.dedup();
        // Stable: of repeated positions the last pushed is the latest value.
        self.storage.reverse();
        self.storage.sort_by_key(|&(s, p, _, _)| (s, p));
        self.storage.dedup_by_key(|&mut (s, p, _, _)| (s, p));
    }
}

/// A `u32` count that the remaining input can hold at `min` bytes per item.
fn bounded(r: &mut Reader<'_, '_>, min: usize) -> Result<usize, DecodeError> {
    let n = r.u32()? as usize;
    if n > r.0.len() / min {
        return Err(DecodeError::UnexpectedEnd);
    }
    Ok(n)
}

fn write_code<'a>(w: &mut Writer<'_>, code: impl ExactSizeIterator<Item = &'a Bytes>) {
    w.u32(&(code.len() as u32));
    for c in code {
        w.u32(&(c.len() as u32));
        w.0.extend_from_slice(c);
    }
}

fn read_code(r: &mut Reader<'_, '_>) -> Result<Vec<Bytes>, DecodeError> {
    let m = bounded(r, 4)?;
    (0..m)
        .map(|_| {
            let len = r.u32()? as usize;
            if len > MAX_CODE_LEN {
                return Err(DecodeError::TooLong {
                    what: "code",
                    len,
                    max: MAX_CODE_LEN,
                });
            }
            Ok(Bytes::copy_from_slice(r.take(len)?))
        })
        .collect()
}

fn write_block_hashes(w: &mut Writer<'_>, hashes: &[(u64, B256)]) {
    w.u32(&(hashes.len() as u32));
    for (n, h) in hashes {
        w.u64(n);
        w.b256(h);
    }
}

fn read_block_hashes(r: &mut Reader<'_, '_>) -> Result<Vec<(u64, B256)>, DecodeError> {
    let h = bounded(r, 40)?;
    if h > BLOCK_HASH_HISTORY {
        return Err(DecodeError::Invalid("block hashes"));
    }
    (0..h).map(|_| Ok((r.u64()?, r.b256()?))).collect()
}

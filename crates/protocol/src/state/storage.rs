//! Contract storage: flat, sharded by the hashed slot key, each shard an append-only tree.
//!
//! ```text
//! key   = keccak256(address ‖ slot)                 (slot as a 32-byte word)
//! shard = key[0] >> 4                               (16 shards)
//! leaf  = keccak256(0x01 ‖ key ‖ value)             (65 bytes: never an inner node's 64)
//! shard tree  = fixed-depth tree (SHARD_DEPTH) over the shard's slots in first-write order
//! storageRoot = Merkle root over the 16 shard roots
//! ```
//!
//! A slot gets its position in its shard the first time a block writes it (in block order,
//! then by key within a block) and keeps it: a slot set back to zero keeps its leaf with
//! value zero. Keys are uniformly distributed, so the writes of one hot contract spread
//! over every shard and commitment stays parallel. The trade-off against a sparse tree over
//! the key: no non-membership proofs (a slot without a leaf reads zero), but the same dense
//! tree code as accounts and about 129 bytes per slot at 2M slots (measured by `make
//! bench`).

use hashbrown::HashTable;
use rayon::prelude::*;

use crate::{
    merkle::{self, LeaflessTree},
    primitives::{Address, B256, U256, keccak256},
};

/// Number of storage shards.
pub const STORAGE_SHARDS: usize = 16;
/// Depth of each shard's tree: 2^28 slots per shard.
pub const SHARD_DEPTH: usize = 28;

/// The key a slot is committed under: `keccak256(address ‖ slot)`.
#[inline]
pub fn slot_key(address: &Address, slot: &U256) -> B256 {
    let mut buf = [0u8; 52];
    buf[..20].copy_from_slice(address.as_slice());
    buf[20..].copy_from_slice(&slot.to_be_bytes::<32>());
    keccak256(buf)
}

/// The shard of a slot key.
#[inline]
pub fn shard_of(key: &B256) -> usize {
    usize::from(key[0] >> 4)
}

/// A slot's leaf: `keccak256(0x01 ‖ key ‖ value)`.
#[inline]
pub fn slot_leaf(key: &B256, value: &U256) -> B256 {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(key.as_slice());
    buf[33..].copy_from_slice(&value.to_be_bytes::<32>());
    keccak256(buf)
}

/// The leaf of a stored slot.
#[inline]
fn leaf_of((key, value): &(B256, U256)) -> B256 {
    slot_leaf(key, value)
}

/// The low 64 bits of a key's second word: its hash in a shard's table (keccak output is
/// uniform; the first byte already chose the shard).
#[inline]
fn table_hash(key: &B256) -> u64 {
    u64::from_le_bytes(key[8..16].try_into().expect("8 bytes"))
}

/// One shard: its slots by position, an index from key to position, and its tree.
#[derive(Debug, Clone)]
pub(crate) struct Shard {
    /// `(key, value)` by position.
    pub(crate) slots: Vec<(B256, U256)>,
    index: HashTable<u32>,
    /// The tree above the slots' leaves (a leaf is recomputed from its slot when needed).
    pub(crate) tree: LeaflessTree,
    /// Positions written since the changes were last taken, when tracked.
    pub(crate) changed: Option<Vec<u32>>,
}

impl Default for Shard {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            index: HashTable::new(),
            tree: LeaflessTree::new(SHARD_DEPTH),
            changed: None,
        }
    }
}

impl Shard {
    fn position(&self, key: &B256) -> Option<usize> {
        self.index
            .find(table_hash(key), |&pos| self.slots[pos as usize].0 == *key)
            .map(|&pos| pos as usize)
    }

    /// Sets slots (any order, keys of this shard, no repeats) and rehashes their leaves:
    /// existing keys in place, new keys appended in the order given.
    fn write(&mut self, writes: &[(B256, U256)]) {
        // Grow by a quarter, not double (see `merkle::grow`): slots are most of the memory.
        let room = self.slots.capacity() - self.slots.len();
        if writes.len() > room {
            let extra = writes.len().max(self.slots.len() / 4);
            self.slots.reserve_exact(extra);
        }
        let mut changes = Vec::with_capacity(writes.len());
        for &(key, value) in writes {
            let pos = match self.position(&key) {
                Some(pos) => {
                    self.slots[pos].1 = value;
                    pos
                }
                None => {
                    let pos = self.slots.len();
                    self.slots.push((key, value));
                    let slots = &self.slots;
                    self.index
                        .insert_unique(table_hash(&key), pos as u32, |&p| {
                            table_hash(&slots[p as usize].0)
                        });
                    pos
                }
            };
            changes.push((pos, slot_leaf(&key, &value)));
        }
        changes.sort_unstable_by_key(|&(pos, _)| pos);
        if let Some(changed) = &mut self.changed {
            changed.extend(changes.iter().map(|&(pos, _)| pos as u32));
        }
        let slots = &self.slots;
        self.tree.update(&changes, |pos| leaf_of(&slots[pos]));
    }

    /// A shard holding `slots` in position order (keys of this shard, no repeats), its
    /// tree built.
    fn from_slots(slots: &[(B256, U256)]) -> Self {
        let mut shard = Self::default();
        shard.write(slots);
        shard
    }

    fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<(B256, U256)>()
            + self.index.capacity() * (size_of::<u32>() + 1)
            + self.tree.heap_bytes()
    }
}

/// All contract storage.
#[derive(Debug, Clone)]
pub(crate) struct Storage {
    pub(crate) shards: Vec<Shard>,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            shards: (0..STORAGE_SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl Storage {
    /// The value at `key` (zero if never written).
    #[inline]
    pub(crate) fn get(&self, key: &B256) -> U256 {
        let shard = &self.shards[shard_of(key)];
        shard
            .position(key)
            .map_or(U256::ZERO, |pos| shard.slots[pos].1)
    }

    /// Applies a block's writes `(key, value)`, in any order, no key twice: new keys enter
    /// their shard sorted by key. Shards are committed in parallel on `pool` when given.
    pub(crate) fn commit(
        &mut self,
        mut writes: Vec<(B256, U256)>,
        pool: Option<&rayon::ThreadPool>,
    ) {
        if writes.is_empty() {
            return;
        }
        writes.sort_unstable_by_key(|&(key, _)| key);
        // Sorted by key means grouped by shard (the shard is the key's first nibble).
        let mut groups: Vec<&[(B256, U256)]> = vec![&[]; STORAGE_SHARDS];
        let mut rest = &writes[..];
        while let Some(first) = rest.first() {
            let shard = shard_of(&first.0);
            let end = rest.partition_point(|(k, _)| shard_of(k) <= shard);
            groups[shard] = &rest[..end];
            rest = &rest[end..];
        }
        let apply = |(shard, group): (&mut Shard, &&[(B256, U256)])| shard.write(group);
        match pool {
            Some(pool) if writes.len() >= 256 => pool.install(|| {
                self.shards
                    .par_iter_mut()
                    .zip(groups.par_iter())
                    .for_each(apply)
            }),
            _ => self.shards.iter_mut().zip(groups.iter()).for_each(apply),
        }
    }

    /// Merkle root over the shard roots.
    pub(crate) fn root(&self) -> B256 {
        let roots: Vec<B256> = self.shards.iter().map(|s| s.tree.root()).collect();
        merkle::root_of(&roots)
    }

    /// The position of `key` in its shard and the proof of its leaf: the shard path, then
    /// the path over shard roots.
    pub(crate) fn proof(&self, key: &B256) -> Option<(usize, Vec<B256>)> {
        let shard = shard_of(key);
        let pos = self.shards[shard].position(key)?;
        let slots = &self.shards[shard].slots;
        let mut siblings = self.shards[shard].tree.proof(pos, |p| leaf_of(&slots[p]));
        let roots: Vec<B256> = self.shards.iter().map(|s| s.tree.root()).collect();
        siblings.extend(merkle::proof_of(&roots, shard).expect("shard in range"));
        Some((pos, siblings))
    }

    /// Storage holding each shard's `(key, value)` slots in position order; every tree
    /// built, shards in parallel. `None` if a key sits in the wrong shard or twice.
    pub(crate) fn from_shards(shards: &[Vec<(B256, U256)>]) -> Option<Self> {
        if shards.len() != STORAGE_SHARDS {
            return None;
        }
        let ok = shards
            .iter()
            .enumerate()
            .all(|(i, slots)| slots.iter().all(|(key, _)| shard_of(key) == i));
        if !ok {
            return None;
        }
        let given: usize = shards.iter().map(Vec::len).sum();
        let shards: Vec<Shard> = shards.par_iter().map(|s| Shard::from_slots(s)).collect();
        let unique: usize = shards.iter().map(|s| s.slots.len()).sum();
        (given == unique).then_some(Self { shards })
    }

    /// Starts recording written positions.
    pub(crate) fn track_changes(&mut self) {
        for shard in &mut self.shards {
            shard.changed.get_or_insert_with(Vec::new).clear();
        }
    }

    /// The slots written since tracking started or the last call: `(shard, position, key,
    /// value)`, ascending, values now.
    pub(crate) fn take_changes(&mut self) -> Vec<(u8, u32, B256, U256)> {
        let mut out = Vec::new();
        for (i, shard) in self.shards.iter_mut().enumerate() {
            let Some(changed) = &mut shard.changed else {
                continue;
            };
            changed.sort_unstable();
            changed.dedup();
            for pos in changed.drain(..) {
                let (key, value) = shard.slots[pos as usize];
                out.push((i as u8, pos, key, value));
            }
        }
        out
    }

    /// Number of slots ever written.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| s.slots.len()).sum()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.shards.iter().map(Shard::heap_bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_read_back_and_commit_like_a_fresh_build() {
        let mut s = Storage::default();
        let addr = Address::repeat_byte(7);
        let key = |i: u64| slot_key(&addr, &U256::from(i));
        s.commit(
            (0..500).map(|i| (key(i), U256::from(i + 1))).collect(),
            None,
        );
        s.commit(vec![(key(3), U256::ZERO), (key(900), U256::from(9))], None);
        assert_eq!(s.get(&key(4)), U256::from(5));
        assert_eq!(s.get(&key(3)), U256::ZERO);
        assert_eq!(s.get(&key(901)), U256::ZERO);
        assert_eq!(s.len(), 501);
        // Same writes, in another order and in one block: same root.
        let mut t = Storage::default();
        let mut all: Vec<_> = (0..500).map(|i| (key(i), U256::from(i + 1))).collect();
        all.reverse();
        t.commit(all, None);
        t.commit(vec![(key(900), U256::from(9)), (key(3), U256::ZERO)], None);
        assert_eq!(s.root(), t.root());
        let (pos, siblings) = s.proof(&key(42)).unwrap();
        let index = pos as u64 | ((shard_of(&key(42)) as u64) << SHARD_DEPTH);
        assert!(merkle::verify(
            &slot_leaf(&key(42), &U256::from(43)),
            index,
            &siblings,
            &s.root()
        ));
    }
}

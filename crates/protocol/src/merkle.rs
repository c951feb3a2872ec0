//! Binary keccak256 Merkle trees.
//!
//! One rule verifies every proof in Weft (account proofs, withdrawal proofs, transaction
//! inclusion), simple enough to port to Solidity line for line:
//!
//! ```text
//! verify(leaf, index, siblings, root):
//!     require index < 2^len(siblings)
//!     h = leaf
//!     for k in 0..len(siblings):
//!         h = bit k of index == 0 ? keccak256(h ‖ siblings[k]) : keccak256(siblings[k] ‖ h)
//!     return h == root
//! ```
//!
//! Empty positions hold the zero hash of their level: `Z0 = 0x00…0`, `Zk+1 = keccak256(Zk ‖ Zk)`.
//! Real leaves are hashes of non-empty preimages, so they are never zero.

use std::sync::LazyLock;

use crate::primitives::{B256, hash_pair};

/// The deepest tree supported.
pub const MAX_DEPTH: usize = 64;

static ZERO_HASHES: LazyLock<[B256; MAX_DEPTH + 1]> = LazyLock::new(|| {
    let mut z = [B256::ZERO; MAX_DEPTH + 1];
    for k in 1..=MAX_DEPTH {
        z[k] = hash_pair(&z[k - 1], &z[k - 1]);
    }
    z
});

/// The root of an empty subtree of height `level`.
#[inline]
pub fn zero_hash(level: usize) -> B256 {
    ZERO_HASHES[level]
}

/// Verifies that `leaf` sits at `index` under `root` (the rule in the module docs).
pub fn verify(leaf: &B256, index: u64, siblings: &[B256], root: &B256) -> bool {
    if siblings.len() > MAX_DEPTH || (siblings.len() < 64 && index >> siblings.len() != 0) {
        return false;
    }
    let mut h = *leaf;
    for (k, sibling) in siblings.iter().enumerate() {
        h = if (index >> k) & 1 == 0 {
            hash_pair(&h, sibling)
        } else {
            hash_pair(sibling, &h)
        };
    }
    h == *root
}

/// Depth of the smallest tree holding `n` leaves.
fn depth_for(n: usize) -> usize {
    n.next_power_of_two().trailing_zeros() as usize
}

/// Root of a list of leaves: a tree of the smallest depth `d` with `2^d >= n`, padded with
/// zero leaves. The empty list has the zero root; a single leaf is its own root.
/// Used for transactions and withdrawals roots.
pub fn root_of(leaves: &[B256]) -> B256 {
    if leaves.is_empty() {
        return B256::ZERO;
    }
    let mut level = leaves.to_vec();
    let depth = depth_for(leaves.len());
    for k in 0..depth {
        level = level
            .chunks(2)
            .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&zero_hash(k))))
            .collect();
    }
    level[0]
}

/// The proof of `leaves[index]` under [`root_of`]`(leaves)`; `None` if out of range.
pub fn proof_of(leaves: &[B256], index: usize) -> Option<Vec<B256>> {
    if index >= leaves.len() {
        return None;
    }
    let depth = depth_for(leaves.len());
    let mut level = leaves.to_vec();
    let mut proof = Vec::with_capacity(depth);
    let mut i = index;
    for k in 0..depth {
        proof.push(level.get(i ^ 1).copied().unwrap_or(zero_hash(k)));
        level = level
            .chunks(2)
            .map(|pair| hash_pair(&pair[0], pair.get(1).unwrap_or(&zero_hash(k))))
            .collect();
        i >>= 1;
    }
    Some(proof)
}

/// Extends a level to `len` nodes (zeros), growing its capacity by a quarter rather than
/// doubling it: trees hold most of the state's memory, and a doubled level keeps up to
/// half its capacity unused (measured on contract storage: 203 bytes per slot with
/// doubling). Growth stays amortized: each reallocation adds at least a quarter.
fn grow(level: &mut Vec<B256>, len: usize) {
    if len > level.capacity() {
        let extra = (len - level.len()).max(level.len() / 4);
        level.reserve_exact(extra);
    }
    level.resize(len, B256::ZERO);
}

/// A fixed-depth tree over a dense, growing prefix of positions `0..len`.
///
/// Level `k` stores only its populated prefix (`ceil(len / 2^k)` nodes); everything to the
/// right is the zero hash of that level. Updates take a batch of changed positions and
/// rehash only the paths above them, each shared ancestor once.
#[derive(Debug, Clone)]
pub struct MerkleTree {
    depth: usize,
    /// The height of this tree's leaves in a larger tree (0 unless it is the upper part of
    /// a [`LeaflessTree`]): an empty node of level `k` is `zero_hash(base + k)`.
    base: usize,
    /// `levels[0]` are the leaves, `levels[depth]` holds the root once non-empty.
    levels: Vec<Vec<B256>>,
}

impl MerkleTree {
    /// An empty tree of `depth` levels (up to `2^depth` leaves).
    pub fn new(depth: usize) -> Self {
        Self::with_base(depth, 0)
    }

    fn with_base(depth: usize, base: usize) -> Self {
        assert!(
            depth + base <= MAX_DEPTH,
            "tree depth {depth} exceeds {MAX_DEPTH}"
        );
        Self {
            depth,
            base,
            levels: vec![Vec::new(); depth + 1],
        }
    }

    /// The tree's depth (the length of its proofs).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Number of populated leaf positions.
    pub fn len(&self) -> usize {
        self.levels[0].len()
    }

    /// Whether no leaf was ever set.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.node(self.depth, 0)
    }

    /// The leaf at `pos` (zero if unpopulated).
    pub fn leaf(&self, pos: usize) -> B256 {
        self.node(0, pos)
    }

    #[inline]
    fn node(&self, level: usize, pos: usize) -> B256 {
        self.levels[level]
            .get(pos)
            .copied()
            .unwrap_or(zero_hash(self.base + level))
    }

    /// Sets leaves and rehashes their paths. `changes` must be sorted by position without
    /// duplicates; positions may extend the populated prefix (new accounts), in which case
    /// every position up to the new length must be in `changes`.
    pub fn update(&mut self, changes: &[(usize, B256)]) {
        let Some(&(last, _)) = changes.last() else {
            return;
        };
        debug_assert!(
            changes.windows(2).all(|w| w[0].0 < w[1].0),
            "unsorted changes"
        );
        assert!(
            self.depth == 64 || last < (1usize << self.depth),
            "position beyond tree"
        );
        let leaves = &mut self.levels[0];
        if last >= leaves.len() {
            grow(leaves, last + 1);
        }
        for &(pos, hash) in changes {
            leaves[pos] = hash;
        }
        let mut dirty: Vec<usize> = changes.iter().map(|&(pos, _)| pos >> 1).collect();
        dirty.dedup();
        for k in 1..=self.depth {
            let (below, above) = self.levels.split_at_mut(k);
            let child = &below[k - 1];
            let level = &mut above[0];
            let needed = child.len().div_ceil(2);
            if level.len() < needed {
                grow(level, needed);
            }
            let zero = zero_hash(self.base + k - 1);
            for &pos in &dirty {
                let left = child[2 * pos];
                let right = child.get(2 * pos + 1).copied().unwrap_or(zero);
                level[pos] = hash_pair(&left, &right);
            }
            // Parents of a sorted, deduplicated list are sorted; dedup in place.
            let mut w = 0;
            for r in 0..dirty.len() {
                let parent = dirty[r] >> 1;
                if w == 0 || dirty[w - 1] != parent {
                    dirty[w] = parent;
                    w += 1;
                }
            }
            dirty.truncate(w);
        }
    }

    /// The sibling path of `pos`, leaf level first.
    pub fn proof(&self, pos: usize) -> Vec<B256> {
        (0..self.depth)
            .map(|k| self.node(k, (pos >> k) ^ 1))
            .collect()
    }

    /// Bytes held by the tree's node vectors (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.levels.iter().map(|l| l.capacity() * 32).sum()
    }
}

/// A [`MerkleTree`] that does not keep its leaves, for leaves that are cheap to recompute
/// from data held anyway (a storage slot's leaf is a keccak of its key and value): it
/// stores the levels above, and asks for a leaf (`leaf_at`) when a path needs the sibling
/// of a changed one. Half the memory of a tree that keeps them; the same roots and proofs.
#[derive(Debug, Clone)]
pub struct LeaflessTree {
    /// Number of populated leaf positions.
    len: usize,
    /// The levels from 1 up: a tree over the pairs of leaves.
    pairs: MerkleTree,
}

impl LeaflessTree {
    /// An empty tree of `depth` levels (`depth` ≥ 1).
    pub fn new(depth: usize) -> Self {
        assert!(depth >= 1, "a leafless tree has a level above its leaves");
        Self {
            len: 0,
            pairs: MerkleTree::with_base(depth - 1, 1),
        }
    }

    /// Number of populated leaf positions.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no leaf was ever set.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The root.
    pub fn root(&self) -> B256 {
        self.pairs.root()
    }

    /// Sets leaves and rehashes their paths, like [`MerkleTree::update`] (same rules on
    /// `changes`); `leaf_at(pos)` gives the current leaf of a populated position that
    /// `changes` does not hold.
    pub fn update(&mut self, changes: &[(usize, B256)], leaf_at: impl Fn(usize) -> B256) {
        let Some(&(last, _)) = changes.last() else {
            return;
        };
        debug_assert!(
            changes.windows(2).all(|w| w[0].0 < w[1].0),
            "unsorted changes"
        );
        self.len = self.len.max(last + 1);
        let len = self.len;
        let leaf = |pos: usize| {
            if pos < len {
                leaf_at(pos)
            } else {
                zero_hash(0)
            }
        };
        let mut pairs = Vec::with_capacity(changes.len());
        let mut i = 0;
        while i < changes.len() {
            let (pos, hash) = changes[i];
            let pair = pos >> 1;
            let (left, right) = if pos & 1 == 1 {
                (leaf(pos - 1), hash)
            } else if let Some(&(next, right)) = changes.get(i + 1)
                && next == pos + 1
            {
                i += 1;
                (hash, right)
            } else {
                (hash, leaf(pos + 1))
            };
            pairs.push((pair, hash_pair(&left, &right)));
            i += 1;
        }
        self.pairs.update(&pairs);
    }

    /// The sibling path of `pos`, leaf level first (`leaf_at` as for [`Self::update`]).
    pub fn proof(&self, pos: usize, leaf_at: impl Fn(usize) -> B256) -> Vec<B256> {
        let sibling = pos ^ 1;
        let mut proof = Vec::with_capacity(self.pairs.depth() + 1);
        proof.push(if sibling < self.len {
            leaf_at(sibling)
        } else {
            zero_hash(0)
        });
        proof.extend(self.pairs.proof(pos >> 1));
        proof
    }

    /// Bytes held by the node vectors (capacity, not length).
    pub fn heap_bytes(&self) -> usize {
        self.pairs.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitives::keccak256;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<B256> {
        (0..n as u64).map(|i| keccak256(i.to_be_bytes())).collect()
    }

    /// A tree built by rehashing everything, to check incremental updates against.
    fn naive_root(depth: usize, leaves: &[B256]) -> B256 {
        let mut level = leaves.to_vec();
        for k in 0..depth {
            if level.is_empty() {
                return zero_hash(depth);
            }
            level = level
                .chunks(2)
                .map(|p| hash_pair(&p[0], p.get(1).unwrap_or(&zero_hash(k))))
                .collect();
        }
        level.first().copied().unwrap_or(zero_hash(depth))
    }

    #[test]
    fn empty_roots_are_zero_hashes() {
        assert_eq!(root_of(&[]), B256::ZERO);
        assert_eq!(MerkleTree::new(5).root(), zero_hash(5));
    }

    #[test]
    fn root_of_single_leaf_is_the_leaf() {
        let l = leaves(1);
        assert_eq!(root_of(&l), l[0]);
        assert_eq!(proof_of(&l, 0), Some(vec![]));
        assert!(verify(&l[0], 0, &[], &l[0]));
        assert!(!verify(&l[0], 1, &[], &l[0]));
    }

    #[test]
    fn incremental_updates_equal_full_rehash() {
        let mut tree = MerkleTree::new(10);
        let mut all = Vec::new();
        for batch in [3usize, 1, 17, 64, 2] {
            let start = all.len();
            all.extend(leaves(start + batch)[start..].iter().copied());
            let changes: Vec<_> = (start..all.len()).map(|p| (p, all[p])).collect();
            tree.update(&changes);
            assert_eq!(tree.root(), naive_root(10, &all));
        }
        // Modify scattered existing leaves.
        let changes: Vec<_> = [0usize, 5, 6, 50, 86]
            .iter()
            .map(|&p| (p, keccak256([p as u8])))
            .collect();
        for &(p, h) in &changes {
            all[p] = h;
        }
        tree.update(&changes);
        assert_eq!(tree.root(), naive_root(10, &all));
    }

    proptest! {
        /// A leafless tree has the roots and proofs of one that keeps its leaves, through
        /// appends and scattered rewrites.
        #[test]
        fn leafless_equals_full(
            batches in prop::collection::vec((0usize..9, prop::collection::vec(any::<prop::sample::Index>(), 0..6)), 1..8),
            seed in any::<u8>(),
        ) {
            let mut full = MerkleTree::new(6);
            let mut leafless = LeaflessTree::new(6);
            let mut all: Vec<B256> = Vec::new();
            for (round, (appended, rewrites)) in batches.into_iter().enumerate() {
                let mut changes = std::collections::BTreeMap::new();
                for pick in rewrites.iter().filter(|_| !all.is_empty()) {
                    let pos = pick.index(all.len());
                    changes.insert(pos, keccak256([seed, round as u8, pos as u8, 1]));
                }
                for pos in all.len()..(all.len() + appended).min(64) {
                    changes.insert(pos, keccak256([seed, round as u8, pos as u8, 2]));
                }
                let changes: Vec<_> = changes.into_iter().collect();
                for &(pos, hash) in &changes {
                    if pos == all.len() { all.push(hash) } else { all[pos] = hash }
                }
                full.update(&changes);
                leafless.update(&changes, |p| all[p]);
                prop_assert_eq!(leafless.root(), full.root());
                prop_assert_eq!(leafless.len(), full.len());
                for pos in 0..all.len() {
                    prop_assert_eq!(leafless.proof(pos, |p| all[p]), full.proof(pos));
                }
            }
        }

        #[test]
        fn every_honest_proof_verifies(n in 1usize..80, pick in any::<prop::sample::Index>()) {
            let l = leaves(n);
            let i = pick.index(n);
            let root = root_of(&l);
            let proof = proof_of(&l, i).unwrap();
            prop_assert!(verify(&l[i], i as u64, &proof, &root));

            let mut tree = MerkleTree::new(8);
            tree.update(&l.iter().copied().enumerate().collect::<Vec<_>>());
            prop_assert!(verify(&l[i], i as u64, &tree.proof(i), &tree.root()));
        }

        #[test]
        fn any_single_bit_flip_fails(
            n in 2usize..40,
            pick in any::<prop::sample::Index>(),
            target in 0usize..4,
            bit in 0usize..256,
            sib in any::<prop::sample::Index>(),
        ) {
            let l = leaves(n);
            let i = pick.index(n);
            let mut tree = MerkleTree::new(6);
            tree.update(&l.iter().copied().enumerate().collect::<Vec<_>>());
            let (mut leaf, mut index, mut proof, mut root) = (l[i], i as u64, tree.proof(i), tree.root());
            let flip = |h: &mut B256| h.0[bit / 8] ^= 1 << (bit % 8);
            match target {
                0 => flip(&mut leaf),
                1 => index ^= 1 << (bit % 64),
                2 => { let s = sib.index(proof.len()); flip(&mut proof[s]) }
                _ => flip(&mut root),
            }
            prop_assert!(!verify(&leaf, index, &proof, &root));
        }

        #[test]
        fn proof_for_one_index_never_verifies_another(
            n in 2usize..64,
            a in any::<prop::sample::Index>(),
            j in 0u64..1_000,
        ) {
            let l = leaves(n);
            let i = a.index(n);
            prop_assume!(j != i as u64);
            let mut tree = MerkleTree::new(7);
            tree.update(&l.iter().copied().enumerate().collect::<Vec<_>>());
            prop_assert!(!verify(&l[i], j, &tree.proof(i), &tree.root()));
            let proof = proof_of(&l, i).unwrap();
            prop_assert!(!verify(&l[i], j, &proof, &root_of(&l)));
        }
    }
}

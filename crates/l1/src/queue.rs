//! The L1 queue as the contract keeps it.
//!
//! Entry `i` is a deposit or a forced withdrawal; its hash is the L2 transaction hash of the
//! matching system kind (`Transaction::hash`, the EIP-712 digest under Weft's domain), so L1
//! and L2 name every entry by the same 32 bytes. The chain:
//!
//! ```text
//! queueHashes[0]     = 0
//! queueHashes[i + 1] = keccak256(abi.encode(queueHashes[i], entryHash_i))
//! ```
//!
//! A batch commits to `queueHashes[queuePosition]`, so it can neither skip nor forge an entry.

use weft_protocol::{
    eip712::Domain,
    primitives::{B256, hash_pair},
    transaction::Transaction,
};

/// The hash of queue entry `tx` (a system kind) under `domain`.
pub fn entry_hash(tx: &Transaction, domain: &Domain) -> B256 {
    debug_assert!(
        tx.is_system(),
        "only deposits and forced withdrawals are queued"
    );
    tx.hash(domain)
}

/// `keccak256(abi.encode(prev, entry))`: two words, so the plain concatenation.
pub fn next_queue_hash(prev: &B256, entry: &B256) -> B256 {
    hash_pair(prev, entry)
}

/// The queue hash chain, `hashes[0] = 0`.
#[derive(Debug, Clone)]
pub struct QueueChain {
    hashes: Vec<B256>,
}

impl Default for QueueChain {
    fn default() -> Self {
        Self::new()
    }
}

impl QueueChain {
    /// The empty queue.
    pub fn new() -> Self {
        Self {
            hashes: vec![B256::ZERO],
        }
    }

    /// Number of entries.
    pub fn len(&self) -> u64 {
        self.hashes.len() as u64 - 1
    }

    /// Whether the queue has no entries.
    pub fn is_empty(&self) -> bool {
        self.hashes.len() == 1
    }

    /// Appends an entry by its hash; returns the new head.
    pub fn push_hash(&mut self, entry: B256) -> B256 {
        let head = next_queue_hash(self.head(), &entry);
        self.hashes.push(head);
        head
    }

    /// Appends `tx`, whose queue index must be [`Self::len`]; returns the new head.
    pub fn push(&mut self, tx: &Transaction, domain: &Domain) -> B256 {
        debug_assert_eq!(tx.queue_index(), Some(self.len()), "queue entries in order");
        self.push_hash(entry_hash(tx, domain))
    }

    /// The hash after the first `position` entries (`queueHashes[position]`).
    pub fn hash_at(&self, position: u64) -> Option<B256> {
        self.hashes.get(usize::try_from(position).ok()?).copied()
    }

    /// The hash after every entry.
    pub fn head(&self) -> &B256 {
        self.hashes
            .last()
            .expect("the chain starts with the zero hash")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocol::{
        primitives::{Address, keccak256},
        transaction::{Deposit, ForcedWithdraw},
    };

    #[test]
    fn chain_links_each_entry_to_the_previous_hash() {
        let domain = Domain::new(7, Address::repeat_byte(1));
        let deposit = Transaction::Deposit(Deposit {
            queue_index: 0,
            to: Address::repeat_byte(2),
            token: 0,
            amount: 5,
        });
        let forced = Transaction::ForcedWithdraw(ForcedWithdraw {
            queue_index: 1,
            account: Address::repeat_byte(3),
            token: 0,
        });
        let mut chain = QueueChain::new();
        assert!(chain.is_empty());
        chain.push(&deposit, &domain);
        chain.push(&forced, &domain);
        assert_eq!(chain.len(), 2);
        let h1 = keccak256([[0u8; 32], deposit.hash(&domain).0].concat());
        let h2 = keccak256([h1.0, forced.hash(&domain).0].concat());
        assert_eq!(chain.hash_at(0), Some(B256::ZERO));
        assert_eq!(chain.hash_at(1), Some(h1));
        assert_eq!(chain.hash_at(2), Some(h2));
        assert_eq!(chain.hash_at(3), None);
        assert_eq!(*chain.head(), h2);
    }
}

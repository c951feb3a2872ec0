//! The mempool: per-sender nonce queues feeding one ready queue in arrival order.
//!
//! A transaction is *ready* when its nonce is the next one for its sender (counting the
//! sender's earlier ready transactions); others wait in the sender's future queue, at most
//! `max_nonce_ahead` past it, and are promoted when the gap fills. The block builder takes
//! from the ready queue only, so a block never holds a nonce gap.
//!
//! A sender's next nonce is tracked here while the sender has transactions in the pool and
//! read from the state otherwise; the builder removes included transactions only after the
//! state reflects them, so the two never disagree.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::Arc,
    time::Instant,
};

use weft_protocol::{
    primitives::{Address, B256, Nonce},
    signature::Signature,
    transaction::{Transaction, VerifiedTransaction},
};

use crate::config::MempoolConfig;

/// An admitted transaction waiting for a block.
#[derive(Debug)]
pub struct PendingTx {
    /// Canonical hash.
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
    /// Its checked signature.
    pub signature: Signature,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: Nonce,
    /// Encoded size (counts against the mempool and block byte limits).
    pub size: usize,
    /// When it was admitted.
    pub received: Instant,
}

impl PendingTx {
    /// The executor's view of it.
    pub fn verified(&self) -> VerifiedTransaction {
        VerifiedTransaction {
            hash: self.hash,
            transaction: self.transaction.clone(),
        }
    }
}

/// Why the mempool refuses a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// Nonce below the account's next nonce: replayed or stale.
    #[error("nonce {got} is below the account's next nonce {next}")]
    NonceTooLow {
        /// The transaction's nonce.
        got: Nonce,
        /// The account's next nonce.
        next: Nonce,
    },
    /// Another transaction with this nonce is already pending.
    #[error("another transaction with nonce {0} is already pending")]
    NonceAlreadyPending(Nonce),
    /// Too far ahead of the sender's next nonce.
    #[error("nonce {got} is more than {max_ahead} past the next nonce {next}")]
    NonceTooHigh {
        /// The transaction's nonce.
        got: Nonce,
        /// The next nonce.
        next: Nonce,
        /// The window.
        max_ahead: u64,
    },
    /// No room left.
    #[error("mempool is full ({txs} transactions, {bytes} bytes)")]
    Full {
        /// Transactions held.
        txs: usize,
        /// Bytes held.
        bytes: usize,
    },
}

impl MempoolError {
    /// Stable code for the API.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NonceTooLow { .. } => "nonce_too_low",
            Self::NonceAlreadyPending(_) => "nonce_already_pending",
            Self::NonceTooHigh { .. } => "nonce_too_high",
            Self::Full { .. } => "mempool_full",
        }
    }
}

#[derive(Debug, Default)]
struct Sender {
    /// The nonce the next ready transaction must have.
    next: Nonce,
    /// Transactions of this sender in the pool (ready, future or being built).
    held: usize,
    /// Waiting for a gap to fill: nonce → hash.
    future: BTreeMap<Nonce, B256>,
}

/// See the module docs.
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    txs: HashMap<B256, Arc<PendingTx>>,
    ready: VecDeque<Arc<PendingTx>>,
    senders: HashMap<Address, Sender>,
    bytes: usize,
    ready_bytes: usize,
}

impl Mempool {
    /// An empty pool.
    pub fn new(config: MempoolConfig) -> Self {
        Self {
            config,
            txs: HashMap::new(),
            ready: VecDeque::new(),
            senders: HashMap::new(),
            bytes: 0,
            ready_bytes: 0,
        }
    }

    /// Transactions held (ready, future and being built).
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether the pool holds nothing.
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// Encoded bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Transactions ready for the next block.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// Encoded bytes of the ready transactions.
    pub fn ready_bytes(&self) -> usize {
        self.ready_bytes
    }

    /// A held transaction.
    pub fn get(&self, hash: &B256) -> Option<&Arc<PendingTx>> {
        self.txs.get(hash)
    }

    /// The nonce `sender`'s next transaction must have.
    pub fn next_nonce(&self, sender: &Address, state_nonce: Nonce) -> Nonce {
        self.senders.get(sender).map_or(state_nonce, |s| s.next)
    }

    /// Checks, without inserting, whether a transaction of `size` bytes from `sender` with
    /// `nonce` would be accepted (admission calls it before the costly signature check).
    pub fn check(
        &self,
        sender: &Address,
        nonce: Nonce,
        size: usize,
        state_nonce: Nonce,
    ) -> Result<(), MempoolError> {
        let next = self.next_nonce(sender, state_nonce);
        if nonce < next {
            return Err(if nonce < state_nonce {
                MempoolError::NonceTooLow {
                    got: nonce,
                    next: state_nonce,
                }
            } else {
                MempoolError::NonceAlreadyPending(nonce)
            });
        }
        let max_ahead = self.config.max_nonce_ahead;
        if nonce - next > max_ahead {
            return Err(MempoolError::NonceTooHigh {
                got: nonce,
                next,
                max_ahead,
            });
        }
        if self
            .senders
            .get(sender)
            .is_some_and(|s| s.future.contains_key(&nonce))
        {
            return Err(MempoolError::NonceAlreadyPending(nonce));
        }
        if self.txs.len() >= self.config.max_txs || self.bytes + size > self.config.max_bytes {
            return Err(MempoolError::Full {
                txs: self.txs.len(),
                bytes: self.bytes,
            });
        }
        Ok(())
    }

    /// Inserts a checked transaction; `state_nonce` is the sender's nonce in the latest state.
    pub fn insert(&mut self, tx: PendingTx, state_nonce: Nonce) -> Result<(), MempoolError> {
        self.check(&tx.sender, tx.nonce, tx.size, state_nonce)?;
        let tx = Arc::new(tx);
        let sender = self.senders.entry(tx.sender).or_insert_with(|| Sender {
            next: state_nonce,
            ..Sender::default()
        });
        sender.held += 1;
        self.bytes += tx.size;
        self.txs.insert(tx.hash, tx.clone());
        if tx.nonce != sender.next {
            sender.future.insert(tx.nonce, tx.hash);
            return Ok(());
        }
        sender.next += 1;
        self.ready_bytes += tx.size;
        self.ready.push_back(tx);
        // Promote the future transactions the new one made contiguous.
        while let Some(entry) = sender.future.first_entry() {
            if *entry.key() != sender.next {
                break;
            }
            let hash = entry.remove();
            sender.next += 1;
            let promoted = self.txs[&hash].clone();
            self.ready_bytes += promoted.size;
            self.ready.push_back(promoted);
        }
        Ok(())
    }

    /// Takes ready transactions in arrival order for a block: at most `max_txs` and
    /// `max_bytes`. They stay held (queryable as queued) until [`Self::remove_included`].
    pub fn take_ready(&mut self, max_txs: usize, max_bytes: usize) -> Vec<Arc<PendingTx>> {
        let mut out = Vec::with_capacity(max_txs.min(self.ready.len()));
        let mut bytes = 0;
        while let Some(tx) = self.ready.front() {
            if out.len() == max_txs || (bytes + tx.size > max_bytes && !out.is_empty()) {
                break;
            }
            bytes += tx.size;
            out.push(self.ready.pop_front().expect("front exists"));
        }
        self.ready_bytes -= bytes;
        out
    }

    /// Forgets transactions that are now in a stored block (after the state includes them).
    pub fn remove_included(&mut self, included: &[Arc<PendingTx>]) {
        for tx in included {
            if self.txs.remove(&tx.hash).is_none() {
                continue;
            }
            self.bytes -= tx.size;
            if let Some(sender) = self.senders.get_mut(&tx.sender) {
                sender.held -= 1;
                if sender.held == 0 {
                    self.senders.remove(&tx.sender);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_protocol::transaction::Transfer;

    fn config() -> MempoolConfig {
        MempoolConfig {
            max_txs: 10,
            max_bytes: 10_000,
            max_nonce_ahead: 4,
        }
    }

    fn tx(sender: u8, nonce: Nonce) -> PendingTx {
        let transaction = Transaction::Transfer(Transfer {
            from: Address::repeat_byte(sender),
            to: Address::repeat_byte(0xee),
            token: 0,
            amount: 1,
            fee: 0,
            nonce,
        });
        PendingTx {
            hash: B256::from_slice(&[sender, nonce as u8].repeat(16)),
            transaction,
            signature: Signature {
                r: B256::ZERO,
                s: B256::ZERO,
                y_parity: false,
            },
            sender: Address::repeat_byte(sender),
            nonce,
            size: 100,
            received: Instant::now(),
        }
    }

    #[test]
    fn future_nonces_wait_until_the_gap_fills() {
        let mut pool = Mempool::new(config());
        pool.insert(tx(1, 2), 0).unwrap();
        pool.insert(tx(1, 1), 0).unwrap();
        assert_eq!(pool.ready_len(), 0);
        pool.insert(tx(1, 0), 0).unwrap();
        assert_eq!(pool.ready_len(), 3);
        let nonces: Vec<_> = pool
            .take_ready(10, 10_000)
            .iter()
            .map(|t| t.nonce)
            .collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        assert_eq!(pool.len(), 3, "taken transactions stay held until included");
    }

    #[test]
    fn rejects_stale_duplicate_and_far_future_nonces() {
        let mut pool = Mempool::new(config());
        pool.insert(tx(1, 5), 5).unwrap();
        assert!(matches!(
            pool.insert(tx(1, 4), 5),
            Err(MempoolError::NonceTooLow { .. })
        ));
        assert_eq!(
            pool.insert(tx(1, 5), 5),
            Err(MempoolError::NonceAlreadyPending(5))
        );
        assert!(matches!(
            pool.insert(tx(1, 11), 5),
            Err(MempoolError::NonceTooHigh { .. })
        ));
        pool.insert(tx(1, 10), 5).unwrap();
        assert_eq!(
            pool.insert(tx(1, 10), 5),
            Err(MempoolError::NonceAlreadyPending(10))
        );
    }

    #[test]
    fn capacity_is_enforced_in_count_and_bytes() {
        let mut pool = Mempool::new(MempoolConfig {
            max_txs: 2,
            ..config()
        });
        pool.insert(tx(1, 0), 0).unwrap();
        pool.insert(tx(2, 0), 0).unwrap();
        assert!(matches!(
            pool.insert(tx(3, 0), 0),
            Err(MempoolError::Full { .. })
        ));
        let mut pool = Mempool::new(MempoolConfig {
            max_bytes: 150,
            ..config()
        });
        pool.insert(tx(1, 0), 0).unwrap();
        assert!(matches!(
            pool.insert(tx(2, 0), 0),
            Err(MempoolError::Full { .. })
        ));
    }

    #[test]
    fn removing_included_transactions_hands_the_nonce_back_to_the_state() {
        let mut pool = Mempool::new(config());
        pool.insert(tx(1, 0), 0).unwrap();
        pool.insert(tx(1, 1), 0).unwrap();
        let taken = pool.take_ready(1, 10_000);
        assert_eq!(pool.next_nonce(&Address::repeat_byte(1), 0), 2);
        pool.remove_included(&taken);
        assert_eq!(
            pool.next_nonce(&Address::repeat_byte(1), 1),
            2,
            "still held: tracked here"
        );
        let rest = pool.take_ready(10, 10_000);
        pool.remove_included(&rest);
        assert!(pool.is_empty());
        assert_eq!(
            pool.next_nonce(&Address::repeat_byte(1), 2),
            2,
            "from the state again"
        );
        assert_eq!(pool.bytes(), 0);
    }

    #[test]
    fn block_limits_bound_what_is_taken() {
        let mut pool = Mempool::new(config());
        for s in 1..=5 {
            pool.insert(tx(s, 0), 0).unwrap();
        }
        assert_eq!(pool.take_ready(2, 10_000).len(), 2);
        assert_eq!(pool.take_ready(10, 250).len(), 2);
        assert_eq!(
            pool.take_ready(10, 50).len(),
            1,
            "one oversize transaction still fits alone"
        );
    }
}

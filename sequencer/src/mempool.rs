//! The mempool: per-sender nonce queues feeding one ready queue in arrival order.
//!
//! A transaction is *ready* when its nonce is the next one for its sender (counting the
//! sender's earlier ready transactions); others wait in the sender's future queue, at most
//! `max_nonce_ahead` past it, and are promoted when the gap fills. The block builder takes
//! from the ready queue only, so a block never holds a nonce gap.
//!
//! The ready queue names `(sender, nonce)` slots, not transactions: an EVM transaction
//! replaced by another at the same nonce (fee cap and tip both at least 10 % higher, as geth
//! requires) takes its slot, ready or future, until the builder takes it. Native kinds have
//! a fixed fee and are not replaced.
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

/// A replacement must raise the fee cap and the tip by this percentage at least.
pub const REPLACEMENT_BUMP_PERCENT: u128 = 10;

/// An admitted transaction waiting for a block.
#[derive(Debug)]
pub struct PendingTx {
    /// Canonical hash.
    pub hash: B256,
    /// The transaction.
    pub transaction: Transaction,
    /// Its checked signature (an EVM transaction's own signature, which its envelope
    /// carries).
    pub signature: Signature,
    /// Its sender.
    pub sender: Address,
    /// Its nonce.
    pub nonce: Nonce,
    /// Encoded size (counts against the mempool and block byte limits).
    pub size: usize,
    /// Its gas limit, which counts against the block gas limit (0 for native kinds).
    pub gas: u64,
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

    /// An EVM transaction's `(fee cap, tip)`, what a replacement must bump.
    fn fees(&self) -> Option<(u128, u128)> {
        match &self.transaction {
            Transaction::Evm(t) => Some((
                t.max_fee_per_gas(),
                t.max_priority_fee_per_gas().unwrap_or(t.max_fee_per_gas()),
            )),
            _ => None,
        }
    }
}

/// Whether `new` raises both of `old`'s fees by [`REPLACEMENT_BUMP_PERCENT`].
fn bumped(old: (u128, u128), new: (u128, u128)) -> bool {
    let enough = |old: u128, new: u128| {
        new.saturating_mul(100) >= old.saturating_mul(100 + REPLACEMENT_BUMP_PERCENT)
    };
    enough(old.0, new.0) && enough(old.1, new.1)
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
    /// Another transaction with this nonce is already pending (a native kind, or one the
    /// builder has taken into a block).
    #[error("another transaction with nonce {0} is already pending")]
    NonceAlreadyPending(Nonce),
    /// An EVM transaction at the nonce of a pending one without the fee bump.
    #[error(
        "a transaction with nonce {0} is pending: a replacement must raise the fee cap and \
         the tip by {REPLACEMENT_BUMP_PERCENT}%"
    )]
    ReplacementUnderpriced(Nonce),
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
            Self::ReplacementUnderpriced(_) => "replacement_underpriced",
            Self::NonceTooHigh { .. } => "nonce_too_high",
            Self::Full { .. } => "mempool_full",
        }
    }
}

#[derive(Debug)]
struct Sender {
    /// The nonce the next ready transaction must have.
    next: Nonce,
    /// Nonces below this one were taken by the builder (not replaceable any more).
    taken: Nonce,
    /// Every transaction of this sender in the pool (being built, ready or future):
    /// nonce → hash.
    held: BTreeMap<Nonce, B256>,
}

impl Sender {
    fn new(state_nonce: Nonce) -> Self {
        Self {
            next: state_nonce,
            taken: state_nonce,
            held: BTreeMap::new(),
        }
    }
}

/// See the module docs.
#[derive(Debug)]
pub struct Mempool {
    config: MempoolConfig,
    txs: HashMap<B256, Arc<PendingTx>>,
    ready: VecDeque<(Address, Nonce)>,
    senders: HashMap<Address, Sender>,
    bytes: usize,
    ready_bytes: usize,
    ready_gas: u64,
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
            ready_gas: 0,
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

    /// Gas limits of the ready transactions.
    pub fn ready_gas(&self) -> u64 {
        self.ready_gas
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
    /// `nonce` would be accepted (admission calls it before the costly signature check);
    /// `fees` are an EVM transaction's `(fee cap, tip)`. `Some(hash)`: it would replace
    /// the pending transaction `hash`.
    pub fn check(
        &self,
        sender: &Address,
        nonce: Nonce,
        size: usize,
        state_nonce: Nonce,
        fees: Option<(u128, u128)>,
    ) -> Result<Option<B256>, MempoolError> {
        if nonce < state_nonce {
            return Err(MempoolError::NonceTooLow {
                got: nonce,
                next: state_nonce,
            });
        }
        let entry = self.senders.get(sender);
        if let Some((s, held)) = entry.and_then(|s| s.held.get(&nonce).map(|h| (s, h))) {
            let old = &self.txs[held];
            return match (old.fees(), fees) {
                (Some(old_fees), Some(new_fees)) if nonce >= s.taken => {
                    if !bumped(old_fees, new_fees) {
                        return Err(MempoolError::ReplacementUnderpriced(nonce));
                    }
                    if self.bytes - old.size + size > self.config.max_bytes {
                        return Err(self.full());
                    }
                    Ok(Some(*held))
                }
                _ => Err(MempoolError::NonceAlreadyPending(nonce)),
            };
        }
        let next = entry.map_or(state_nonce, |s| s.next);
        if nonce < next {
            return Err(MempoolError::NonceAlreadyPending(nonce));
        }
        let max_ahead = self.config.max_nonce_ahead;
        if nonce - next > max_ahead {
            return Err(MempoolError::NonceTooHigh {
                got: nonce,
                next,
                max_ahead,
            });
        }
        if self.txs.len() >= self.config.max_txs || self.bytes + size > self.config.max_bytes {
            return Err(self.full());
        }
        Ok(None)
    }

    fn full(&self) -> MempoolError {
        MempoolError::Full {
            txs: self.txs.len(),
            bytes: self.bytes,
        }
    }

    /// Inserts a checked transaction; `state_nonce` is the sender's nonce in the latest state.
    /// Returns the transaction it replaced, if any.
    pub fn insert(
        &mut self,
        tx: PendingTx,
        state_nonce: Nonce,
    ) -> Result<Option<Arc<PendingTx>>, MempoolError> {
        let replaces = self.check(&tx.sender, tx.nonce, tx.size, state_nonce, tx.fees())?;
        let tx = Arc::new(tx);
        let sender = self
            .senders
            .entry(tx.sender)
            .or_insert_with(|| Sender::new(state_nonce));
        sender.held.insert(tx.nonce, tx.hash);
        self.bytes += tx.size;
        self.txs.insert(tx.hash, tx.clone());
        if let Some(old) = replaces {
            let old = self
                .txs
                .remove(&old)
                .expect("a replaced transaction is held");
            self.bytes -= old.size;
            if tx.nonce < sender.next {
                // It takes the old one's place in the ready queue.
                self.ready_bytes = self.ready_bytes - old.size + tx.size;
                self.ready_gas = self.ready_gas - old.gas + tx.gas;
            }
            return Ok(Some(old));
        }
        if tx.nonce != sender.next {
            return Ok(None);
        }
        // It and the future transactions it made contiguous become ready.
        while let Some(hash) = sender.held.get(&sender.next) {
            let ready = &self.txs[hash];
            self.ready_bytes += ready.size;
            self.ready_gas += ready.gas;
            self.ready.push_back((tx.sender, sender.next));
            sender.next += 1;
        }
        Ok(None)
    }

    /// Takes ready transactions in arrival order for a block: at most `max_txs`,
    /// `max_bytes` and `max_gas` of gas limits. They stay held (queryable as queued) until
    /// [`Self::remove_included`].
    pub fn take_ready(
        &mut self,
        max_txs: usize,
        max_bytes: usize,
        max_gas: u64,
    ) -> Vec<Arc<PendingTx>> {
        let mut out = Vec::with_capacity(max_txs.min(self.ready.len()));
        let (mut bytes, mut gas) = (0, 0);
        while let Some((address, nonce)) = self.ready.front() {
            let sender = self
                .senders
                .get_mut(address)
                .expect("a ready slot's sender is held");
            let tx = &self.txs[&sender.held[nonce]];
            let full = bytes + tx.size > max_bytes || gas + tx.gas > max_gas;
            if out.len() == max_txs || (full && !out.is_empty()) {
                break;
            }
            bytes += tx.size;
            gas += tx.gas;
            sender.taken = nonce + 1;
            out.push(tx.clone());
            self.ready.pop_front();
        }
        self.ready_bytes -= bytes;
        self.ready_gas -= gas;
        out
    }

    /// Hands back transactions taken by [`Self::take_ready`] that their block left out
    /// (given in block order): they are ready again, ahead of everything else, so the next
    /// block starts with them.
    pub fn release(&mut self, left_out: &[Arc<PendingTx>]) {
        for tx in left_out.iter().rev() {
            if !self.txs.contains_key(&tx.hash) {
                continue;
            }
            let sender = self
                .senders
                .get_mut(&tx.sender)
                .expect("a held transaction's sender is held");
            sender.taken = sender.taken.min(tx.nonce);
            self.ready.push_front((tx.sender, tx.nonce));
            self.ready_bytes += tx.size;
            self.ready_gas += tx.gas;
        }
    }

    /// Forgets transactions that are now in a stored block (after the state includes them).
    pub fn remove_included(&mut self, included: &[Arc<PendingTx>]) {
        for tx in included {
            if self.txs.remove(&tx.hash).is_none() {
                continue;
            }
            self.bytes -= tx.size;
            if let Some(sender) = self.senders.get_mut(&tx.sender) {
                sender.held.remove(&tx.nonce);
                if sender.held.is_empty() {
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
            gas: 0,
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
            .take_ready(10, 10_000, u64::MAX)
            .iter()
            .map(|t| t.nonce)
            .collect();
        assert_eq!(nonces, vec![0, 1, 2]);
        assert_eq!(pool.len(), 3, "taken transactions stay held until included");
    }

    /// A legacy EVM transfer from `key` at `nonce` paying `price` per gas.
    fn evm(key: &weft_protocol::signature::SigningKey, nonce: Nonce, price: u128) -> PendingTx {
        use weft_protocol::{
            primitives::{Bytes, U256},
            testkit::evm::{TxType, sign_tx},
        };
        let verified = sign_tx(
            key,
            TxType::Legacy,
            nonce,
            Some(Address::repeat_byte(9)),
            U256::ZERO,
            Bytes::new(),
            21_000,
            price,
        );
        let Transaction::Evm(t) = &verified.transaction else {
            unreachable!("sign_tx signs EVM transactions")
        };
        PendingTx {
            hash: verified.hash,
            sender: t.sender(),
            nonce,
            size: 100,
            gas: t.gas_limit(),
            signature: t.signature(),
            transaction: verified.transaction,
            received: Instant::now(),
        }
    }

    #[test]
    fn an_evm_transaction_is_replaced_only_with_a_ten_percent_bump_until_taken() {
        let key = weft_protocol::signature::SigningKey::from_seed(b"replace");
        let mut pool = Mempool::new(config());
        let first = evm(&key, 0, 100);
        let first_hash = first.hash;
        pool.insert(first, 0).unwrap();
        pool.insert(evm(&key, 1, 100), 0).unwrap();
        assert_eq!(
            pool.insert(evm(&key, 0, 109), 0).err(),
            Some(MempoolError::ReplacementUnderpriced(0))
        );
        let bumped = evm(&key, 0, 110);
        let bumped_hash = bumped.hash;
        let replaced = pool.insert(bumped, 0).unwrap().expect("replaces the first");
        assert_eq!(replaced.hash, first_hash);
        assert!(pool.get(&first_hash).is_none());
        assert_eq!(
            (pool.len(), pool.ready_len(), pool.ready_gas()),
            (2, 2, 42_000)
        );
        // The block gas bound takes one; the replacement holds the first one's place.
        let taken = pool.take_ready(10, 10_000, 21_000);
        assert_eq!(
            taken.iter().map(|t| t.hash).collect::<Vec<_>>(),
            vec![bumped_hash]
        );
        assert_eq!(pool.ready_gas(), 21_000);
        assert_eq!(
            pool.insert(evm(&key, 0, 1_000), 0).err(),
            Some(MempoolError::NonceAlreadyPending(0)),
            "taken into a block: no longer replaceable"
        );
        // A future one is replaced in place and stays future.
        pool.insert(evm(&key, 3, 100), 0).unwrap();
        assert!(pool.insert(evm(&key, 3, 121), 0).unwrap().is_some());
        assert_eq!(pool.next_nonce(&key.address(), 0), 2);
        assert_eq!(pool.len(), 3);
    }

    #[test]
    fn transactions_a_block_left_out_come_first_in_the_next_and_are_replaceable_again() {
        let (a, b) = (
            weft_protocol::signature::SigningKey::from_seed(b"left a"),
            weft_protocol::signature::SigningKey::from_seed(b"left b"),
        );
        let mut pool = Mempool::new(config());
        for nonce in 0..3 {
            pool.insert(evm(&a, nonce, 100), 0).unwrap();
        }
        pool.insert(evm(&b, 0, 100), 0).unwrap();
        let taken = pool.take_ready(10, 10_000, 1 << 30);
        assert_eq!((taken.len(), pool.ready_len(), pool.ready_gas()), (4, 0, 0));
        // The block kept a's nonce 0 and left out its nonces 1 and 2.
        pool.release(&taken[1..3]);
        assert_eq!((pool.ready_len(), pool.ready_gas()), (2, 42_000));
        let fourth = evm(&a, 3, 100);
        let fourth_hash = fourth.hash;
        pool.insert(fourth, 0).unwrap();
        pool.remove_included(&[taken[0].clone(), taken[3].clone()]);
        let replacement = evm(&a, 1, 110);
        let replacement_hash = replacement.hash;
        assert!(pool.insert(replacement, 1).unwrap().is_some());
        let next: Vec<_> = pool
            .take_ready(10, 10_000, 1 << 30)
            .iter()
            .map(|t| (t.sender, t.nonce, t.hash))
            .collect();
        assert_eq!(
            next,
            vec![
                (a.address(), 1, replacement_hash),
                (a.address(), 2, taken[2].hash),
                (a.address(), 3, fourth_hash),
            ]
        );
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
            pool.insert(tx(1, 5), 5).err(),
            Some(MempoolError::NonceAlreadyPending(5))
        );
        assert!(matches!(
            pool.insert(tx(1, 11), 5),
            Err(MempoolError::NonceTooHigh { .. })
        ));
        pool.insert(tx(1, 10), 5).unwrap();
        assert_eq!(
            pool.insert(tx(1, 10), 5).err(),
            Some(MempoolError::NonceAlreadyPending(10))
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
        let taken = pool.take_ready(1, 10_000, u64::MAX);
        assert_eq!(pool.next_nonce(&Address::repeat_byte(1), 0), 2);
        pool.remove_included(&taken);
        assert_eq!(
            pool.next_nonce(&Address::repeat_byte(1), 1),
            2,
            "still held: tracked here"
        );
        let rest = pool.take_ready(10, 10_000, u64::MAX);
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
        assert_eq!(pool.take_ready(2, 10_000, u64::MAX).len(), 2);
        assert_eq!(pool.take_ready(10, 250, u64::MAX).len(), 2);
        assert_eq!(
            pool.take_ready(10, 50, u64::MAX).len(),
            1,
            "one oversize transaction still fits alone"
        );
    }
}

//! Blocks this node stored and has not batched yet, kept in memory for the batcher.
//!
//! The batcher encodes each batch from its blocks' transactions and receipts. Reading them
//! back from the database cost the leader about a tenth of its CPU taking transfers from
//! JetStream (the batcher's reads were 12 % of the async workers' samples and most of the
//! rows the SQLite threads read: `docs/performance.md`), for blocks the write loop held a
//! moment before. The write loop now hands each block here once it is committed; the batcher
//! takes it from here and reads the store only for a block that is not (stored before a
//! restart, or pushed out by the bound).
//!
//! Only committed blocks enter, and a stored block never changes, so a block found here is
//! the block the store holds (`sequencer/tests/batches.rs` compares the two).

use std::{collections::BTreeMap, sync::Arc};

use parking_lot::Mutex;

use crate::store::SealedBlock;

/// The blocks, oldest first, and how many transactions they hold together.
#[derive(Debug, Default)]
struct Inner {
    blocks: BTreeMap<u64, Arc<SealedBlock>>,
    txs: usize,
}

/// Recently stored blocks by number, holding at most a bounded number of transactions
/// (the oldest blocks make room: the batcher reads those from the store).
#[derive(Debug)]
pub struct RecentBlocks {
    max_txs: usize,
    inner: Mutex<Inner>,
}

impl RecentBlocks {
    /// Keeps blocks until they hold more than `max_txs` transactions together (a block
    /// larger than that alone is not kept).
    pub fn new(max_txs: usize) -> Self {
        Self {
            max_txs,
            inner: Mutex::default(),
        }
    }

    /// Adds a block that was just committed to the store.
    pub fn insert(&self, block: Arc<SealedBlock>) {
        let txs = block.transactions.len();
        if txs > self.max_txs {
            return;
        }
        let mut inner = self.inner.lock();
        while inner.txs + txs > self.max_txs {
            let Some((_, oldest)) = inner.blocks.pop_first() else {
                break;
            };
            inner.txs -= oldest.transactions.len();
        }
        inner.txs += txs;
        if let Some(replaced) = inner.blocks.insert(block.header.number, block) {
            inner.txs -= replaced.transactions.len();
        }
    }

    /// Block `number`, if it is held.
    pub fn get(&self, number: u64) -> Option<Arc<SealedBlock>> {
        self.inner.lock().blocks.get(&number).cloned()
    }

    /// Drops the blocks up to `number` (they are batched).
    pub fn forget_through(&self, number: u64) {
        let mut inner = self.inner.lock();
        let kept = inner.blocks.split_off(&(number + 1));
        let dropped = std::mem::replace(&mut inner.blocks, kept);
        inner.txs -= dropped
            .values()
            .map(|b| b.transactions.len())
            .sum::<usize>();
    }

    /// Blocks held and the transactions they hold.
    #[cfg(test)]
    fn held(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (inner.blocks.len(), inner.txs)
    }
}

#[cfg(test)]
mod tests {
    use weft_protocol::{
        block::BlockHeader,
        execution::{Receipt, Status},
        primitives::B256,
        testkit::test_address,
        transaction::{Transaction, Transfer},
    };

    use super::*;
    use crate::store::StoredTransaction;

    fn block(number: u64, txs: usize) -> Arc<SealedBlock> {
        let header = BlockHeader {
            number,
            parent_hash: B256::ZERO,
            timestamp: number,
            fee_recipient: test_address(0),
            tx_count: txs as u64,
            transactions_root: B256::ZERO,
            state_root: B256::ZERO,
            withdrawals_root: B256::ZERO,
            queue_position: 0,
        };
        let transactions = (0..txs)
            .map(|i| StoredTransaction {
                hash: B256::with_last_byte(i as u8),
                block_number: number,
                index: i as u32,
                transaction: Transaction::Transfer(Transfer {
                    from: test_address(1),
                    to: test_address(2),
                    token: 0,
                    amount: 1,
                    fee: 0,
                    nonce: i as u64,
                }),
                signature: None,
                receipt: Receipt {
                    status: Status::Success,
                    fee_paid: 0,
                    withdrawal: None,
                    evm: None,
                },
            })
            .collect();
        Arc::new(SealedBlock {
            hash: header.hash(),
            header,
            transactions,
            account_count: Some(3),
        })
    }

    #[test]
    fn the_oldest_blocks_make_room_and_batched_ones_are_forgotten() {
        let recent = RecentBlocks::new(10);
        for n in 1..=4 {
            recent.insert(block(n, 3));
        }
        // 12 transactions do not fit in 10: block 1 made room.
        assert_eq!(recent.held(), (3, 9));
        assert!(recent.get(1).is_none());
        assert_eq!(recent.get(3).unwrap().header.number, 3);
        recent.forget_through(3);
        assert_eq!(recent.held(), (1, 3));
        assert!(recent.get(3).is_none());
        assert_eq!(recent.get(4).unwrap().transactions.len(), 3);
        // A block larger than the bound is not kept, and evicts nothing.
        recent.insert(block(5, 11));
        assert_eq!(recent.held(), (1, 3));
        recent.insert(block(6, 0));
        assert_eq!(recent.held(), (2, 3));
    }
}

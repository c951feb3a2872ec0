//! The L1 side's tables: `l1_queue` (entries taken from L1), `batches`, and
//! `l1_transactions` (signed L1 transactions, stored before they are sent).

use weft_protocol::{
    batch::BatchCommitment,
    codec::{Decode, Encode},
    primitives::B256,
    transaction::Transaction,
};
use weft_storage::{Columns, to_i64};

use super::{Error, Store};

/// An L1 queue entry as taken by the watcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Position in the queue, from 0.
    pub queue_index: u64,
    /// The system transaction (deposit or forced withdrawal).
    pub transaction: Transaction,
    /// Its L2 hash (the contract's entry hash).
    pub entry_hash: B256,
    /// The queue hash chain after it.
    pub queue_hash: B256,
    /// The L1 block it was emitted in.
    pub l1_block_number: u64,
    /// That block's hash.
    pub l1_block_hash: B256,
}

/// Where a batch stands on L1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BatchStatus {
    /// Built and stored, not yet accepted by L1.
    Sealed,
    /// `commitBatch` included on L1.
    Committed,
    /// Attested by the prover.
    Proven,
    /// Final: its withdrawals are claimable.
    Finalized,
}

impl BatchStatus {
    /// The stored and API name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Sealed => "sealed",
            Self::Committed => "committed",
            Self::Proven => "proven",
            Self::Finalized => "finalized",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sealed" => Self::Sealed,
            "committed" => Self::Committed,
            "proven" => Self::Proven,
            "finalized" => Self::Finalized,
            _ => return None,
        })
    }
}

/// A stored batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBatch {
    /// The commitment posted to L1.
    pub commitment: BatchCommitment,
    /// Accounts after its last block.
    pub accounts_after: u32,
    /// The DA payload.
    pub da_payload: Vec<u8>,
    /// Where it stands.
    pub status: BatchStatus,
    /// The L1 transaction that committed it.
    pub commit_l1_tx: Option<B256>,
    /// The L1 transaction that proved it.
    pub prove_l1_tx: Option<B256>,
    /// The L1 transaction that finalized it.
    pub finalize_l1_tx: Option<B256>,
}

/// A signed L1 transaction of the poster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredL1Transaction {
    /// Its hash.
    pub tx_hash: B256,
    /// Sender nonce.
    pub nonce: u64,
    /// What it does (`commit`, …).
    pub purpose: String,
    /// The batch it posts, if any.
    pub batch_index: Option<u64>,
    /// The signed, encoded transaction.
    pub raw: Vec<u8>,
    /// EIP-1559 fee cap.
    pub max_fee_per_gas: u128,
    /// EIP-1559 tip.
    pub max_priority_fee_per_gas: u128,
    /// `pending`, `included`, `reverted` or `replaced`.
    pub status: String,
    /// Unix seconds when it was signed.
    pub created_at: u64,
}

const SELECT_BATCH: &str = "SELECT batch_index, from_block, to_block, prev_state_root, \
    new_state_root, withdrawals_root, queue_position, queue_hash, da_hash, commitment_hash, \
    accounts_after, da_payload, status, commit_l1_tx, prove_l1_tx, finalize_l1_tx FROM batches";

impl Store {
    /// Stores queue entries; an entry already stored must be identical (the watcher takes
    /// each index exactly once).
    pub async fn insert_queue_entries(&self, entries: &[QueueEntry]) -> Result<(), Error> {
        let mut tx = self.begin_write().await?;
        for e in entries {
            let index = to_i64("queue index", e.queue_index)?;
            let existing = sqlx::query("SELECT entry_hash FROM l1_queue WHERE queue_index = $1")
                .bind(index)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(row) = existing {
                let stored = Columns::new(&row, "l1_queue")
                    .keyed(format!("index {index}"))
                    .b256("entry_hash")?;
                if stored != e.entry_hash {
                    return Err(Error::QueueConflict {
                        queue_index: e.queue_index,
                    });
                }
                continue;
            }
            sqlx::query(
                "INSERT INTO l1_queue (queue_index, encoded, entry_hash, queue_hash, \
                 l1_block_number, l1_block_hash) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(index)
            .bind(e.transaction.to_bytes())
            .bind(e.entry_hash.as_slice())
            .bind(e.queue_hash.as_slice())
            .bind(to_i64("l1 block number", e.l1_block_number)?)
            .bind(e.l1_block_hash.as_slice())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Queue entries from `start`, in order, at most `limit`.
    pub async fn queue_entries(&self, start: u64, limit: u64) -> Result<Vec<QueueEntry>, Error> {
        let rows = sqlx::query(
            "SELECT queue_index, encoded, entry_hash, queue_hash, l1_block_number, l1_block_hash \
             FROM l1_queue WHERE queue_index >= $1 ORDER BY queue_index LIMIT $2",
        )
        .bind(to_i64("queue index", start)?)
        .bind(to_i64("limit", limit)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let cols = Columns::new(row, "l1_queue");
                let queue_index = cols.u64("queue_index")?;
                let cols = cols.keyed(format!("index {queue_index}"));
                let encoded: Vec<u8> = cols.get("encoded")?;
                Ok(QueueEntry {
                    queue_index,
                    transaction: Transaction::from_bytes(&encoded)
                        .map_err(|e| cols.corrupt("encoded", e))?,
                    entry_hash: cols.b256("entry_hash")?,
                    queue_hash: cols.b256("queue_hash")?,
                    l1_block_number: cols.u64("l1_block_number")?,
                    l1_block_hash: cols.b256("l1_block_hash")?,
                })
            })
            .collect()
    }

    /// Number of queue entries taken (the next index to take).
    pub async fn queue_len(&self) -> Result<u64, Error> {
        let n: Option<i64> = sqlx::query_scalar("SELECT MAX(queue_index) FROM l1_queue")
            .fetch_one(&self.pool)
            .await?;
        Ok(n.map_or(0, |n| n as u64 + 1))
    }

    /// The queue hash chain at `position` (after `position` entries; zero at 0).
    pub async fn queue_hash_at(&self, position: u64) -> Result<Option<B256>, Error> {
        if position == 0 {
            return Ok(Some(B256::ZERO));
        }
        Ok(self
            .queue_entries(position - 1, 1)
            .await?
            .first()
            .filter(|e| e.queue_index == position - 1)
            .map(|e| e.queue_hash))
    }

    /// Stores a newly sealed batch; its index must follow the latest stored batch.
    pub async fn insert_batch(&self, batch: &StoredBatch) -> Result<(), Error> {
        let c = &batch.commitment;
        let mut tx = self.begin_chain_write().await?;
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(batch_index) FROM batches")
            .fetch_one(&mut *tx)
            .await?;
        let expected = latest.map_or(1, |n| n as u64 + 1);
        if c.index != expected {
            return Err(Error::BatchOutOfOrder {
                index: c.index,
                expected,
            });
        }
        sqlx::query(
            "INSERT INTO batches (batch_index, from_block, to_block, prev_state_root, new_state_root, \
             withdrawals_root, queue_position, queue_hash, da_hash, commitment_hash, accounts_after, \
             da_payload, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(to_i64("batch index", c.index)?)
        .bind(to_i64("from block", c.from_block)?)
        .bind(to_i64("to block", c.to_block)?)
        .bind(c.prev_state_root.as_slice())
        .bind(c.new_state_root.as_slice())
        .bind(c.withdrawals_root.as_slice())
        .bind(to_i64("queue position", c.queue_position)?)
        .bind(c.queue_hash.as_slice())
        .bind(c.da_hash.as_slice())
        .bind(c.hash().as_slice())
        .bind(i64::from(batch.accounts_after))
        .bind(batch.da_payload.as_slice())
        .bind(batch.status.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The batch `index`.
    pub async fn batch(&self, index: u64) -> Result<Option<StoredBatch>, Error> {
        // Indexes are stored as BIGINT: one past i64::MAX was never stored.
        let Ok(index) = i64::try_from(index) else {
            return Ok(None);
        };
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_BATCH} WHERE batch_index = $1"));
        let row = sqlx::query(sql)
            .bind(index)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    /// The newest batch.
    pub async fn latest_batch(&self) -> Result<Option<StoredBatch>, Error> {
        let sql = sqlx::AssertSqlSafe(format!("{SELECT_BATCH} ORDER BY batch_index DESC LIMIT 1"));
        let row = sqlx::query(sql).fetch_optional(&self.pool).await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    /// The last block of the newest batch at one of `statuses` (0: none yet).
    pub async fn last_block_at_status(&self, statuses: &[BatchStatus]) -> Result<u64, Error> {
        let list = statuses
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT COALESCE(MAX(to_block), 0) AS to_block FROM batches WHERE status IN ({list})"
        ));
        let row = sqlx::query(sql).fetch_one(&self.pool).await?;
        Ok(Columns::new(&row, "batches").u64("to_block")?)
    }

    /// The batch holding block `number`, if it is batched.
    pub async fn batch_of_block(&self, number: u64) -> Result<Option<StoredBatch>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let sql = sqlx::AssertSqlSafe(format!(
            "{SELECT_BATCH} WHERE from_block <= $1 AND to_block >= $1"
        ));
        let row = sqlx::query(sql)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(batch_from_row).transpose()
    }

    /// Moves a batch forward to `status`, recording the L1 transaction that did it. Never
    /// moves a batch backwards; at the same status it records the newer transaction (a
    /// commit posted again after an L1 reorg dropped the first).
    pub async fn set_batch_status(
        &self,
        index: u64,
        status: BatchStatus,
        l1_tx: Option<B256>,
    ) -> Result<(), Error> {
        let column = match status {
            BatchStatus::Sealed => return Ok(()),
            BatchStatus::Committed => "commit_l1_tx",
            BatchStatus::Proven => "prove_l1_tx",
            BatchStatus::Finalized => "finalize_l1_tx",
        };
        let earlier: Vec<&str> = [
            BatchStatus::Sealed,
            BatchStatus::Committed,
            BatchStatus::Proven,
            BatchStatus::Finalized,
        ]
        .into_iter()
        .filter(|s| *s <= status)
        .map(|s| s.as_str())
        .collect();
        let in_list = earlier
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = sqlx::AssertSqlSafe(format!(
            "UPDATE batches SET status = $1, {column} = COALESCE($2, {column}) \
             WHERE batch_index = $3 AND status IN ({in_list})"
        ));
        sqlx::query(sql)
            .bind(status.as_str())
            .bind(l1_tx.map(|h| h.to_vec()))
            .bind(to_i64("batch index", index)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes batches `from..=to` back to `sealed` after L1 reverted their commits
    /// (`BatchesReverted`): their commit transactions are forgotten and the poster commits
    /// them again. Only committed batches move (L1 never reverts proven ones).
    pub async fn revert_batches(&self, from: u64, to: u64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE batches SET status = 'sealed', commit_l1_tx = NULL \
             WHERE batch_index >= $1 AND batch_index <= $2 AND status = 'committed'",
        )
        .bind(to_i64("batch index", from)?)
        .bind(to_i64("batch index", to)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a signed L1 transaction (before it is sent). Signing the same transaction
    /// again (after an L1 reorg dropped it) gives the same hash: the row is then made
    /// `pending` again with the new time.
    pub async fn insert_l1_transaction(&self, t: &StoredL1Transaction) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO l1_transactions (tx_hash, nonce, purpose, batch_index, raw, max_fee_per_gas, \
             max_priority_fee_per_gas, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tx_hash) DO UPDATE SET status = excluded.status, created_at = excluded.created_at",
        )
        .bind(t.tx_hash.as_slice())
        .bind(to_i64("nonce", t.nonce)?)
        .bind(t.purpose.as_str())
        .bind(t.batch_index.map(|i| to_i64("batch index", i)).transpose()?)
        .bind(t.raw.as_slice())
        .bind(t.max_fee_per_gas.to_string())
        .bind(t.max_priority_fee_per_gas.to_string())
        .bind(t.status.as_str())
        .bind(to_i64("created at", t.created_at)?)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the DA hash a stored batch is posted with (its carrier decides it: see
    /// `weft_protocol::da::blob`), and so its commitment hash.
    pub async fn set_batch_da_hash(
        &self,
        commitment: &weft_protocol::batch::BatchCommitment,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE batches SET da_hash = $1, commitment_hash = $2 WHERE batch_index = $3")
            .bind(commitment.da_hash.as_slice())
            .bind(commitment.hash().as_slice())
            .bind(to_i64("batch index", commitment.index)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets the status of a stored L1 transaction.
    pub async fn set_l1_transaction_status(
        &self,
        tx_hash: &B256,
        status: &str,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE l1_transactions SET status = $1 WHERE tx_hash = $2")
            .bind(status)
            .bind(tx_hash.as_slice())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// L1 transactions still pending, oldest nonce first, newest first within a nonce.
    pub async fn pending_l1_transactions(&self) -> Result<Vec<StoredL1Transaction>, Error> {
        self.select_l1_transactions("WHERE status = 'pending' ORDER BY nonce, created_at DESC")
            .await
    }

    /// Every stored L1 transaction, by nonce, oldest first within a nonce.
    pub async fn l1_transactions(&self) -> Result<Vec<StoredL1Transaction>, Error> {
        self.select_l1_transactions("ORDER BY nonce, created_at")
            .await
    }

    async fn select_l1_transactions(
        &self,
        tail: &'static str,
    ) -> Result<Vec<StoredL1Transaction>, Error> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT tx_hash, nonce, purpose, batch_index, raw, max_fee_per_gas, \
             max_priority_fee_per_gas, status, created_at FROM l1_transactions {tail}"
        ));
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                let cols = Columns::new(row, "l1_transactions");
                let tx_hash = cols.b256("tx_hash")?;
                let cols = cols.keyed(format!("{tx_hash}"));
                Ok(StoredL1Transaction {
                    tx_hash,
                    nonce: cols.u64("nonce")?,
                    purpose: cols.get("purpose")?,
                    batch_index: cols.opt_u64("batch_index")?,
                    raw: cols.get("raw")?,
                    max_fee_per_gas: cols.u128("max_fee_per_gas")?,
                    max_priority_fee_per_gas: cols.u128("max_priority_fee_per_gas")?,
                    status: cols.get("status")?,
                    created_at: cols.u64("created_at")?,
                })
            })
            .collect()
    }
}

fn batch_from_row(row: &sqlx::any::AnyRow) -> Result<StoredBatch, Error> {
    let cols = Columns::new(row, "batches");
    let index = cols.u64("batch_index")?;
    let cols = cols.keyed(format!("batch {index}"));
    let commitment = BatchCommitment {
        index,
        from_block: cols.u64("from_block")?,
        to_block: cols.u64("to_block")?,
        prev_state_root: cols.b256("prev_state_root")?,
        new_state_root: cols.b256("new_state_root")?,
        withdrawals_root: cols.b256("withdrawals_root")?,
        queue_position: cols.u64("queue_position")?,
        queue_hash: cols.b256("queue_hash")?,
        da_hash: cols.b256("da_hash")?,
    };
    if cols.b256("commitment_hash")? != commitment.hash() {
        return Err(cols
            .corrupt(
                "commitment_hash",
                "is not the hash of the stored commitment",
            )
            .into());
    }
    let status: String = cols.get("status")?;
    let opt_hash = |c: &str| -> Result<Option<B256>, Error> {
        let v: Option<Vec<u8>> = cols.get(c)?;
        Ok(
            v.map(|b| B256::try_from(b.as_slice()).map_err(|_| cols.corrupt(c, "not 32 bytes")))
                .transpose()?,
        )
    };
    Ok(StoredBatch {
        commitment,
        accounts_after: cols.u32("accounts_after")?,
        da_payload: cols.get("da_payload")?,
        status: BatchStatus::parse(&status).ok_or_else(|| cols.corrupt("status", &status))?,
        commit_l1_tx: opt_hash("commit_l1_tx")?,
        prove_l1_tx: opt_hash("prove_l1_tx")?,
        finalize_l1_tx: opt_hash("finalize_l1_tx")?,
    })
}

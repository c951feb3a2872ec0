//! The `blocks` table, and the write of a sealed block as a whole.

use std::time::Instant;

use alloy::primitives::Bloom;
use sqlx::{AnyConnection, any::AnyRow};
use weft_protocol::{block::BlockHeader, primitives::B256};
use weft_storage::{Backend, Columns, to_i64};

use super::{Error, SealedBlock, Store, logs::LogRow, transactions::TransactionRow};

/// `SELECT` of every header column, followed by the given clause.
macro_rules! select_header {
    ($($tail:literal)?) => {
        concat!(
            "SELECT number, hash, parent_hash, timestamp, fee_recipient, tx_count, \
             transactions_root, state_root, withdrawals_root, queue_position FROM blocks",
            $(" ", $tail)?
        )
    };
}

impl Store {
    /// Writes a sealed block, its transactions and their receipts in one database
    /// transaction.
    ///
    /// Refuses, writing nothing, a block that does not extend the stored head (its number
    /// must be head + 1 and its parent hash the head's hash; block 1's parent is zero) or
    /// whose parts disagree (hash, transaction count, transaction positions). If any row
    /// fails, nothing of the block is written.
    #[tracing::instrument(skip_all, fields(number = block.header.number, txs = block.transactions.len()))]
    pub async fn insert_block(&self, block: &SealedBlock) -> Result<(), Error> {
        let started = Instant::now();
        check_consistent(block)?;
        // Encode everything before the database transaction, to keep it short.
        let header = HeaderRow::new(block)?;
        let rows = block
            .transactions
            .iter()
            .map(TransactionRow::new)
            .collect::<Result<Vec<_>, _>>()?;
        let logs = LogRow::of_block(block)?;

        let mut tx = self.begin_chain_write().await?;
        let (expected_number, expected_parent) = match head_hash(&mut tx).await? {
            Some((number, hash)) => (number + 1, hash),
            None => (1, B256::ZERO),
        };
        if block.header.number != expected_number || block.header.parent_hash != expected_parent {
            return Err(Error::DoesNotExtendHead {
                number: block.header.number,
                parent_hash: block.header.parent_hash,
                expected_number,
                expected_parent,
            });
        }
        header.insert(&mut tx).await?;
        TransactionRow::insert_all(&mut tx, self.backend, &rows).await?;
        LogRow::insert_all(&mut tx, self.backend, &logs).await?;
        tx.commit().await?;
        tracing::debug!(elapsed = ?started.elapsed(), "block stored");
        Ok(())
    }

    /// The newest block's header and hash; `None` before block 1.
    pub async fn head(&self) -> Result<Option<(BlockHeader, B256)>, Error> {
        sqlx::query(select_header!("ORDER BY number DESC LIMIT 1"))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| header_from_row(&row))
            .transpose()
    }

    /// The header and hash of block `number`.
    pub async fn header_by_number(
        &self,
        number: u64,
    ) -> Result<Option<(BlockHeader, B256)>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        sqlx::query(select_header!("WHERE number = $1"))
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| header_from_row(&row))
            .transpose()
    }

    /// Accounts in the state after block `number`, where it was recorded.
    pub async fn block_account_count(&self, number: u64) -> Result<Option<u32>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let row = sqlx::query("SELECT account_count FROM blocks WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let cols = Columns::new(&row, "blocks").keyed(format!("number {number}"));
        cols.opt_u64("account_count")?
            .map(|n| u32::try_from(n).map_err(|_| cols.corrupt("account_count", "exceeds u32")))
            .transpose()
            .map_err(Error::from)
    }

    /// The logs bloom stored with block `number`; `None` where none was: a block without
    /// logs (its bloom is zero), one stored before the column existed, or no such block.
    pub async fn block_logs_bloom(&self, number: u64) -> Result<Option<Bloom>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        let Some(row) = sqlx::query("SELECT logs_bloom FROM blocks WHERE number = $1")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let cols = Columns::new(&row, "blocks").keyed(format!("number {number}"));
        let bytes: Option<Vec<u8>> = cols.get("logs_bloom")?;
        bytes
            .map(|b| {
                Bloom::try_from(b.as_slice()).map_err(|_| {
                    cols.corrupt("logs_bloom", format!("{} bytes, expected 256", b.len()))
                })
            })
            .transpose()
            .map_err(Error::from)
    }

    /// The header and hash of the block with hash `hash`.
    pub async fn header_by_hash(&self, hash: &B256) -> Result<Option<(BlockHeader, B256)>, Error> {
        sqlx::query(select_header!("WHERE hash = $1"))
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| header_from_row(&row))
            .transpose()
    }
}

/// How a multi-row `INSERT` into a table written only inside a block's database transaction
/// begins. On SQLite it is `INSERT OR FAIL`: a failing row fails the statement without undoing
/// the statement's earlier rows (the block's rollback undoes everything anyway), which spares
/// SQLite the statement journal it otherwise keeps of every page such a statement modifies
/// (8 % of the leader's CPU taking transfers from JetStream, with its copies and allocations:
/// `perf`, 2026-12-07). The error is the same constraint error either way.
pub(super) fn insert_in_block(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "INSERT OR FAIL INTO",
        Backend::Postgres => "INSERT INTO",
    }
}

/// The stored head's number and hash, read inside the writing transaction.
async fn head_hash(conn: &mut AnyConnection) -> Result<Option<(u64, B256)>, Error> {
    let Some(row) = sqlx::query("SELECT number, hash FROM blocks ORDER BY number DESC LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let cols = Columns::new(&row, "blocks");
    Ok(Some((cols.u64("number")?, cols.b256("hash")?)))
}

/// Refuses a block whose parts disagree: a caller's bug that must not reach the database.
fn check_consistent(block: &SealedBlock) -> Result<(), Error> {
    let number = block.header.number;
    let inconsistent = |reason: String| Error::InconsistentBlock { number, reason };
    if block.hash != block.header.hash() {
        return Err(inconsistent(format!(
            "hash {} is not the header's hash {}",
            block.hash,
            block.header.hash()
        )));
    }
    if block.transactions.len() as u64 != block.header.tx_count {
        return Err(inconsistent(format!(
            "{} transactions, header says {}",
            block.transactions.len(),
            block.header.tx_count
        )));
    }
    for (position, tx) in block.transactions.iter().enumerate() {
        if tx.block_number != number || tx.index as usize != position {
            return Err(inconsistent(format!(
                "transaction {} at position {position} says block {} index {}",
                tx.hash, tx.block_number, tx.index
            )));
        }
    }
    Ok(())
}

/// A header as column values.
struct HeaderRow<'a> {
    header: &'a BlockHeader,
    hash: &'a B256,
    number: i64,
    timestamp: i64,
    tx_count: i64,
    queue_position: i64,
    account_count: Option<i64>,
    /// `None` for a block without logs.
    logs_bloom: Option<Bloom>,
}

impl<'a> HeaderRow<'a> {
    fn new(block: &'a SealedBlock) -> Result<Self, Error> {
        let header = &block.header;
        Ok(Self {
            header,
            hash: &block.hash,
            number: to_i64("block number", header.number)?,
            timestamp: to_i64("block timestamp", header.timestamp)?,
            tx_count: to_i64("block tx_count", header.tx_count)?,
            queue_position: to_i64("block queue_position", header.queue_position)?,
            account_count: block.account_count.map(i64::from),
            logs_bloom: logs_bloom(block),
        })
    }

    async fn insert(&self, conn: &mut AnyConnection) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO blocks (number, hash, parent_hash, timestamp, fee_recipient, tx_count, \
             transactions_root, state_root, withdrawals_root, queue_position, account_count, \
             logs_bloom) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(self.number)
        .bind(self.hash.as_slice())
        .bind(self.header.parent_hash.as_slice())
        .bind(self.timestamp)
        .bind(self.header.fee_recipient.as_slice())
        .bind(self.tx_count)
        .bind(self.header.transactions_root.as_slice())
        .bind(self.header.state_root.as_slice())
        .bind(self.header.withdrawals_root.as_slice())
        .bind(self.queue_position)
        .bind(self.account_count)
        .bind(self.logs_bloom.as_ref().map(|b| b.as_slice()))
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The bloom of a block's logs, `None` if it has none.
fn logs_bloom(block: &SealedBlock) -> Option<Bloom> {
    let mut logs = block
        .transactions
        .iter()
        .filter_map(|t| t.receipt.evm.as_ref())
        .flat_map(|r| &r.logs)
        .peekable();
    logs.peek()?;
    let mut bloom = Bloom::ZERO;
    for log in logs {
        bloom.accrue_log(log);
    }
    Some(bloom)
}

/// A row of [`select_header!`].
fn header_from_row(row: &AnyRow) -> Result<(BlockHeader, B256), Error> {
    let cols = Columns::new(row, "blocks");
    let number = cols.u64("number")?;
    let cols = cols.keyed(format!("number {number}"));
    let header = BlockHeader {
        number,
        parent_hash: cols.b256("parent_hash")?,
        timestamp: cols.u64("timestamp")?,
        fee_recipient: cols.address("fee_recipient")?,
        tx_count: cols.u64("tx_count")?,
        transactions_root: cols.b256("transactions_root")?,
        state_root: cols.b256("state_root")?,
        withdrawals_root: cols.b256("withdrawals_root")?,
        queue_position: cols.u64("queue_position")?,
    };
    let hash = cols.b256("hash")?;
    if hash != header.hash() {
        return Err(cols
            .corrupt("hash", "is not the hash of the stored header")
            .into());
    }
    Ok((header, hash))
}

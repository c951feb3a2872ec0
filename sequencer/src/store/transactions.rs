//! The `transactions` table: included transactions with their receipts.

use sqlx::{AnyConnection, AssertSqlSafe, any::AnyRow};
use weft_protocol::{
    codec::Encode,
    evm::EvmReceipt,
    execution::{FailureReason, Receipt, Status, Withdrawal},
    primitives::{Address, B256},
    signature::Signature,
    transaction::Transaction,
};
use weft_storage::{Columns, to_i64};

use super::{Backend, Error, Store, StoredLog, StoredTransaction};

/// Rows per multi-row `INSERT`: 7,000 parameters, below PostgreSQL's limit of 65,535 and
/// SQLite's of 32,766. Measured with the 10,000-transaction test: 100 to 500 rows per
/// statement insert equally fast on both backends, 1,000 is slower on PostgreSQL.
pub(super) const INSERT_CHUNK: usize = 500;

/// Columns written per row, in the order [`TransactionRow::bind`] binds them.
pub(super) const INSERT_COLUMNS: &str = "hash, block_number, idx, kind, sender, nonce, encoded, signature, \
     status, failure_reason, fee_paid, withdrawal_recipient, withdrawal_token, withdrawal_amount, \
     gas_used, cumulative_gas_used, effective_gas_price, contract_address, revert_data, recipient";
pub(super) const INSERT_COLUMN_COUNT: usize = 20;

/// `SELECT` of the columns [`transaction_from_row`] reads, followed by the given clause.
macro_rules! select_transaction {
    ($tail:literal) => {
        concat!(
            "SELECT hash, block_number, idx, sender, encoded, signature, status, failure_reason, \
             fee_paid, withdrawal_recipient, withdrawal_token, withdrawal_amount, gas_used, \
             cumulative_gas_used, effective_gas_price, contract_address, revert_data \
             FROM transactions ",
            $tail
        )
    };
}

impl Store {
    /// The transactions of block `number` with their receipts, in block order; empty if
    /// there is no such block.
    pub async fn block_transactions(&self, number: u64) -> Result<Vec<StoredTransaction>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(Vec::new());
        };
        let mut txs = sqlx::query(select_transaction!("WHERE block_number = $1 ORDER BY idx"))
            .bind(number)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(transaction_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if txs.iter().any(|t| t.receipt.evm.is_some()) {
            for (tx_index, log) in self.block_logs(number).await? {
                let receipt = txs
                    .get_mut(tx_index as usize)
                    .and_then(|t| t.receipt.evm.as_mut())
                    .ok_or_else(|| weft_storage::StoreError::Corrupt {
                        table: "logs",
                        key: format!("block {number}"),
                        reason: format!("names transaction {tx_index}, which has no EVM receipt"),
                    })?;
                receipt.logs.push(log);
            }
        }
        Ok(txs)
    }

    /// The hashes of block `number`'s transactions, in block order.
    pub async fn block_transaction_hashes(&self, number: u64) -> Result<Vec<B256>, Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(Vec::new());
        };
        sqlx::query("SELECT hash FROM transactions WHERE block_number = $1 ORDER BY idx")
            .bind(number)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| Ok(Columns::new(row, "transactions").b256("hash")?))
            .collect()
    }

    /// The hashes of block `number`'s transactions in block order, and the gas its EVM
    /// transactions used (what a block without its transactions shows; nothing decoded).
    pub async fn block_summary(&self, number: u64) -> Result<(Vec<B256>, u64), Error> {
        let Ok(number) = i64::try_from(number) else {
            return Ok((Vec::new(), 0));
        };
        let rows = sqlx::query(
            "SELECT hash, cumulative_gas_used FROM transactions WHERE block_number = $1 ORDER BY idx",
        )
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        let mut hashes = Vec::with_capacity(rows.len());
        let mut gas = 0;
        for row in &rows {
            let cols = Columns::new(row, "transactions");
            hashes.push(cols.b256("hash")?);
            gas = gas.max(cols.opt_u64("cumulative_gas_used")?.unwrap_or(0));
        }
        Ok((hashes, gas))
    }

    /// The included transaction with hash `hash`, with its receipt.
    pub async fn transaction(&self, hash: &B256) -> Result<Option<StoredTransaction>, Error> {
        Ok(self.transaction_with_logs(hash).await?.map(|(tx, _)| tx))
    }

    /// [`Self::transaction`], and its logs with their places in the block (what a JSON-RPC
    /// receipt shows), read once.
    pub async fn transaction_with_logs(
        &self,
        hash: &B256,
    ) -> Result<Option<(StoredTransaction, Vec<StoredLog>)>, Error> {
        let Some(mut tx) = sqlx::query(select_transaction!("WHERE hash = $1"))
            .bind(hash.as_slice())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| transaction_from_row(&row))
            .transpose()?
        else {
            return Ok(None);
        };
        let mut logs = Vec::new();
        if let Some(receipt) = tx.receipt.evm.as_mut() {
            logs = self.transaction_logs(tx.block_number, tx.index).await?;
            receipt.logs = logs.iter().map(|l| l.log.clone()).collect();
        }
        Ok(Some((tx, logs)))
    }
}

/// One of an address's transactions, as its list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTransaction {
    /// Its hash.
    pub hash: B256,
    /// Its block.
    pub block_number: u64,
    /// Its position in the block.
    pub index: u32,
    /// `Transaction::kind()`.
    pub kind: String,
    /// The address sent it (else it paid or called the address).
    pub sent: bool,
    /// `None` if it succeeded, else the failure reason's code.
    pub failure: Option<String>,
}

impl Store {
    /// The newest `limit` transactions `address` sent or received (newest first).
    pub async fn address_transactions(
        &self,
        address: &Address,
        limit: u32,
    ) -> Result<Vec<AddressTransaction>, Error> {
        // Each side uses its index, newest first, before they are merged.
        let rows = sqlx::query(
            "SELECT hash, block_number, idx, kind, sender, failure_reason FROM ( \
               SELECT hash, block_number, idx, kind, sender, failure_reason FROM transactions \
               WHERE sender = $1 ORDER BY block_number DESC, idx DESC LIMIT $2) AS s \
             UNION \
             SELECT hash, block_number, idx, kind, sender, failure_reason FROM ( \
               SELECT hash, block_number, idx, kind, sender, failure_reason FROM transactions \
               WHERE recipient = $1 ORDER BY block_number DESC, idx DESC LIMIT $2) AS r \
             ORDER BY block_number DESC, idx DESC LIMIT $2",
        )
        .bind(address.as_slice())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let cols = Columns::new(row, "transactions");
                Ok(AddressTransaction {
                    hash: cols.b256("hash")?,
                    block_number: cols.u64("block_number")?,
                    index: u32::try_from(cols.u64("idx")?)
                        .map_err(|_| cols.corrupt("idx", "exceeds u32"))?,
                    kind: cols.get("kind")?,
                    sent: cols.opt_address("sender")? == Some(*address),
                    failure: cols.get("failure_reason")?,
                })
            })
            .collect()
    }
}

/// A transaction and its receipt as column values.
pub(super) struct TransactionRow {
    hash: B256,
    block_number: i64,
    idx: i64,
    kind: &'static str,
    sender: Option<Address>,
    nonce: Option<i64>,
    encoded: Vec<u8>,
    signature: Option<[u8; Signature::LEN]>,
    status: &'static str,
    failure_reason: Option<&'static str>,
    fee_paid: String,
    withdrawal_recipient: Option<Address>,
    withdrawal_token: Option<i64>,
    withdrawal_amount: Option<String>,
    gas_used: Option<i64>,
    cumulative_gas_used: Option<i64>,
    effective_gas_price: Option<String>,
    contract_address: Option<Address>,
    revert_data: Option<Vec<u8>>,
    recipient: Option<Address>,
}

impl TransactionRow {
    pub(super) fn new(tx: &StoredTransaction) -> Result<Self, Error> {
        let (sender, nonce) = match tx.transaction.signer_fields() {
            Some((from, nonce, _)) => (Some(from), Some(to_i64("transaction nonce", nonce)?)),
            None => (None, None),
        };
        let (status, failure_reason) = status_columns(&tx.receipt.status);
        let withdrawal = tx.receipt.withdrawal.as_ref();
        let evm = tx.receipt.evm.as_deref();
        Ok(Self {
            gas_used: evm.map(|r| to_i64("gas used", r.gas_used)).transpose()?,
            cumulative_gas_used: evm
                .map(|r| to_i64("cumulative gas used", r.cumulative_gas_used))
                .transpose()?,
            effective_gas_price: evm.map(|r| r.effective_gas_price.to_string()),
            contract_address: evm.and_then(|r| r.contract_address),
            revert_data: evm.map(|r| r.revert_data.to_vec()),
            recipient: tx.transaction.recipient(),
            hash: tx.hash,
            block_number: to_i64("block number", tx.block_number)?,
            idx: i64::from(tx.index),
            kind: tx.transaction.kind(),
            sender,
            nonce,
            encoded: tx.transaction.to_bytes(),
            signature: tx.signature.as_ref().map(Signature::to_bytes),
            status,
            failure_reason,
            fee_paid: tx.receipt.fee_paid.to_string(),
            withdrawal_recipient: withdrawal.map(|w| w.recipient),
            withdrawal_token: withdrawal.map(|w| i64::from(w.token)),
            withdrawal_amount: withdrawal.map(|w| w.amount.to_string()),
        })
    }

    /// Inserts `rows` with multi-row `INSERT`s of at most [`INSERT_CHUNK`] rows.
    pub(super) async fn insert_all(
        conn: &mut AnyConnection,
        backend: Backend,
        rows: &[TransactionRow],
    ) -> Result<(), Error> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let mut query = sqlx::query(AssertSqlSafe(insert_sql(backend, chunk.len())));
            for row in chunk {
                query = row.bind(query);
            }
            // Keep full-size statements prepared; the one remainder per block is not worth
            // a slot in the statement cache.
            query
                .persistent(chunk.len() == INSERT_CHUNK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    fn bind<'q>(&'q self, query: AnyQuery<'q>) -> AnyQuery<'q> {
        query
            .bind(self.hash.as_slice())
            .bind(self.block_number)
            .bind(self.idx)
            .bind(self.kind)
            .bind(self.sender.as_ref().map(|a| a.as_slice()))
            .bind(self.nonce)
            .bind(self.encoded.as_slice())
            .bind(self.signature.as_ref().map(|s| s.as_slice()))
            .bind(self.status)
            .bind(self.failure_reason)
            .bind(self.fee_paid.as_str())
            .bind(self.withdrawal_recipient.as_ref().map(|a| a.as_slice()))
            .bind(self.withdrawal_token)
            .bind(self.withdrawal_amount.as_deref())
            .bind(self.gas_used)
            .bind(self.cumulative_gas_used)
            .bind(self.effective_gas_price.as_deref())
            .bind(self.contract_address.as_ref().map(|a| a.as_slice()))
            .bind(self.revert_data.as_deref())
            .bind(self.recipient.as_ref().map(|a| a.as_slice()))
    }
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `INSERT INTO transactions (..) VALUES (..), ..` ([`super::blocks::insert_in_block`]) for
/// `rows` rows, with the placeholders of
/// [`weft_storage::insert_sql`] (anonymous on SQLite, which matters at 7,000 parameters).
pub(super) fn insert_sql(backend: Backend, rows: usize) -> String {
    weft_storage::insert_sql(
        backend,
        &format!(
            "{} transactions ({INSERT_COLUMNS}) VALUES ",
            super::blocks::insert_in_block(backend)
        ),
        INSERT_COLUMN_COUNT,
        rows,
        "",
    )
}

/// A row of [`select_transaction!`].
fn transaction_from_row(row: &AnyRow) -> Result<StoredTransaction, Error> {
    let cols = Columns::new(row, "transactions");
    let hash = cols.b256("hash")?;
    let cols = cols.keyed(format!("hash {hash}"));
    let encoded: Vec<u8> = cols.get("encoded")?;
    // An EVM transaction's sender was recovered at admission and stored beside it.
    let transaction = Transaction::from_stored_bytes(&encoded, cols.opt_address("sender")?)
        .map_err(|e| cols.corrupt("encoded", e))?;
    let signature = cols
        .get::<Option<Vec<u8>>>("signature")?
        .map(|bytes| Signature::from_bytes(&bytes).map_err(|e| cols.corrupt("signature", e)))
        .transpose()?;
    let status: String = cols.get("status")?;
    let failure_reason: Option<String> = cols.get("failure_reason")?;
    let status = status_from_columns(&status, failure_reason.as_deref())
        .map_err(|reason| cols.corrupt("status", reason))?;
    let withdrawal = match (
        cols.opt_address("withdrawal_recipient")?,
        cols.opt_u64("withdrawal_token")?,
        cols.opt_u128("withdrawal_amount")?,
    ) {
        (Some(recipient), Some(token), Some(amount)) => Some(Withdrawal {
            recipient,
            token: u32::try_from(token)
                .map_err(|_| cols.corrupt("withdrawal_token", format!("{token} exceeds u32")))?,
            amount,
        }),
        (None, None, None) => None,
        _ => {
            return Err(cols
                .corrupt("withdrawal_recipient", "withdrawal is partly NULL")
                .into());
        }
    };
    Ok(StoredTransaction {
        hash,
        block_number: cols.u64("block_number")?,
        index: cols.u32("idx")?,
        transaction,
        signature,
        receipt: Receipt {
            status,
            fee_paid: cols.u128("fee_paid")?,
            withdrawal,
            evm: evm_receipt(&cols)?.map(Box::new),
        },
    })
}

/// The EVM part of a receipt, without its logs (kept in `logs`); `None` for native kinds.
fn evm_receipt(cols: &weft_storage::Columns<'_>) -> Result<Option<EvmReceipt>, Error> {
    let Some(gas_used) = cols.opt_u64("gas_used")? else {
        return Ok(None);
    };
    let price: Option<String> = cols.get("effective_gas_price")?;
    let effective_gas_price = price
        .as_deref()
        .map(str::parse::<u128>)
        .transpose()
        .map_err(|e| cols.corrupt("effective_gas_price", e))?
        .ok_or_else(|| cols.corrupt("effective_gas_price", "NULL with gas_used set"))?;
    Ok(Some(EvmReceipt {
        gas_used,
        cumulative_gas_used: cols
            .opt_u64("cumulative_gas_used")?
            .ok_or_else(|| cols.corrupt("cumulative_gas_used", "NULL with gas_used set"))?,
        effective_gas_price,
        logs: Vec::new(),
        contract_address: cols.opt_address("contract_address")?,
        revert_data: cols
            .get::<Option<Vec<u8>>>("revert_data")?
            .unwrap_or_default()
            .into(),
    }))
}

/// `(status, failure_reason)` columns of a status.
pub(super) fn status_columns(status: &Status) -> (&'static str, Option<&'static str>) {
    match status {
        Status::Success => ("success", None),
        Status::Failed(reason) => ("failed", Some(reason.code())),
    }
}

/// The inverse of [`status_columns`].
pub(super) fn status_from_columns(
    status: &str,
    failure_reason: Option<&str>,
) -> Result<Status, String> {
    match (status, failure_reason) {
        ("success", None) => Ok(Status::Success),
        ("failed", Some(code)) => FAILURE_REASONS
            .iter()
            .find(|r| r.code() == code)
            .map(|r| Status::Failed(*r))
            .ok_or_else(|| format!("unknown failure reason {code:?}")),
        _ => Err(format!(
            "status {status:?} with failure reason {failure_reason:?}"
        )),
    }
}

/// Every [`FailureReason`], to read them back from their codes. A test fails to compile
/// when a variant is added without being listed in [`FailureReason::ALL`].
pub(super) const FAILURE_REASONS: [FailureReason; FailureReason::ALL.len()] = FailureReason::ALL;

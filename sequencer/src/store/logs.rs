//! The `logs` table: the logs of EVM transactions, written with their block; read back into
//! receipts and searched by `eth_getLogs`.

use alloy::primitives::LogData;
use sqlx::{AnyConnection, AssertSqlSafe, any::AnyRow};
use weft_protocol::{
    evm::Log,
    primitives::{Address, B256, Bytes},
};
use weft_storage::{Backend, Columns, StoreError, to_i64};

use super::{Error, SealedBlock, Store};

/// Columns written per row, in the order [`LogRow::bind`] binds them.
const INSERT_COLUMNS: &str = "block_number, log_index, tx_index, tx_hash, address, topic_count, \
                              topic0, topic1, topic2, topic3, data";
const INSERT_COLUMN_COUNT: usize = 11;
/// Rows per multi-row `INSERT` (5,500 parameters).
const INSERT_CHUNK: usize = 500;

/// A stored log with where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// The block.
    pub block_number: u64,
    /// The block's hash.
    pub block_hash: B256,
    /// The transaction's hash.
    pub tx_hash: B256,
    /// The transaction's position in the block.
    pub tx_index: u32,
    /// The log's position among the block's logs.
    pub log_index: u32,
    /// The log.
    pub log: Log,
}

/// What `eth_getLogs` asks for: a block range, any of `addresses` (all when empty), and per
/// topic position any of the given topics (any topic when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// First block, inclusive.
    pub from: u64,
    /// Last block, inclusive.
    pub to: u64,
    /// Emitting contracts.
    pub addresses: Vec<Address>,
    /// Topics by position.
    pub topics: [Vec<B256>; 4],
}

/// A log as column values.
pub(super) struct LogRow {
    block_number: i64,
    log_index: i64,
    tx_index: i64,
    tx_hash: B256,
    log: Log,
}

impl LogRow {
    /// The rows of a block's logs, numbered in block order.
    pub(super) fn of_block(block: &SealedBlock) -> Result<Vec<Self>, Error> {
        let block_number = to_i64("block number", block.header.number)?;
        let logs = block.transactions.iter().flat_map(|tx| {
            let logs = tx.receipt.evm.as_ref().map_or(&[][..], |r| &r.logs[..]);
            logs.iter().map(move |log| (tx, log))
        });
        Ok(logs
            .enumerate()
            .map(|(i, (tx, log))| Self {
                block_number,
                log_index: i as i64,
                tx_index: i64::from(tx.index),
                tx_hash: tx.hash,
                log: log.clone(),
            })
            .collect())
    }

    /// Inserts `rows` with multi-row `INSERT`s.
    pub(super) async fn insert_all(
        conn: &mut AnyConnection,
        backend: Backend,
        rows: &[LogRow],
    ) -> Result<(), Error> {
        for chunk in rows.chunks(INSERT_CHUNK) {
            let sql = weft_storage::insert_sql(
                backend,
                &format!(
                    "{} logs ({INSERT_COLUMNS}) VALUES ",
                    super::blocks::insert_in_block(backend)
                ),
                INSERT_COLUMN_COUNT,
                chunk.len(),
                "",
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for row in chunk {
                let topics = row.log.topics();
                let topic = |i: usize| topics.get(i).map(|t| t.as_slice());
                query = query
                    .bind(row.block_number)
                    .bind(row.log_index)
                    .bind(row.tx_index)
                    .bind(row.tx_hash.as_slice())
                    .bind(row.log.address.as_slice())
                    .bind(topics.len() as i64)
                    .bind(topic(0))
                    .bind(topic(1))
                    .bind(topic(2))
                    .bind(topic(3))
                    .bind(row.log.data.data.as_ref());
            }
            query
                .persistent(chunk.len() == INSERT_CHUNK)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }
}

/// `SELECT` of a stored log with its block's hash.
const SELECT_LOG: &str = "SELECT l.block_number, b.hash AS block_hash, l.log_index, l.tx_index, \
     l.tx_hash, l.address, l.topic_count, l.topic0, l.topic1, l.topic2, l.topic3, l.data \
     FROM logs l JOIN blocks b ON b.number = l.block_number";

fn log_from_row(row: &AnyRow) -> Result<StoredLog, StoreError> {
    let cols = Columns::new(row, "logs");
    let (block_number, log_index) = (cols.u64("block_number")?, cols.u32("log_index")?);
    let cols = cols.keyed(format!("block {block_number} log {log_index}"));
    let count = cols.u64("topic_count")? as usize;
    let mut topics = Vec::with_capacity(count);
    for (i, name) in ["topic0", "topic1", "topic2", "topic3"]
        .into_iter()
        .enumerate()
    {
        match (cols.get::<Option<Vec<u8>>>(name)?, i < count) {
            (Some(bytes), true) if bytes.len() == 32 => topics.push(B256::from_slice(&bytes)),
            (None, false) => {}
            _ => return Err(cols.corrupt(name, format!("disagrees with topic_count {count}"))),
        }
    }
    let data: Vec<u8> = cols.get("data")?;
    Ok(StoredLog {
        block_number,
        block_hash: cols.b256("block_hash")?,
        tx_hash: cols.b256("tx_hash")?,
        tx_index: cols.u32("tx_index")?,
        log_index,
        log: Log {
            address: cols.address("address")?,
            data: LogData::new_unchecked(topics, Bytes::from(data)),
        },
    })
}

impl Store {
    /// Block `number`'s logs in order, each with its transaction's position.
    pub(crate) async fn block_logs(&self, number: i64) -> Result<Vec<(u32, Log)>, Error> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_LOG} WHERE l.block_number = $1 ORDER BY l.log_index"
        )))
        .bind(number)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let log = log_from_row(row)?;
                Ok((log.tx_index, log.log))
            })
            .collect()
    }

    /// The logs of the transaction at `index` in block `number`, in order.
    pub(super) async fn transaction_logs(
        &self,
        number: u64,
        index: u32,
    ) -> Result<Vec<StoredLog>, Error> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_LOG} WHERE l.block_number = $1 AND l.tx_index = $2 ORDER BY l.log_index"
        )))
        .bind(to_i64("block number", number)?)
        .bind(i64::from(index))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| Ok(log_from_row(row)?)).collect()
    }

    /// `(block, gas used, effective gas price)` of every EVM transaction in blocks
    /// `from..=to`, in chain order (what `eth_feeHistory` summarises).
    pub async fn evm_gas(&self, from: u64, to: u64) -> Result<Vec<(u64, u64, u128)>, Error> {
        let rows = sqlx::query(
            "SELECT block_number, gas_used, effective_gas_price FROM transactions \
             WHERE block_number BETWEEN $1 AND $2 AND gas_used IS NOT NULL \
             ORDER BY block_number, idx",
        )
        .bind(to_i64("block number", from)?)
        .bind(to_i64("block number", to)?)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let cols = Columns::new(row, "transactions");
                Ok((
                    cols.u64("block_number")?,
                    cols.u64("gas_used")?,
                    cols.u128("effective_gas_price")?,
                ))
            })
            .collect()
    }

    /// The logs matching `filter`, in chain order, at most `limit` of them.
    pub async fn logs(&self, filter: &LogFilter, limit: usize) -> Result<Vec<StoredLog>, Error> {
        // Each condition: a column equal to any of its values (none: no condition).
        let mut conditions: Vec<(String, Vec<&[u8]>)> = vec![(
            "l.address".to_owned(),
            filter.addresses.iter().map(|a| a.as_slice()).collect(),
        )];
        for (i, topics) in filter.topics.iter().enumerate() {
            conditions.push((
                format!("l.topic{i}"),
                topics.iter().map(|t| t.as_slice()).collect(),
            ));
        }
        let mut sql = format!("{SELECT_LOG} WHERE l.block_number BETWEEN ");
        let mut params = 0;
        let mut placeholder = |sql: &mut String| {
            params += 1;
            match self.backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => sql.push_str(&format!("${params}")),
            }
        };
        placeholder(&mut sql);
        sql.push_str(" AND ");
        placeholder(&mut sql);
        for (column, values) in conditions.iter().filter(|(_, v)| !v.is_empty()) {
            sql.push_str(&format!(" AND {column} IN ("));
            for i in 0..values.len() {
                if i > 0 {
                    sql.push_str(", ");
                }
                placeholder(&mut sql);
            }
            sql.push(')');
        }
        sql.push_str(&format!(
            " ORDER BY l.block_number, l.log_index LIMIT {limit}"
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(to_i64("block number", filter.from)?)
            .bind(to_i64("block number", filter.to)?);
        for value in conditions.iter().flat_map(|(_, v)| v) {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(log_from_row).collect::<Result<_, _>>()?)
    }
}

//! The `snapshots` table: snapshot points from which a restart rebuilds the state before
//! replaying the blocks after them. A row holds either a full snapshot
//! (`State::encode_snapshot`) or a delta on top of the row before it
//! (`StateDelta::encode`), told apart by the first bytes of `data`
//! ([`weft_protocol::snapshot::SNAPSHOT_MAGIC`]). A restart reads the newest full snapshot
//! and the deltas after it ([`Store::snapshot_chain`]).

use weft_protocol::snapshot::SNAPSHOT_MAGIC;

use weft_storage::{Columns, to_i64};

use super::{Error, Store, StoredSnapshot};

/// How many full snapshots are kept, each with the deltas after it: the newest, and one
/// before it in case the newest turns out unusable.
pub const KEEP_SNAPSHOTS: usize = 2;

/// Rows from the `KEEP_SNAPSHOTS`-th newest full snapshot on: older rows are pruned.
const PRUNE: &str = "DELETE FROM snapshots WHERE block_number < COALESCE(( \
     SELECT MIN(block_number) FROM ( \
       SELECT block_number FROM snapshots WHERE substr(data, 1, 8) = $1 \
       ORDER BY block_number DESC LIMIT $2) AS kept), 0)";

impl Store {
    /// Writes the full snapshot `snapshot` (replacing a row of the same block) and deletes
    /// the rows before the newest [`KEEP_SNAPSHOTS`] full snapshots, in one database
    /// transaction.
    pub async fn save_snapshot(&self, snapshot: &StoredSnapshot) -> Result<(), Error> {
        let block_number = to_i64("snapshot block number", snapshot.block_number)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO snapshots (block_number, state_root, data) VALUES ($1, $2, $3) \
             ON CONFLICT (block_number) DO UPDATE \
             SET state_root = excluded.state_root, data = excluded.data",
        )
        .bind(block_number)
        .bind(snapshot.state_root.as_slice())
        .bind(snapshot.data.as_slice())
        .execute(&mut *tx)
        .await?;
        sqlx::query(PRUNE)
            .bind(SNAPSHOT_MAGIC.as_slice())
            .bind(KEEP_SNAPSHOTS as i64)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a delta row (its `data` says which point it applies on top of), replacing a
    /// row of the same block; one statement, so a crash leaves it whole or absent.
    pub async fn save_snapshot_delta(&self, delta: &StoredSnapshot) -> Result<(), Error> {
        let block_number = to_i64("snapshot block number", delta.block_number)?;
        sqlx::query(
            "INSERT INTO snapshots (block_number, state_root, data) VALUES ($1, $2, $3) \
             ON CONFLICT (block_number) DO UPDATE \
             SET state_root = excluded.state_root, data = excluded.data",
        )
        .bind(block_number)
        .bind(delta.state_root.as_slice())
        .bind(delta.data.as_slice())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest full snapshot followed by every row after it, in block order; empty if
    /// there is no full snapshot.
    pub async fn snapshot_chain(&self) -> Result<Vec<StoredSnapshot>, Error> {
        sqlx::query(
            "SELECT block_number, state_root, data FROM snapshots WHERE block_number >= ( \
               SELECT MAX(block_number) FROM snapshots WHERE substr(data, 1, 8) = $1) \
             ORDER BY block_number",
        )
        .bind(SNAPSHOT_MAGIC.as_slice())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| snapshot_from_row(Columns::new(row, "snapshots")))
        .collect()
    }

    /// The row of the highest block (a full snapshot or a delta), if any.
    pub async fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, Error> {
        sqlx::query(
            "SELECT block_number, state_root, data FROM snapshots \
             ORDER BY block_number DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|row| snapshot_from_row(Columns::new(&row, "snapshots")))
        .transpose()
    }
}

fn snapshot_from_row(cols: Columns<'_>) -> Result<StoredSnapshot, Error> {
    let block_number = cols.u64("block_number")?;
    let cols = cols.keyed(format!("block {block_number}"));
    Ok(StoredSnapshot {
        block_number,
        state_root: cols.b256("state_root")?,
        data: cols.get("data")?,
    })
}

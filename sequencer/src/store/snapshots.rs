//! The `snapshots` table: the newest state snapshots, from which a restart rebuilds the
//! state before replaying the blocks after them.

use weft_storage::{Columns, to_i64};

use super::{Error, Store, StoredSnapshot};

/// How many snapshots are kept: the newest, and one before it in case the newest turns out
/// unusable.
pub const KEEP_SNAPSHOTS: usize = 2;

impl Store {
    /// Writes `snapshot` (replacing one of the same block) and deletes all but the newest
    /// [`KEEP_SNAPSHOTS`], in one database transaction.
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
        sqlx::query(
            "DELETE FROM snapshots WHERE block_number NOT IN \
             (SELECT block_number FROM snapshots ORDER BY block_number DESC LIMIT $1)",
        )
        .bind(KEEP_SNAPSHOTS as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The snapshot of the highest block, if any.
    pub async fn latest_snapshot(&self) -> Result<Option<StoredSnapshot>, Error> {
        let Some(row) = sqlx::query(
            "SELECT block_number, state_root, data FROM snapshots \
             ORDER BY block_number DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let cols = Columns::new(&row, "snapshots");
        let block_number = cols.u64("block_number")?;
        let cols = cols.keyed(format!("block {block_number}"));
        Ok(Some(StoredSnapshot {
            block_number,
            state_root: cols.b256("state_root")?,
            data: cols.get("data")?,
        }))
    }
}

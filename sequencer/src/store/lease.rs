//! The leader lease: one row naming the node allowed to write blocks, with an epoch that
//! grows at every change of holder and an expiry on the database's clock. A node takes the
//! lease only once it has expired (or to renew its own), and every block it writes checks,
//! in the same database transaction, that it still holds the lease at its epoch: a deposed
//! leader, however late its write, cannot add a block (DESIGN.md, "Beyond one machine").

use std::time::Duration;

use sqlx::{AnyConnection, Row};

use super::{Backend, Error, Store};

/// Who holds the lease and under which epoch: what a fenced write checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The holder's name (unique per node: host and process).
    pub holder: String,
    /// The epoch it took the lease at.
    pub epoch: u64,
}

/// The lease row as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// The holder (empty before anyone took it).
    pub holder: String,
    /// Its epoch.
    pub epoch: u64,
    /// Milliseconds until it expires on the database's clock (negative: expired).
    pub remaining_ms: i64,
}

impl Store {
    /// Takes the lease for `holder` for `ttl` if it has expired (or is `holder`'s already):
    /// the new fence, with the epoch incremented when the holder changes; `None` while
    /// another node holds it, or while a transaction holds its row (a leader's block write
    /// in flight, or a cut-off leader's until the server drops it): the caller polls again.
    /// It never waits on that lock: an `UPDATE` that waited computes the expiry before the
    /// wait and keeps it when the holding transaction aborts, so it would take a lease that
    /// had lapsed while it waited (a multi-host run took one and lost it at its first
    /// renewal). PostgreSQL only (the clock is the database's).
    pub async fn acquire_lease(&self, holder: &str, ttl: Duration) -> Result<Option<Fence>, Error> {
        self.require_postgres()?;
        let row = sqlx::query(
            "UPDATE leader_lease SET \
               epoch = CASE WHEN holder = $1 THEN epoch ELSE epoch + 1 END, \
               holder = $1, \
               expires_at = clock_timestamp() + make_interval(secs => $2) \
             WHERE id = (SELECT id FROM leader_lease WHERE id = 1 FOR UPDATE SKIP LOCKED) \
               AND (holder = $1 OR expires_at <= clock_timestamp()) \
             RETURNING epoch",
        )
        .bind(holder)
        .bind(ttl.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Fence {
            holder: holder.to_string(),
            epoch: r.get::<i64, _>("epoch") as u64,
        }))
    }

    /// Extends `fence`'s lease by `ttl` from now (the database's clock); `false` if it was
    /// lost (expired and taken, or never held).
    pub async fn renew_lease(&self, fence: &Fence, ttl: Duration) -> Result<bool, Error> {
        self.require_postgres()?;
        let done = sqlx::query(
            "UPDATE leader_lease SET expires_at = clock_timestamp() + make_interval(secs => $3) \
             WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp()",
        )
        .bind(fence.holder.as_str())
        .bind(fence.epoch as i64)
        .bind(ttl.as_secs_f64())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up (at a clean stop), so a standby takes over at once.
    pub async fn release_lease(&self, fence: &Fence) -> Result<(), Error> {
        self.require_postgres()?;
        sqlx::query(
            "UPDATE leader_lease SET expires_at = clock_timestamp() \
             WHERE id = 1 AND holder = $1 AND epoch = $2",
        )
        .bind(fence.holder.as_str())
        .bind(fence.epoch as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The lease as it stands.
    pub async fn lease(&self) -> Result<LeaseRow, Error> {
        self.require_postgres()?;
        let row = sqlx::query(
            "SELECT holder, epoch, \
               (EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::BIGINT AS remaining \
             FROM leader_lease WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(LeaseRow {
            holder: row.get("holder"),
            epoch: row.get::<i64, _>("epoch") as u64,
            remaining_ms: row.get("remaining"),
        })
    }

    fn require_postgres(&self) -> Result<(), Error> {
        match self.backend {
            Backend::Postgres => Ok(()),
            Backend::Sqlite => Err(Error::Unsupported(
                "the leader lease needs PostgreSQL (one SQLite file has one writer)",
            )),
        }
    }
}

/// The fence check. It also sets, for this transaction only (`set_config(…, true)`), how
/// long the server keeps it while its client is silent: 3 s. A leader cut off from the
/// database in the middle of a block's write leaves its transaction open and the lease row
/// locked (`FOR SHARE`); with no packet from it the server would not notice before TCP
/// keepalive (hours), and no standby could take the lease meanwhile. A live leader never
/// idles inside this transaction (its statements follow each other).
const FENCE_CHECK: &str = "SELECT set_config('idle_in_transaction_session_timeout', '3000', true) \
     AS idle_timeout FROM leader_lease \
     WHERE id = 1 AND holder = $1 AND epoch = $2 AND expires_at > clock_timestamp() \
     FOR SHARE";

/// Inside a block's write transaction: fails with [`Error::Fenced`] unless `fence` still
/// holds an unexpired lease. The row is locked (`FOR SHARE`) until the transaction ends, so
/// no other node can take the lease between this check and the commit; the transaction is
/// dropped by the server if its client goes silent ([`FENCE_CHECK`]).
pub(super) async fn check_fence(conn: &mut AnyConnection, fence: &Fence) -> Result<(), Error> {
    let held = sqlx::query(FENCE_CHECK)
        .bind(fence.holder.as_str())
        .bind(fence.epoch as i64)
        .fetch_optional(&mut *conn)
        .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(Error::Fenced {
            holder: fence.holder.clone(),
            epoch: fence.epoch,
        }),
    }
}

#[cfg(test)]
mod tests {
    use weft_protocol::primitives::B256;
    use weft_storage::testkit::TestDatabase;

    use crate::store::{
        Error,
        tests::{connect, transfer_block},
    };

    #[tokio::test]
    async fn a_write_with_a_lapsed_lease_is_fenced_off() {
        let Some(db) = TestDatabase::postgres().await else {
            return;
        };
        let store = connect(&db).await;
        let ttl = std::time::Duration::from_secs(30);
        let a = store.acquire_lease("a", ttl).await.unwrap().expect("free");
        assert_eq!(a.epoch, 1);
        assert_eq!(
            store.acquire_lease("b", ttl).await.unwrap(),
            None,
            "a holds it"
        );
        assert!(store.renew_lease(&a, ttl).await.unwrap());
        let as_a = store.clone().fenced(a.clone());
        let block_1 = transfer_block(1, B256::ZERO, 3, 1);
        as_a.insert_block(&block_1).await.unwrap();

        // a's lease lapses; b takes it with the next epoch; a's next write is refused whole.
        store.release_lease(&a).await.unwrap();
        let b = store
            .acquire_lease("b", ttl)
            .await
            .unwrap()
            .expect("lapsed");
        assert_eq!(b.epoch, 2);
        let block_2 = transfer_block(2, block_1.hash, 3, 2);
        let refused = as_a.insert_block(&block_2).await.unwrap_err();
        assert!(
            matches!(refused, Error::Fenced { epoch: 1, .. }),
            "{refused}"
        );
        assert!(
            !store.renew_lease(&a, ttl).await.unwrap(),
            "a cannot renew either"
        );
        assert_eq!(
            store.head().await.unwrap().unwrap().0.number,
            1,
            "nothing of block 2"
        );
        store
            .clone()
            .fenced(b)
            .insert_block(&block_2)
            .await
            .unwrap();
        // The same holder taking it again keeps its epoch.
        let again = store
            .acquire_lease("b", ttl)
            .await
            .unwrap()
            .expect("b's own");
        assert_eq!(again.epoch, 2);
        assert_eq!(store.lease().await.unwrap().holder, "b");
        store.close().await;
        db.drop_database().await;
    }

    /// A leader cut off in the middle of a block's write: its transaction holds the lease
    /// row `FOR SHARE` and its client sends nothing more. The server drops the transaction
    /// after the fence's idle timeout, so a standby's takeover waits seconds, not until TCP
    /// keepalive notices the dead client.
    #[tokio::test]
    async fn a_silent_fenced_transaction_does_not_hold_the_lease_forever() {
        let Some(db) = TestDatabase::postgres().await else {
            return;
        };
        let store = connect(&db).await;
        let ttl = std::time::Duration::from_millis(300);
        let a = store.acquire_lease("a", ttl).await.unwrap().expect("free");
        let mut silent = store.pool.acquire().await.unwrap();
        sqlx::query("BEGIN").execute(&mut *silent).await.unwrap();
        super::check_fence(&mut silent, &a).await.unwrap();
        // a's lease lapses: b's takeover now has to lock the row a's transaction holds.
        tokio::time::sleep(ttl * 2).await;

        // b does not queue behind a's transaction: it polls, and takes a fresh lease once
        // the server has dropped that transaction.
        let asked = std::time::Instant::now();
        assert_eq!(store.acquire_lease("b", ttl).await.unwrap(), None);
        assert!(
            asked.elapsed() < std::time::Duration::from_secs(1),
            "a take does not wait on the row lock: {:?}",
            asked.elapsed()
        );
        let b = loop {
            if let Some(b) = store.acquire_lease("b", ttl).await.unwrap() {
                break b;
            }
            assert!(
                asked.elapsed() < std::time::Duration::from_secs(20),
                "the silent transaction is dropped well before 20 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(b.epoch, 2);
        let waited = asked.elapsed();
        assert!(
            waited >= std::time::Duration::from_secs(1),
            "b took it only once a's transaction was gone: {waited:?}"
        );
        assert!(
            store.renew_lease(&b, ttl).await.unwrap(),
            "b's lease is fresh, not one that lapsed while b waited"
        );
        assert!(
            sqlx::query("SELECT 1").execute(&mut *silent).await.is_err(),
            "the server ended a's session"
        );
        drop(silent);
        store.close().await;
        db.drop_database().await;
    }

    #[tokio::test]
    async fn the_lease_needs_postgresql() {
        let db = TestDatabase::sqlite();
        let store = connect(&db).await;
        let e = store
            .acquire_lease("a", std::time::Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
    }
}

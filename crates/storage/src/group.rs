//! Group commit: many callers' writes in one database transaction, one fsync.
//!
//! Generic over what is written: a service names its writes (`W`, say an enum of row
//! changes) and how a group of them reaches its tables ([`Apply`]). Each caller hands its
//! writes to one writer task and waits for the commit. The task takes
//! whatever has queued up while the previous commit was running, so under load a commit
//! carries many callers' updates and the fsync cost is shared; alone, a write is committed at
//! once. If a group fails (a constraint one of its writes violates), each job is retried in
//! its own transaction, so one bad write fails only its own caller.
//!
//! The writer keeps one connection of the pool for itself. On SQLite a connection's page
//! cache is dropped whenever another connection has written, so a writer that took any
//! pooled connection (one a reader just used) re-read the tables' index pages on every
//! group; its own connection keeps them cached across groups.

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use crate::{Backend, StoreError};
use sqlx::{Any, AnyConnection, AnyPool, Connection, pool::PoolConnection};
use tokio::sync::{mpsc, oneshot};

/// Most jobs in one group (bounds one transaction's size and latency).
pub const MAX_GROUP_JOBS: usize = 512;

/// Times the writer yields to other tasks to let a group fill before it commits.
const COALESCE_PASSES: usize = 1;

/// Applies a group's writes, in order, inside an open transaction (which the writer
/// commits, or rolls back on an error).
pub type Apply<W> = for<'c> fn(
    &'c mut AnyConnection,
    Backend,
    &'c [&'c W],
)
    -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'c>>;

struct Job<W> {
    writes: Vec<W>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle of a writer task; cheap to clone.
pub struct GroupWriter<W> {
    jobs: mpsc::UnboundedSender<Job<W>>,
    stats: Arc<GroupStats>,
}

/// What a writer has committed so far: jobs per group is how well commits are shared.
#[derive(Debug, Default)]
pub struct GroupStats {
    /// Transactions committed.
    groups: AtomicU64,
    /// Callers' commits they carried.
    jobs: AtomicU64,
}

impl GroupStats {
    /// `(groups, jobs)` so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.groups.load(Ordering::Relaxed),
            self.jobs.load(Ordering::Relaxed),
        )
    }
}

impl<W> std::fmt::Debug for GroupWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter").finish_non_exhaustive()
    }
}

impl<W> Clone for GroupWriter<W> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<W: Send + Sync + 'static> GroupWriter<W> {
    /// Starts the writer task on `pool` (on the current tokio runtime). It runs until every
    /// handle is dropped; once the pool is closed, commits fail with `PoolClosed`.
    pub fn spawn(pool: AnyPool, backend: Backend, apply: Apply<W>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(GroupStats::default());
        tokio::spawn(run(pool, backend, apply, rx, stats.clone()));
        Self { jobs, stats }
    }

    /// The writer's counters.
    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    /// Commits `writes` (with whatever else is queued) and returns once they are durable.
    pub async fn commit(&self, writes: Vec<W>) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job { writes, done })
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        wait.await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?
    }
}

async fn run<W>(
    pool: AnyPool,
    backend: Backend,
    apply: Apply<W>,
    mut rx: mpsc::UnboundedReceiver<Job<W>>,
    stats: Arc<GroupStats>,
) {
    let mut closed = std::pin::pin!(pool.close_event());
    let mut writer = Writer { pool, conn: None };
    loop {
        let first = tokio::select! {
            job = rx.recv() => match job {
                Some(job) => job,
                None => break,
            },
            // Closing the pool waits for every connection: give the writer's back. Later
            // commits fail with `PoolClosed`.
            () = &mut closed, if writer.conn.is_some() => {
                writer.conn = None;
                continue;
            }
        };
        let mut group = vec![first];
        // Take what is queued, then let the tasks that are ready to run (requests on their
        // way to a commit) run once and take theirs too: the group grows with the load, and
        // a lone write waits only for one pass over the run queue.
        for pass in 0..=COALESCE_PASSES {
            while group.len() < MAX_GROUP_JOBS {
                match rx.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if pass == COALESCE_PASSES || group.len() >= MAX_GROUP_JOBS {
                break;
            }
            tokio::task::yield_now().await;
        }
        let writes: Vec<&W> = group.iter().flat_map(|j| j.writes.iter()).collect();
        let result = writer.commit(backend, apply, &writes).await;
        drop(writes);
        stats.groups.fetch_add(1, Ordering::Relaxed);
        stats.jobs.fetch_add(group.len() as u64, Ordering::Relaxed);
        match result {
            Ok(()) => {
                for job in group {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) if group.len() == 1 => {
                let job = group.pop().expect("one job");
                let _ = job.done.send(Err(e));
            }
            Err(e) => {
                tracing::debug!(error = %e, jobs = group.len(), "group commit failed, retrying jobs alone");
                for job in group {
                    let writes: Vec<&W> = job.writes.iter().collect();
                    let r = writer.commit(backend, apply, &writes).await;
                    let _ = job.done.send(r);
                }
            }
        }
    }
}

/// The writer's own connection, taken from the pool when first needed and again after a
/// failed commit (which may have broken it).
struct Writer {
    pool: AnyPool,
    conn: Option<PoolConnection<Any>>,
}

impl Writer {
    async fn commit<W>(
        &mut self,
        backend: Backend,
        apply: Apply<W>,
        writes: &[&W],
    ) -> Result<(), StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.pool.acquire().await?),
        };
        let result = commit_on(conn, backend, apply, writes).await;
        if result.is_err()
            && let Some(mut conn) = self.conn.take()
        {
            conn.close_on_drop();
        }
        result
    }
}

async fn commit_on<W>(
    conn: &mut AnyConnection,
    backend: Backend,
    apply: Apply<W>,
    writes: &[&W],
) -> Result<(), StoreError> {
    let mut tx = conn.begin_with(backend.begin_write()).await?;
    apply(&mut tx, backend, writes).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{open_pool, pool::tests::MIGRATIONS, testkit::on_every_backend};

    /// Inserts each id as a row: an id inserted before violates the primary key.
    fn insert_ids<'c>(
        conn: &'c mut AnyConnection,
        _: Backend,
        ids: &'c [&'c i64],
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'c>> {
        Box::pin(async move {
            for id in ids {
                sqlx::query("INSERT INTO t (id) VALUES ($1)")
                    .bind(**id)
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_commits_share_groups_and_a_bad_write_fails_only_its_caller() {
        on_every_backend(async |db| {
            let (pool, backend) = open_pool(db.url(), db.dir(), "test.db", MIGRATIONS, 2048)
                .await
                .unwrap();
            let writer = GroupWriter::spawn(pool.clone(), backend, insert_ids);
            writer.commit(vec![0]).await.unwrap();

            // Id 0 again fails; the others in flight with it are committed.
            let commits = (0..64).map(|id| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.commit(vec![id]).await })
            });
            let results: Vec<_> = futures_join(commits).await;
            assert!(
                matches!(results[0], Err(StoreError::Database(_))),
                "{:?}",
                results[0]
            );
            assert!(results[1..].iter().all(Result::is_ok), "{results:?}");

            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(rows, 64);
            let (groups, jobs) = writer.stats().get();
            assert_eq!(jobs, 65);
            assert!(groups <= jobs, "{groups} groups for {jobs} jobs");
            pool.close().await;
            assert!(writer.commit(vec![100]).await.is_err());
        })
        .await;
    }

    async fn futures_join<T: Send + 'static>(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            out.push(task.await.unwrap());
        }
        out
    }
}

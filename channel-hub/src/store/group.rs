//! Group commit: many callers' writes in one database transaction, one fsync.
//!
//! Each caller hands its writes to one writer task and waits for the commit. The task takes
//! whatever has queued up while the previous commit was running, so under load a commit
//! carries many channel updates and the fsync cost is shared; alone, a write is committed at
//! once. If a group fails (a constraint one of its writes violates), each job is retried in
//! its own transaction, so one bad write fails only its own caller.

use std::{future::Future, pin::Pin};

use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};
use weft_sequencer::store::{Backend, StoreError};

/// Most jobs in one group (bounds one transaction's size and latency).
pub const MAX_GROUP_JOBS: usize = 512;

/// Applies a group's writes, in order, inside an open transaction.
pub(crate) type Apply<W> =
    for<'c> fn(
        &'c mut AnyConnection,
        Backend,
        &'c [&'c W],
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'c>>;

struct Job<W> {
    writes: Vec<W>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle of a writer task; cheap to clone.
pub(crate) struct GroupWriter<W> {
    jobs: mpsc::UnboundedSender<Job<W>>,
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
        }
    }
}

impl<W: Send + Sync + 'static> GroupWriter<W> {
    /// Starts the writer task on `pool`.
    pub(crate) fn spawn(pool: AnyPool, backend: Backend, apply: Apply<W>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, backend, apply, rx));
        Self { jobs }
    }

    /// Commits `writes` (with whatever else is queued) and returns once they are durable.
    pub(crate) async fn commit(&self, writes: Vec<W>) -> Result<(), StoreError> {
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
) {
    while let Some(first) = rx.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP_JOBS {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let writes: Vec<&W> = group.iter().flat_map(|j| j.writes.iter()).collect();
        let result = commit(&pool, backend, apply, &writes).await;
        drop(writes);
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
                    let r = commit(&pool, backend, apply, &writes).await;
                    let _ = job.done.send(r);
                }
            }
        }
    }
}

async fn commit<W>(
    pool: &AnyPool,
    backend: Backend,
    apply: Apply<W>,
    writes: &[&W],
) -> Result<(), StoreError> {
    let mut tx = pool.begin_with(backend.begin_write()).await?;
    apply(&mut tx, backend, writes).await?;
    tx.commit().await?;
    Ok(())
}

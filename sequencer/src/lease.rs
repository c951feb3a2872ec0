//! The leader lease at run time (PostgreSQL; DESIGN.md, "Beyond one machine"). A node
//! started with `lease_ttl_ms` is a standby until it takes the lease: it then opens the
//! state from the database (every block the previous leader committed), and seals only
//! while its lease is valid by its own monotonic clock: a renewal sent at `t` keeps it
//! valid until `t + ttl − ttl/10`, before the database can let anyone else take it
//! (`t + ttl` at the earliest). The store checks the lease in every block's write
//! transaction ([`crate::store::Fence`]), so a leader that lost it (paused, cut off from
//! the database) cannot write even if its clock is wrong; it stops.

use std::{sync::Arc, time::Duration};

use anyhow::anyhow;
use parking_lot::Mutex;
use tokio::{sync::watch, time::Instant};
use tracing::{error, info, warn};

use crate::{
    config::{Config, LeaseConfig},
    node::{Node, Warm},
    store::{Fence, Store},
};

/// The lease a leader holds.
#[derive(Debug)]
pub struct Lease {
    /// Who and under which epoch: what every write checks.
    pub fence: Fence,
    /// How long a renewal lasts.
    pub ttl: Duration,
    /// Until when this node may seal, by its monotonic clock.
    valid_until: Mutex<Instant>,
}

impl Lease {
    fn new(fence: Fence, ttl: Duration, asked: Instant) -> Self {
        Self {
            fence,
            ttl,
            valid_until: Mutex::new(asked + safe(ttl)),
        }
    }

    /// Whether this node may seal now.
    pub fn valid(&self) -> bool {
        Instant::now() < *self.valid_until.lock()
    }
}

/// How long after sending a renewal the lease is certainly still ours: the TTL less a tenth
/// for the clocks' drift.
fn safe(ttl: Duration) -> Duration {
    ttl - ttl / 10
}

/// Waits as a hot standby until this node takes the lease: between polls it follows the
/// stored blocks ([`crate::node::follow`]: each re-executed and its roots checked), so that
/// on takeover only the blocks stored since the last poll are replayed. Logs who holds the
/// lease meanwhile. Returns the lease and the followed state.
pub async fn take(
    store: &Store,
    node_config: &Config,
    config: &LeaseConfig,
) -> anyhow::Result<(Lease, Option<Warm>)> {
    let mut logged = None;
    let mut warm = None;
    loop {
        let asked = Instant::now();
        if let Some(fence) = store.acquire_lease(&config.holder, config.ttl).await? {
            info!(
                holder = %fence.holder,
                epoch = fence.epoch,
                followed_to = warm.as_ref().map(|w: &Warm| w.head().number),
                "took the leader lease"
            );
            return Ok((Lease::new(fence, config.ttl, asked), warm));
        }
        let row = store.lease().await?;
        if logged.as_ref() != Some(&(row.holder.clone(), row.epoch)) {
            info!(
                holder = %row.holder,
                epoch = row.epoch,
                expires_in_ms = row.remaining_ms,
                "standby: another node holds the leader lease"
            );
            logged = Some((row.holder, row.epoch));
        }
        let polled = Instant::now();
        match crate::node::follow(node_config, store, warm.take()).await {
            Ok(w) => warm = Some(w),
            // Followed again from the snapshot at the next poll; a takeover meanwhile
            // replays as a start does.
            Err(e) => warn!(error = %e, "standby: following the stored blocks failed"),
        }
        tokio::time::sleep((config.ttl / 4).saturating_sub(polled.elapsed())).await;
    }
}

/// Renews the node's lease every third of its TTL until shutdown. A renewal that fails
/// leaves the deadline where it was (sealing stops when it passes) and is retried; a lease
/// found lost ends the task with an error, which stops the node.
pub async fn keep(node: Arc<Node>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let Some(lease) = node.lease.as_ref() else {
        // The only node: nothing to renew; the task ends with the node.
        let _ = shutdown.wait_for(|s| *s).await;
        return Ok(());
    };
    loop {
        tokio::select! {
            _ = tokio::time::sleep(lease.ttl / 3) => {}
            _ = shutdown.wait_for(|s| *s) => return Ok(()),
        }
        let asked = Instant::now();
        // Bounded: a renewal over a silently dropped connection must not hang past the
        // next one (the deadline stays put meanwhile, so sealing stops in time anyway).
        let renewal = tokio::time::timeout(
            lease.ttl / 3,
            node.store.renew_lease(&lease.fence, lease.ttl),
        );
        let Ok(renewed) = renewal.await else {
            warn!("renewing the leader lease timed out; retrying");
            continue;
        };
        match renewed {
            Ok(true) => *lease.valid_until.lock() = asked + safe(lease.ttl),
            Ok(false) => {
                *lease.valid_until.lock() = asked;
                error!(epoch = lease.fence.epoch, "lost the leader lease: stopping");
                return Err(anyhow!(
                    "lost the leader lease (epoch {}): another node leads",
                    lease.fence.epoch
                ));
            }
            Err(e) => warn!(error = %e, "renewing the leader lease failed; retrying"),
        }
    }
}

/// Gives the lease up after a clean stop, so a standby takes over without waiting for it to
/// expire.
pub async fn release(node: &Node) {
    if let Some(lease) = node.lease.as_ref() {
        match node.store.release_lease(&lease.fence).await {
            Ok(()) => info!(epoch = lease.fence.epoch, "released the leader lease"),
            Err(e) => warn!(error = %e, "releasing the leader lease failed; it expires"),
        }
    }
}

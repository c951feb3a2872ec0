//! The leader cut off from PostgreSQL alone: a blackhole route to the database's address
//! inside the leader's namespace (NATS and its API stay reachable, so its `/health` can be
//! watched). Its head must stop moving, the standby must take over, and once the route is
//! removed the deposed leader must find its lease lost and exit, its head never past the
//! block the new leader started from.

use std::time::{Duration, Instant};

use serde_json::json;
use sqlx::PgPool;

use super::{API_PORT, Cluster, NAMES, TTL_MS, health, index_of, lease, restart_standby};

/// What the partition showed.
pub(crate) struct Partition {
    leader: &'static str,
    /// Since the cut: the lease changed hands, the new leader's first block was stored.
    lease_ms: u64,
    first_block_ms: u64,
    new_holder: String,
    /// The highest block stored when the lease was seen to change hands.
    takeover_base: i64,
    /// The deposed leader's head at the cut and the highest it reported afterwards.
    head_at_cut: Option<u64>,
    highest_head: Option<u64>,
    /// Since the cut, when its reported head last moved (0: never).
    last_advance_ms: u64,
    /// Since the route came back, when it exited (`None`: still running after 40 s).
    exited_after_reconnect_ms: Option<u64>,
    logged_lost_lease: bool,
}

impl Partition {
    pub(crate) fn describe(&self) -> String {
        format!(
            "partition of {}: lease to {} after {} ms, its first block after {} ms; the cut-off \
             leader's head {:?} at the cut, highest {:?} (takeover base {}), last moved {} ms \
             after the cut; exited {:?} ms after the route came back (lost lease logged: {})",
            self.leader,
            self.new_holder,
            self.lease_ms,
            self.first_block_ms,
            self.head_at_cut,
            self.highest_head,
            self.takeover_base,
            self.last_advance_ms,
            self.exited_after_reconnect_ms,
            self.logged_lost_lease
        )
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        json!({
            "leader": self.leader,
            "new_holder": self.new_holder,
            "lease_taken_ms": self.lease_ms,
            "first_block_ms": self.first_block_ms,
            "takeover_base_block": self.takeover_base,
            "cut_off_head_at_cut": self.head_at_cut,
            "cut_off_highest_head": self.highest_head,
            "cut_off_last_advance_ms": self.last_advance_ms,
            "cut_off_exited_after_reconnect_ms": self.exited_after_reconnect_ms,
            "cut_off_logged_lost_lease": self.logged_lost_lease,
        })
    }

    pub(crate) fn check(&self) {
        let other = NAMES.iter().find(|n| **n != self.leader).unwrap();
        assert_eq!(&self.new_holder, other, "the standby took over");
        assert!(
            self.first_block_ms <= super::BOUND_MS,
            "takeover after the cut: {} ms",
            self.first_block_ms
        );
        // The deadline is 0.9 TTL after its last renewal; a block it was writing at the cut
        // cannot reach the database, so its head stops at once.
        assert!(
            self.last_advance_ms <= TTL_MS,
            "the cut-off leader sealed {} ms after the cut",
            self.last_advance_ms
        );
        if let Some(highest) = self.highest_head {
            assert!(
                highest as i64 <= self.takeover_base,
                "the deposed leader's head {highest} passed the takeover point {}",
                self.takeover_base
            );
        }
        assert!(
            self.exited_after_reconnect_ms.is_some(),
            "the deposed leader did not stop once the database was back"
        );
    }
}

pub(crate) async fn cut_off_leader(
    c: &mut Cluster,
    pool: &PgPool,
    http: &reqwest::Client,
    pg_ip: &str,
) -> Partition {
    let (epoch, holder, _) = lease(pool).await;
    let l = index_of(&holder);
    assert!(c.seqs[1 - l].running(), "the standby runs\n{}", c.tails());
    let addr = c.hosts[l].addr(API_PORT);
    let route = format!("{pg_ip}/32");
    let head_at_cut = health(http, addr).await.map(|(h, _)| h);
    c.hosts[l]
        .ip(&["route", "add", "blackhole", &route])
        .expect("cut the leader off from PostgreSQL");
    let t0 = Instant::now();
    let mut highest_head = head_at_cut;
    let mut last_advance_ms = 0;
    let mut taken: Option<(u64, i64, String)> = None;
    let mut first_block_ms = None;
    // Watch until two TTLs after the new leader's first block.
    loop {
        let ms = t0.elapsed().as_millis() as u64;
        if let Some((head, _)) = health(http, addr).await
            && Some(head) > highest_head
        {
            highest_head = Some(head);
            last_advance_ms = ms;
        }
        let (e, h, head) = lease(pool).await;
        match &taken {
            None if e > epoch => taken = Some((ms, head, h.clone())),
            Some((_, base, _)) if first_block_ms.is_none() && head > *base => {
                first_block_ms = Some(ms)
            }
            _ => {}
        }
        if first_block_ms.is_some_and(|f| ms > f + 2 * TTL_MS) {
            break;
        }
        assert!(
            ms < 30_000,
            "no takeover with a new block 30 s after the cut (lease epoch {e}, holder {h}; \
             taken: {taken:?}, first block at: {first_block_ms:?} ms)\n{}",
            c.tails()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (lease_ms, takeover_base, new_holder) = taken.expect("taken");
    let from = c.seqs[l].log_len();
    c.hosts[l]
        .ip(&["route", "del", "blackhole", &route])
        .expect("reconnect");
    let t1 = Instant::now();
    let exited_after_reconnect_ms = loop {
        if let Some((head, _)) = health(http, addr).await
            && Some(head) > highest_head
        {
            highest_head = Some(head);
            last_advance_ms = t0.elapsed().as_millis() as u64;
        }
        if !c.seqs[l].running() {
            break Some(t1.elapsed().as_millis() as u64);
        }
        if t1.elapsed() > Duration::from_secs(40) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let log = std::fs::read(c.seqs[l].log_path()).unwrap_or_default();
    let logged_lost_lease =
        String::from_utf8_lossy(&log[from.min(log.len())..]).contains("lost the leader lease");
    let partition = Partition {
        leader: NAMES[l],
        lease_ms,
        first_block_ms: first_block_ms.expect("a first block"),
        new_holder,
        takeover_base,
        head_at_cut,
        highest_head,
        last_advance_ms,
        exited_after_reconnect_ms,
        logged_lost_lease,
    };
    println!("multihost: {}", partition.describe());
    // Still running: killed, so that the test goes on (the check fails at the end).
    c.seqs[l].kill();
    restart_standby(&mut c.seqs[l]).await;
    partition
}

//! Shared progress: what was sent, accepted, rejected and executed, and when; the block tracker and the progress line.

use std::{
    collections::{BTreeMap, HashMap},
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use parking_lot::Mutex;
use weft_api::Client;
use weft_protocol::primitives::B256;

use crate::POLL_INTERVAL;

/// State shared by the clients, the block tracker, the progress printer and the phases.
/// Times are nanoseconds since `base`, plus one (0 means "not yet").
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) base: Instant,
    pub(crate) index: HashMap<B256, u32>,
    pub(crate) sent_ns: Vec<AtomicU64>,
    pub(crate) executed_ns: Vec<AtomicU64>,
    pub(crate) submitted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) executed: AtomicU64,
    pub(crate) head: AtomicU64,
    pub(crate) last_reply_ns: AtomicU64,
    pub(crate) max_lag_ns: AtomicU64,
    pub(crate) rejections: Mutex<BTreeMap<String, u64>>,
    pub(crate) retries: Mutex<BTreeMap<String, u64>>,
    /// Transactions of every block the tracker saw, in order.
    pub(crate) block_txs: Mutex<Vec<usize>>,
    pub(crate) phase: Mutex<&'static str>,
    pub(crate) tracker_error: Mutex<Option<String>>,
}

impl Shared {
    pub(crate) fn new(hashes: &[B256], head: u64) -> Self {
        let atomics = || (0..hashes.len()).map(|_| AtomicU64::new(0)).collect();
        Self {
            base: Instant::now(),
            index: hashes
                .iter()
                .enumerate()
                .map(|(i, h)| (*h, i as u32))
                .collect(),
            sent_ns: atomics(),
            executed_ns: atomics(),
            submitted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            executed: AtomicU64::new(0),
            head: AtomicU64::new(head),
            last_reply_ns: AtomicU64::new(0),
            max_lag_ns: AtomicU64::new(0),
            rejections: Mutex::default(),
            retries: Mutex::default(),
            block_txs: Mutex::default(),
            phase: Mutex::new("setup"),
            tracker_error: Mutex::default(),
        }
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.ns_of(Instant::now())
    }

    pub(crate) fn ns_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_nanos() as u64 + 1
    }

    pub(crate) fn at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns.saturating_sub(1))
    }

    pub(crate) fn mark_sent(&self, txs: Range<usize>, ns: u64) {
        for i in txs {
            // The first attempt counts: a resubmission after `mempool_full` is the node's delay.
            let _ = self.sent_ns[i].compare_exchange(0, ns, Relaxed, Relaxed);
        }
    }

    pub(crate) fn mark_executed(&self, hashes: &[B256], ns: u64) {
        let mut new = 0;
        for hash in hashes {
            if let Some(&i) = self.index.get(hash)
                && self.executed_ns[i as usize]
                    .compare_exchange(0, ns, Relaxed, Relaxed)
                    .is_ok()
            {
                new += 1;
            }
        }
        self.executed.fetch_add(new, Relaxed);
        self.block_txs.lock().push(hashes.len());
    }

    pub(crate) fn reject(&self, code: &str) {
        self.rejected.fetch_add(1, Relaxed);
        *self.rejections.lock().entry(code.to_string()).or_default() += 1;
    }

    pub(crate) fn retry(&self, code: &str) {
        *self.retries.lock().entry(code.to_string()).or_default() += 1;
    }

    pub(crate) fn set_phase(&self, phase: &'static str) {
        *self.phase.lock() = phase;
    }

    /// Latest execution time of `txs` and how many were executed.
    pub(crate) fn executed_in(&self, txs: Range<usize>) -> (usize, u64) {
        self.executed_ns[txs]
            .iter()
            .map(|t| t.load(Relaxed))
            .filter(|&t| t > 0)
            .fold((0, 0), |(n, last), t| (n + 1, last.max(t)))
    }

    /// Submit→executed latencies of `txs`, in milliseconds, sorted.
    pub(crate) fn latencies_ms(&self, txs: Range<usize>) -> Vec<f64> {
        let mut v: Vec<f64> = txs
            .map(|i| {
                (
                    self.sent_ns[i].load(Relaxed),
                    self.executed_ns[i].load(Relaxed),
                )
            })
            .filter(|&(s, e)| s > 0 && e > 0)
            .map(|(s, e)| e.saturating_sub(s) as f64 / 1e6)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }
}

/// Polls the head every [`POLL_INTERVAL`] and marks the transactions of each new block
/// executed at the moment the head showed it.
pub(crate) async fn track_blocks(api: Client, shared: Arc<Shared>) {
    let mut last = shared.head.load(Relaxed);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = async {
            let health = api.health().await.context("GET /health")?;
            let seen = shared.now_ns();
            for n in last + 1..=health.head {
                let block = api
                    .block(n)
                    .await
                    .with_context(|| format!("GET /v1/blocks/{n}"))?
                    .with_context(|| format!("block {n} is not known"))?;
                shared.mark_executed(&block.transactions, seen);
                last = n;
                shared.head.store(n, Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        }
        .await;
        if let Err(e) = result {
            *shared.tracker_error.lock() = Some(format!("{e:#}"));
            return;
        }
    }
}

/// One line a second to stderr.
pub(crate) async fn print_progress(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut submitted, mut executed) = (0, 0);
    loop {
        tick.tick().await;
        let (s, e) = (
            shared.submitted.load(Relaxed),
            shared.executed.load(Relaxed),
        );
        eprintln!(
            "[{:>10} {:>6.1}s] submitted {s:>8} ({:>7}/s)  executed {e:>8} ({:>7}/s)  \
             rejected {}  head {}",
            *shared.phase.lock(),
            shared.base.elapsed().as_secs_f64(),
            s - submitted,
            e - executed,
            shared.rejected.load(Relaxed),
            shared.head.load(Relaxed),
        );
        (submitted, executed) = (s, e);
    }
}

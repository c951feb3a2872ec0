//! The phases against the sequencer: throughput, then latency.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use tokio::task::JoinSet;
use weft_protocol::eip712::Domain;

use crate::{
    Args, CHECK_INTERVAL,
    node::Target,
    progress::{Shared, print_progress, track_blocks},
    report::percentile,
    submit::{Pacing, client},
    usage::{
        NodeUsage, SigCeiling, box_busy_seconds, measure_sig_ceiling, scrape_metrics, thread_cpu,
    },
    workload::{PhaseRequests, Workload, WorkloadSpec, build_workload, dev_accounts},
};

/// Figures of one phase.
#[derive(Debug, Default)]
pub(crate) struct PhaseResult {
    pub(crate) txs: usize,
    pub(crate) executed: usize,
    /// First submission to the last transaction seen executed.
    pub(crate) elapsed: Duration,
    /// First submission to the last reply.
    pub(crate) submit_elapsed: Duration,
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) blocks: usize,
    pub(crate) max_block_txs: usize,
    pub(crate) node: Option<NodeUsage>,
}

impl PhaseResult {
    pub(crate) fn executed_tps(&self) -> f64 {
        self.executed as f64 / self.elapsed.as_secs_f64()
    }

    pub(crate) fn submitted_tps(&self) -> f64 {
        self.txs as f64 / self.submit_elapsed.as_secs_f64()
    }

    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies_ms, p)
    }
}

/// Everything measured against the sequencer.
#[derive(Debug)]
pub(crate) struct SequencerResult {
    pub(crate) throughput: PhaseResult,
    pub(crate) latency: PhaseResult,
    pub(crate) latency_target_tps: f64,
    pub(crate) max_lag: Duration,
    pub(crate) sig: SigCeiling,
    pub(crate) rejections: BTreeMap<String, u64>,
    pub(crate) retries: BTreeMap<String, u64>,
    pub(crate) started_node: bool,
}

pub(crate) async fn run_sequencer(args: &Args, target: &mut Target) -> Result<SequencerResult> {
    let api = target.api.clone();
    let domain: Domain = api.domain().await.context("GET /v1/domain")?;
    let head = api.health().await.context("GET /health")?.head;
    let (keys, nonces) = dev_accounts(args, &api).await?;
    eprintln!(
        "signing {} transfers over {} accounts...",
        args.txs + args.latency_txs(),
        args.accounts
    );
    let signing = Instant::now();
    let spec = WorkloadSpec::from(args);
    let workload =
        tokio::task::spawn_blocking(move || build_workload(spec, &domain, &keys, &nonces))
            .await
            .context("signing task")?;
    eprintln!(
        "signed and serialized in {:.1} s",
        signing.elapsed().as_secs_f64()
    );
    let sig = measure_sig_ceiling(&workload.samples, &domain)?;

    let shared = Arc::new(Shared::new(&workload.hashes, head));
    let tracker = tokio::spawn(track_blocks(api.clone(), shared.clone()));
    let progress = tokio::spawn(print_progress(shared.clone()));
    let outcome = run_phases(args, target, &shared, workload).await;
    tracker.abort();
    progress.abort();
    let (throughput, latency, latency_target_tps) = outcome?;
    let rejections = shared.rejections.lock().clone();
    let retries = shared.retries.lock().clone();
    Ok(SequencerResult {
        throughput,
        latency,
        latency_target_tps,
        max_lag: Duration::from_nanos(shared.max_lag_ns.load(Relaxed)),
        sig,
        rejections,
        retries,
        started_node: target.child.is_some(),
    })
}

pub(crate) async fn run_phases(
    args: &Args,
    target: &mut Target,
    shared: &Arc<Shared>,
    workload: Workload,
) -> Result<(PhaseResult, PhaseResult, f64)> {
    shared.set_phase("throughput");
    let throughput = run_phase(args, target, shared, workload.throughput, None).await?;
    if !shared.rejections.lock().is_empty() {
        eprintln!("rejections: {:?}", shared.rejections.lock());
    }
    let rate = throughput.executed_tps() * args.latency_load;
    ensure!(rate > 0.0, "nothing executed in the throughput phase");
    if workload.latency.requests.is_empty() {
        return Ok((throughput, PhaseResult::default(), rate));
    }
    shared.set_phase("latency");
    let pacing = Pacing {
        start: tokio::time::Instant::now() + Duration::from_millis(50),
        interval: Duration::from_secs_f64(args.latency_batch as f64 / rate),
    };
    let latency = run_phase(args, target, shared, workload.latency, Some(pacing)).await?;
    Ok((throughput, latency, rate))
}

/// Runs the clients over one phase's requests and waits until every transaction is
/// executed or rejected.
pub(crate) async fn run_phase(
    args: &Args,
    target: &mut Target,
    shared: &Arc<Shared>,
    requests: PhaseRequests,
    pacing: Option<Pacing>,
) -> Result<PhaseResult> {
    let txs = requests.txs();
    let metrics_before = scrape_metrics(&target.api).await.ok();
    let cpu_before = target.pid().map(thread_cpu);
    let self_before = thread_cpu(std::process::id());
    let box_before = box_busy_seconds();
    let rejected_before = shared.rejected.load(Relaxed);
    let blocks_before = shared.block_txs.lock().len();
    let executed_before = shared.executed.load(Relaxed);
    let start_ns = match pacing {
        Some(p) => shared.ns_of(p.start.into_std()),
        None => shared.now_ns(),
    };
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for _ in 0..args.clients {
        clients.spawn(client(
            target.api.clone(),
            shared.clone(),
            requests.clone(),
            next.clone(),
            pacing,
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    loop {
        target.check_alive()?;
        while let Some(done) = clients.try_join_next() {
            done.context("client task")??;
        }
        if let Some(e) = shared.tracker_error.lock().clone() {
            bail!("block tracker: {e}");
        }
        // Phases run one after the other, so the counters' growth is this phase's.
        let executed = (shared.executed.load(Relaxed) - executed_before) as usize;
        let rejected = (shared.rejected.load(Relaxed) - rejected_before) as usize;
        if clients.is_empty() && executed + rejected >= txs.len() {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {} s: {executed} of {} transactions executed, {rejected} \
                 rejected ({:?})",
                args.timeout_s,
                txs.len(),
                shared.rejections.lock()
            );
        }
        tokio::time::sleep(CHECK_INTERVAL).await;
    }
    let (executed, last_ns) = shared.executed_in(txs.clone());
    let elapsed = shared.at(last_ns).duration_since(shared.at(start_ns));
    let submit_elapsed = shared
        .at(shared.last_reply_ns.load(Relaxed))
        .duration_since(shared.at(start_ns));
    let blocks: Vec<usize> = shared.block_txs.lock()[blocks_before..].to_vec();
    let node = match (metrics_before, scrape_metrics(&target.api).await.ok()) {
        (Some(before), Some(after)) => Some(NodeUsage::between(
            &before,
            &after,
            cpu_before.zip(target.pid().map(thread_cpu)),
            (self_before, thread_cpu(std::process::id())),
            box_before.zip(box_busy_seconds()).map(|(b, a)| a - b),
            elapsed,
        )),
        _ => None,
    };
    Ok(PhaseResult {
        txs: txs.len(),
        executed,
        elapsed,
        submit_elapsed,
        latencies_ms: shared.latencies_ms(txs),
        blocks: blocks.len(),
        max_block_txs: blocks.iter().copied().max().unwrap_or(0),
        node,
    })
}

//! `--jetstream`, second part: one admission node's measured rate. A stateless
//! `weft-sequencer admission` (no database) publishes into a fresh stream of its own while
//! the load generator's clients post the same signed transfers as REST batches; then another
//! takes signed ETH transfers through `eth_sendRawTransaction`. A rate is accepted
//! transactions (each answered once the stream stored it) over the wall time, and per core
//! over the CPU seconds the admission process spent (`/proc`), which is what sizing a
//! deployment needs on a box shared with the clients.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Instant,
};

use anyhow::{Context, Result, ensure};
use async_nats::jetstream;
use serde_json::json;

use crate::{
    Args,
    anvil::{Rpc, parse_quantity},
    node::Target,
    progress::Shared,
    submit,
    usage::process_cpu,
    workload::Workload,
};

/// What one admission node did with the workload.
pub(crate) struct AdmissionRun {
    pub(crate) txs: usize,
    pub(crate) seconds: f64,
    /// CPU seconds of the admission process over the run.
    pub(crate) cpu_seconds: f64,
}

impl AdmissionRun {
    fn new(txs: usize, seconds: f64, cpu_seconds: f64) -> Result<Self> {
        ensure!(cpu_seconds > 0.0, "no CPU time read for the admission node");
        Ok(Self {
            txs,
            seconds,
            cpu_seconds,
        })
    }

    pub(crate) fn tps(&self) -> f64 {
        self.txs as f64 / self.seconds
    }

    /// Accepted transactions per CPU second of the admission process: one core's rate.
    pub(crate) fn per_core(&self) -> f64 {
        self.txs as f64 / self.cpu_seconds
    }
}

/// A stateless admission node publishing into the fresh stream `name` (on the subject a
/// node derives from it).
struct AdmissionNode {
    node: Target,
}

impl AdmissionNode {
    async fn start(args: &Args, js: &jetstream::Context, name: &str) -> Result<Self> {
        crate::scale::fresh_stream(js, name).await?;
        // Stateless: the leader's database (if the run has one) would refuse every transfer
        // as already included.
        let mut stateless = args.clone();
        stateless
            .node_arg
            .retain(|a| !a.starts_with("--database-url"));
        let node = Target::start_admission(
            &stateless,
            &[
                format!("--nats-url={}", args.nats_url),
                format!("--ingress-stream={name}"),
            ],
        )
        .await?;
        Ok(Self { node })
    }

    /// Its process's CPU seconds so far (0 where `/proc` is not readable, which
    /// [`AdmissionRun::new`] refuses).
    fn cpu(&self) -> f64 {
        self.node.pid().and_then(process_cpu).unwrap_or(0.0)
    }

    async fn stop(mut self, js: &jetstream::Context, name: &str) -> Result<()> {
        let alive = self.node.check_alive();
        self.node.stop().await;
        let _ = js.delete_stream(name).await;
        alive
    }
}

/// Posts the workload's throughput requests as REST batches to an admission node, with
/// `--clients` clients.
pub(crate) async fn measure(
    args: &Args,
    workload: Workload,
    js: &jetstream::Context,
    name: &str,
) -> Result<AdmissionRun> {
    let node = AdmissionNode::start(args, js, name).await?;
    let shared = Arc::new(Shared::new(&workload.hashes, 0));
    let phase = Arc::new(workload.throughput);
    let txs: usize = phase.requests.iter().map(|r| r.txs.len()).sum();
    let next = Arc::new(AtomicUsize::new(0));
    eprintln!(
        "admission node: {txs} transfers in {} requests from {} clients...",
        phase.requests.len(),
        args.clients
    );
    let (cpu_before, started) = (node.cpu(), Instant::now());
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            tokio::spawn(submit::client(
                node.node.api.clone(),
                shared.clone(),
                phase.clone(),
                next.clone(),
                None,
            ))
        })
        .collect();
    let outcome = join(clients).await;
    let (seconds, cpu_seconds) = (started.elapsed().as_secs_f64(), node.cpu() - cpu_before);
    node.stop(js, name).await?;
    outcome?;
    let accepted = shared.submitted.load(Relaxed) as usize;
    ensure!(
        accepted == txs && shared.rejected.load(Relaxed) == 0,
        "the admission node accepted {accepted} of {txs} (rejected: {:?})",
        shared.rejections.lock()
    );
    AdmissionRun::new(txs, seconds, cpu_seconds)
}

/// `eth_sendRawTransaction` to an admission node: `--anvil-txs` ETH transfers per size of
/// `--rpc-batch`, one client per sender sending its requests in nonce order; one run each.
pub(crate) async fn measure_rpc(
    args: &Args,
    js: &jetstream::Context,
    name: &str,
) -> Result<Vec<(usize, AdmissionRun)>> {
    let node = AdmissionNode::start(args, js, name).await?;
    let rpc = Rpc::new(&format!("{}/rpc", node.node.api.base()))?;
    let chain_id = parse_quantity(&rpc.call("eth_chainId", json!([])).await?)?;
    let n = args.anvil_txs();
    let sets = crate::evm::eth_transfer_requests(args, chain_id, n, &args.rpc_batch);
    let mut runs = Vec::new();
    let mut outcome = Ok(());
    for (batch, per_sender) in args.rpc_batch.iter().zip(sets) {
        eprintln!("admission node: {n} raw transfers, {batch} per request...");
        let (cpu_before, started) = (node.cpu(), Instant::now());
        let clients: Vec<_> = per_sender
            .into_iter()
            .map(|requests| {
                let rpc = rpc.clone();
                tokio::spawn(async move {
                    for (_, body) in requests {
                        rpc.send_raw(body).await.context("eth_sendRawTransaction")?;
                    }
                    Ok(())
                })
            })
            .collect();
        outcome = join(clients).await;
        if outcome.is_err() {
            break;
        }
        let seconds = started.elapsed().as_secs_f64();
        runs.push((
            *batch,
            AdmissionRun::new(n, seconds, node.cpu() - cpu_before)?,
        ));
    }
    node.stop(js, name).await?;
    outcome.map(|()| runs)
}

/// Waits for every client; the first error, if any.
async fn join(clients: Vec<tokio::task::JoinHandle<Result<()>>>) -> Result<()> {
    let mut outcome = Ok(());
    for c in clients {
        if let Err(e) = c.await.context("client task").and_then(|r| r)
            && outcome.is_ok()
        {
            outcome = Err(e);
        }
    }
    outcome
}

//! `--jetstream`, second part: one admission node's measured rate. A stateless
//! `weft-sequencer admission` (no database) publishes into a fresh stream of its own while
//! the load generator's clients post the same signed transfers as REST batches; its rate
//! is accepted transactions (each answered once the stream stored it) over the wall time,
//! and per core over the CPU seconds the admission process spent (`/proc`), which is what
//! sizing a deployment needs on a box shared with the clients.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::Relaxed},
    },
    time::Instant,
};

use anyhow::{Context, Result, ensure};
use async_nats::jetstream;

use crate::{Args, node::Target, progress::Shared, submit, usage::thread_cpu, workload::Workload};

/// What one admission node did with the workload.
pub(crate) struct AdmissionRun {
    pub(crate) txs: usize,
    pub(crate) seconds: f64,
    /// CPU seconds of the admission process over the run.
    pub(crate) cpu_seconds: f64,
}

impl AdmissionRun {
    pub(crate) fn tps(&self) -> f64 {
        self.txs as f64 / self.seconds
    }

    /// Accepted transactions per CPU second of the admission process: one core's rate.
    pub(crate) fn per_core(&self) -> f64 {
        self.txs as f64 / self.cpu_seconds
    }
}

/// Posts the workload's throughput requests to a started admission node publishing into
/// the fresh stream `name` (on the subject a node derives from it), with `--clients`
/// clients.
pub(crate) async fn measure(
    args: &Args,
    workload: Workload,
    js: &jetstream::Context,
    name: &str,
) -> Result<AdmissionRun> {
    let subject = format!("weft.{}", name.to_lowercase());
    crate::scale::fresh_stream(js, name, &subject).await?;
    // Stateless: the leader's database (if the run has one) would refuse every transfer as
    // already included.
    let mut stateless = args.clone();
    stateless
        .node_arg
        .retain(|a| !a.starts_with("--database-url"));
    let mut node = Target::start_admission(
        &stateless,
        &[
            format!("--nats-url={}", args.nats_url),
            format!("--ingress-stream={name}"),
        ],
    )
    .await?;
    let pid = node.pid().context("a started admission node")?;
    let cpu = || thread_cpu(pid).values().sum::<f64>();
    let shared = Arc::new(Shared::new(&workload.hashes, 0));
    let phase = Arc::new(workload.throughput);
    let txs: usize = phase.requests.iter().map(|r| r.txs.len()).sum();
    let next = Arc::new(AtomicUsize::new(0));
    eprintln!(
        "admission node: {txs} transfers in {} requests from {} clients...",
        phase.requests.len(),
        args.clients
    );
    let (cpu_before, started) = (cpu(), Instant::now());
    let clients: Vec<_> = (0..args.clients)
        .map(|_| {
            tokio::spawn(submit::client(
                node.api.clone(),
                shared.clone(),
                phase.clone(),
                next.clone(),
                None,
            ))
        })
        .collect();
    let mut outcome = Ok(());
    for c in clients {
        if let Err(e) = c.await.context("client task").and_then(|r| r) {
            outcome = Err(e);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = cpu() - cpu_before;
    node.check_alive()?;
    node.stop().await;
    let _ = js.delete_stream(name).await;
    outcome?;
    let accepted = shared.submitted.load(Relaxed) as usize;
    ensure!(
        accepted == txs && shared.rejected.load(Relaxed) == 0,
        "the admission node accepted {accepted} of {txs} (rejected: {:?})",
        shared.rejections.lock()
    );
    ensure!(cpu_seconds > 0.0, "no CPU time read for the admission node");
    Ok(AdmissionRun {
        txs,
        seconds,
        cpu_seconds,
    })
}

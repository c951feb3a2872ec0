//! `--jetstream`: the sequencing core's rate with admission elsewhere (issue 16's headline
//! figure). `--txs` transfers are signed and published to a fresh JetStream stream first
//! (what admission nodes would have done), then a node is started with `--nats-url`: the
//! time from its start to the last transfer executed and stored is the leader's rate (no
//! signature recovery: the stream's messages are pre-verified). Also the signature recovery
//! rate of one core (what one admission core sustains) and how many admission cores the
//! leader's rate needs; then one admission node's measured rate with the same transfers
//! ([`crate::admission`]). JSON in `target/weft-bench/scale.json`.

use std::{
    sync::{Arc, atomic::Ordering::Relaxed},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail, ensure};
use async_nats::jetstream::{self, stream};
use serde_json::json;
use weft_protocol::{codec::Encode, eip712::Domain};

use crate::{
    Args,
    node::Target,
    progress::{Shared, track_blocks},
    report::{results_path, write_json},
    usage::{measure_sig_ceiling, process_cpu},
    workload::{WorkloadSpec, build_workload, dev_accounts},
};

/// Messages whose publish acknowledgements are awaited together.
const PUBLISH_WINDOW: usize = 2_000;

pub(crate) async fn run_scale_and_report(args: &Args) -> Result<()> {
    // The chain's domain and dev keys, from a node started for that (a fresh genesis each
    // start: the measured node starts from the same state).
    let mut probe = Target::start(args).await?;
    let domain: Domain = probe.api.domain().await.context("GET /v1/domain")?;
    let (keys, nonces) = dev_accounts(args, &probe.api).await?;
    probe.stop().await;
    ensure!(
        nonces.iter().all(|&n| n == 0),
        "a fresh genesis has every nonce at 0"
    );

    eprintln!(
        "signing {} transfers over {} accounts...",
        args.txs,
        keys.len()
    );
    let spec = WorkloadSpec {
        latency_txs: 0,
        ..WorkloadSpec::from(args)
    };
    let workload =
        tokio::task::spawn_blocking(move || build_workload(spec, &domain, &keys, &nonces))
            .await
            .context("signing task")?;
    let sig = measure_sig_ceiling(&workload.samples, &domain)?;

    // A fresh stream, loaded ahead.
    let name = format!("WEFT_BENCH_{}", std::process::id());
    let client = async_nats::connect(&args.nats_url)
        .await
        .with_context(|| format!("connect to NATS at {}", args.nats_url))?;
    let js = jetstream::new(client);
    let subject = fresh_stream(&js, &name).await?;
    let publishing = Instant::now();
    for (chunk_index, chunk) in workload.signed.chunks(PUBLISH_WINDOW).enumerate() {
        let mut acks = Vec::with_capacity(chunk.len());
        for (i, tx) in chunk.iter().enumerate() {
            let hash = workload.hashes[chunk_index * PUBLISH_WINDOW + i];
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", hash.to_string().as_str());
            let ack = js
                .publish_with_headers(subject.clone(), headers, tx.to_bytes().into())
                .await
                .map_err(|e| anyhow::anyhow!("publish: {e}"))?;
            acks.push(ack);
        }
        for ack in acks {
            ack.await.map_err(|e| anyhow::anyhow!("publish ack: {e}"))?;
        }
    }
    let publish_s = publishing.elapsed().as_secs_f64();
    eprintln!(
        "published {} in {publish_s:.1} s ({:.0}/s)",
        args.txs,
        args.txs as f64 / publish_s
    );

    // The leader, taking them.
    let mut node_args = args.clone();
    node_args.node_arg.extend([
        format!("--nats-url={}", args.nats_url),
        format!("--ingress-stream={name}"),
    ]);
    let started = Instant::now();
    let mut target = Target::start(&node_args).await?;
    let shared = Arc::new(Shared::new(&workload.hashes, 0));
    let tracker = tokio::spawn(track_blocks(target.api.clone(), shared.clone()));
    let deadline = Instant::now() + Duration::from_secs(args.timeout_s);
    let outcome = loop {
        if let Err(e) = target.check_alive() {
            break Err(e);
        }
        if shared.executed.load(Relaxed) as usize >= args.txs {
            break Ok(());
        }
        if Instant::now() > deadline {
            break Err(anyhow::anyhow!(
                "{} of {} executed after {} s",
                shared.executed.load(Relaxed),
                args.txs,
                args.timeout_s
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    tracker.abort();
    // Its CPU, start included: the figure a shared box's noise distorts least (none for an
    // external node, or where `/proc` is not readable).
    let leader_cpu_s = target.pid().and_then(process_cpu);
    target.stop().await;
    let _ = js.delete_stream(&name).await;
    if let Err(e) = outcome {
        bail!("the leader did not take the stream: {e}");
    }
    let (executed, last_ns) = shared.executed_in(0..args.txs);
    let elapsed = shared.at(last_ns).duration_since(started);
    let tps = executed as f64 / elapsed.as_secs_f64();
    let leader_us_per_tx = leader_cpu_s.map(|s| 1e6 * s / executed as f64);
    // The admission side, each node on a fresh stream of its own.
    let (admission, admission_rpc) = if args.no_admission {
        (None, Vec::new())
    } else {
        (
            Some(
                crate::admission::measure(args, workload, &js, &format!("{name}_ADMISSION"))
                    .await?,
            ),
            crate::admission::measure_rpc(args, &js, &format!("{name}_ADMISSION_RPC")).await?,
        )
    };
    let per_core = sig.per_thread;
    let postgres = node_args
        .node_arg
        .iter()
        .any(|a| a.starts_with("--database-url=postgres"));
    let database = if postgres { "postgresql" } else { "sqlite" };
    println!("leader from JetStream: {executed} pre-verified transfers, stored on {database}");
    println!("| figure | value |\n|---|---|");
    println!(
        "| leader rate, start to last executed and stored | {tps:.0} tx/s ({:.2} s, node start included) |",
        elapsed.as_secs_f64()
    );
    match (leader_us_per_tx, leader_cpu_s) {
        (Some(us), Some(s)) => println!(
            "| the leader's CPU per transaction (its process's CPU seconds / executed) | {us:.1} µs ({s:.1} CPU s) |"
        ),
        _ => println!(
            "| the leader's CPU per transaction | not measured (no /proc for its process) |"
        ),
    }
    println!(
        "| publishing them (one client, windows of {PUBLISH_WINDOW}) | {:.0} msg/s |",
        args.txs as f64 / publish_s
    );
    println!(
        "| signature recovery, one core (one admission core's ceiling) | {per_core:.0} tx/s |"
    );
    println!(
        "| admission cores for the leader's rate | {:.1} |",
        tps / per_core
    );
    println!(
        "| admission cores for 100,000 tx/s | {:.1} |",
        100_000.0 / per_core
    );
    if let Some(admission) = &admission {
        println!(
            "| one admission node, REST batches of {} from {} clients on the same box | {:.0} tx/s ({:.1} CPU s of the node for {} transfers) |",
            args.batch,
            args.clients,
            admission.tps(),
            admission.cpu_seconds,
            admission.txs
        );
        println!(
            "| the same, per core of the admission node (accepted / its CPU seconds) | {:.0} tx/s |",
            admission.per_core()
        );
        println!(
            "| admission cores for 100,000 tx/s, measured | {:.1} |",
            100_000.0 / admission.per_core()
        );
    }
    for (batch, run) in &admission_rpc {
        println!(
            "| one admission node, eth_sendRawTransaction x{batch} per request, {} senders | {:.0} tx/s, {:.0} per core |",
            args.anvil_senders,
            run.tps(),
            run.per_core()
        );
    }
    let path = results_path(args).with_file_name("scale.json");
    write_json(
        &path,
        &json!({
            "txs": executed, "seconds": elapsed.as_secs_f64(), "leader_tps": tps,
            "leader_cpu_s": leader_cpu_s, "leader_cpu_us_per_tx": leader_us_per_tx,
            "database": database, "publish_per_s": args.txs as f64 / publish_s,
            "recovery_per_core": per_core, "admission_cores_for_leader": tps / per_core,
            "admission_cores_for_100k": 100_000.0 / per_core, "block_time_ms": args.block_time_ms,
            "admission_node_tps": admission.as_ref().map(|a| a.tps()),
            "admission_node_cpu_s": admission.as_ref().map(|a| a.cpu_seconds),
            "admission_node_per_core": admission.as_ref().map(|a| a.per_core()),
            "admission_cores_for_100k_measured": admission.as_ref().map(|a| 100_000.0 / a.per_core()),
            "admission_batch": args.batch, "admission_clients": args.clients,
            "admission_rpc": admission_rpc.iter().map(|(batch, run)| json!({
                "batch": batch, "txs": run.txs, "tps": run.tps(), "cpu_s": run.cpu_seconds,
                "per_core": run.per_core(),
            })).collect::<Vec<_>>(),
        }),
    )?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Creates the stream `name` afresh (deleting one left by an earlier run): work-queue
/// retention on file, the deduplication window of a deployment, on the subject a node
/// derives from the name (`weft.<name in lower case>`, as `IngressConfig::subject`), which
/// it returns.
pub(crate) async fn fresh_stream(js: &jetstream::Context, name: &str) -> Result<String> {
    let subject = format!("weft.{}", name.to_lowercase());
    let _ = js.delete_stream(name).await;
    js.create_stream(stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.clone()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("create the stream {name}: {e}"))?;
    Ok(subject)
}

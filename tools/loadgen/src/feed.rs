//! `--feed`: many live-feed subscribers (`/v1/ws`) through a steady transfer load. Each
//! subscriber records every block number it receives; after the load, each must have
//! received every block from its first to the final head, with none missing. Reports
//! subscribers, blocks, missing blocks, resyncs, connections lost, and the fan-out spread
//! (for each block, the last subscriber's receipt minus the first's) percentiles; JSON in
//! `target/weft-bench/feed.json`.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, Result, ensure};
use futures_util::StreamExt;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use weft_protocol::eip712::Domain;

use crate::{
    Args,
    node::Target,
    phases::run_phase,
    progress::{Shared, print_progress, track_blocks},
    report::{percentile, results_path, write_json},
    submit::Pacing,
    workload::{WorkloadSpec, build_workload, dev_accounts},
};

/// What one subscriber saw.
#[derive(Debug, Default)]
struct Seen {
    /// Block numbers received, in order, with when.
    blocks: Vec<u64>,
    received: Vec<Instant>,
    resyncs: u64,
    /// The connection ended before the subscriber was stopped.
    lost: bool,
}

/// The outcome.
struct FeedResult {
    subscribers: usize,
    blocks: u64,
    missing: u64,
    duplicates: u64,
    resyncs: u64,
    lost: usize,
    spread_ms: Vec<f64>,
    txs: usize,
    executed: usize,
    elapsed: Duration,
}

/// `--feed`: starts the node, connects the subscribers, runs the load, checks delivery.
pub(crate) async fn run_feed_and_report(args: &Args) -> Result<()> {
    let mut target = match &args.url {
        Some(url) => Target::external(url),
        None => Target::start(args).await?,
    };
    let outcome = run(args, &mut target).await;
    target.stop().await;
    let r = outcome?;
    let mut spread = r.spread_ms.clone();
    spread.sort_by(f64::total_cmp);
    let (p50, p99) = (percentile(&spread, 50.0), percentile(&spread, 99.0));
    println!(
        "live feed: {} subscribers of /v1/ws through {:.0} s of load",
        r.subscribers,
        r.elapsed.as_secs_f64()
    );
    println!("| figure | value |\n|---|---|");
    println!(
        "| transfers submitted / executed | {} / {} ({:.0} tx/s) |",
        r.txs,
        r.executed,
        r.executed as f64 / r.elapsed.as_secs_f64()
    );
    println!("| blocks during the load | {} |", r.blocks);
    println!("| blocks missing, over all subscribers | {} |", r.missing);
    println!("| blocks received twice | {} |", r.duplicates);
    println!(
        "| resyncs (a subscriber lagged, caught up from the store) | {} |",
        r.resyncs
    );
    println!("| connections lost | {} |", r.lost);
    println!(
        "| fan-out spread p50 / p99 (ms from the first subscriber's receipt of a block to the last's) | {p50:.1} / {p99:.1} |"
    );
    let path = results_path(args).with_file_name("feed.json");
    write_json(
        &path,
        &json!({
            "subscribers": r.subscribers, "seconds": r.elapsed.as_secs_f64(),
            "txs": r.txs, "executed": r.executed, "blocks": r.blocks,
            "missing": r.missing, "duplicates": r.duplicates, "resyncs": r.resyncs,
            "lost": r.lost, "spread_ms_p50": p50, "spread_ms_p99": p99,
            "block_time_ms": args.block_time_ms, "rate": args.feed_rate,
        }),
    )?;
    println!("wrote {}", path.display());
    ensure!(
        r.missing == 0 && r.lost == 0,
        "{} blocks missing, {} connections lost",
        r.missing,
        r.lost
    );
    Ok(())
}

async fn run(args: &Args, target: &mut Target) -> Result<FeedResult> {
    let api = target.api.clone();
    let domain: Domain = api.domain().await.context("GET /v1/domain")?;
    let ws_url = format!(
        "{}/v1/ws?batches=false",
        api.base().replacen("http", "ws", 1)
    );
    eprintln!("connecting {} feed subscribers...", args.feed_subscribers);
    let connected = Arc::new(AtomicU64::new(0));
    let mut subscribers = Vec::with_capacity(args.feed_subscribers);
    for _ in 0..args.feed_subscribers {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let task = tokio::spawn(subscribe(ws_url.clone(), seen.clone(), connected.clone()));
        subscribers.push((seen, task));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.load(Relaxed) < args.feed_subscribers as u64 {
        ensure!(
            Instant::now() < deadline,
            "only {} subscribers connected",
            connected.load(Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let txs = (args.feed_rate * args.feed_seconds) as usize;
    let load_args = Args {
        txs,
        latency_txs: Some(0),
        ..args.clone()
    };
    let (keys, nonces) = dev_accounts(&load_args, &api).await?;
    eprintln!("signing {txs} transfers over {} accounts...", keys.len());
    let spec = WorkloadSpec::from(&load_args);
    let workload =
        tokio::task::spawn_blocking(move || build_workload(spec, &domain, &keys, &nonces))
            .await
            .context("signing task")?;
    let start_head = api.health().await?.head;
    let shared = Arc::new(Shared::new(&workload.hashes, start_head));
    let tracker = tokio::spawn(track_blocks(api.clone(), shared.clone()));
    let progress = tokio::spawn(print_progress(shared.clone()));
    shared.set_phase("feed");
    let pacing = Pacing {
        start: tokio::time::Instant::now() + Duration::from_millis(50),
        interval: Duration::from_secs_f64(args.batch as f64 / args.feed_rate),
    };
    let phase = run_phase(
        &load_args,
        target,
        &shared,
        workload.throughput,
        Some(pacing),
    )
    .await;
    tracker.abort();
    progress.abort();
    let phase = phase?;
    let final_head = api.health().await?.head;
    // Every subscriber up to the final head (or give up after 30 s: what is missing counts).
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline
        && subscribers
            .iter()
            .any(|(seen, _)| seen.lock().blocks.last().is_none_or(|&b| b < final_head))
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut result = FeedResult {
        subscribers: subscribers.len(),
        blocks: final_head - start_head,
        missing: 0,
        duplicates: 0,
        resyncs: 0,
        lost: 0,
        spread_ms: Vec::new(),
        txs,
        executed: phase.executed,
        elapsed: phase.elapsed,
    };
    let mut first_last: HashMap<u64, (Instant, Instant)> = HashMap::new();
    for (seen, task) in subscribers {
        task.abort();
        let seen = seen.lock();
        for (&number, &at) in seen.blocks.iter().zip(&seen.received) {
            let e = first_last.entry(number).or_insert((at, at));
            e.0 = e.0.min(at);
            e.1 = e.1.max(at);
        }
        let first = seen
            .blocks
            .first()
            .copied()
            .unwrap_or(start_head + 1)
            .min(start_head + 1);
        let mut got: Vec<u64> = seen
            .blocks
            .iter()
            .copied()
            .filter(|&b| b >= first && b <= final_head)
            .collect();
        let total = got.len() as u64;
        got.dedup();
        result.duplicates += total - got.len() as u64;
        result.missing += (final_head + 1 - first) - got.len() as u64;
        result.resyncs += seen.resyncs;
        result.lost += usize::from(seen.lost);
    }
    result.spread_ms = first_last
        .values()
        .map(|(first, last)| last.duration_since(*first).as_secs_f64() * 1e3)
        .collect();
    Ok(result)
}

/// One subscriber: records every block message until aborted.
async fn subscribe(url: String, seen: Arc<Mutex<Seen>>, connected: Arc<AtomicU64>) {
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(&url).await else {
        seen.lock().lost = true;
        connected.fetch_add(1, Relaxed);
        return;
    };
    connected.fetch_add(1, Relaxed);
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let mut seen = seen.lock();
        match v["type"].as_str() {
            Some("block") => {
                seen.blocks.push(v["number"].as_u64().unwrap_or(0));
                seen.received.push(Instant::now());
            }
            Some("resync") => seen.resyncs += 1,
            _ => {}
        }
    }
    seen.lock().lost = true;
}

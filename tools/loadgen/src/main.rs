//! `weft-loadgen`: the end-to-end benchmark of the sequencer, on one box, in one run.
//!
//! 1. Starts a node (`weft-sequencer` beside this executable, fresh SQLite directory, no rate
//!    limit) or targets one given by `--url`.
//! 2. Pre-signs every transfer over the node's dev accounts and pre-serializes the request
//!    bodies, all before any timing.
//! 3. Throughput: concurrent clients submit N transfers as fast as the API takes them;
//!    `tps` is N over the time from the first submission to the moment the last transfer
//!    is seen in a stored block.
//! 4. Latency: paced submission at half that rate (by default) of the next nonces; p50/p99
//!    of submit→executed.
//! 5. Signature ceiling: single-thread `SignedTransaction::verify` rate × cores.
//! 6. anvil, when found: the same signed-transfer workload through `eth_sendRawTransaction`.
//!
//! A table goes to stdout, progress to stderr, and the figures to
//! `target/weft-bench/e2e.json`. Executed is detected by polling `/health` (the head, no
//! database read) every 10 ms and fetching each new block's transaction hashes; that
//! granularity (plus one block fetch) is included in the latencies.
//!
//! | module        | what                                                               |
//! |---------------|--------------------------------------------------------------------|
//! | `node.rs`     | the node under test: start `weft-sequencer`, wait, stop            |
//! | `workload.rs` | pre-signed transfers, pre-serialized bodies, the dev accounts      |
//! | `progress.rs` | what was sent and executed, when; the block tracker               |
//! | `submit.rs`   | the clients, pacing, and what the node answered                    |
//! | `phases.rs`   | the throughput and latency phases                                  |
//! | `usage.rs`    | node metrics, per-thread CPU, the signature ceiling                |
//! | `anvil.rs`    | the same workload through anvil's `eth_sendRawTransaction`         |
//! | `feed.rs`     | `--feed`: live-feed subscribers through a steady load              |
//! | `scale.rs`    | `--jetstream`: the leader's rate from a preloaded JetStream stream |
//! | `admission.rs`| `--jetstream`: one admission node's rate, per core                  |
//! | `report.rs`   | the table and the JSON rows                                        |
//!
//! It talks to the node through `weft_api::Client` and decodes the API's own types.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::{Result, ensure};
use clap::Parser;
use weft_api::DEFAULT_MAX_BATCH;

mod admission;
mod anvil;
mod evm;
mod feed;
mod node;
mod phases;
mod progress;
mod report;
mod scale;
mod submit;
mod usage;
mod workload;

use anvil::run_anvil;
use node::Target;
use phases::run_sequencer;
use report::{Report, results_path, write_json};

/// Default transfers of the throughput phase.
pub(crate) const DEFAULT_TXS: usize = 100_000;
/// Default funded sender accounts.
pub(crate) const DEFAULT_ACCOUNTS: u32 = 2_000;
/// Default concurrent HTTP clients.
pub(crate) const DEFAULT_CLIENTS: usize = 32;
/// Default transactions per request of the throughput phase.
pub(crate) const DEFAULT_BATCH: usize = 100;
/// Default block time of the started node.
pub(crate) const DEFAULT_BLOCK_TIME_MS: u64 = 100;
/// Default load of the latency phase, as a fraction of the measured throughput.
pub(crate) const DEFAULT_LATENCY_LOAD: f64 = 0.5;
/// Default transactions per request of the latency phase.
pub(crate) const DEFAULT_LATENCY_BATCH: usize = 10;
/// Default fee of each transfer.
pub(crate) const DEFAULT_FEE: u128 = 1;
/// Amount of each transfer.
pub(crate) const AMOUNT: u128 = 1;
/// Default signatures recovered on one thread for the ceiling.
pub(crate) const DEFAULT_SIG_SAMPLES: usize = 3_000;
/// Timed rounds over the signature samples (the median counts).
pub(crate) const SIG_ROUNDS: usize = 5;
/// Default most transfers sent to anvil.
pub(crate) const DEFAULT_ANVIL_TXS: usize = 20_000;
/// Default anvil senders (one concurrent client each).
pub(crate) const DEFAULT_ANVIL_SENDERS: usize = 50;
/// Default eth_sendRawTransaction calls per anvil request (the documented peer setup).
pub(crate) const DEFAULT_ANVIL_BATCH: usize = 1;
/// Default anvil block time (interval mining; automine is pathological for bulk load).
pub(crate) const DEFAULT_ANVIL_BLOCK_TIME_S: f64 = 1.0;
/// Default anvil block gas limit: its own default (30M) caps a block at 1,428 transfers,
/// which would measure the gas limit rather than anvil.
pub(crate) const DEFAULT_ANVIL_GAS_LIMIT: u64 = 1_000_000_000;
/// Default longest wait for one phase, in seconds.
pub(crate) const DEFAULT_TIMEOUT_S: u64 = 120;
/// How often the head is polled.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often anvil's sender nonces are polled.
pub(crate) const ANVIL_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often the main loop checks the phase, the node and the clients.
pub(crate) const CHECK_INTERVAL: Duration = Duration::from_millis(10);
/// Pause before resubmitting a request the node refused for capacity.
pub(crate) const RETRY_DELAY: Duration = Duration::from_millis(20);
/// Attempts of a request that fails at the transport level.
pub(crate) const NETWORK_ATTEMPTS: u32 = 3;
/// Longest wait for a started node or anvil to answer.
pub(crate) const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Rejection codes that mean "try again later" (the node's condition, not the tx's fault).
pub(crate) const RETRYABLE: [&str; 2] = ["mempool_full", "rate_limited"];
/// anvil's `maxFeePerGas` and `maxPriorityFeePerGas` (generous: never the limit).
pub(crate) const ANVIL_MAX_FEE: u128 = 100_000_000_000;
pub(crate) const ANVIL_PRIORITY_FEE: u128 = 1_000_000_000;
/// Gas of an ETH transfer.
pub(crate) const TRANSFER_GAS: u64 = 21_000;
/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
pub(crate) const CLOCK_TICKS: f64 = 100.0;
/// Relative path of the npm-installed anvil.
pub(crate) const ANVIL_NPM_PATH: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// End-to-end load generator and benchmark of the Weft sequencer.
#[derive(Debug, Clone, Parser)]
#[command(name = "weft-loadgen", version)]
pub(crate) struct Args {
    /// Target an already running node (e.g. http://127.0.0.1:8547) instead of starting one;
    /// its dev accounts must include the first `--accounts`, without a rate limit.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// The sequencer binary to start [default: weft-sequencer beside this executable].
    #[arg(long)]
    pub(crate) node_bin: Option<PathBuf>,
    /// Extra argument for the started node (repeatable), e.g. `--node-arg=--max-block-txs=20000`.
    #[arg(long, allow_hyphen_values = true)]
    pub(crate) node_arg: Vec<String>,
    /// Block time of the started node, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_BLOCK_TIME_MS)]
    pub(crate) block_time_ms: u64,
    /// Transfers of the throughput phase.
    #[arg(short = 'n', long, default_value_t = DEFAULT_TXS)]
    pub(crate) txs: usize,
    /// Sender accounts: the node's dev accounts 0..M, each sending to the next.
    #[arg(short = 'm', long, default_value_t = DEFAULT_ACCOUNTS)]
    pub(crate) accounts: u32,
    /// Concurrent HTTP clients.
    #[arg(short = 'c', long, default_value_t = DEFAULT_CLIENTS)]
    pub(crate) clients: usize,
    /// Transactions per request of the throughput phase (1: POST /v1/transactions, more:
    /// POST /v1/transactions/batch).
    #[arg(short = 'b', long, default_value_t = DEFAULT_BATCH)]
    pub(crate) batch: usize,
    /// Load of the latency phase as a fraction of the measured throughput.
    #[arg(long, default_value_t = DEFAULT_LATENCY_LOAD)]
    pub(crate) latency_load: f64,
    /// Transactions per request of the latency phase.
    #[arg(long, default_value_t = DEFAULT_LATENCY_BATCH)]
    pub(crate) latency_batch: usize,
    /// Transfers of the latency phase [default: half of --txs].
    #[arg(long)]
    pub(crate) latency_txs: Option<usize>,
    /// Fee of each transfer.
    #[arg(long, default_value_t = DEFAULT_FEE)]
    pub(crate) fee: u128,
    /// Signatures recovered on one thread to measure the signature ceiling.
    #[arg(long, default_value_t = DEFAULT_SIG_SAMPLES)]
    pub(crate) sig_samples: usize,
    /// Most transfers sent to anvil (also capped by --txs).
    #[arg(long, default_value_t = DEFAULT_ANVIL_TXS)]
    pub(crate) anvil_txs: usize,
    /// anvil senders, one concurrent client each.
    #[arg(long, default_value_t = DEFAULT_ANVIL_SENDERS)]
    pub(crate) anvil_senders: usize,
    /// eth_sendRawTransaction calls per anvil request (more than 1: JSON-RPC batch arrays).
    #[arg(long, default_value_t = DEFAULT_ANVIL_BATCH)]
    pub(crate) anvil_batch: usize,
    /// anvil's interval-mining block time, in seconds.
    #[arg(long, default_value_t = DEFAULT_ANVIL_BLOCK_TIME_S)]
    pub(crate) anvil_block_time_s: f64,
    /// anvil's block gas limit.
    #[arg(long, default_value_t = DEFAULT_ANVIL_GAS_LIMIT)]
    pub(crate) anvil_gas_limit: u64,
    /// Skip the anvil comparison.
    #[arg(long)]
    pub(crate) no_anvil: bool,
    /// Instead of the REST benchmark: the same Ethereum transactions (ETH, then ERC-20
    /// transfers) through `eth_sendRawTransaction` to Weft and to anvil; results in
    /// `target/weft-bench/rpc.json`. `--anvil-txs` and `--anvil-senders` size it.
    #[arg(long)]
    pub(crate) evm: bool,
    /// `--evm`: transactions per request, one set of runs each (1: a request per
    /// transaction, as cast and viem send; more: JSON-RPC batch arrays, as ethers' batching
    /// provider and relayers send).
    #[arg(long, value_delimiter = ',', default_value = "1,100")]
    pub(crate) rpc_batch: Vec<usize>,
    /// Instead of the REST benchmark: `--feed-subscribers` live-feed connections
    /// (`/v1/ws`) through `--feed-seconds` of transfers at `--feed-rate`; every subscriber
    /// must receive every block. Results in `target/weft-bench/feed.json`.
    #[arg(long)]
    pub(crate) feed: bool,
    /// Instead of the REST benchmark: the leader's rate from NATS JetStream: `--txs`
    /// pre-verified transfers published to a fresh stream first, then a node started with
    /// `--nats-url` takes them (`--node-arg=--database-url=…` for PostgreSQL); results in
    /// `target/weft-bench/scale.json`.
    #[arg(long)]
    pub(crate) jetstream: bool,
    /// With `--jetstream`: the leader's figures only, no admission node measured.
    #[arg(long)]
    pub(crate) no_admission: bool,
    /// NATS server of `--jetstream`.
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub(crate) nats_url: String,
    /// Live-feed subscribers of `--feed`.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) feed_subscribers: usize,
    /// Seconds of load of `--feed`.
    #[arg(long, default_value_t = 30.0)]
    pub(crate) feed_seconds: f64,
    /// Transfers per second of `--feed`.
    #[arg(long, default_value_t = 2_000.0)]
    pub(crate) feed_rate: f64,
    /// Longest wait for one phase to be executed, in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_S)]
    pub(crate) timeout_s: u64,
    /// The JSON results file [default: $CARGO_TARGET_DIR or <repo>/target, then
    /// weft-bench/e2e.json].
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
}

impl Args {
    pub(crate) fn validate(&self) -> Result<()> {
        ensure!(self.txs > 0, "--txs must be positive");
        ensure!(self.accounts >= 2, "--accounts must be at least 2");
        ensure!(self.clients > 0, "--clients must be positive");
        for (flag, b) in [
            ("--batch", self.batch),
            ("--latency-batch", self.latency_batch),
        ] {
            ensure!(
                (1..=DEFAULT_MAX_BATCH).contains(&b),
                "{flag} must be in 1..={DEFAULT_MAX_BATCH}"
            );
        }
        ensure!(
            self.latency_load > 0.0 && self.latency_load <= 1.0,
            "--latency-load must be in (0, 1]"
        );
        ensure!(self.anvil_senders > 0, "--anvil-senders must be positive");
        ensure!(self.anvil_batch > 0, "--anvil-batch must be positive");
        ensure!(
            !self.rpc_batch.is_empty() && self.rpc_batch.iter().all(|b| (1..=100).contains(b)),
            "--rpc-batch takes sizes from 1 to 100 (the sequencer's batch limit)"
        );
        ensure!(
            self.anvil_block_time_s > 0.0,
            "--anvil-block-time-s must be positive (automine is pathological for bulk load)"
        );
        ensure!(self.block_time_ms >= 10, "--block-time-ms must be >= 10");
        ensure!(
            self.feed_rate > 0.0 && self.feed_seconds > 0.0,
            "--feed-rate and --feed-seconds must be positive"
        );
        Ok(())
    }

    pub(crate) fn latency_txs(&self) -> usize {
        self.latency_txs.unwrap_or(self.txs / 2)
    }

    pub(crate) fn anvil_txs(&self) -> usize {
        self.anvil_txs.min(self.txs)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run_and_report(&Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft-loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) async fn run_and_report(args: &Args) -> Result<()> {
    args.validate()?;
    if args.evm {
        return run_evm_and_report(args).await;
    }
    if args.feed {
        return feed::run_feed_and_report(args).await;
    }
    if args.jetstream {
        return scale::run_scale_and_report(args).await;
    }
    let report = run(args).await?;
    print!("{}", report.table(args));
    let path = results_path(args);
    write_json(&path, &report.json(args))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `--evm`: a node whose dev accounts are the senders, then the comparison.
async fn run_evm_and_report(args: &Args) -> Result<()> {
    let node_args = Args {
        accounts: u32::try_from(args.anvil_senders)?,
        ..args.clone()
    };
    let mut target = match &args.url {
        Some(url) => Target::external(url),
        None => Target::start(&node_args).await?,
    };
    let url = target.api.base().to_owned();
    let outcome = evm::run_evm(args, &url).await;
    target.stop().await;
    let report = outcome?;
    print!("{}", report.table(args));
    let path = results_path(args).with_file_name("rpc.json");
    write_json(&path, &report.json(args))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Every phase in order; the node and anvil are stopped on every path out.
pub(crate) async fn run(args: &Args) -> Result<Report> {
    let mut target = match &args.url {
        Some(url) => Target::external(url),
        None => Target::start(args).await?,
    };
    let outcome = run_sequencer(args, &mut target).await;
    target.stop().await;
    let sequencer = outcome?;
    let anvil = if args.no_anvil {
        eprintln!("anvil: skipped (--no-anvil)");
        None
    } else {
        run_anvil(args).await?
    };
    Ok(Report { sequencer, anvil })
}

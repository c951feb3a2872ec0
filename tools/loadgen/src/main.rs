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

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    net::{Ipv4Addr, TcpListener},
    ops::Range,
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use alloy_consensus::{SignableTransaction, TxEip1559};
use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Parser;
use parking_lot::Mutex;
use rayon::prelude::*;
use serde::{Deserialize, de::DeserializeOwned};
use serde_json::{Value, json};
use tokio::{process::Child, task::JoinSet};
use weft_protocol::{
    eip712::Domain,
    primitives::{Address, B256, U256},
    signature::SigningKey,
    transaction::{SignedTransaction, Transaction, Transfer},
};
use weft_sequencer::config::{DEFAULT_MAX_BATCH, GenesisConfig};

/// Default transfers of the throughput phase.
const DEFAULT_TXS: usize = 100_000;
/// Default funded sender accounts.
const DEFAULT_ACCOUNTS: u32 = 2_000;
/// Default concurrent HTTP clients.
const DEFAULT_CLIENTS: usize = 32;
/// Default transactions per request of the throughput phase.
const DEFAULT_BATCH: usize = 100;
/// Default block time of the started node.
const DEFAULT_BLOCK_TIME_MS: u64 = 100;
/// Default load of the latency phase, as a fraction of the measured throughput.
const DEFAULT_LATENCY_LOAD: f64 = 0.5;
/// Default transactions per request of the latency phase.
const DEFAULT_LATENCY_BATCH: usize = 10;
/// Default fee of each transfer.
const DEFAULT_FEE: u128 = 1;
/// Amount of each transfer.
const AMOUNT: u128 = 1;
/// Default signatures recovered on one thread for the ceiling.
const DEFAULT_SIG_SAMPLES: usize = 3_000;
/// Timed rounds over the signature samples (the median counts).
const SIG_ROUNDS: usize = 5;
/// Default most transfers sent to anvil.
const DEFAULT_ANVIL_TXS: usize = 20_000;
/// Default anvil senders (one concurrent client each).
const DEFAULT_ANVIL_SENDERS: usize = 50;
/// Default eth_sendRawTransaction calls per anvil request (the documented peer setup).
const DEFAULT_ANVIL_BATCH: usize = 1;
/// Default anvil block time (interval mining; automine is pathological for bulk load).
const DEFAULT_ANVIL_BLOCK_TIME_S: f64 = 1.0;
/// Default anvil block gas limit: its own default (30M) caps a block at 1,428 transfers,
/// which would measure the gas limit rather than anvil.
const DEFAULT_ANVIL_GAS_LIMIT: u64 = 1_000_000_000;
/// Default longest wait for one phase, in seconds.
const DEFAULT_TIMEOUT_S: u64 = 120;
/// How often the head is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often anvil's sender nonces are polled.
const ANVIL_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How often the main loop checks the phase, the node and the clients.
const CHECK_INTERVAL: Duration = Duration::from_millis(10);
/// Pause before resubmitting a request the node refused for capacity.
const RETRY_DELAY: Duration = Duration::from_millis(20);
/// Attempts of a request that fails at the transport level.
const NETWORK_ATTEMPTS: u32 = 3;
/// Longest wait for a started node or anvil to answer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Rejection codes that mean "try again later" (the node's condition, not the tx's fault).
const RETRYABLE: [&str; 2] = ["mempool_full", "rate_limited"];
/// anvil's `maxFeePerGas` and `maxPriorityFeePerGas` (generous: never the limit).
const ANVIL_MAX_FEE: u128 = 100_000_000_000;
const ANVIL_PRIORITY_FEE: u128 = 1_000_000_000;
/// Gas of an ETH transfer.
const TRANSFER_GAS: u64 = 21_000;
/// Clock ticks per second of `/proc/*/stat` (USER_HZ, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;
/// Relative path of the npm-installed anvil.
const ANVIL_NPM_PATH: &str = "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// End-to-end load generator and benchmark of the Weft sequencer.
#[derive(Debug, Parser)]
#[command(name = "weft-loadgen", version)]
struct Args {
    /// Target an already running node (e.g. http://127.0.0.1:8547) instead of starting one;
    /// its dev accounts must include the first `--accounts`, without a rate limit.
    #[arg(long)]
    url: Option<String>,
    /// The sequencer binary to start [default: weft-sequencer beside this executable].
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// Extra argument for the started node (repeatable), e.g. `--node-arg=--max-block-txs=20000`.
    #[arg(long, allow_hyphen_values = true)]
    node_arg: Vec<String>,
    /// Block time of the started node, in milliseconds.
    #[arg(long, default_value_t = DEFAULT_BLOCK_TIME_MS)]
    block_time_ms: u64,
    /// Transfers of the throughput phase.
    #[arg(short = 'n', long, default_value_t = DEFAULT_TXS)]
    txs: usize,
    /// Sender accounts: the node's dev accounts 0..M, each sending to the next.
    #[arg(short = 'm', long, default_value_t = DEFAULT_ACCOUNTS)]
    accounts: u32,
    /// Concurrent HTTP clients.
    #[arg(short = 'c', long, default_value_t = DEFAULT_CLIENTS)]
    clients: usize,
    /// Transactions per request of the throughput phase (1: POST /v1/transactions, more:
    /// POST /v1/transactions/batch).
    #[arg(short = 'b', long, default_value_t = DEFAULT_BATCH)]
    batch: usize,
    /// Load of the latency phase as a fraction of the measured throughput.
    #[arg(long, default_value_t = DEFAULT_LATENCY_LOAD)]
    latency_load: f64,
    /// Transactions per request of the latency phase.
    #[arg(long, default_value_t = DEFAULT_LATENCY_BATCH)]
    latency_batch: usize,
    /// Transfers of the latency phase [default: half of --txs].
    #[arg(long)]
    latency_txs: Option<usize>,
    /// Fee of each transfer.
    #[arg(long, default_value_t = DEFAULT_FEE)]
    fee: u128,
    /// Signatures recovered on one thread to measure the signature ceiling.
    #[arg(long, default_value_t = DEFAULT_SIG_SAMPLES)]
    sig_samples: usize,
    /// Most transfers sent to anvil (also capped by --txs).
    #[arg(long, default_value_t = DEFAULT_ANVIL_TXS)]
    anvil_txs: usize,
    /// anvil senders, one concurrent client each.
    #[arg(long, default_value_t = DEFAULT_ANVIL_SENDERS)]
    anvil_senders: usize,
    /// eth_sendRawTransaction calls per anvil request (more than 1: JSON-RPC batch arrays).
    #[arg(long, default_value_t = DEFAULT_ANVIL_BATCH)]
    anvil_batch: usize,
    /// anvil's interval-mining block time, in seconds.
    #[arg(long, default_value_t = DEFAULT_ANVIL_BLOCK_TIME_S)]
    anvil_block_time_s: f64,
    /// anvil's block gas limit.
    #[arg(long, default_value_t = DEFAULT_ANVIL_GAS_LIMIT)]
    anvil_gas_limit: u64,
    /// Skip the anvil comparison.
    #[arg(long)]
    no_anvil: bool,
    /// Longest wait for one phase to be executed, in seconds.
    #[arg(long, default_value_t = DEFAULT_TIMEOUT_S)]
    timeout_s: u64,
    /// The JSON results file [default: $CARGO_TARGET_DIR or <repo>/target, then
    /// weft-bench/e2e.json].
    #[arg(long)]
    out: Option<PathBuf>,
}

impl Args {
    fn validate(&self) -> Result<()> {
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
            self.anvil_block_time_s > 0.0,
            "--anvil-block-time-s must be positive (automine is pathological for bulk load)"
        );
        ensure!(self.block_time_ms >= 10, "--block-time-ms must be >= 10");
        Ok(())
    }

    fn latency_txs(&self) -> usize {
        self.latency_txs.unwrap_or(self.txs / 2)
    }

    fn anvil_txs(&self) -> usize {
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

async fn run_and_report(args: &Args) -> Result<()> {
    args.validate()?;
    let report = run(args).await?;
    print!("{}", report.table(args));
    let path = results_path(args);
    write_json(&path, &report.json(args))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Every phase in order; the node and anvil are stopped on every path out.
async fn run(args: &Args) -> Result<Report> {
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

// ---------------------------------------------------------------------------------------
// The node under test
// ---------------------------------------------------------------------------------------

/// The node: a child process the loadgen started, or an external one.
struct Target {
    api: Api,
    child: Option<ChildNode>,
}

/// A started node and what to clean up after it.
struct ChildNode {
    process: Child,
    pid: u32,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Target {
    fn external(url: &str) -> Self {
        eprintln!("node: external, {url}");
        Self {
            api: Api::new(url.trim_end_matches('/')),
            child: None,
        }
    }

    /// Starts `weft-sequencer` on a free loopback port with a fresh SQLite directory.
    async fn start(args: &Args) -> Result<Self> {
        let bin = node_binary(args)?;
        let dir = tempfile::Builder::new()
            .prefix("weft-loadgen-")
            .tempdir()
            .context("create a temporary data directory")?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let mut argv: Vec<String> = vec![
            "--listen".into(),
            listen.clone(),
            "--data-dir".into(),
            dir.path().join("data").display().to_string(),
            "--dev-accounts".into(),
            args.accounts.to_string(),
            "--rate-per-second".into(),
            "0".into(),
            "--block-time-ms".into(),
            args.block_time_ms.to_string(),
        ];
        argv.extend(args.node_arg.iter().cloned());
        eprintln!("node: {} {}", bin.display(), argv.join(" "));
        let log = dir.path().join("node.log");
        let log_file = std::fs::File::create(&log).context("create the node log")?;
        let process = tokio::process::Command::new(&bin)
            .args(&argv)
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        let pid = process.id().context("the node has no pid")?;
        let mut target = Self {
            api: Api::new(&format!("http://{listen}")),
            child: Some(ChildNode {
                process,
                pid,
                log,
                _dir: dir,
            }),
        };
        target.wait_ready().await?;
        Ok(target)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            self.check_alive()?;
            if self.api.get_json::<Health>("/health").await.is_ok() {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "the node did not answer in time");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails if the started node has exited, with the end of its log.
    fn check_alive(&mut self) -> Result<()> {
        let Some(child) = &mut self.child else {
            return Ok(());
        };
        if let Some(status) = child.process.try_wait().context("poll the node")? {
            let log = std::fs::read_to_string(&child.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "the node exited ({status}); its log ends:\n{}",
                tail.join("\n")
            );
        }
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.pid)
    }

    async fn stop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.process.start_kill();
            let _ = child.process.wait().await;
        }
    }
}

fn node_binary(args: &Args) -> Result<PathBuf> {
    let bin = match &args.node_bin {
        Some(bin) => bin.clone(),
        None => std::env::current_exe()
            .context("locate this executable")?
            .with_file_name(format!("weft-sequencer{}", std::env::consts::EXE_SUFFIX)),
    };
    ensure!(
        bin.is_file(),
        "{} not found: build it (cargo build --release -p weft-sequencer --bins) or pass --node-bin",
        bin.display()
    );
    Ok(bin)
}

/// A loopback port nobody listens on right now.
fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("find a free port")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

/// A client of the node's REST API.
#[derive(Debug, Clone)]
struct Api {
    base: String,
    http: reqwest::Client,
}

#[derive(Debug, Deserialize)]
struct Health {
    head: u64,
}

#[derive(Debug, Deserialize)]
struct BlockView {
    transactions: Vec<B256>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountView {
    next_nonce: u64,
    balances: Vec<BalanceView>,
}

#[derive(Debug, Deserialize)]
struct BalanceView {
    token: u32,
    amount: String,
}

#[derive(Debug, Deserialize)]
struct ErrorReply {
    code: String,
}

#[derive(Debug, Deserialize)]
struct BatchReply {
    results: Vec<ItemReply>,
}

#[derive(Debug, Deserialize)]
struct ItemReply {
    #[serde(default)]
    error: Option<ErrorReply>,
}

impl Api {
    fn new(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .pool_idle_timeout(None)
            .build()
            .expect("a plain HTTP client builds");
        Self {
            base: base.to_string(),
            http,
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .with_context(|| format!("GET {url}: read body"))?;
        ensure!(
            status.is_success(),
            "GET {url}: {status}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).with_context(|| format!("GET {url}: unexpected body"))
    }

    /// POSTs a JSON body; transport errors are retried a few times.
    async fn post(&self, path: &str, body: &[u8]) -> Result<(reqwest::StatusCode, Vec<u8>)> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 1;
        loop {
            let sent = self
                .http
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .send()
                .await;
            let result = match sent {
                Ok(r) => {
                    let status = r.status();
                    r.bytes().await.map(|b| (status, b.to_vec()))
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(ok) => return Ok(ok),
                Err(e) if attempt < NETWORK_ATTEMPTS => {
                    eprintln!("POST {url}: {e}; retrying");
                    attempt += 1;
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                Err(e) => return Err(e).with_context(|| format!("POST {url}")),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Workload
// ---------------------------------------------------------------------------------------

/// One pre-serialized request and the transactions it carries.
#[derive(Debug)]
struct Request {
    body: Vec<u8>,
    txs: Range<usize>,
}

/// The requests of one phase.
#[derive(Debug)]
struct PhaseRequests {
    /// `POST /v1/transactions` (one each) rather than the batch route.
    single: bool,
    requests: Vec<Request>,
}

impl PhaseRequests {
    fn path(&self) -> &'static str {
        if self.single {
            "/v1/transactions"
        } else {
            "/v1/transactions/batch"
        }
    }

    fn txs(&self) -> Range<usize> {
        let start = self.requests.first().map_or(0, |r| r.txs.start);
        let end = self.requests.last().map_or(0, |r| r.txs.end);
        start..end
    }
}

/// Everything signed and serialized before timing.
#[derive(Debug)]
struct Workload {
    /// Canonical hash of every transaction, by index (throughput phase first).
    hashes: Vec<B256>,
    /// A few signed transactions for the signature ceiling.
    samples: Vec<SignedTransaction>,
    throughput: PhaseRequests,
    latency: PhaseRequests,
}

/// The shape of the workload (the part of [`Args`] signing needs).
#[derive(Debug, Clone, Copy)]
struct WorkloadSpec {
    txs: usize,
    latency_txs: usize,
    batch: usize,
    latency_batch: usize,
    fee: u128,
    sig_samples: usize,
}

impl From<&Args> for WorkloadSpec {
    fn from(a: &Args) -> Self {
        Self {
            txs: a.txs,
            latency_txs: a.latency_txs(),
            batch: a.batch,
            latency_batch: a.latency_batch,
            fee: a.fee,
            sig_samples: a.sig_samples,
        }
    }
}

/// Transaction `i` goes from account `i % M` with that account's nonce `start + i / M`, so
/// consecutive transactions (one request) come from distinct senders and every sender's
/// nonces advance in submission order.
fn build_workload(
    args: WorkloadSpec,
    domain: &Domain,
    keys: &[SigningKey],
    start_nonces: &[u64],
) -> Workload {
    let m = keys.len();
    let total = args.txs + args.latency_txs;
    let signed: Vec<(B256, SignedTransaction, Vec<u8>)> = (0..total)
        .into_par_iter()
        .map(|i| {
            let (a, round) = (i % m, (i / m) as u64);
            let transaction = Transaction::Transfer(Transfer {
                from: keys[a].address(),
                to: keys[(a + 1) % m].address(),
                token: 0,
                amount: AMOUNT,
                fee: args.fee,
                nonce: start_nonces[a] + round,
            });
            let hash = transaction.hash(domain);
            let signed = SignedTransaction {
                signature: keys[a].sign_digest(&hash),
                transaction,
            };
            let json = serde_json::to_vec(&signed).expect("a transaction serializes");
            (hash, signed, json)
        })
        .collect();
    let hashes = signed.iter().map(|(h, _, _)| *h).collect();
    let samples = signed
        .iter()
        .take(args.sig_samples)
        .map(|(_, s, _)| s.clone())
        .collect();
    let jsons: Vec<&[u8]> = signed.iter().map(|(_, _, j)| j.as_slice()).collect();
    Workload {
        hashes,
        samples,
        throughput: phase_requests(&jsons, 0..args.txs, args.batch),
        latency: phase_requests(&jsons, args.txs..total, args.latency_batch),
    }
}

fn phase_requests(jsons: &[&[u8]], txs: Range<usize>, batch: usize) -> PhaseRequests {
    let single = batch == 1;
    let starts: Vec<usize> = txs.clone().step_by(batch).collect();
    let requests = starts
        .into_par_iter()
        .map(|start| {
            let range = start..(start + batch).min(txs.end);
            let body = if single {
                jsons[start].to_vec()
            } else {
                batch_body(&jsons[range.clone()])
            };
            Request { body, txs: range }
        })
        .collect();
    PhaseRequests { single, requests }
}

fn batch_body(jsons: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::with_capacity(jsons.iter().map(|j| j.len() + 1).sum::<usize>() + 20);
    body.extend_from_slice(b"{\"transactions\":[");
    for (i, j) in jsons.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(j);
    }
    body.extend_from_slice(b"]}");
    body
}

/// The dev keys 0..M and their next nonces on the node; fails if one is not funded.
async fn dev_accounts(args: &Args, api: &Api) -> Result<(Vec<SigningKey>, Vec<u64>)> {
    let keys: Vec<SigningKey> = (0..args.accounts)
        .into_par_iter()
        .map(GenesisConfig::dev_key)
        .collect();
    let addresses: Arc<Vec<Address>> = Arc::new(keys.iter().map(SigningKey::address).collect());
    let mut tasks = JoinSet::new();
    let chunk = addresses.len().div_ceil(args.clients);
    for start in (0..addresses.len()).step_by(chunk) {
        let (api, addresses) = (api.clone(), addresses.clone());
        tasks.spawn(async move {
            let mut nonces = Vec::new();
            for (i, address) in addresses.iter().enumerate().skip(start).take(chunk) {
                let account: AccountView = api.get_json(&format!("/v1/accounts/{address}")).await?;
                let funded = account
                    .balances
                    .iter()
                    .any(|b| b.token == 0 && b.amount != "0");
                ensure!(
                    funded,
                    "dev account {i} ({address}) has no balance: the node must run with \
                     --dev-accounts >= {}",
                    addresses.len()
                );
                nonces.push(account.next_nonce);
            }
            Ok::<_, anyhow::Error>((start, nonces))
        });
    }
    let mut parts = Vec::new();
    while let Some(part) = tasks.join_next().await {
        parts.push(part.context("account task")??);
    }
    parts.sort_by_key(|(start, _)| *start);
    let nonces = parts.into_iter().flat_map(|(_, n)| n).collect();
    Ok((keys, nonces))
}

// ---------------------------------------------------------------------------------------
// Shared progress: what was sent, accepted, rejected and executed, and when
// ---------------------------------------------------------------------------------------

/// State shared by the clients, the block tracker, the progress printer and the phases.
/// Times are nanoseconds since `base`, plus one (0 means "not yet").
#[derive(Debug)]
struct Shared {
    base: Instant,
    index: HashMap<B256, u32>,
    sent_ns: Vec<AtomicU64>,
    executed_ns: Vec<AtomicU64>,
    submitted: AtomicU64,
    rejected: AtomicU64,
    executed: AtomicU64,
    head: AtomicU64,
    last_reply_ns: AtomicU64,
    max_lag_ns: AtomicU64,
    rejections: Mutex<BTreeMap<String, u64>>,
    retries: Mutex<BTreeMap<String, u64>>,
    /// Transactions of every block the tracker saw, in order.
    block_txs: Mutex<Vec<usize>>,
    phase: Mutex<&'static str>,
    tracker_error: Mutex<Option<String>>,
}

impl Shared {
    fn new(hashes: &[B256], head: u64) -> Self {
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

    fn now_ns(&self) -> u64 {
        self.ns_of(Instant::now())
    }

    fn ns_of(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.base).as_nanos() as u64 + 1
    }

    fn at(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns.saturating_sub(1))
    }

    fn mark_sent(&self, txs: Range<usize>, ns: u64) {
        for i in txs {
            // The first attempt counts: a resubmission after `mempool_full` is the node's delay.
            let _ = self.sent_ns[i].compare_exchange(0, ns, Relaxed, Relaxed);
        }
    }

    fn mark_executed(&self, hashes: &[B256], ns: u64) {
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

    fn reject(&self, code: &str) {
        self.rejected.fetch_add(1, Relaxed);
        *self.rejections.lock().entry(code.to_string()).or_default() += 1;
    }

    fn retry(&self, code: &str) {
        *self.retries.lock().entry(code.to_string()).or_default() += 1;
    }

    fn set_phase(&self, phase: &'static str) {
        *self.phase.lock() = phase;
    }

    /// Latest execution time of `txs` and how many were executed.
    fn executed_in(&self, txs: Range<usize>) -> (usize, u64) {
        self.executed_ns[txs]
            .iter()
            .map(|t| t.load(Relaxed))
            .filter(|&t| t > 0)
            .fold((0, 0), |(n, last), t| (n + 1, last.max(t)))
    }

    /// Submit→executed latencies of `txs`, in milliseconds, sorted.
    fn latencies_ms(&self, txs: Range<usize>) -> Vec<f64> {
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
async fn track_blocks(api: Api, shared: Arc<Shared>) {
    let mut last = shared.head.load(Relaxed);
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let result = async {
            let health: Health = api.get_json("/health").await?;
            let seen = shared.now_ns();
            for n in last + 1..=health.head {
                let block: BlockView = api.get_json(&format!("/v1/blocks/{n}")).await?;
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
async fn print_progress(shared: Arc<Shared>) {
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

// ---------------------------------------------------------------------------------------
// Submission
// ---------------------------------------------------------------------------------------

/// Paces requests: request `k` is due at `start + k × interval`.
#[derive(Debug, Clone, Copy)]
struct Pacing {
    start: tokio::time::Instant,
    interval: Duration,
}

impl Pacing {
    fn due(&self, k: usize) -> tokio::time::Instant {
        self.start + self.interval.mul_f64(k as f64)
    }
}

/// One client: takes the next request until none is left.
async fn client(
    api: Api,
    shared: Arc<Shared>,
    phase: Arc<PhaseRequests>,
    next: Arc<AtomicUsize>,
    pacing: Option<Pacing>,
) -> Result<()> {
    loop {
        let k = next.fetch_add(1, Relaxed);
        let Some(request) = phase.requests.get(k) else {
            return Ok(());
        };
        if let Some(p) = pacing {
            let due = p.due(k);
            tokio::time::sleep_until(due).await;
            let lag = tokio::time::Instant::now().saturating_duration_since(due);
            shared.max_lag_ns.fetch_max(lag.as_nanos() as u64, Relaxed);
        }
        submit(&api, &shared, &phase, request).await?;
    }
}

/// What the node answered to one request.
enum Answer {
    /// Refused for capacity: send it again.
    Retry(String),
    /// One entry per transaction: `None` accepted, `Some(code)` rejected.
    Results(Vec<Option<String>>),
}

/// Sends one request until the node takes it (resubmission is idempotent).
async fn submit(
    api: &Api,
    shared: &Shared,
    phase: &PhaseRequests,
    request: &Request,
) -> Result<()> {
    loop {
        shared.mark_sent(request.txs.clone(), shared.now_ns());
        let (status, body) = api.post(phase.path(), &request.body).await?;
        shared.last_reply_ns.fetch_max(shared.now_ns(), Relaxed);
        match parse_answer(phase.single, status, &body, request.txs.len())? {
            Answer::Retry(code) => {
                shared.retry(&code);
                tokio::time::sleep(RETRY_DELAY).await;
            }
            Answer::Results(results) => {
                for code in results.iter().flatten() {
                    shared.reject(code);
                }
                let accepted = results.iter().filter(|r| r.is_none()).count();
                shared.submitted.fetch_add(accepted as u64, Relaxed);
                return Ok(());
            }
        }
    }
}

fn parse_answer(
    single: bool,
    status: reqwest::StatusCode,
    body: &[u8],
    txs: usize,
) -> Result<Answer> {
    let text = || String::from_utf8_lossy(body).into_owned();
    if !status.is_success() {
        let error: ErrorReply = serde_json::from_slice(body)
            .with_context(|| format!("{status} without an error code: {}", text()))?;
        if RETRYABLE.contains(&error.code.as_str()) {
            return Ok(Answer::Retry(error.code));
        }
        ensure!(single, "batch refused: {status}: {}", text());
        return Ok(Answer::Results(vec![Some(error.code)]));
    }
    if single {
        return Ok(Answer::Results(vec![None]));
    }
    let reply: BatchReply = serde_json::from_slice(body)
        .with_context(|| format!("unexpected batch reply: {}", text()))?;
    ensure!(
        reply.results.len() == txs,
        "batch reply has {} results for {txs} transactions",
        reply.results.len()
    );
    let codes: Vec<Option<String>> = reply
        .results
        .into_iter()
        .map(|r| r.error.map(|e| e.code))
        .collect();
    if let Some(code) = codes
        .iter()
        .flatten()
        .find(|c| RETRYABLE.contains(&c.as_str()))
    {
        return Ok(Answer::Retry(code.clone()));
    }
    Ok(Answer::Results(codes))
}

// ---------------------------------------------------------------------------------------
// Phases
// ---------------------------------------------------------------------------------------

/// Figures of one phase.
#[derive(Debug, Default)]
struct PhaseResult {
    txs: usize,
    executed: usize,
    /// First submission to the last transaction seen executed.
    elapsed: Duration,
    /// First submission to the last reply.
    submit_elapsed: Duration,
    latencies_ms: Vec<f64>,
    blocks: usize,
    max_block_txs: usize,
    node: Option<NodeUsage>,
}

impl PhaseResult {
    fn executed_tps(&self) -> f64 {
        self.executed as f64 / self.elapsed.as_secs_f64()
    }

    fn submitted_tps(&self) -> f64 {
        self.txs as f64 / self.submit_elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies_ms, p)
    }
}

/// Everything measured against the sequencer.
#[derive(Debug)]
struct SequencerResult {
    throughput: PhaseResult,
    latency: PhaseResult,
    latency_target_tps: f64,
    max_lag: Duration,
    sig: SigCeiling,
    rejections: BTreeMap<String, u64>,
    retries: BTreeMap<String, u64>,
    started_node: bool,
}

async fn run_sequencer(args: &Args, target: &mut Target) -> Result<SequencerResult> {
    let api = target.api.clone();
    let domain: Domain = api.get_json("/v1/domain").await?;
    let head = api.get_json::<Health>("/health").await?.head;
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

async fn run_phases(
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
async fn run_phase(
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

// ---------------------------------------------------------------------------------------
// Where the time goes: node metrics and per-thread CPU
// ---------------------------------------------------------------------------------------

/// The node's unlabelled metrics (sums, counts, counters, gauges).
async fn scrape_metrics(api: &Api) -> Result<HashMap<String, f64>> {
    let url = format!("{}/metrics", api.base);
    let text = api
        .http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| {
            let (name, value) = l.split_once(' ')?;
            Some((name.to_string(), value.trim().parse().ok()?))
        })
        .collect())
}

/// CPU seconds of a process's threads, summed by thread name without its trailing number
/// (`weft-sig-0` and `weft-sig-1` are `weft-sig`). Empty where `/proc` is not readable.
fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(dir.join("comm")),
            std::fs::read_to_string(dir.join("stat")),
        ) else {
            continue;
        };
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
            f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
        });
        let name = comm
            .trim()
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end_matches('-')
            .to_string();
        *out.entry(name).or_default() += ticks / CLOCK_TICKS;
    }
    out
}

/// CPU seconds the whole box spent busy (all processes, all cores) since boot.
fn box_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<f64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: f64 = ticks.iter().take(8).sum::<f64>() - ticks.get(3)? - ticks.get(4)?;
    Some(busy / CLOCK_TICKS)
}

/// What the node spent during a phase.
#[derive(Debug)]
struct NodeUsage {
    blocks: f64,
    executor_ms_per_block: f64,
    store_ms_per_block: f64,
    /// Share of the phase the builder spent executing and storing.
    builder_busy: f64,
    /// Cores used by the node, by thread group, largest first.
    node_cores: Vec<(String, f64)>,
    /// Cores used by this load generator.
    loadgen_cores: f64,
    /// Cores busy on the whole box (every process), if readable.
    box_cores: Option<f64>,
}

impl NodeUsage {
    fn between(
        before: &HashMap<String, f64>,
        after: &HashMap<String, f64>,
        node_cpu: Option<(BTreeMap<String, f64>, BTreeMap<String, f64>)>,
        self_cpu: (BTreeMap<String, f64>, BTreeMap<String, f64>),
        box_busy: Option<f64>,
        elapsed: Duration,
    ) -> Self {
        let delta = |k: &str| after.get(k).unwrap_or(&0.0) - before.get(k).unwrap_or(&0.0);
        let blocks = delta("weft_executor_seconds_count");
        let exec = delta("weft_executor_seconds_sum");
        let store = delta("weft_store_seconds_sum");
        let secs = elapsed.as_secs_f64();
        let per_block = |s: f64| if blocks > 0.0 { s * 1e3 / blocks } else { 0.0 };
        let cores = |(b, a): (BTreeMap<String, f64>, BTreeMap<String, f64>)| {
            let mut v: Vec<(String, f64)> = a
                .iter()
                .map(|(k, x)| (k.clone(), (x - b.get(k).unwrap_or(&0.0)) / secs))
                .filter(|(_, c)| *c >= 0.005)
                .collect();
            v.sort_by(|x, y| y.1.total_cmp(&x.1));
            v
        };
        Self {
            blocks,
            executor_ms_per_block: per_block(exec),
            store_ms_per_block: per_block(store),
            builder_busy: (exec + store) / secs,
            node_cores: node_cpu.map(cores).unwrap_or_default(),
            loadgen_cores: cores(self_cpu).iter().fold(0.0, |sum, c| sum + c.1),
            box_cores: box_busy.map(|b| b / secs),
        }
    }

    fn describe(&self) -> String {
        let mut s = format!(
            "{:.0} blocks, executor {:.1} ms/block, store {:.1} ms/block, builder busy {:.0}%",
            self.blocks,
            self.executor_ms_per_block,
            self.store_ms_per_block,
            self.builder_busy * 100.0
        );
        let node_total = self.node_cores.iter().fold(0.0, |sum, c| sum + c.1);
        if !self.node_cores.is_empty() {
            let groups: Vec<String> = self
                .node_cores
                .iter()
                .map(|(n, c)| format!("{n} {c:.2}"))
                .collect();
            let _ = write!(
                s,
                "\n    node CPU {node_total:.2} cores: {}",
                groups.join(", ")
            );
        }
        let _ = write!(s, "\n    loadgen CPU {:.2} cores", self.loadgen_cores);
        if let Some(busy) = self.box_cores.filter(|_| node_total > 0.0) {
            // Tick granularity can make the difference slightly negative.
            let others = (busy - node_total - self.loadgen_cores).max(0.0);
            let _ = write!(
                s,
                "; box busy {busy:.2} cores, of which other processes {others:.2}"
            );
        }
        s
    }
}

// ---------------------------------------------------------------------------------------
// Signature ceiling
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct SigCeiling {
    per_thread: f64,
    cores: usize,
}

impl SigCeiling {
    fn tps(&self) -> f64 {
        self.per_thread * self.cores as f64
    }
}

/// Recovers every sample's signer on this thread (what admission does per transaction),
/// [`SIG_ROUNDS`] times; the median round's rate counts.
fn measure_sig_ceiling(samples: &[SignedTransaction], domain: &Domain) -> Result<SigCeiling> {
    ensure!(!samples.is_empty(), "no signature samples");
    let warmup = samples.len().min(100);
    for s in &samples[..warmup] {
        std::hint::black_box(s.verify(domain)).map_err(|e| anyhow!("sample: {e}"))?;
    }
    let mut rates = Vec::with_capacity(SIG_ROUNDS);
    for _ in 0..SIG_ROUNDS {
        let started = Instant::now();
        for s in samples {
            std::hint::black_box(s.verify(domain)).map_err(|e| anyhow!("sample: {e}"))?;
        }
        rates.push(samples.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let per_thread = rates[rates.len() / 2];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    eprintln!(
        "signature recovery: {per_thread:.0}/s on one thread (median of {SIG_ROUNDS} rounds, \
         {:.0}..{:.0}), {cores} cores",
        rates[0],
        rates[rates.len() - 1]
    );
    Ok(SigCeiling { per_thread, cores })
}

// ---------------------------------------------------------------------------------------
// anvil
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct AnvilResult {
    txs: usize,
    senders: usize,
    /// First submission to all mined.
    elapsed: Duration,
    /// First submission to the last accepted.
    accept_elapsed: Duration,
}

impl AnvilResult {
    fn tps(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }

    fn accepted_tps(&self) -> f64 {
        self.txs as f64 / self.accept_elapsed.as_secs_f64()
    }
}

/// `WEFT_ANVIL`, else the npm-installed anvil of this repository or of the working
/// directory.
fn find_anvil() -> Result<Option<PathBuf>> {
    if let Some(path) = std::env::var_os("WEFT_ANVIL").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        ensure!(
            path.is_file(),
            "WEFT_ANVIL={} is not a file",
            path.display()
        );
        return Ok(Some(path));
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    Ok([repo, PathBuf::from(".")]
        .into_iter()
        .map(|root| root.join(ANVIL_NPM_PATH))
        .find(|p| p.is_file()))
}

/// A JSON-RPC client.
#[derive(Debug, Clone)]
struct Rpc {
    url: String,
    http: reqwest::Client,
}

impl Rpc {
    async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let reply: Value = self.send(&body).await.with_context(|| method.to_string())?;
        rpc_result(reply).with_context(|| method.to_string())
    }

    async fn send(&self, body: &Value) -> Result<Value> {
        let response = self.http.post(&self.url).json(body).send().await?;
        Ok(response.json().await?)
    }

    /// Sends a pre-serialized call or batch of calls; fails if any call failed.
    async fn send_raw(&self, body: Vec<u8>) -> Result<()> {
        let response = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        match response.json().await? {
            Value::Array(replies) => replies
                .into_iter()
                .try_for_each(|r| rpc_result(r).map(drop)),
            reply => rpc_result(reply).map(drop),
        }
    }

    /// `eth_getTransactionCount(sender, "latest")` of every sender, in one batch request.
    async fn mined_nonces(&self, senders: &[Address]) -> Result<Vec<u64>> {
        let calls: Vec<Value> = senders
            .iter()
            .enumerate()
            .map(|(i, a)| {
                json!({ "jsonrpc": "2.0", "id": i, "method": "eth_getTransactionCount",
                        "params": [a, "latest"] })
            })
            .collect();
        let replies = self.send(&Value::Array(calls)).await?;
        let replies = replies.as_array().context("batch reply is not an array")?;
        let mut nonces = vec![0; senders.len()];
        for reply in replies {
            let id = reply["id"].as_u64().context("reply without id")? as usize;
            let nonce = parse_quantity(&rpc_result(reply.clone())?)?;
            *nonces.get_mut(id).context("unknown reply id")? = nonce;
        }
        Ok(nonces)
    }
}

fn rpc_result(mut reply: Value) -> Result<Value> {
    if let Some(error) = reply.get("error") {
        bail!("JSON-RPC error: {error}");
    }
    match reply.get_mut("result") {
        Some(result) => Ok(result.take()),
        None => bail!("JSON-RPC reply without result: {reply}"),
    }
}

fn parse_quantity(v: &Value) -> Result<u64> {
    let s = v.as_str().context("quantity is not a string")?;
    u64::from_str_radix(s.trim_start_matches("0x"), 16).with_context(|| format!("quantity {s}"))
}

/// Runs the same signed-transfer workload against anvil; `None` if anvil is not installed.
async fn run_anvil(args: &Args) -> Result<Option<AnvilResult>> {
    let Some(bin) = find_anvil()? else {
        eprintln!("anvil: not found (set WEFT_ANVIL or run `make deps`); anvil_tps will be null");
        return Ok(None);
    };
    let port = free_port()?;
    let argv = [
        "--port".to_string(),
        port.to_string(),
        "--block-time".into(),
        args.anvil_block_time_s.to_string(),
        "--gas-limit".into(),
        args.anvil_gas_limit.to_string(),
        "--quiet".into(),
    ];
    eprintln!("anvil: {} {}", bin.display(), argv.join(" "));
    let mut child = tokio::process::Command::new(&bin)
        .args(argv)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", bin.display()))?;
    let rpc = Rpc {
        url: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .context("HTTP client")?,
    };
    let outcome = drive_anvil(args, &rpc, &mut child).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    outcome.map(Some)
}

async fn drive_anvil(args: &Args, rpc: &Rpc, child: &mut Child) -> Result<AnvilResult> {
    let chain_id = wait_for_anvil(rpc, child).await?;
    let keys: Vec<SigningKey> = (0..args.anvil_senders)
        .map(|i| SigningKey::from_seed(format!("weft-loadgen-anvil-{i}").as_bytes()))
        .collect();
    let senders: Vec<Address> = keys.iter().map(SigningKey::address).collect();
    let balance = format!("{:#x}", U256::from(10u128.pow(24)));
    for sender in &senders {
        rpc.call("anvil_setBalance", json!([sender, balance]))
            .await?;
    }
    let n = args.anvil_txs();
    eprintln!(
        "anvil: signing {n} EIP-1559 transfers from {} senders...",
        keys.len()
    );
    let per_sender = {
        let keys = keys.clone();
        let batch = args.anvil_batch;
        tokio::task::spawn_blocking(move || anvil_workload(&keys, chain_id, n, batch))
            .await
            .context("signing task")?
    };
    let expected: Vec<u64> = (0..senders.len())
        .map(|s| (n / senders.len() + usize::from(s < n % senders.len())) as u64)
        .collect();

    let started = Instant::now();
    let accepted_at = Arc::new(Mutex::new(started));
    let mut clients = JoinSet::new();
    for bodies in per_sender {
        let (rpc, accepted_at) = (rpc.clone(), accepted_at.clone());
        clients.spawn(async move {
            for body in bodies {
                rpc.send_raw(body).await.context("eth_sendRawTransaction")?;
            }
            let mut at = accepted_at.lock();
            *at = (*at).max(Instant::now());
            Ok::<_, anyhow::Error>(())
        });
    }
    let deadline = started + Duration::from_secs(args.timeout_s);
    let (mut mined, mut last_print) = (0, Instant::now());
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("anvil exited ({status})");
        }
        while let Some(done) = clients.try_join_next() {
            done.context("anvil client task")??;
        }
        let nonces = rpc.mined_nonces(&senders).await?;
        if clients.is_empty() && nonces.iter().zip(&expected).all(|(n, e)| n >= e) {
            break;
        }
        let now_mined: u64 = nonces.iter().sum();
        if last_print.elapsed() >= Duration::from_secs(1) {
            eprintln!(
                "[     anvil {:>6.1}s] mined {now_mined:>8} ({:>7}/s)",
                started.elapsed().as_secs_f64(),
                now_mined - mined
            );
            (mined, last_print) = (now_mined, Instant::now());
        }
        ensure!(
            Instant::now() < deadline,
            "anvil: timed out after {} s with {now_mined} of {n} mined",
            args.timeout_s
        );
        tokio::time::sleep(ANVIL_POLL_INTERVAL).await;
    }
    let elapsed = started.elapsed();
    let accept_elapsed = accepted_at.lock().duration_since(started);
    Ok(AnvilResult {
        txs: n,
        senders: senders.len(),
        elapsed,
        accept_elapsed,
    })
}

/// Waits for anvil to answer; returns its chain id.
async fn wait_for_anvil(rpc: &Rpc, child: &mut Child) -> Result<u64> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait()? {
            bail!("anvil exited at start ({status})");
        }
        if let Ok(id) = rpc.call("eth_chainId", json!([])).await {
            return parse_quantity(&id);
        }
        ensure!(Instant::now() < deadline, "anvil did not answer in time");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Signed `eth_sendRawTransaction` request bodies, per sender in nonce order: transfer `i`
/// is sender `i % S`'s nonce `i / S`, 1 wei to the next sender; `batch` calls per body
/// (a JSON-RPC batch array when more than one).
fn anvil_workload(keys: &[SigningKey], chain_id: u64, n: usize, batch: usize) -> Vec<Vec<Vec<u8>>> {
    let s = keys.len();
    let calls: Vec<Value> = (0..n)
        .into_par_iter()
        .map(|i| {
            let tx = TxEip1559 {
                chain_id,
                nonce: (i / s) as u64,
                gas_limit: TRANSFER_GAS,
                max_fee_per_gas: ANVIL_MAX_FEE,
                max_priority_fee_per_gas: ANVIL_PRIORITY_FEE,
                to: keys[(i + 1) % s].address().into(),
                value: U256::from(1),
                ..TxEip1559::default()
            };
            let sig = keys[i % s].sign_digest(&tx.signature_hash());
            let sig = alloy_primitives::Signature::new(
                U256::from_be_bytes(sig.r.0),
                U256::from_be_bytes(sig.s.0),
                sig.y_parity,
            );
            let mut raw = Vec::new();
            tx.into_signed(sig).eip2718_encode(&mut raw);
            json!({
                "jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction",
                "params": [format!("0x{}", alloy_primitives::hex::encode(&raw))],
            })
        })
        .collect();
    let mut per_sender: Vec<Vec<Value>> = vec![Vec::with_capacity(n / s + 1); s];
    for (i, call) in calls.into_iter().enumerate() {
        per_sender[i % s].push(call);
    }
    per_sender
        .into_iter()
        .map(|calls| {
            calls
                .chunks(batch)
                .map(|chunk| {
                    let body = match chunk {
                        [one] => serde_json::to_vec(one),
                        many => serde_json::to_vec(many),
                    };
                    body.expect("JSON serializes")
                })
                .collect()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct Report {
    sequencer: SequencerResult,
    anvil: Option<AnvilResult>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Report {
    fn table(&self, args: &Args) -> String {
        let s = &self.sequencer;
        let (t, l) = (&s.throughput, &s.latency);
        let tps = t.executed_tps();
        let ceiling = s.sig.tps();
        let node = if s.started_node {
            format!("started node, block time {} ms, SQLite", args.block_time_ms)
        } else {
            format!("node at {}", args.url.as_deref().unwrap_or("?"))
        };
        let mut out = format!(
            "\nWeft end to end: {node}; {} clients, {} tx/request; {} transfers over {} accounts\n",
            args.clients, args.batch, t.txs, args.accounts
        );
        let mut row = |name: &str, value: String, note: String| {
            let _ = writeln!(out, "  {name:<28} {value:>14}   {note}");
        };
        row(
            "executed/s (tps)",
            format!("{tps:.0}"),
            format!(
                "{} executed in {:.2} s, first submit to last seen executed",
                t.executed,
                t.elapsed.as_secs_f64()
            ),
        );
        row(
            "submitted/s",
            format!("{:.0}", t.submitted_tps()),
            format!("last reply after {:.2} s", t.submit_elapsed.as_secs_f64()),
        );
        row(
            "saturated latency p50/p99",
            format!(
                "{:.0}/{:.0} ms",
                t.percentile_ms(50.0),
                t.percentile_ms(99.0)
            ),
            format!("{} blocks, up to {} tx/block", t.blocks, t.max_block_txs),
        );
        row(
            "signature ceiling",
            format!("{ceiling:.0}"),
            format!(
                "{:.0}/s on one thread x {} cores",
                s.sig.per_thread, s.sig.cores
            ),
        );
        row(
            "ratio to ceiling",
            format!("{:.2}", tps / ceiling),
            "target >= 0.75".into(),
        );
        row(
            &format!("latency p50 @ {:.0}%", args.latency_load * 100.0),
            format!("{:.0} ms", l.percentile_ms(50.0)),
            format!(
                "target <= {} ms (2 blocks); paced at {:.0} tx/s, {} tx/request, achieved {:.0}",
                2 * args.block_time_ms,
                s.latency_target_tps,
                args.latency_batch,
                l.submitted_tps()
            ),
        );
        row(
            &format!("latency p99 @ {:.0}%", args.latency_load * 100.0),
            format!("{:.0} ms", l.percentile_ms(99.0)),
            format!(
                "target <= 250 ms; max {:.0} ms over {} transfers, schedule lag max {:.0} ms",
                l.percentile_ms(100.0),
                l.latencies_ms.len(),
                s.max_lag.as_secs_f64() * 1e3
            ),
        );
        match &self.anvil {
            Some(a) => {
                row(
                    "anvil mined/s",
                    format!("{:.0}", a.tps()),
                    format!(
                        "{} EIP-1559 transfers, {} senders/clients, eth_sendRawTransaction x{}, \
                         block time {} s, gas limit {}; accepted/s {:.0}",
                        a.txs,
                        a.senders,
                        args.anvil_batch,
                        args.anvil_block_time_s,
                        args.anvil_gas_limit,
                        a.accepted_tps()
                    ),
                );
                row(
                    "ratio to anvil",
                    format!("{:.1}x", tps / a.tps()),
                    "target >= 10x".into(),
                );
            }
            None => row("anvil mined/s", "n/a".into(), "anvil not run".into()),
        }
        let codes = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                "none".to_string()
            } else {
                format!("{m:?}")
            }
        };
        row("rejections", codes(&s.rejections), String::new());
        row("resubmitted (capacity)", codes(&s.retries), String::new());
        for (name, phase) in [("throughput", t), ("latency", l)] {
            if let Some(usage) = &phase.node {
                let _ = writeln!(out, "  {name} phase: {}", usage.describe());
            }
        }
        out
    }

    fn json(&self, args: &Args) -> Value {
        let s = &self.sequencer;
        let (t, l) = (&s.throughput, &s.latency);
        let tps = t.executed_tps();
        let ceiling = s.sig.tps();
        let anvil_tps = self.anvil.as_ref().map(AnvilResult::tps);
        json!({
            "tps": tps,
            "sig_ceiling_tps": ceiling,
            "ratio_to_ceiling": tps / ceiling,
            "p50_ms": l.percentile_ms(50.0),
            "p99_ms": l.percentile_ms(99.0),
            "anvil_tps": anvil_tps,
            "ratio_to_anvil": anvil_tps.map(|a| tps / a),
            "anvil_accepted_tps": self.anvil.as_ref().map(AnvilResult::accepted_tps),
            "anvil_txs": self.anvil.as_ref().map(|a| a.txs),
            "anvil_block_time_s": args.anvil_block_time_s,
            "anvil_gas_limit": args.anvil_gas_limit,
            "anvil_batch": args.anvil_batch,
            "submitted_tps": t.submitted_tps(),
            "saturated_p50_ms": t.percentile_ms(50.0),
            "saturated_p99_ms": t.percentile_ms(99.0),
            "latency_load": args.latency_load,
            "latency_target_tps": s.latency_target_tps,
            "latency_achieved_tps": l.submitted_tps(),
            "latency_txs": l.txs,
            "latency_batch": args.latency_batch,
            "max_ms": l.percentile_ms(100.0),
            "sig_single_thread_per_s": s.sig.per_thread,
            "cores": s.sig.cores,
            "n": t.txs,
            "accounts": args.accounts,
            "clients": args.clients,
            "batch": args.batch,
            "block_time_ms": s.started_node.then_some(args.block_time_ms),
            "blocks": t.blocks,
            "max_block_txs": t.max_block_txs,
            "executor_ms_per_block": t.node.as_ref().map(|u| u.executor_ms_per_block),
            "store_ms_per_block": t.node.as_ref().map(|u| u.store_ms_per_block),
            "builder_busy": t.node.as_ref().map(|u| u.builder_busy),
            "node_cores": t.node.as_ref().map(|u| u.node_cores.iter().fold(0.0, |s, c| s + c.1)),
            "loadgen_cores": t.node.as_ref().map(|u| u.loadgen_cores),
            "box_cores": t.node.as_ref().and_then(|u| u.box_cores),
            "rejections": s.rejections,
            "retries": s.retries,
        })
    }
}

fn results_path(args: &Args) -> PathBuf {
    if let Some(out) = &args.out {
        return out.clone();
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("weft-bench")
        .join("e2e.json")
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use alloy_consensus::Signed;
    use weft_protocol::signature::Signature;

    use super::*;

    #[test]
    fn percentile_is_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 1.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }

    #[test]
    fn batch_body_is_the_batch_route_shape() {
        let body = batch_body(&[br#"{"a":1}"#, br#"{"b":2}"#]);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v, json!({ "transactions": [{ "a": 1 }, { "b": 2 }] }));
    }

    #[test]
    fn batch_answers_count_rejections_and_ask_to_retry_when_full() {
        let ok = reqwest::StatusCode::OK;
        let body = br#"{"results":[{"hash":"0x00","status":"queued"},{"error":{"code":"nonce_too_low","message":"m"}}]}"#;
        match parse_answer(false, ok, body, 2).unwrap() {
            Answer::Results(r) => assert_eq!(r, vec![None, Some("nonce_too_low".to_string())]),
            Answer::Retry(_) => panic!("not a capacity refusal"),
        }
        let full = br#"{"results":[{"error":{"code":"mempool_full","message":"m"}}]}"#;
        assert!(
            matches!(parse_answer(false, ok, full, 1).unwrap(), Answer::Retry(c) if c == "mempool_full")
        );
        let limited = br#"{"code":"rate_limited","message":"m"}"#;
        let status = reqwest::StatusCode::TOO_MANY_REQUESTS;
        assert!(matches!(
            parse_answer(true, status, limited, 1).unwrap(),
            Answer::Retry(_)
        ));
        assert!(
            parse_answer(false, ok, full, 2).is_err(),
            "result count must match"
        );
    }

    #[test]
    fn anvil_transfers_decode_and_recover_to_their_sender() {
        let keys: Vec<SigningKey> = (0..2u8).map(|i| SigningKey::from_seed(&[i])).collect();
        let per_sender = anvil_workload(&keys, 31_337, 4, 2);
        assert_eq!(per_sender.len(), 2);
        for (s, bodies) in per_sender.iter().enumerate() {
            assert_eq!(bodies.len(), 1, "two calls per body");
            let calls: Vec<Value> = serde_json::from_slice(&bodies[0]).unwrap();
            for (nonce, call) in calls.iter().enumerate() {
                let hex = call["params"][0].as_str().unwrap().trim_start_matches("0x");
                let raw = alloy_primitives::hex::decode(hex).unwrap();
                let signed = Signed::<TxEip1559>::eip2718_decode(&mut raw.as_slice()).unwrap();
                assert_eq!(signed.tx().nonce, nonce as u64);
                assert_eq!(signed.tx().chain_id, 31_337);
                assert_eq!(signed.tx().to.to(), Some(&keys[(s + 1) % 2].address()));
                let sig = signed.signature();
                let ours = Signature {
                    r: B256::from(sig.r().to_be_bytes::<32>()),
                    s: B256::from(sig.s().to_be_bytes::<32>()),
                    y_parity: sig.v(),
                };
                let sender = ours.recover(&signed.signature_hash()).unwrap();
                assert_eq!(sender, keys[s].address());
            }
        }
    }
}

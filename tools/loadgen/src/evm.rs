//! `--evm`: the same pre-signed Ethereum transactions through `eth_sendRawTransaction` to
//! Weft (`/rpc`) and to anvil, side by side in one run: EOA ETH transfers, then ERC-20
//! transfers (OpenZeppelin's, deployed and minted to every sender first, unmeasured).
//!
//! Each workload runs, for each request size of `--rpc-batch` (1: a request per transaction;
//! more: JSON-RPC batch arrays of a sender's next transactions), saturated (every sender's
//! client sends its next request as soon as the previous one is answered), then paced at
//! half the saturated rate of that target and size.
//! A transaction counts when it is seen in a block fetched with `eth_getBlockByNumber`
//! (Weft answers from its database: executed and durable); submit→block latencies are
//! measured per transaction. The ceiling is decoding and recovering the same transactions
//! (`EvmTransaction::decode`, what admission does) on one thread × cores. Results go to
//! `target/weft-bench/rpc.json`.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::Arc,
    time::{Duration, Instant},
};

use alloy_consensus::TxEip1559;
use anyhow::{Context, Result, bail, ensure};
use parking_lot::Mutex;
use rayon::prelude::*;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use weft_protocol::{
    evm::EvmTransaction,
    primitives::{Address, B256, Bytes, U256},
    signature::SigningKey,
    testkit::evm::{Arg, calldata, token_init_code},
};

use crate::{
    ANVIL_MAX_FEE, ANVIL_PRIORITY_FEE, Args, POLL_INTERVAL, SIG_ROUNDS, TRANSFER_GAS,
    anvil::{Rpc, parse_quantity},
    report::percentile,
};

/// Gas limit of an ERC-20 transfer (it uses about 35,000 to 52,000).
const TOKEN_TRANSFER_GAS: u64 = 80_000;
/// Tokens minted to each sender.
const MINTED: u64 = 1_000_000_000;

/// One signed transaction: its hash and its `eth_sendRawTransaction` body.
#[derive(Clone)]
struct Signed {
    hash: B256,
    raw: Bytes,
    body: Vec<u8>,
}

/// A workload's transactions per sender, in nonce order.
type PerSender = Vec<Vec<Signed>>;

/// Every transaction of the run, signed before anything is timed: per workload, for each
/// request size of `--rpc-batch`, the saturated phase's and the paced phase's.
struct Plan {
    senders: Vec<Address>,
    eth: Vec<[PerSender; 2]>,
    setup: Vec<Signed>,
    erc20: Vec<[PerSender; 2]>,
}

struct Signer {
    keys: Vec<SigningKey>,
    chain_id: u64,
    nonces: Vec<u64>,
}

impl Signer {
    fn sign(
        &mut self,
        from: usize,
        to: Option<Address>,
        value: u128,
        input: Bytes,
        gas: u64,
    ) -> (TxEip1559, usize) {
        let nonce = self.nonces[from];
        self.nonces[from] += 1;
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce,
            gas_limit: gas,
            max_fee_per_gas: ANVIL_MAX_FEE,
            max_priority_fee_per_gas: ANVIL_PRIORITY_FEE,
            to: to.map_or(
                alloy_primitives::TxKind::Create,
                alloy_primitives::TxKind::Call,
            ),
            value: U256::from(value),
            input,
            access_list: Default::default(),
        };
        (tx, from)
    }

    /// `n` transactions, transaction `i` from sender `i % S`, made by `make(i, from, to)`.
    fn workload(
        &mut self,
        n: usize,
        make: impl Fn(&mut Self, usize, Address) -> (TxEip1559, usize),
    ) -> PerSender {
        let s = self.keys.len();
        let unsigned: Vec<(TxEip1559, usize)> = (0..n)
            .map(|i| {
                let to = self.keys[(i + 1) % s].address();
                make(self, i % s, to)
            })
            .collect();
        let signed: Vec<(usize, Signed)> = unsigned
            .into_par_iter()
            .map(|(tx, from)| (from, seal(&self.keys[from], tx)))
            .collect();
        let mut per_sender: PerSender = vec![Vec::new(); s];
        for (from, tx) in signed {
            per_sender[from].push(tx);
        }
        per_sender
    }
}

fn seal(key: &SigningKey, tx: TxEip1559) -> Signed {
    let envelope = weft_protocol::testkit::evm::seal(tx, key);
    let hash = *envelope.tx_hash();
    let raw = Bytes::from(alloy_eips::eip2718::Encodable2718::encoded_2718(&envelope));
    let body = serde_json::to_vec(&json!({
        "jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw],
    }))
    .expect("JSON serializes");
    Signed { hash, raw, body }
}

impl Signer {
    /// The first `--anvil-senders` dev keys, every nonce at 0.
    fn dev(args: &Args, chain_id: u64) -> Self {
        let keys: Vec<SigningKey> = (0..args.anvil_senders as u32)
            .map(weft_protocol::genesis::dev_key)
            .collect();
        Self {
            nonces: vec![0; keys.len()],
            keys,
            chain_id,
        }
    }
}

/// Request bodies of `sets.len()` sets of `n` signed ETH transfers for `chain_id`, per
/// sender, set `k` with `sets[k]` transactions per request (the admission node's JSON-RPC
/// runs of `--jetstream`).
pub(crate) fn eth_transfer_requests(
    args: &Args,
    chain_id: u64,
    n: usize,
    sets: &[usize],
) -> Vec<Vec<Vec<Request>>> {
    let mut signer = Signer::dev(args, chain_id);
    sets.iter()
        .map(|&batch| {
            signer
                .workload(n, |s, from, to| {
                    s.sign(from, Some(to), 1, Bytes::new(), TRANSFER_GAS)
                })
                .iter()
                .map(|txs| requests(txs, batch))
                .collect()
        })
        .collect()
}

fn plan(args: &Args, chain_id: u64) -> Plan {
    let mut signer = Signer::dev(args, chain_id);
    let senders: Vec<Address> = signer.keys.iter().map(SigningKey::address).collect();
    let n = args.anvil_txs();
    let eth = |signer: &mut Signer, count| {
        signer.workload(count, |s, from, to| {
            s.sign(from, Some(to), 1, Bytes::new(), TRANSFER_GAS)
        })
    };
    let eth = args
        .rpc_batch
        .iter()
        .map(|_| [eth(&mut signer, n), eth(&mut signer, n / 2)])
        .collect();
    // The token: sender 0's next creation; minted to every sender.
    let deployer_nonce = signer.nonces[0];
    let token = senders[0].create(deployer_nonce);
    let mut setup = vec![signer.sign(0, None, 0, token_init_code("Bench", "BNC"), 3_000_000)];
    for holder in &senders {
        let mint = calldata(
            "mint(address,uint256)",
            &[Arg::A(*holder), Arg::U(U256::from(MINTED))],
        );
        setup.push(signer.sign(0, Some(token), 0, mint, 100_000));
    }
    let setup = setup
        .into_iter()
        .map(|(tx, from)| seal(&signer.keys[from], tx))
        .collect();
    let erc20 = |signer: &mut Signer, count| {
        signer.workload(count, |s, from, to| {
            let data = calldata(
                "transfer(address,uint256)",
                &[Arg::A(to), Arg::U(U256::from(1))],
            );
            s.sign(from, Some(token), 0, data, TOKEN_TRANSFER_GAS)
        })
    };
    let erc20 = args
        .rpc_batch
        .iter()
        .map(|_| [erc20(&mut signer, n), erc20(&mut signer, n / 2)])
        .collect();
    Plan {
        senders,
        eth,
        setup,
        erc20,
    }
}

/// What one run measured.
#[derive(Debug, Clone)]
pub(crate) struct EvmRun {
    pub(crate) target: &'static str,
    pub(crate) workload: &'static str,
    /// Transactions per request.
    pub(crate) batch: usize,
    pub(crate) load: String,
    pub(crate) txs: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latencies_ms: Vec<f64>,
}

impl EvmRun {
    pub(crate) fn tps(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64()
    }
}

/// Follows new blocks; the time each transaction was first seen in one.
async fn track(
    rpc: Rpc,
    from: u64,
    seen: Arc<Mutex<HashMap<B256, Instant>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> Result<()> {
    let mut next = from;
    while !done.load(std::sync::atomic::Ordering::Relaxed) {
        let head = parse_quantity(&rpc.call("eth_blockNumber", json!([])).await?)?;
        while next <= head {
            let block = rpc
                .call("eth_getBlockByNumber", json!([format!("{next:#x}"), false]))
                .await?;
            let now = Instant::now();
            let mut seen = seen.lock();
            for hash in block["transactions"]
                .as_array()
                .context("block without transactions")?
            {
                let hash: B256 = hash.as_str().context("hash")?.parse()?;
                seen.entry(hash).or_insert(now);
            }
            next += 1;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Ok(())
}

/// One request: the hashes of its transactions and its body.
pub(crate) type Request = (Vec<B256>, Vec<u8>);

/// A sender's transactions as requests of `batch` transactions (JSON-RPC batch arrays when
/// more than one): each request's hashes and body.
fn requests(txs: &[Signed], batch: usize) -> Vec<Request> {
    txs.chunks(batch)
        .map(|chunk| {
            let hashes = chunk.iter().map(|t| t.hash).collect();
            if let [one] = chunk {
                return (hashes, one.body.clone());
            }
            let calls: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(id, t)| {
                    json!({ "jsonrpc": "2.0", "id": id, "method": "eth_sendRawTransaction",
                            "params": [t.raw] })
                })
                .collect();
            (hashes, serde_json::to_vec(&calls).expect("JSON serializes"))
        })
        .collect()
}

/// Sends `per_sender` (one client per sender, in nonce order, `batch` transactions per
/// request), paced at `rate` tx/s in total when given, and waits until every transaction is
/// in a block.
async fn drive(
    rpc: &Rpc,
    per_sender: &PerSender,
    batch: usize,
    rate: Option<f64>,
    timeout: Duration,
) -> Result<(Duration, Vec<f64>)> {
    let bodies: Vec<_> = per_sender.iter().map(|txs| requests(txs, batch)).collect();
    let from = parse_quantity(&rpc.call("eth_blockNumber", json!([])).await?)? + 1;
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tracker = tokio::spawn(track(rpc.clone(), from, seen.clone(), done.clone()));
    let submitted = Arc::new(Mutex::new(HashMap::new()));
    let s = per_sender.len();
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for (sender, requests) in bodies.into_iter().enumerate() {
        let (rpc, submitted) = (rpc.clone(), submitted.clone());
        clients.spawn(async move {
            for (j, (hashes, body)) in requests.into_iter().enumerate() {
                if let Some(rate) = rate {
                    let first = j * batch * s + sender;
                    let at = started + Duration::from_secs_f64(first as f64 / rate);
                    tokio::time::sleep_until(at.into()).await;
                }
                let now = Instant::now();
                submitted
                    .lock()
                    .extend(hashes.into_iter().map(|hash| (hash, now)));
                rpc.send_raw(body).await.context("eth_sendRawTransaction")?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    let total: usize = per_sender.iter().map(Vec::len).sum();
    let deadline = started + timeout;
    loop {
        while let Some(done) = clients.try_join_next() {
            done.context("client task")??;
        }
        if tracker.is_finished() {
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            tracker.await.context("block tracker")??;
            bail!("the block tracker stopped");
        }
        let included = {
            let seen = seen.lock();
            per_sender
                .iter()
                .flatten()
                .filter(|t| seen.contains_key(&t.hash))
                .count()
        };
        if clients.is_empty() && included == total {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "timed out with {included} of {total} in blocks"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    tracker.await.context("block tracker")??;
    let (seen, submitted) = (seen.lock(), submitted.lock());
    let last = per_sender
        .iter()
        .flatten()
        .map(|t| seen[&t.hash])
        .max()
        .context("no transactions")?;
    let mut latencies: Vec<f64> = per_sender
        .iter()
        .flatten()
        .map(|t| {
            seen[&t.hash]
                .saturating_duration_since(submitted[&t.hash])
                .as_secs_f64()
                * 1e3
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    Ok((last.duration_since(started), latencies))
}

/// Every run against one target (Weft or anvil at `rpc`), in the plan's order.
async fn runs(target: &'static str, rpc: &Rpc, plan: &Plan, args: &Args) -> Result<Vec<EvmRun>> {
    let timeout = Duration::from_secs(args.timeout_s);
    let mut out = Vec::new();
    for (workload, phases) in [("eth", &plan.eth), ("erc20", &plan.erc20)] {
        if workload == "erc20" {
            eprintln!("{target}: deploying and minting the token");
            drive(rpc, &vec![plan.setup.clone()], 1, None, timeout).await?;
        }
        for (&batch, [saturated, paced]) in args.rpc_batch.iter().zip(phases) {
            let (elapsed, latencies_ms) = drive(rpc, saturated, batch, None, timeout).await?;
            let saturated = EvmRun {
                target,
                workload,
                batch,
                load: "saturated".into(),
                txs: saturated.iter().map(Vec::len).sum(),
                elapsed,
                latencies_ms,
            };
            let rate = saturated.tps() / 2.0;
            eprintln!(
                "{target} {workload} x{batch}: {:.0} tx/s saturated; pacing at {rate:.0}/s",
                saturated.tps()
            );
            let (elapsed, latencies_ms) = drive(rpc, paced, batch, Some(rate), timeout).await?;
            out.push(saturated);
            out.push(EvmRun {
                target,
                workload,
                batch,
                load: format!("half ({rate:.0}/s)"),
                txs: paced.iter().map(Vec::len).sum(),
                elapsed,
                latencies_ms,
            });
        }
    }
    Ok(out)
}

/// Decoding and recovering `samples` on one thread, `SIG_ROUNDS` times: the median rate.
fn ceiling(samples: &[Signed]) -> Result<f64> {
    let mut rates = Vec::with_capacity(SIG_ROUNDS);
    for _ in 0..SIG_ROUNDS {
        let started = Instant::now();
        for s in samples {
            std::hint::black_box(EvmTransaction::decode(&s.raw)).context("sample")?;
        }
        rates.push(samples.len() as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// The EVM comparison's figures.
pub(crate) struct EvmReport {
    pub(crate) runs: Vec<EvmRun>,
    pub(crate) per_thread: f64,
    pub(crate) cores: usize,
}

/// Runs the comparison: Weft at `weft` (started by the caller with the senders as dev
/// accounts), then anvil started with Weft's chain id.
pub(crate) async fn run_evm(args: &Args, weft: &str) -> Result<EvmReport> {
    let weft = Rpc::new(&format!("{weft}/rpc"))?;
    let chain_id = parse_quantity(&weft.call("eth_chainId", json!([])).await?)?;
    eprintln!(
        "evm: signing {} ETH and ERC-20 transfers for chain {chain_id}...",
        3 * args.anvil_txs()
    );
    let plan = plan(args, chain_id);
    let samples: Vec<Signed> = plan.eth[0][0]
        .iter()
        .flatten()
        .take(args.sig_samples)
        .cloned()
        .collect();
    let per_thread = ceiling(&samples)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut all = runs("weft", &weft, &plan, args).await?;
    if args.no_anvil {
        eprintln!("anvil: skipped (--no-anvil)");
    } else if let Some(anvil) = crate::anvil::start_anvil(args, Some(chain_id)).await? {
        let funded = crate::anvil::fund(&anvil.rpc, &plan.senders).await;
        let outcome = match funded {
            Ok(()) => runs("anvil", &anvil.rpc, &plan, args).await,
            Err(e) => Err(e),
        };
        anvil.stop().await;
        all.extend(outcome?);
    }
    Ok(EvmReport {
        runs: all,
        per_thread,
        cores,
    })
}

impl EvmReport {
    fn ceiling(&self) -> f64 {
        self.per_thread * self.cores as f64
    }

    /// `target`'s saturated run of `run`'s workload and request size.
    fn saturated(&self, target: &str, run: &EvmRun) -> Option<&EvmRun> {
        self.runs.iter().find(|r| {
            r.target == target
                && r.workload == run.workload
                && r.batch == run.batch
                && r.load == "saturated"
        })
    }

    /// The table.
    pub(crate) fn table(&self, args: &Args) -> String {
        let mut out = format!(
            "\nEthereum transactions over JSON-RPC, Weft and anvil side by side: {} senders (one \
             client each), eth_sendRawTransaction x<batch> per request; anvil: block time {} s, gas limit {}\n  \
             ceiling (decode + recover) {:.0}/s = {:.0}/s on one thread x {} cores\n",
            args.anvil_senders,
            args.anvil_block_time_s,
            args.anvil_gas_limit,
            self.ceiling(),
            self.per_thread,
            self.cores
        );
        let _ = writeln!(
            out,
            "  {:<6} {:<6} {:>5} {:<18} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "target",
            "kind",
            "batch",
            "load",
            "txs",
            "tx/s",
            "p50 ms",
            "p99 ms",
            "/ceiling",
            "/anvil"
        );
        for r in &self.runs {
            let anvil = self
                .saturated("anvil", r)
                .filter(|_| r.target == "weft" && r.load == "saturated")
                .map_or("-".to_owned(), |a| format!("{:.2}x", r.tps() / a.tps()));
            let _ = writeln!(
                out,
                "  {:<6} {:<6} {:>5} {:<18} {:>7} {:>9.0} {:>9.0} {:>9.0} {:>9.2} {:>9}",
                r.target,
                r.workload,
                r.batch,
                r.load,
                r.txs,
                r.tps(),
                percentile(&r.latencies_ms, 50.0),
                percentile(&r.latencies_ms, 99.0),
                r.tps() / self.ceiling(),
                anvil
            );
        }
        out
    }

    /// The JSON rows.
    pub(crate) fn json(&self, args: &Args) -> Value {
        let rows: Vec<Value> = self
            .runs
            .iter()
            .map(|r| {
                let anvil = self.saturated("anvil", r).map(EvmRun::tps);
                json!({
                    "target": r.target,
                    "workload": r.workload,
                    "batch": r.batch,
                    "load": r.load,
                    "txs": r.txs,
                    "tps": r.tps(),
                    "p50_ms": percentile(&r.latencies_ms, 50.0),
                    "p99_ms": percentile(&r.latencies_ms, 99.0),
                    "ratio_to_ceiling": r.tps() / self.ceiling(),
                    "ratio_to_anvil": anvil.filter(|_| r.target == "weft").map(|a| r.tps() / a),
                })
            })
            .collect();
        json!({
            "ceiling_tps": self.ceiling(),
            "ceiling_single_thread_per_s": self.per_thread,
            "cores": self.cores,
            "senders": args.anvil_senders,
            "anvil_block_time_s": args.anvil_block_time_s,
            "anvil_gas_limit": args.anvil_gas_limit,
            "rows": rows,
        })
    }
}

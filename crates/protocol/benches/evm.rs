//! EVM benchmark: `make bench` (or `cargo bench -p weft-protocol --bench evm`).
//!
//! For each contract workload, on blocks of `WEFT_BENCH_EVM_TXS` transactions (default
//! 10k) over worlds of 10k and 1M accounts (`WEFT_BENCH_EVM_ACCOUNTS`), prints and writes
//! to `target/weft-bench/evm.json`:
//!
//! - `revm`: plain revm 43 (mainnet handler) over its in-memory `CacheDB`, one transaction
//!   after another: the floor every revm-based engine stands on. Execution only, with the
//!   conversion of each transaction into revm's `TxEnv` (Weft's executors do it too).
//! - `sequential`: Weft's `SequentialExecutor`, with the state root (the whole block).
//! - `in-order` (1 thread) and `optimistic` (2 threads): Weft's `ParallelExecutor`; `exec`
//!   is preparing and executing the block, `total` adds committing it (storage shards,
//!   partition trees, the state root).
//!
//! `WEFT_BENCH_EVM_EXECUTORS` (a comma-separated subset of `revm,sequential,in-order,optimistic`)
//! runs only those, e.g. to profile one of them.
//!
//! `WEFT_BENCH_EVM_STATS=1` prints each block report of Weft's executor (schedule, phase
//! times, speculated, re-executed, serialized, stopped) to stderr.
//!
//! Each figure is the median of `WEFT_BENCH_RUNS` runs (default 5) on a fresh copy of the
//! world (copy not timed); each run goes through every executor in turn, so that the
//! machine's drift spreads over all of them alike. mimalloc is the allocator, as in Weft's
//! binaries. Speedup: `exec` over the 1-thread in-order `exec`, measured in
//! the same run. Gas/s counts the gas the block's receipts report.

use std::time::{Duration, Instant};

use revm::ExecuteCommitEvm;

/// The allocator of Weft's binaries (and pevm's benchmarks): revm allocates per
/// transaction, and the optimistic engine frees on one thread what another allocated.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use weft_protocol::{
    execution::{BlockExecutor, ParallelExecutor, SequentialExecutor},
    testkit::{
        bench_output_dir,
        evm::{
            EvmWorkload, EvmWorld,
            reference::{self, Db},
            rng,
        },
    },
    transaction::VerifiedTransaction,
};

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: Vec<usize>) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or(default)
}

/// Whether `WEFT_BENCH_EVM_EXECUTORS` selects `executor` (all when it is unset).
fn selected(executor: &str) -> bool {
    std::env::var("WEFT_BENCH_EVM_EXECUTORS")
        .map_or(true, |only| only.split(',').any(|e| e.trim() == executor))
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

struct Row {
    workload: String,
    accounts: usize,
    executor: &'static str,
    threads: usize,
    exec_tps: f64,
    total_tps: Option<f64>,
    gas_per_s: f64,
    speedup: Option<f64>,
    reexecuted: Option<f64>,
}

impl Row {
    fn print(&self) {
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        println!(
            "{:<14} {:>9} {:>11} {:>3} {:>11.0} {:>11} {:>8.0} {:>8} {:>8}",
            self.workload,
            self.accounts,
            self.executor,
            self.threads,
            self.exec_tps,
            opt(self.total_tps, 0),
            self.gas_per_s / 1e6,
            opt(self.speedup, 2),
            opt(self.reexecuted, 1),
        );
    }

    fn json(&self) -> String {
        let opt = |v: Option<f64>| v.map_or("null".to_string(), |v| format!("{v:.3}"));
        format!(
            r#"{{"workload":"{}","accounts":{},"executor":"{}","threads":{},"execTps":{:.0},"totalTps":{},"gasPerSecond":{:.0},"speedup":{},"reexecutedPercent":{}}}"#,
            self.workload,
            self.accounts,
            self.executor,
            self.threads,
            self.exec_tps,
            opt(self.total_tps),
            self.gas_per_s,
            opt(self.speedup),
            opt(self.reexecuted),
        )
    }
}

/// What one run reports: gas used, the execution time without the commit (when known),
/// the share of EVM transactions re-executed (optimistic runs).
type Measured = (u64, Option<Duration>, Option<f64>);

/// One executor's measurements over the runs.
#[derive(Default)]
struct Samples {
    total: Vec<Duration>,
    exec: Vec<Duration>,
    gas: u64,
    reexecuted: Vec<f64>,
}

impl Samples {
    fn push(&mut self, total: Duration, (gas, exec, reexecuted): Measured) {
        self.total.push(total);
        self.exec.extend(exec);
        self.gas = gas;
        self.reexecuted.extend(reexecuted);
    }

    fn reexecuted(&self) -> Option<f64> {
        let mut r = self.reexecuted.clone();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied()
    }
}

/// Runs every executor once per round, `runs` rounds, so that the machine's drift over
/// time spreads over all of them alike, and takes medians.
fn bench_workload(
    rows: &mut Vec<Row>,
    name: &str,
    world: &EvmWorld,
    db: &Db,
    txs: &[VerifiedTransaction],
    runs: usize,
) {
    let accounts = world.keys.len();
    let env = EvmWorld::env(world.number + 1);
    let n = txs.len() as f64;
    let evm_txs: Vec<&VerifiedTransaction> = txs
        .iter()
        .filter(|t| {
            matches!(
                t.transaction,
                weft_protocol::transaction::Transaction::Evm(_)
            )
        })
        .collect();
    let all_evm = evm_txs.len() == txs.len();
    let mut executors = [ParallelExecutor::new(1), ParallelExecutor::new(2)];
    let (mut revm, mut seq) = (Samples::default(), Samples::default());
    let mut par = [Samples::default(), Samples::default()];
    for _ in 0..runs {
        if all_evm && selected("revm") {
            // Plain revm: EVM transactions only (native kinds have no counterpart).
            // Converting each transaction into revm's `TxEnv` is timed, as in Weft's
            // executors, which do it per transaction too.
            let mut evm = reference::evm(db.clone(), &env);
            let start = Instant::now();
            let mut gas = 0u64;
            for tx in &evm_txs {
                gas += evm
                    .transact_commit(reference::tx_env(tx))
                    .map_or(0, |r| r.tx_gas_used());
            }
            revm.push(start.elapsed(), (gas, None, None));
            drop(evm);
        }
        if selected("sequential") {
            let mut state = world.state.clone();
            let start = Instant::now();
            let out = SequentialExecutor
                .execute_block(&mut state, &env, txs)
                .expect("valid");
            seq.push(start.elapsed(), (out.gas_used, None, None));
        }
        for (executor, samples) in executors.iter_mut().zip(&mut par) {
            if !selected(["in-order", "optimistic"][executor.threads() - 1]) {
                continue;
            }
            let mut state = world.state.clone();
            let start = Instant::now();
            let (out, report) = executor
                .execute_block_detailed(&mut state, &env, txs)
                .expect("valid");
            let total = start.elapsed();
            if std::env::var_os("WEFT_BENCH_EVM_STATS").is_some() {
                eprintln!("{name}: {} thread(s): {report:?}", executor.threads());
            }
            let re = report
                .optimistic
                .map(|o| 100.0 * f64::from(o.reexecuted) / evm_txs.len().max(1) as f64);
            samples.push(
                total,
                (out.gas_used, Some(report.prepare + report.execute), re),
            );
            drop(state);
        }
    }
    if !revm.total.is_empty() {
        let d = median(revm.total.clone()).as_secs_f64();
        rows.push(Row {
            workload: name.into(),
            accounts,
            executor: "revm",
            threads: 1,
            exec_tps: n / d,
            total_tps: None,
            gas_per_s: revm.gas as f64 / d,
            speedup: None,
            reexecuted: None,
        });
        rows.last().expect("pushed").print();
    }
    if !seq.total.is_empty() {
        let seq_total = median(seq.total.clone()).as_secs_f64();
        rows.push(Row {
            workload: name.into(),
            accounts,
            executor: "sequential",
            threads: 1,
            exec_tps: f64::NAN,
            total_tps: Some(n / seq_total),
            gas_per_s: seq.gas as f64 / seq_total,
            speedup: None,
            reexecuted: None,
        });
        rows.last().expect("pushed").print();
    }
    let base = (!par[0].exec.is_empty()).then(|| median(par[0].exec.clone()).as_secs_f64());
    for (threads, samples) in [1usize, 2].into_iter().zip(&par) {
        if samples.exec.is_empty() {
            continue;
        }
        let exec = median(samples.exec.clone()).as_secs_f64();
        rows.push(Row {
            workload: name.into(),
            accounts,
            executor: if threads == 1 {
                "in-order"
            } else {
                "optimistic"
            },
            threads,
            exec_tps: n / exec,
            total_tps: Some(n / median(samples.total.clone()).as_secs_f64()),
            gas_per_s: samples.gas as f64 / exec,
            speedup: base.map(|base| base / exec),
            reexecuted: samples.reexecuted(),
        });
        rows.last().expect("pushed").print();
    }
}

fn main() {
    let block_txs = env_num("WEFT_BENCH_EVM_TXS", 10_000);
    let runs = env_num("WEFT_BENCH_RUNS", 5);
    let mut rows = Vec::new();
    let mut memory = Vec::new();
    println!(
        "{:<14} {:>9} {:>11} {:>3} {:>11} {:>11} {:>8} {:>8} {:>8}",
        "workload",
        "accounts",
        "executor",
        "thr",
        "exec tx/s",
        "total tx/s",
        "Mgas/s",
        "speedup",
        "reexec%"
    );
    for accounts in env_list("WEFT_BENCH_EVM_ACCOUNTS", vec![10_000, 1_000_000]) {
        let started = Instant::now();
        let world = EvmWorld::new(accounts, 64);
        let db = reference::world_db(&world);
        let slots = world.state.storage_slots();
        let per_slot = world.state.storage_heap_bytes() as f64 / slots as f64;
        eprintln!(
            "world of {accounts} accounts, {slots} storage slots ({per_slot:.0} bytes each): built in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        memory.push(format!(
            r#"{{"accounts":{accounts},"storageSlots":{slots},"bytesPerSlot":{per_slot:.1}}}"#
        ));
        for (name, workload) in [
            ("eth-transfer", EvmWorkload::EthTransfers),
            ("erc20-random", EvmWorkload::Erc20Random),
            ("erc20-hot30", EvmWorkload::Erc20HotReceiver(30)),
            ("swap-1", EvmWorkload::Swaps(1)),
            ("swap-4", EvmWorkload::Swaps(4)),
            ("swap-64", EvmWorkload::Swaps(64)),
            ("native+erc20", EvmWorkload::NativeMix),
            ("chain", EvmWorkload::Chain),
        ] {
            if let Ok(only) = std::env::var("WEFT_BENCH_EVM_WORKLOADS")
                && !only.split(',').any(|w| w == name)
            {
                continue;
            }
            let mut w = world.clone();
            let txs = w.block(workload, block_txs, &mut rng(accounts as u64));
            bench_workload(&mut rows, name, &world, &db, &txs, runs);
        }
    }
    let dir = bench_output_dir();
    let json = format!(
        "{{\"rows\": [\n  {}\n],\n\"storageMemory\": [{}]}}\n",
        rows.iter().map(Row::json).collect::<Vec<_>>().join(",\n  "),
        memory.join(", ")
    );
    std::fs::write(dir.join("evm.json"), json).expect("write evm.json");
    println!("\nwrote {}", dir.join("evm.json").display());
}

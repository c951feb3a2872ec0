//! Executor benchmark: `make bench` (or `cargo bench -p weft-protocol --bench executor`).
//!
//! Prints, for 10k-transfer blocks over 2 … 1M accounts and a hot-receiver block, the
//! sequential reference and the parallel engine at each thread count: tx/s (median of
//! `WEFT_BENCH_RUNS` runs, default 5) and speedup over sequential measured in the same
//! run. Every time includes the block's state root. Also: keccak256 implementations,
//! pevm's raw-transfer shape with and without the root, and state memory per account.
//! Rows are written to `target/weft-bench/executor.json`.
//!
//! Environment: `WEFT_BENCH_THREADS=1,2` (default: 1, 2 and the core count),
//! `WEFT_BENCH_RUNS=5`, `WEFT_BENCH_MAX_ACCOUNTS=1000000`.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use weft_protocol::{
    execution::{BlockExecutor, ParallelExecutor, SequentialExecutor},
    primitives::B256,
    state::State,
    testkit::{BlockGen, Workload, env, genesis, independent_transfers},
    transaction::VerifiedTransaction,
};

const BLOCK_TXS: usize = 10_000;

fn env_list(name: &str, default: Vec<usize>) -> Vec<usize> {
    std::env::var(name)
        .ok()
        .map(|v| v.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or(default)
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

/// Median wall time of executing `txs` on a fresh clone of `genesis` (clone not timed).
fn time_block(
    genesis: &State,
    txs: &[VerifiedTransaction],
    runs: usize,
    exec: &mut dyn BlockExecutor,
) -> (Duration, B256) {
    let mut times = Vec::with_capacity(runs);
    let mut root = B256::ZERO;
    for _ in 0..runs {
        let mut state = genesis.clone();
        let start = Instant::now();
        let out = exec
            .execute_block(&mut state, &env(1), txs)
            .expect("valid block");
        times.push(start.elapsed());
        root = out.state_root;
        drop(black_box(state));
    }
    (median(times), root)
}

#[derive(Debug)]
struct Row {
    workload: String,
    accounts: usize,
    executor: &'static str,
    threads: usize,
    tps: f64,
    speedup: f64,
}

impl Row {
    fn json(&self) -> String {
        format!(
            r#"{{"workload":"{}","accounts":{},"executor":"{}","threads":{},"tps":{:.0},"speedup":{:.3}}}"#,
            self.workload, self.accounts, self.executor, self.threads, self.tps, self.speedup
        )
    }
}

fn bench_workload(
    rows: &mut Vec<Row>,
    name: &str,
    accounts: usize,
    txs: &[VerifiedTransaction],
    genesis: &State,
    threads: &[usize],
    runs: usize,
) {
    let (seq, seq_root) = time_block(genesis, txs, runs, &mut SequentialExecutor);
    let seq_tps = txs.len() as f64 / seq.as_secs_f64();
    println!(
        "{name:<16} {accounts:>9} {:>12} {:>7} {:>12.0} {:>8.2}",
        "sequential", 1, seq_tps, 1.0
    );
    rows.push(Row {
        workload: name.into(),
        accounts,
        executor: "sequential",
        threads: 1,
        tps: seq_tps,
        speedup: 1.0,
    });
    for &t in threads {
        let mut exec = ParallelExecutor::new(t);
        let mut times = Vec::new();
        let mut phases = Vec::new();
        for _ in 0..runs {
            let mut state = genesis.clone();
            let start = Instant::now();
            let (out, report) = exec
                .execute_block_detailed(&mut state, &env(1), txs)
                .unwrap();
            times.push(start.elapsed());
            assert_eq!(
                out.state_root, seq_root,
                "parallel and sequential roots differ"
            );
            phases.push(report);
        }
        let d = median(times);
        let phase = |f: fn(&weft_protocol::execution::ExecReport) -> Duration| {
            median(phases.iter().map(f).collect()).as_secs_f64() * 1e3
        };
        let tps = txs.len() as f64 / d.as_secs_f64();
        println!(
            "{name:<16} {accounts:>9} {:>12} {t:>7} {tps:>12.0} {:>8.2}   {:?}: prepare {:.2} ms, execute {:.2} ms, commit {:.2} ms",
            "parallel",
            tps / seq_tps,
            phases[0].schedule,
            phase(|r| r.prepare),
            phase(|r| r.execute),
            phase(|r| r.commit),
        );
        rows.push(Row {
            workload: name.into(),
            accounts,
            executor: "parallel",
            threads: t,
            tps,
            speedup: tps / seq_tps,
        });
    }
}

fn bench_keccak(runs: usize) {
    use sha3::Digest;
    const N: usize = 200_000;
    let input = [7u8; 64];
    let measure = |f: &dyn Fn(&[u8; 64]) -> [u8; 32]| {
        let times: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let mut x = input;
                for _ in 0..N {
                    let h = f(black_box(&x));
                    x[..32].copy_from_slice(&h);
                }
                black_box(x);
                start.elapsed()
            })
            .collect();
        median(times).as_nanos() as f64 / N as f64
    };
    let asm = measure(&|x| weft_protocol::primitives::keccak256(x).0);
    let sha3 = measure(&|x| sha3::Keccak256::digest(x).into());
    let tiny = measure(&|x| {
        use tiny_keccak::Hasher;
        let mut out = [0u8; 32];
        let mut k = tiny_keccak::Keccak::v256();
        k.update(x);
        k.finalize(&mut out);
        out
    });
    println!("\nkeccak256 of 64 bytes, ns per hash (median of {runs})");
    println!("  keccak-asm (XKCP, used) {asm:>8.0}");
    println!("  sha3                    {sha3:>8.0}");
    println!("  tiny-keccak             {tiny:>8.0}");
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut default_threads = vec![1, 2];
    if cores > 2 {
        default_threads.push(cores);
    }
    let threads = env_list("WEFT_BENCH_THREADS", default_threads);
    let runs = env_num("WEFT_BENCH_RUNS", 5).max(1);
    let max_accounts = env_num("WEFT_BENCH_MAX_ACCOUNTS", 1_000_000);

    println!("Weft executor benchmark: {BLOCK_TXS}-transfer blocks, state root included,");
    println!("median of {runs} runs, {cores} cores, speedup = parallel / sequential in this run\n");
    println!(
        "{:<16} {:>9} {:>12} {:>7} {:>12} {:>8}",
        "workload", "accounts", "executor", "threads", "tx/s", "speedup"
    );

    let mut rows = Vec::new();
    for accounts in [2usize, 10, 100, 1_000, 100_000, 1_000_000] {
        if accounts > max_accounts {
            continue;
        }
        let rss_before = rss_bytes();
        let state = genesis(accounts, 1 << 100);
        let rss_after = rss_bytes();
        let txs = BlockGen::new(&state, accounts as u64).block(&Workload::transfers(BLOCK_TXS));
        bench_workload(
            &mut rows,
            "transfers",
            accounts,
            &txs,
            &state,
            &threads,
            runs,
        );
        if accounts == 100_000 {
            let hot = BlockGen::new(&state, 7).block(&Workload::hot_receiver(BLOCK_TXS));
            bench_workload(
                &mut rows,
                "hot-receiver",
                accounts,
                &hot,
                &state,
                &threads,
                runs,
            );
        }
        if accounts == 1_000_000 {
            println!(
                "{:<16} memory per account: {:.0} bytes (heap estimate), {:.0} bytes (RSS delta of genesis)",
                "",
                state.heap_bytes() as f64 / accounts as f64,
                rss_after.saturating_sub(rss_before) as f64 / accounts as f64,
            );
        }
    }

    // pevm's shape: independent raw transfers; with the state root and without it.
    let n = 47_620;
    let state = genesis(2 * n, 1 << 100);
    let txs = independent_transfers(n);
    println!(
        "\nindependent transfers (pevm gigagas shape, {n} txs, {} accounts)",
        2 * n
    );
    let (seq, _) = time_block(&state, &txs, runs, &mut SequentialExecutor);
    println!(
        "  sequential, with state root: {:>10.0} tx/s",
        n as f64 / seq.as_secs_f64()
    );
    for &t in &threads {
        let mut exec = ParallelExecutor::new(t);
        let mut with_root = Vec::new();
        let mut without_root = Vec::new();
        for _ in 0..runs {
            let mut s = state.clone();
            let (_, report) = exec.execute_block_detailed(&mut s, &env(1), &txs).unwrap();
            with_root.push(report.prepare + report.execute + report.commit);
            without_root.push(report.prepare + report.execute);
        }
        println!(
            "  parallel {t} threads: {:>10.0} tx/s with state root, {:>10.0} tx/s execution only",
            n as f64 / median(with_root).as_secs_f64(),
            n as f64 / median(without_root).as_secs_f64()
        );
    }

    bench_keccak(runs);

    let dir = weft_protocol::testkit::bench_output_dir();
    let json = format!(
        "[\n  {}\n]\n",
        rows.iter().map(Row::json).collect::<Vec<_>>().join(",\n  ")
    );
    std::fs::write(dir.join("executor.json"), json).expect("write executor.json");
    println!("\nwrote {}", dir.join("executor.json").display());
}

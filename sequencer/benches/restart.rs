//! Restart benchmark: `make bench` (or `cargo bench -p weft-sequencer --bench restart`).
//!
//! A child process (this binary again) runs the node's real block builder and writer into
//! SQLite with the default configuration, under a sustained load of transfers from 2,000
//! senders to up to 500,000 receivers, fed straight into the mempool (admission and its
//! signature checks are not what is measured: every transaction carries one placeholder
//! signature). When the chain holds the next crash point's count of executed transactions,
//! the parent kills the child with SIGKILL: no drain, no shutdown snapshot. The parent then
//! opens the node (`Node::open`: snapshot load, replay of the blocks after it, every root
//! checked) three times and reports the median; the next child resumes the load on the
//! same data directory.
//!
//! Prints one row per crash point and writes them to `target/weft-bench/restart.json`
//! (`$CARGO_TARGET_DIR/weft-bench` when set).
//!
//! Environment: `WEFT_BENCH_RESTART_POINTS=100000,300000,1000000` (executed transactions at
//! each crash), `WEFT_BENCH_RUNS=3` (opens per point).

use std::{
    io::{BufRead, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use weft_protocol::{
    codec::Encode,
    primitives::{Address, keccak256},
    transaction::{Transaction, Transfer},
};
use weft_sequencer::{
    builder,
    config::{Config, GenesisConfig},
    mempool::PendingTx,
    node::Node,
};

const CHILD_ENV: &str = "WEFT_BENCH_RESTART_CHILD";
const UNTIL_ENV: &str = "WEFT_BENCH_RESTART_UNTIL";
const SENDERS: u32 = 2_000;
const RECEIVERS: u64 = 500_000;

fn config(data_dir: &Path) -> Config {
    let mut c = Config {
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..Config::default()
    };
    c.genesis.dev_accounts = SENDERS;
    c
}

fn env_list(name: &str, default: &[u64]) -> Vec<u64> {
    std::env::var(name).map_or_else(
        |_| default.to_vec(),
        |v| {
            v.split(',')
                .map(|s| s.trim().parse().expect("a number"))
                .collect()
        },
    )
}

fn main() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let until: u64 = std::env::var(UNTIL_ENV)
            .expect("crash point")
            .parse()
            .expect("a number");
        return child(PathBuf::from(dir), until);
    }
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let points = env_list("WEFT_BENCH_RESTART_POINTS", &[100_000, 300_000, 1_000_000]);
    let runs = env_list("WEFT_BENCH_RUNS", &[3])[0].max(1) as usize;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let exe = std::env::current_exe().expect("this binary");

    println!(
        "{:>12} {:>12} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "executed",
        "since_snap",
        "snap_block",
        "replayed",
        "restart_ms",
        "(min-max)",
        "load_ms",
        "read_ms",
        "hash_ms",
        "exec_ms"
    );
    let mut rows = Vec::new();
    for &until in &points {
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, dir.path())
            .env(UNTIL_ENV, until.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the load child");
        let out = BufReader::new(child.stdout.take().expect("piped"));
        let mut executed = 0u64;
        for line in out.lines() {
            let line = line.expect("child output");
            if let Some(n) = line.strip_prefix("reached ") {
                executed = n.parse().expect("a count");
                break;
            }
        }
        child.kill().expect("SIGKILL the child");
        let status = child.wait().expect("reap the child");
        assert!(executed >= until, "the child stopped early: {status:?}");

        let mut samples = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let node = rt
                .block_on(Node::open(config(dir.path())))
                .expect("restart");
            samples.push((started.elapsed(), node.recovery));
            drop(node);
        }
        samples.sort_by_key(|(t, _)| *t);
        let (median, r) = samples[samples.len() / 2];
        let (min, max) = (samples[0].0, samples[samples.len() - 1].0);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:>12} {:>12} {:>10} {:>10} {:>10.0} {:>10} {:>9.0} {:>9.0} {:>9.0} {:>9.0}",
            executed,
            r.txs_replayed,
            r.snapshot_block
                .map_or_else(|| "genesis".into(), |b| b.to_string()),
            r.blocks_replayed,
            ms(median),
            format!("{:.0}-{:.0}", ms(min), ms(max)),
            ms(r.load),
            ms(r.read),
            ms(r.hash),
            ms(r.execute),
        );
        rows.push(serde_json::json!({
            "executed": executed,
            "txs_since_snapshot": r.txs_replayed,
            "snapshot_block": r.snapshot_block,
            "blocks_replayed": r.blocks_replayed,
            "restart_ms_median": ms(median),
            "restart_ms_min": ms(min),
            "restart_ms_max": ms(max),
            "runs": runs,
            "load_ms": ms(r.load),
            "read_ms": ms(r.read),
            "hash_ms": ms(r.hash),
            "execute_ms": ms(r.execute),
        }));
    }
    let path = output_dir().join("restart.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&rows).expect("JSON") + "\n",
    )
    .expect("write the JSON rows");
    println!("rows written to {}", path.display());
}

/// `$CARGO_TARGET_DIR/weft-bench`, else the workspace's `target/weft-bench`.
fn output_dir() -> PathBuf {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("weft-bench");
    std::fs::create_dir_all(&dir).expect("create the benchmark output directory");
    dir
}

/// Runs the node under load until `until` transactions are executed in all, says so on
/// stdout, and waits to be killed.
fn child(dir: PathBuf, until: u64) {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async move {
        let node = Node::open(config(&dir)).await.expect("open the node");
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(builder::run(node.clone(), stopped));
        let senders: Vec<Address> = (0..SENDERS)
            .map(|i| GenesisConfig::dev_key(i).address())
            .collect();
        let mut nonces: Vec<u64> = {
            let state = node.state.read();
            senders
                .iter()
                .map(|a| state.account_by_address(a).map_or(0, |a| a.nonce))
                .collect()
        };
        // Every transfer succeeds, so the senders' nonces count the executed transactions.
        let executed_before: u64 = nonces.iter().sum();
        let domain = node.domain;
        let signature = GenesisConfig::dev_key(0).sign_digest(&keccak256(b"placeholder"));
        let max_ready = 2 * node.config.block.max_txs;
        let mut head = node.head.subscribe();
        let mut seq = executed_before;
        let mut sender = 0usize;
        loop {
            let executed = executed_before + node.metrics.executed.get();
            if executed >= until {
                println!("reached {executed}");
                std::io::stdout().flush().expect("stdout");
                std::future::pending::<()>().await;
            }
            let feed = max_ready.saturating_sub(node.mempool.lock().ready_len());
            if feed > 0 {
                let txs: Vec<PendingTx> = (0..feed)
                    .map(|_| {
                        let i = sender;
                        sender = (sender + 1) % senders.len();
                        seq += 1;
                        let to_word =
                            keccak256((seq.wrapping_mul(0x9e37_79b9) % RECEIVERS).to_be_bytes());
                        let tx = Transaction::Transfer(Transfer {
                            from: senders[i],
                            to: Address::from_slice(&to_word[12..]),
                            token: 0,
                            amount: 1,
                            fee: 0,
                            nonce: nonces[i],
                        });
                        nonces[i] += 1;
                        PendingTx {
                            hash: tx.hash(&domain),
                            size: tx.to_bytes().len(),
                            gas: 0,
                            sender: senders[i],
                            nonce: nonces[i] - 1,
                            transaction: tx,
                            signature,
                            received: Instant::now(),
                        }
                    })
                    .collect();
                let state = node.state.read();
                let mut pool = node.mempool.lock();
                for tx in txs {
                    let state_nonce = state.account_by_address(&tx.sender).map_or(0, |a| a.nonce);
                    pool.insert(tx, state_nonce).expect("a valid nonce");
                }
                drop((pool, state));
                node.ready.notify_one();
            }
            let _ = tokio::time::timeout(Duration::from_millis(20), head.changed()).await;
        }
    });
}

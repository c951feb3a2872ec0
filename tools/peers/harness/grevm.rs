//! Weft's EVM workloads on grevm (github.com/Galxe/grevm), through its library API: a
//! `Scheduler` over a `ParallelState` on an in-memory database, as grevm's own `gigagas`
//! benchmark builds it, with the concurrency level given per run. Built by
//! `tools/peers/run.sh`, which writes the Cargo manifest (grevm as a path dependency on a
//! checkout of its repository).
//!
//! Prints one JSON row per (workload, accounts, mode, threads) on stdout; progress on stderr.

#[path = "world.rs"]
mod world;

use std::{sync::Arc, time::Instant};

use grevm::{GrevmConfig, ParallelState, Scheduler, TxExecutionOutcome};
use revm::{
    context::{BlockEnv, CfgEnv, TxEnv},
    database::{CacheDB, EmptyDB},
    primitives::{TxKind, U256, hardfork::SpecId},
    state::{AccountInfo, Bytecode},
};
use world::{Settings, World};

/// The allocator of Weft's benchmark (grevm's own benchmark uses jemalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Db = Arc<CacheDB<EmptyDB>>;

const INCLUDES_PARALLEL: &str = "grevm Scheduler::parallel_execute (Block-STM; `threads` = its \
    concurrency_level speculative workers, plus its finality and ordered-commit threads): building \
    the scheduler and executing the block over revm's in-memory CacheDB (preloaded, no disk), \
    committing each transaction in order into grevm's ParallelState cache and bundle \
    transitions; no state root, no signature recovery (senders given)";
const INCLUDES_SEQUENTIAL: &str = "grevm's sequential path (GrevmConfig::force_sequential): revm \
    40 one transaction after another over the same ParallelState on revm's in-memory CacheDB, \
    committing each into the cache and bundle transitions; no state root, no signature recovery";

fn database(world: &World) -> Db {
    let mut db = CacheDB::new(EmptyDB::default());
    for &a in &world.accounts {
        db.insert_account_info(
            a,
            AccountInfo {
                balance: U256::from(world::FUNDING),
                ..AccountInfo::default()
            },
        );
    }
    db.insert_account_info(world::FEE_RECIPIENT, AccountInfo::default());
    for c in &world.contracts {
        let code = Bytecode::new_raw(c.code.clone());
        db.insert_account_info(
            c.address,
            AccountInfo {
                nonce: 1,
                code_hash: code.hash_slow(),
                code: Some(code),
                ..AccountInfo::default()
            },
        );
        for &(slot, value) in &c.storage {
            db.insert_account_storage(c.address, slot, value)
                .expect("in-memory database");
        }
    }
    Arc::new(db)
}

fn tx_envs(txs: &[world::Tx]) -> Vec<TxEnv> {
    txs.iter()
        .map(|t| TxEnv {
            tx_type: 2,
            caller: t.caller,
            gas_limit: t.gas_limit,
            gas_price: world::MAX_FEE,
            gas_priority_fee: Some(world::TIP),
            kind: TxKind::Call(t.to),
            value: t.value,
            data: t.data.clone(),
            nonce: t.nonce,
            chain_id: Some(world::CHAIN_ID),
            ..TxEnv::default()
        })
        .collect()
}

fn block_env() -> BlockEnv {
    BlockEnv {
        number: U256::from(2),
        beneficiary: world::FEE_RECIPIENT,
        timestamp: U256::from(1_700_000_002u64),
        gas_limit: world::GAS_LIMIT,
        basefee: world::BASE_FEE,
        ..BlockEnv::default()
    }
}

/// Runs the block once; its time and gas. Panics unless every transaction succeeded.
fn run(name: &str, db: &Db, txs: &Arc<Vec<TxEnv>>, threads: usize, sequential: bool) -> (f64, u64) {
    let mut cfg = CfgEnv::new_with_spec(SpecId::PRAGUE);
    cfg.chain_id = world::CHAIN_ID;
    let config = GrevmConfig {
        concurrency_level: threads,
        force_sequential: sequential,
        ..GrevmConfig::default()
    };
    let start = Instant::now();
    let scheduler = Scheduler::new_with_runtime_config(
        cfg,
        block_env(),
        txs.clone(),
        ParallelState::new(db.clone(), true, false),
        None,
        config,
    );
    scheduler.execute().expect("grevm execution");
    let (outcomes, state) = scheduler.take_result_and_state();
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(
        outcomes.len(),
        txs.len(),
        "{name}: outcomes for every transaction"
    );
    let mut gas = 0;
    for (i, o) in outcomes.iter().enumerate() {
        match o {
            TxExecutionOutcome::Executed(r) if r.is_success() => gas += r.tx_gas_used(),
            other => panic!("{name}: transaction {i} failed: {other:?}"),
        }
    }
    drop((outcomes, state));
    (elapsed, gas)
}

fn main() {
    let settings = Settings::from_env();
    for &n_accounts in &settings.accounts {
        let started = Instant::now();
        let mut world = World::new(n_accounts, &settings.artifacts);
        let db = database(&world);
        eprintln!(
            "grevm: world of {n_accounts} accounts, {} storage slots, built in {:.1} s",
            world.slots(),
            started.elapsed().as_secs_f64()
        );
        for (name, workload) in world::WORKLOADS {
            if !settings.wants(name) {
                continue;
            }
            let mut rng = world::Rng::new(n_accounts as u64);
            let txs = Arc::new(tx_envs(&world.block(workload, settings.txs, &mut rng)));
            let n = txs.len();
            let mut seq = Vec::new();
            let mut par: Vec<Vec<f64>> = vec![Vec::new(); settings.threads.len()];
            let mut gas = 0;
            for _ in 0..settings.runs {
                let (t, g) = run(name, &db, &txs, 1, true);
                seq.push(t);
                gas = g;
                for (samples, &threads) in par.iter_mut().zip(&settings.threads) {
                    let (t, g) = run(name, &db, &txs, threads, false);
                    samples.push(t);
                    assert_eq!(g, gas, "{name}: same gas in parallel");
                }
            }
            let row = |threads, mode, samples: &[f64], includes| {
                world::row(
                    "grevm", name, n_accounts, n, threads, mode, samples, gas, includes,
                )
            };
            println!("{}", row(1, "sequential", &seq, INCLUDES_SEQUENTIAL));
            for (samples, &threads) in par.iter().zip(&settings.threads) {
                println!("{}", row(threads, "parallel", samples, INCLUDES_PARALLEL));
            }
            eprintln!(
                "grevm: {name} at {n_accounts} accounts: sequential {:.1} ms, parallel {}",
                1e3 * world::median(seq.clone()),
                par.iter()
                    .zip(&settings.threads)
                    .map(|(s, t)| format!("{t} thr {:.1} ms", 1e3 * world::median(s.clone())))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
}

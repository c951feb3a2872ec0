//! Weft's EVM workloads on pevm (github.com/risechain/pevm), through its library API:
//! `execute_revm_sequential` and `Pevm::execute_revm_parallel` over its `InMemoryStorage`,
//! as pevm's own `gigagas` benchmark calls them. Built by `tools/peers/run.sh`, which writes
//! the Cargo manifest (pevm as a path dependency on a checkout of its repository).
//!
//! Prints one JSON row per (workload, accounts, mode, threads) on stdout; progress on stderr.

#[path = "world.rs"]
mod world;

use std::{num::NonZeroUsize, sync::Arc, time::Instant};

use pevm::{
    Bytecodes, ChainState, EvmAccount, EvmCode, InMemoryStorage, Pevm, PevmTxExecutionResult,
    chain::PevmEthereum, execute_revm_sequential,
};
use revm::{
    context::{BlockEnv, TransactTo, TxEnv},
    primitives::{U256, hardfork::SpecId, keccak256},
    state::Bytecode,
};
use world::{Settings, World};

/// The allocator of Weft's benchmark (pevm's own benchmarks use jemalloc).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const SPEC: SpecId = SpecId::PRAGUE;

const INCLUDES_PARALLEL: &str = "pevm Pevm::execute_revm_parallel (Block-STM, `threads` = its \
    concurrency_level worker threads): executing the block from pevm's in-memory storage \
    (preloaded, no disk) and returning each transaction's receipt and state changes; no merge \
    of the changes into the storage, no state root, no signature recovery (senders given)";
const INCLUDES_SEQUENTIAL: &str = "pevm execute_revm_sequential: revm 38 one transaction after \
    another over a CacheDB on pevm's in-memory storage, returning each transaction's receipt and \
    state changes; no merge into the storage, no state root, no signature recovery";

fn storage(world: &World) -> InMemoryStorage {
    let mut accounts = ChainState::default();
    accounts.reserve(world.accounts.len() + world.contracts.len() + 1);
    for &a in &world.accounts {
        accounts.insert(
            a,
            EvmAccount {
                balance: U256::from(world::FUNDING),
                ..EvmAccount::default()
            },
        );
    }
    accounts.insert(world::FEE_RECIPIENT, EvmAccount::default());
    let mut bytecodes = Bytecodes::default();
    for c in &world.contracts {
        let hash = keccak256(&c.code);
        bytecodes
            .entry(hash)
            .or_insert_with(|| EvmCode::from(Bytecode::new_raw(c.code.clone())));
        let mut account = EvmAccount {
            nonce: 1,
            code_hash: Some(hash),
            ..EvmAccount::default()
        };
        account.storage.reserve(c.storage.len());
        account.storage.extend(c.storage.iter().copied());
        accounts.insert(c.address, account);
    }
    InMemoryStorage::new(accounts, Arc::new(bytecodes), Default::default())
}

fn tx_envs(txs: &[world::Tx]) -> Vec<TxEnv> {
    txs.iter()
        .map(|t| TxEnv {
            tx_type: 2,
            caller: t.caller,
            gas_limit: t.gas_limit,
            gas_price: world::MAX_FEE,
            gas_priority_fee: Some(world::TIP),
            kind: TransactTo::Call(t.to),
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

/// Gas of the block; panics unless every transaction succeeded.
fn check(name: &str, results: &[PevmTxExecutionResult], n: usize) -> u64 {
    assert_eq!(results.len(), n, "{name}: results for every transaction");
    for (i, r) in results.iter().enumerate() {
        assert!(
            r.receipt.status.coerce_status(),
            "{name}: transaction {i} failed"
        );
    }
    results.last().map_or(0, |r| r.receipt.cumulative_gas_used)
}

fn main() {
    let settings = Settings::from_env();
    let chain = PevmEthereum::mainnet();
    let mut pevm = Pevm::default();
    for &n_accounts in &settings.accounts {
        let started = Instant::now();
        let mut world = World::new(n_accounts, &settings.artifacts);
        let store = storage(&world);
        eprintln!(
            "pevm: world of {n_accounts} accounts, {} storage slots, built in {:.1} s",
            world.slots(),
            started.elapsed().as_secs_f64()
        );
        for (name, workload) in world::WORKLOADS {
            if !settings.wants(name) {
                continue;
            }
            let mut rng = world::Rng::new(n_accounts as u64);
            let txs = tx_envs(&world.block(workload, settings.txs, &mut rng));
            let n = txs.len();
            let mut seq = Vec::new();
            let mut par: Vec<Vec<f64>> = vec![Vec::new(); settings.threads.len()];
            let mut gas = 0;
            for _ in 0..settings.runs {
                let input = txs.clone();
                let start = Instant::now();
                let out = execute_revm_sequential(&chain, &store, SPEC, block_env(), input)
                    .expect("sequential execution");
                seq.push(start.elapsed().as_secs_f64());
                gas = check(name, &out, n);
                drop(out);
                for (samples, &threads) in par.iter_mut().zip(&settings.threads) {
                    let input = txs.clone();
                    let level = NonZeroUsize::new(threads).expect("threads > 0");
                    let start = Instant::now();
                    let out = pevm
                        .execute_revm_parallel(&chain, &store, SPEC, block_env(), input, level)
                        .expect("parallel execution");
                    samples.push(start.elapsed().as_secs_f64());
                    assert_eq!(check(name, &out, n), gas, "{name}: same gas in parallel");
                    drop(out);
                }
            }
            let row = |threads, mode, samples: &[f64], includes| {
                world::row(
                    "pevm", name, n_accounts, n, threads, mode, samples, gas, includes,
                )
            };
            println!("{}", row(1, "sequential", &seq, INCLUDES_SEQUENTIAL));
            for (samples, &threads) in par.iter().zip(&settings.threads) {
                println!("{}", row(threads, "parallel", samples, INCLUDES_PARALLEL));
            }
            eprintln!(
                "pevm: {name} at {n_accounts} accounts: sequential {:.1} ms, parallel {}",
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

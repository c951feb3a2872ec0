//! The optimistic engine gives byte-identical results to the sequential reference on every
//! contract workload: receipts (status, gas, logs, created addresses), withdrawals, gas
//! used and state root, at 1, 2, 4 and 8 threads, adaptive and forced-parallel.

use std::sync::{LazyLock, Mutex};

use proptest::prelude::*;
use weft_protocol::{
    execution::{BlockExecutor, ParallelExecutor},
    testkit::evm::{EvmWorkload, EvmWorld, rng},
};

const THREADS: [usize; 4] = [1, 2, 4, 8];

static EXECUTORS: LazyLock<Mutex<Vec<ParallelExecutor>>> = LazyLock::new(|| {
    Mutex::new(
        THREADS
            .iter()
            .flat_map(|&t| {
                [
                    ParallelExecutor::new(t),
                    ParallelExecutor::new(t).always_parallel(),
                ]
            })
            .collect(),
    )
});

/// 64 accounts, 64 pools, every test contract.
static WORLD: LazyLock<EvmWorld> = LazyLock::new(|| EvmWorld::new(64, 64));

fn workloads() -> impl Strategy<Value = EvmWorkload> {
    prop_oneof![
        Just(EvmWorkload::EthTransfers),
        Just(EvmWorkload::Erc20Random),
        Just(EvmWorkload::Erc20HotReceiver(30)),
        Just(EvmWorkload::Erc20HotSender),
        Just(EvmWorkload::Erc20Mints),
        Just(EvmWorkload::Swaps(1)),
        Just(EvmWorkload::Swaps(4)),
        Just(EvmWorkload::Swaps(64)),
        Just(EvmWorkload::Chain),
        Just(EvmWorkload::NativeMix),
        Just(EvmWorkload::Mixed),
        Just(EvmWorkload::Mixed),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn parallel_equals_sequential_on_contracts(
        workload in workloads(),
        sizes in prop::collection::vec(1usize..160, 1..4),
        seed in any::<u64>(),
        tight_gas in any::<bool>(),
    ) {
        let mut world = WORLD.clone();
        let mut rng = rng(seed);
        let blocks: Vec<_> = sizes.iter().map(|&n| world.block(workload, n, &mut rng)).collect();
        let start = WORLD.number;
        // Now and then a block gas limit that the generated blocks exceed.
        let env = |number| {
            let mut e = EvmWorld::env(number);
            if tight_gas {
                e.gas_limit = 2_000_000;
            }
            e
        };

        let mut reference = WORLD.state.clone();
        let mut expected = Vec::new();
        for (k, txs) in blocks.iter().enumerate() {
            let out = weft_protocol::execution::SequentialExecutor
                .execute_block(&mut reference, &env(start + 1 + k as u64), txs)
                .unwrap();
            expected.push(out);
        }
        for executor in EXECUTORS.lock().unwrap().iter_mut() {
            let mut state = WORLD.state.clone();
            for (k, txs) in blocks.iter().enumerate() {
                let (out, _) = executor
                    .execute_block_detailed(&mut state, &env(start + 1 + k as u64), txs)
                    .unwrap();
                prop_assert_eq!(&out, &expected[k], "{} threads, {:?}, block {}", executor.threads(), workload, k);
            }
            prop_assert_eq!(state.state_root(), reference.state_root());
        }
    }
}

#[test]
fn workloads_mostly_succeed() {
    // The generators produce the transactions they are meant to: a workload whose
    // transactions all failed would compare nothing interesting.
    for workload in [
        EvmWorkload::EthTransfers,
        EvmWorkload::Erc20Random,
        EvmWorkload::Erc20HotReceiver(30),
        EvmWorkload::Erc20HotSender,
        EvmWorkload::Erc20Mints,
        EvmWorkload::Swaps(4),
        EvmWorkload::Chain,
    ] {
        let mut world = WORLD.clone();
        let txs = world.block(workload, 100, &mut rng(7));
        let out = world.execute_unchecked(&txs);
        let ok = out.receipts.iter().filter(|r| r.is_success()).count();
        assert_eq!(
            ok,
            100,
            "{workload:?}: {:?}",
            out.receipts.iter().find(|r| !r.is_success())
        );
    }
    let mut world = WORLD.clone();
    let txs = world.block(EvmWorkload::Mixed, 400, &mut rng(9));
    let out = world.execute_unchecked(&txs);
    let mut reasons: Vec<_> = out
        .receipts
        .iter()
        .map(|r| format!("{:?}", r.status))
        .collect();
    reasons.sort();
    reasons.dedup();
    // Successes, bad nonces, reverts and out-of-gas all occur.
    assert!(reasons.len() >= 4, "{reasons:?}");
}

#[test]
fn the_engine_reports_what_it_speculated_and_reexecuted() {
    // (How much a worker gets to speculate depends on scheduling: other tests run beside
    // this one. The benchmark measures the rates; this checks the accounting.)
    let mut executor = ParallelExecutor::new(2);
    let mut world = WORLD.clone();
    let txs = world.block(EvmWorkload::Erc20Random, 500, &mut rng(1));
    let mut state = WORLD.state.clone();
    let (_, report) = executor
        .execute_block_detailed(&mut state, &EvmWorld::env(WORLD.number + 1), &txs)
        .unwrap();
    assert_eq!(
        report.schedule,
        weft_protocol::execution::Schedule::Optimistic
    );
    let stats = report.optimistic.expect("an optimistic block");
    assert_eq!(stats.speculated + stats.in_order, 500, "{stats:?}");
    assert!(stats.reexecuted <= stats.speculated, "{stats:?}");
    // Every transaction of a chain reads the previous one's write: a speculation holds
    // only if its predecessor committed before it read the counter.
    let mut world = WORLD.clone();
    let txs = world.block(EvmWorkload::Chain, 500, &mut rng(2));
    let mut state = WORLD.state.clone();
    let (_, report) = executor
        .execute_block_detailed(&mut state, &EvmWorld::env(WORLD.number + 1), &txs)
        .unwrap();
    let stats = report.optimistic.expect("an optimistic block");
    assert_eq!(stats.speculated + stats.in_order, 500, "{stats:?}");
    assert!(stats.reexecuted <= stats.speculated, "{stats:?}");
    // Every speculation but the first is re-executed or serialized (it read its
    // predecessor's write), so a full window of 64 stops speculation; it stops only then.
    assert!(stats.speculated < 64 || stats.stopped, "{stats:?}");
    assert!(
        !stats.stopped || stats.reexecuted + stats.serialized > 32,
        "{stats:?}"
    );

    // ETH transfers cost about their commit: the block runs in order.
    let mut world = WORLD.clone();
    let txs = world.block(EvmWorkload::EthTransfers, 500, &mut rng(3));
    let mut state = WORLD.state.clone();
    let (_, report) = executor
        .execute_block_detailed(&mut state, &EvmWorld::env(WORLD.number + 1), &txs)
        .unwrap();
    assert_eq!(report.schedule, weft_protocol::execution::Schedule::InOrder);
    assert_eq!(report.optimistic, None);
}

//! The parallel engine gives byte-identical results to the sequential reference: state
//! root, receipts, withdrawals, for every contention level and thread count.

use std::sync::{LazyLock, Mutex};

use proptest::prelude::*;
use weft_protocol::{
    execution::{BlockExecutor, BlockOutput, ParallelExecutor, SequentialExecutor},
    state::State,
    testkit::{BlockGen, Workload, env, genesis},
};

const THREADS: [usize; 4] = [1, 2, 4, 8];

/// One adaptive and one always-parallel executor per thread count, built once.
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

/// Runs `blocks` consecutive blocks on the reference and on every parallel executor and
/// asserts identical outputs and states after each block.
fn check(
    accounts: usize,
    workload: &Workload,
    blocks: u64,
    seed: u64,
) -> Result<(), TestCaseError> {
    let genesis = genesis(accounts, 1_000_000);
    let mut reference = genesis.clone();
    let mut execs = EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    let mut states: Vec<State> = execs.iter().map(|_| genesis.clone()).collect();
    let mut blocks_gen = BlockGen::new(&genesis, seed);
    for number in 1..=blocks {
        let txs = blocks_gen.block(workload);
        let expected: BlockOutput = SequentialExecutor
            .execute_block(&mut reference, &env(number), &txs)
            .unwrap();
        prop_assert_eq!(expected.receipts.len(), txs.len());
        for (exec, state) in execs.iter_mut().zip(&mut states) {
            let got = exec.execute_block(state, &env(number), &txs).unwrap();
            prop_assert_eq!(&got, &expected, "threads {}", exec.threads());
            prop_assert_eq!(state.state_root(), reference.state_root());
            prop_assert_eq!(state.account_count(), reference.account_count());
        }
    }
    Ok(())
}

fn workload() -> impl Strategy<Value = Workload> {
    (
        1usize..=2_000,
        prop_oneof![Just(0.0), 0.0..1.0f64],
        1usize..8,
        prop_oneof![Just(0.0), Just(1.0), 0.0..1.0f64],
        prop_oneof![Just(0.0), 0.0..0.3f64],
        prop_oneof![Just(0.0), 0.0..0.2f64],
        prop_oneof![Just(0.0), 0.0..0.2f64],
        prop_oneof![Just(0.0), 0.0..0.3f64],
    )
        .prop_map(|(txs, hs, hot_senders, hr, nr, bn, od, odd)| Workload {
            txs,
            hot_sender_p: hs,
            hot_senders,
            hot_receiver_p: hr,
            new_receiver_p: nr,
            bad_nonce_p: bn,
            overdraw_p: od,
            odd_p: odd,
        })
}

fn accounts() -> impl Strategy<Value = usize> {
    prop_oneof![
        4 => 2usize..16,
        4 => 16usize..1_000,
        2 => 1_000usize..10_000,
        1 => Just(100_000usize),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn parallel_equals_sequential(
        accounts in accounts(),
        workload in workload(),
        seed in any::<u64>(),
    ) {
        check(accounts, &workload, 2, seed)?;
    }
}

/// The extremes, each run explicitly rather than left to sampling.
#[test]
fn two_accounts_fully_contended() {
    let w = Workload {
        hot_sender_p: 1.0,
        hot_senders: 2,
        ..Workload::transfers(2_000)
    };
    check(2, &w, 2, 1).unwrap();
}

#[test]
fn hot_receiver_with_failures_and_new_accounts() {
    let w = Workload {
        hot_receiver_p: 0.9,
        new_receiver_p: 0.05,
        bad_nonce_p: 0.05,
        overdraw_p: 0.05,
        odd_p: 0.1,
        ..Workload::transfers(2_000)
    };
    check(1_000, &w, 3, 2).unwrap();
}

#[test]
fn every_odd_kind_interleaved_with_deposits() {
    let w = Workload {
        odd_p: 0.8,
        hot_sender_p: 0.5,
        hot_senders: 3,
        ..Workload::transfers(1_500)
    };
    check(50, &w, 3, 3).unwrap();
}

#[test]
fn large_state_uncontended() {
    check(100_000, &Workload::transfers(2_000), 2, 4).unwrap();
}

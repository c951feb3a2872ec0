//! The parallel engine gives byte-identical results to the sequential reference: state
//! root, receipts, withdrawals, for every contention level and thread count.
//!
//! Blocks are numbered 1, then past the dispute window, then one by one, so that the
//! generated channel lifecycles reach every stage: refutations within the window and
//! conclusions in the same block as a registration (too early), conclusions and late
//! refutations after it. The window is a chain parameter: runs use the default and short
//! ones, where consecutive blocks cross deadlines.

use std::{
    collections::HashMap,
    sync::{LazyLock, Mutex},
};

use proptest::prelude::*;
use weft_protocol::{
    channel::DEFAULT_DISPUTE_WINDOW,
    execution::{BlockExecutor, BlockOutput, ParallelExecutor, SequentialExecutor, Status},
    state::State,
    testkit::{BlockGen, Workload, env_with_window, genesis},
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

/// The number of the `k`-th block of a run (from 1): 1, then past the dispute window of
/// block 1, then consecutive.
fn block_number(k: u64, window: u64) -> u64 {
    if k == 1 { 1 } else { k + window }
}

/// How many transactions of each kind ended with each status, over a run.
type Tally = HashMap<(&'static str, Status), usize>;

/// Runs `blocks` blocks on the reference and on every parallel executor and asserts
/// identical outputs and states after each block. Returns the reference's tally.
fn check(
    accounts: usize,
    workload: &Workload,
    blocks: u64,
    seed: u64,
) -> Result<Tally, TestCaseError> {
    check_with_window(accounts, workload, blocks, seed, DEFAULT_DISPUTE_WINDOW)
}

/// [`check`] on a chain whose disputes last `window` blocks.
fn check_with_window(
    accounts: usize,
    workload: &Workload,
    blocks: u64,
    seed: u64,
    window: u64,
) -> Result<Tally, TestCaseError> {
    let genesis = genesis(accounts, 1_000_000);
    let mut reference = genesis.clone();
    let mut execs = EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    let mut states: Vec<State> = execs.iter().map(|_| genesis.clone()).collect();
    let mut blocks_gen = BlockGen::new(&genesis, seed).with_dispute_window(window);
    let mut tally = Tally::new();
    for number in (1..=blocks).map(|k| block_number(k, window)) {
        let env = env_with_window(number, window);
        let txs = blocks_gen.block_at(number, workload);
        let expected: BlockOutput = SequentialExecutor
            .execute_block(&mut reference, &env, &txs)
            .unwrap();
        prop_assert_eq!(expected.receipts.len(), txs.len());
        for (tx, receipt) in txs.iter().zip(&expected.receipts) {
            *tally
                .entry((tx.transaction.kind(), receipt.status))
                .or_default() += 1;
        }
        for (exec, state) in execs.iter_mut().zip(&mut states) {
            let got = exec.execute_block(state, &env, &txs).unwrap();
            prop_assert_eq!(&got, &expected, "threads {}", exec.threads());
            prop_assert_eq!(state.state_root(), reference.state_root());
            prop_assert_eq!(state.account_count(), reference.account_count());
            prop_assert_eq!(state.channels(), reference.channels());
        }
    }
    Ok(tally)
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

    #[test]
    fn channel_lifecycles_parallel_equals_sequential(
        accounts in prop_oneof![2usize..16, 16usize..2_000],
        txs in 50usize..1_500,
        odd in 0.3..1.0f64,
        bad_nonce in prop_oneof![Just(0.0), 0.0..0.1f64],
        seed in any::<u64>(),
        window in prop_oneof![Just(DEFAULT_DISPUTE_WINDOW), 0u64..4],
    ) {
        let w = Workload {
            odd_p: odd,
            bad_nonce_p: bad_nonce,
            hot_sender_p: 0.3,
            hot_senders: 4,
            ..Workload::transfers(txs)
        };
        check_with_window(accounts, &w, 3, seed, window)?;
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

/// Every channel kind succeeds somewhere in the generated lifecycles, and the interesting
/// failures happen too, so the comparisons above cover the channel rules.
#[test]
fn generated_channel_lifecycles_reach_every_stage() {
    let w = Workload {
        odd_p: 0.9,
        hot_sender_p: 0.5,
        hot_senders: 3,
        ..Workload::transfers(1_500)
    };
    let tally = check(200, &w, 4, 5).unwrap();
    use weft_protocol::execution::FailureReason::*;
    let success = |kind| tally.get(&(kind, Status::Success)).copied().unwrap_or(0);
    let failed = |kind, reason| {
        tally
            .get(&(kind, Status::Failed(reason)))
            .copied()
            .unwrap_or(0)
    };
    for kind in [
        "channelOpen",
        "channelDeposit",
        "channelClose",
        "channelRegister",
        "channelRefute",
        "channelConclude",
        "revealSecret",
    ] {
        assert!(success(kind) > 0, "no successful {kind}: {tally:?}");
    }
    for (kind, reason) in [
        ("channelRefute", StaleVersion),
        ("channelRefute", DisputeExpired),
        ("channelConclude", DisputePending),
        ("channelRegister", InvalidCoSignature),
        ("channelRegister", NotParticipant),
        ("channelOpen", SelfChannel),
    ] {
        assert!(
            failed(kind, reason) > 0,
            "no {kind} failing {reason:?}: {tally:?}"
        );
    }
}

#[test]
fn large_state_uncontended() {
    check(100_000, &Workload::transfers(2_000), 2, 4).unwrap();
}
